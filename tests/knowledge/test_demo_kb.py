"""The demo KB shipped in knowledge/samples/demo is complete and consistent."""

from __future__ import annotations

import json

import pytest
import yaml

from knowledge.samples import DEMO_DIR
from knowledge.sources import load_faq_files, load_manuals


@pytest.fixture(scope="module")
def faq():
    return load_faq_files([DEMO_DIR / "faq.yaml"])


@pytest.fixture(scope="module")
def taxonomy():
    return yaml.safe_load((DEMO_DIR / "taxonomy.yaml").read_text(encoding="utf-8"))


def labeled(name: str) -> list[dict]:
    return [json.loads(line) for line in (DEMO_DIR / name).read_text(encoding="utf-8").splitlines() if line]


def test_faq_entries_have_examples_sections_and_known_tags(faq, taxonomy):
    leaves = {t["id"] for t in taxonomy if t["parent"]}
    assert len(faq) >= 60
    for entry in faq:
        assert len(entry.examples) >= 2, entry.id
        assert entry.section, entry.id
        assert set(entry.tags) <= leaves, entry.id


def test_manuals_and_taxonomy_shape(taxonomy):
    assert len(load_manuals(DEMO_DIR / "manuals")) >= 5
    top = [t for t in taxonomy if t["parent"] is None and t["id"] != "needs_review"]
    leaves = [t for t in taxonomy if t["parent"]]
    assert len(top) == 4 and 12 <= len(leaves) <= 16
    assert {t["parent"] for t in leaves} <= {t["id"] for t in top}
    assert any(t["id"] == "needs_review" for t in taxonomy)


@pytest.mark.parametrize("name,minimum", [("dev.jsonl", 150), ("calibration.jsonl", 100)])
def test_labeled_sets_are_large_with_a_third_unanswerable(name, minimum, faq, taxonomy):
    rows = labeled(name)
    ids = {e.id for e in faq}
    tags = {t["id"] for t in taxonomy}
    assert len(rows) >= minimum
    assert sum(r["expected_faq_id"] is None for r in rows) / len(rows) >= 0.30
    for r in rows:
        assert r["expected_faq_id"] is None or r["expected_faq_id"] in ids, r["id"]
        assert r["expected_tag"] in tags and r["expected_priority"] in ("P1", "P2", "P3", "P4"), r["id"]
    assert any(r.get("customer") for r in rows) and any(r["text"].isascii() for r in rows)


def test_dev_and_calibration_do_not_overlap():
    dev = {r["text"] for r in labeled("dev.jsonl")}
    assert not dev & {r["text"] for r in labeled("calibration.jsonl")}
