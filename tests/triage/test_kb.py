"""Which knowledge base a process serves: the configured one (or the demo) through any of its snapshots."""

from __future__ import annotations

from triage.config import Settings
from triage.kb import serves_configured


def test_a_snapshot_of_the_demo_index_is_still_the_demo(tmp_path):
    settings = Settings(var_dir=tmp_path / "var")
    snapshot = settings.demo_kb_dir / "snapshots" / "20261130T000000000000Z"
    snapshot.mkdir(parents=True)
    assert settings.serves_demo
    assert serves_configured(settings, snapshot) and serves_configured(settings, settings.demo_kb_dir)
    assert not serves_configured(settings, tmp_path / "acme")


def test_a_snapshot_of_the_configured_index_is_the_configured_kb_and_another_folder_is_not(tmp_path):
    settings = Settings(var_dir=tmp_path / "var", kb_dir=tmp_path / "acme")
    assert serves_configured(settings, tmp_path / "acme" / "snapshots" / "s1")
    assert not serves_configured(settings, tmp_path / "acme-copy" / "snapshots" / "s1")
    assert not serves_configured(settings, settings.demo_kb_dir)
