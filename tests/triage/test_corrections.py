"""The scope of agents' tag corrections: the same code for the same KB and taxonomy in every replica and after
every restart or rebuild, another one for another KB or another taxonomy file (even with the same tags)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge.samples import DEMO_DIR
from triage.config import Settings
from triage.corrections import LEGACY_SCOPE, corrections_scope, index_folder, scope_code, scope_parts


def index(root: Path) -> Path:
    """An index folder laid out as ``triage kb build`` leaves it (only the files the scope looks at)."""
    snapshot = root / "snapshots" / "20261206T100000"
    snapshot.mkdir(parents=True)
    (snapshot / "manifest.json").write_text("{}", encoding="utf-8")
    (root / "current").symlink_to(Path("snapshots") / snapshot.name)
    return root


def test_the_code_is_fixed_stored_rows_depend_on_it():
    assert LEGACY_SCOPE == scope_code("demo", "demo") == "4e3520ca4dd55b4f"
    assert scope_code("/srv/kb", "faq-tags") != scope_code("/srv/kb", "/srv/taxonomy.yaml")


def test_the_demo_is_one_scope_wherever_each_replica_builds_it(tmp_path):
    one, two = Settings(var_dir=tmp_path / "one"), Settings(var_dir=tmp_path / "two")
    assert scope_parts(one) == ("demo", "demo")
    assert corrections_scope(one) == corrections_scope(two) == LEGACY_SCOPE
    assert corrections_scope(one, taxonomy=DEMO_DIR / "taxonomy.yaml") == LEGACY_SCOPE


def test_every_path_to_one_kb_and_taxonomy_gives_one_scope(tmp_path, monkeypatch):
    kb = index(tmp_path / "kb")
    taxonomy = tmp_path / "taxonomy.yaml"
    taxonomy.write_text("- id: a\n", encoding="utf-8")
    configured = Settings(kb_dir=kb, taxonomy=taxonomy)
    scope = corrections_scope(configured)
    assert scope_parts(configured) == (str(kb.resolve()), str(taxonomy.resolve()))
    monkeypatch.chdir(tmp_path)
    assert corrections_scope(Settings(kb_dir=Path("kb"), taxonomy=Path("taxonomy.yaml"))) == scope  # relative
    assert corrections_scope(Settings(kb_dir=kb / ".." / "kb", taxonomy=taxonomy)) == scope
    for snapshot in (kb / "current", kb / "snapshots" / "20261206T100000"):  # what a reload or the worker opens
        assert index_folder(snapshot) == kb.resolve()
        assert corrections_scope(configured, kb=snapshot) == scope
    assert corrections_scope(Settings(taxonomy=taxonomy), kb=kb) == scope  # `--kb` on the command line
    assert corrections_scope(Settings(kb_dir=kb), taxonomy=taxonomy) == scope  # `--taxonomy`


@pytest.mark.parametrize("change", ["another kb", "another taxonomy file", "the FAQ tags", "the demo taxonomy",
                                    "the demo kb"])
def test_another_kb_or_taxonomy_is_another_scope(tmp_path, change):
    kb, other_kb = index(tmp_path / "kb"), index(tmp_path / "other-kb")
    taxonomy = tmp_path / "taxonomy.yaml"
    shutil.copy(DEMO_DIR / "taxonomy.yaml", taxonomy)  # the same tags as the demo's
    other_taxonomy = tmp_path / "other" / "taxonomy.yaml"
    other_taxonomy.parent.mkdir()
    shutil.copy(taxonomy, other_taxonomy)  # the same tags again
    scope = corrections_scope(Settings(kb_dir=kb, taxonomy=taxonomy))
    changed = {"another kb": Settings(kb_dir=other_kb, taxonomy=taxonomy),
               "another taxonomy file": Settings(kb_dir=kb, taxonomy=other_taxonomy),
               "the FAQ tags": Settings(kb_dir=kb),
               "the demo taxonomy": Settings(kb_dir=kb, taxonomy=DEMO_DIR / "taxonomy.yaml"),
               "the demo kb": Settings(taxonomy=taxonomy)}[change]
    assert corrections_scope(changed) != scope
    assert corrections_scope(changed) != LEGACY_SCOPE
