"""The held-out telecom sample KB (knowledge/samples/telecom) loads and its labels point at things that exist.

A data-integrity check only: nothing here runs the service on the labeled messages or scores it.
"""

from __future__ import annotations

import json

import pytest

from knowledge.samples import SAMPLES_DIR
from knowledge.sources import load_faq_files
from triage.policy import load_policy
from triage.taxonomy import load_taxonomy

TELECOM_DIR = SAMPLES_DIR / "telecom"
LABELED = ("test.jsonl", "calibration.jsonl")


def labeled(name: str) -> list[dict]:
    text = (TELECOM_DIR / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_policy_loads():
    policy = load_policy(TELECOM_DIR / "policy.yaml")
    assert policy.max_raise == 1
    assert "anger" in policy.ignored


def test_taxonomy_loads():
    taxonomy = load_taxonomy(TELECOM_DIR / "taxonomy.yaml")
    assert taxonomy.catch_all in taxonomy.tags
    assert taxonomy.leaves


@pytest.mark.parametrize("name", LABELED)
def test_labels_name_existing_faq_entries_and_tags(name):
    faq_ids = {entry.id for entry in load_faq_files([TELECOM_DIR / "faq.yaml"])}
    tags = set(load_taxonomy(TELECOM_DIR / "taxonomy.yaml").tags)
    rows = labeled(name)
    assert rows
    unknown_faq = [r["id"] for r in rows if r["expected_faq_id"] is not None and r["expected_faq_id"] not in faq_ids]
    unknown_tag = [r["id"] for r in rows if r["expected_tag"] not in tags]
    assert not unknown_faq, f"{name}: expected_faq_id not in faq.yaml: {unknown_faq}"
    assert not unknown_tag, f"{name}: expected_tag not in taxonomy.yaml: {unknown_tag}"
