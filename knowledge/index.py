"""Index snapshots: FAISS vectors + BM25 + chunks + FAQ entries + ``manifest.json``, swapped in atomically.

Layout of an index folder ``DIR``::

    DIR/current -> snapshots/<stamp>      a symlink, replaced atomically (rename) after a complete build
    DIR/snapshots/<stamp>/manifest.json   embedder, dim, counts, content hashes, created_at, index kind
                          entries.jsonl   FAQ entries (id, question, answer, examples, tags, url, section …)
                          chunks.jsonl    embedded units, row i ↔ vector i (with the content hash)
                          vectors.npy     float32 [n, dim], L2-normalized
                          dense.faiss     exact inner product, or HNSW above ``HNSW_MIN_VECTORS``
                          lexical/        BM25 over the same units
                          classifier.npz  entry classifier over the FAQ units (absent for very large KBs)
                          calibration.json  the auto-answer model (``triage calibrate``), optional

A build writes a fresh ``snapshots/<stamp>`` and only then moves ``current``: a failed or interrupted build
leaves the previous snapshot serving. Units whose text did not change reuse the previous vectors.

A build writes into ``snapshots/.building-<stamp>`` while holding an exclusive ``flock`` on the file
``snapshots/.building-<stamp>.lock``, taken before the folder exists. The kernel drops the lock when the
process ends however it ends (kill -9 included), so the next build removes every ``.building-*`` folder and
lock file whose lock it can take (a killed build's) and never one whose lock is held (a build still running).
No ages or clocks are involved.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from knowledge.chunking import Chunk, faq_chunks, learned_chunks, manual_chunks
from knowledge.classifier import EntryClassifier
from knowledge.errors import EmbedderMismatchError, IndexNotFoundError, KnowledgeBaseError
from knowledge.lexical import LexicalIndex
from knowledge.sources import FaqEntry, load_faq_files, load_manuals

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from knowledge.embedders import Embedder

FORMAT_VERSION = 3
# Exact search is fast enough below this many vectors (see `triage bench`); HNSW above.
HNSW_MIN_VECTORS = 200_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 256  # recall@10 0.99 at 100k realistic vectors, 0.5 ms (128: 0.94; see bench)
KEEP_SNAPSHOTS = 2
EMBED_BATCH = 64

Progress = Callable[[int, int], None]


def unit_hash(embedder_name: str, chunk: Chunk) -> str:
    """Content hash of what gets embedded: the same text, kind and model give the same vector."""
    return hashlib.sha256(f"{embedder_name}\x00{chunk.kind}\x00{chunk.text}".encode()).hexdigest()[:24]


def embed_chunks(embedder: Embedder, chunks: list[Chunk], progress: Progress | None = None) -> NDArray[np.float32]:
    """FAQ phrasings are matched question-to-question (e5 ``query:`` on both sides); manual text as passages."""
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    done = 0
    for kind, encode in (("faq", embedder.encode_queries), ("doc", embedder.encode_passages)):
        rows = [i for i, c in enumerate(chunks) if c.kind == kind]
        for start in range(0, len(rows), EMBED_BATCH):
            batch = rows[start:start + EMBED_BATCH]
            vectors[batch] = encode([chunks[i].text for i in batch])
            done += len(batch)
            if progress:
                progress(done, len(chunks))
    return vectors


def hnsw_index(vectors: NDArray[np.float32]) -> faiss.IndexHNSWFlat:
    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.hnsw.efSearch = HNSW_EF_SEARCH
    index.add(vectors)
    return index


def dense_index(vectors: NDArray[np.float32]) -> faiss.Index:
    """Exact inner product for small KBs, HNSW from ``HNSW_MIN_VECTORS`` on."""
    if len(vectors) >= HNSW_MIN_VECTORS:
        return hnsw_index(vectors)
    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(vectors)
    return index


@dataclass
class Snapshot:
    """A loaded index snapshot."""

    path: Path
    manifest: dict[str, Any]
    entries: dict[str, FaqEntry]
    chunks: list[Chunk]
    vectors: NDArray[np.float32]
    dense: faiss.Index
    lexical: LexicalIndex
    classifier: EntryClassifier | None = None
    calibration: dict[str, Any] | None = None
    entry_rows: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for row, chunk in enumerate(self.chunks):
            self.entry_rows.setdefault(chunk.entry_id, []).append(row)

    @property
    def embedder_name(self) -> str:
        return str(self.manifest["embedder"]["name"])


def _entry_dict(entry: FaqEntry) -> dict[str, Any]:
    data = asdict(entry)
    data.pop("origin")
    if not data["urgent_self_service"]:  # written only when set: a snapshot of a KB that marks none reads as before
        data.pop("urgent_self_service")
    return data


def _entry_from(data: dict[str, Any]) -> FaqEntry:
    return FaqEntry(**{**data, "examples": tuple(data["examples"]), "tags": tuple(data["tags"])})


def resolve(path: Path) -> Path:
    """The snapshot folder that ``path`` names: an index folder (via ``current``) or a snapshot itself."""
    path = Path(path)
    if (path / "manifest.json").is_file():
        return path
    if (path / "current" / "manifest.json").is_file():
        return (path / "current").resolve()
    raise IndexNotFoundError(f"no index snapshot in {path}: build one with `triage kb build --out {path}`")


def load_snapshot(path: Path, embedder: Embedder | None = None) -> Snapshot:
    """Load a snapshot; with ``embedder``, refuse one that was built with another model."""
    folder = resolve(path)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT_VERSION:
        raise KnowledgeBaseError(f"{folder}: index format {manifest.get('format')} is not {FORMAT_VERSION}; rebuild it")
    built_with = manifest["embedder"]
    if embedder is not None and (built_with["name"] != embedder.name or built_with["dim"] != embedder.dim):
        raise EmbedderMismatchError(
            f"{folder} was built with embedder '{built_with['name']}' (dim {built_with['dim']}), "
            f"but the service uses '{embedder.name}' (dim {embedder.dim}): rebuild the index or change TRIAGE_EMBEDDER"
        )
    with open(folder / "entries.jsonl", encoding="utf-8") as fh:
        entries = {e.id: e for e in (_entry_from(json.loads(line)) for line in fh)}
    with open(folder / "chunks.jsonl", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    chunks = [Chunk(**{k: v for k, v in row.items() if k != "hash"}) for row in rows]
    calibration_file = folder / "calibration.json"
    calibration = json.loads(calibration_file.read_text(encoding="utf-8")) if calibration_file.is_file() else None
    return Snapshot(
        path=folder,
        manifest=manifest,
        entries=entries,
        chunks=chunks,
        vectors=np.load(folder / "vectors.npy"),
        dense=faiss.read_index(str(folder / "dense.faiss")),
        lexical=LexicalIndex.load(folder / "lexical", len(chunks)),
        classifier=EntryClassifier.load(folder / "classifier.npz"),
        calibration=calibration,
    )


def _previous_vectors(out: Path, embedder_name: str) -> tuple[dict[str, NDArray[np.float32]], Path | None]:
    """Vectors of the current snapshot by content hash, and its folder; nothing when there is none or
    another model built it."""
    try:
        folder = resolve(out)
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        if manifest["embedder"]["name"] != embedder_name:
            return {}, None  # neither its vectors nor its calibration fit another model
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        with open(folder / "chunks.jsonl", encoding="utf-8") as fh:
            hashes = [json.loads(line)["hash"] for line in fh]
    except (KnowledgeBaseError, OSError, KeyError, ValueError):
        return {}, None
    return {h: np.array(vectors[i]) for i, h in enumerate(hashes)}, folder


def _swap_current(out: Path, snapshot: Path) -> None:
    link = out / "current"
    tmp_link = out / f".current-{os.getpid()}"
    if tmp_link.is_symlink():
        tmp_link.unlink()
    tmp_link.symlink_to(Path("snapshots") / snapshot.name)
    os.replace(tmp_link, link)  # atomic on POSIX


def _prune(out: Path, keep: Path) -> None:
    snapshots = sorted(p for p in (out / "snapshots").iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in snapshots[:-KEEP_SNAPSHOTS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


BUILDING = ".building-"


@contextmanager
def _building(snapshots: Path, stamp: str) -> Iterator[Path]:
    """A fresh ``.building-<stamp>`` folder, locked for as long as this build runs; removed unless renamed."""
    lock_path = snapshots / f"{BUILDING}{stamp}.lock"
    work = snapshots / f"{BUILDING}{stamp}"
    while True:  # another build's clean-up may unlink the file between our open and flock: then lock anew
        lock = open(lock_path, "a")  # noqa: SIM115 (a context manager below, once locked)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if os.stat(lock_path).st_ino == os.fstat(lock.fileno()).st_ino:
                break
        except FileNotFoundError:
            pass
        lock.close()
    with lock:  # taken before the folder exists: a visible folder always has its lock held
        try:
            work.mkdir()
            yield work
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)
            lock_path.unlink(missing_ok=True)


def remove_stale_builds(snapshots: Path) -> int:
    """Remove the ``.building-*`` folders (and lock files) of builds that are no longer running; return how
    many folders."""
    removed = 0
    if not snapshots.is_dir():
        return 0
    for path in sorted(snapshots.glob(f"{BUILDING}*")):
        if not path.exists() or (path.suffix == ".lock" and path.with_suffix("").is_dir()):
            continue  # gone meanwhile, or a lock seen with its folder
        if path.suffix != ".lock" and not path.is_dir():
            continue
        lock_path = path if path.suffix == ".lock" else path.with_name(path.name + ".lock")
        with open(lock_path, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its build is still running
            folder = lock_path.with_suffix("")
            if folder.is_dir():  # not renamed by a build that finished meanwhile
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
            lock_path.unlink(missing_ok=True)
    return removed


@dataclass
class BuildReport:
    path: Path
    entries: int
    chunks: int
    embedded: int
    reused: int
    seconds: float
    embed_seconds: float
    stale_removed: int = 0


def build_snapshot(
    out: Path,
    embedder: Embedder,
    faq_files: list[Path],
    docs_dir: Path | None = None,
    progress: Progress | None = None,
    extra_manifest: dict[str, Any] | None = None,
    allow_empty: bool = False,
    finish: Callable[[Path], dict[str, Any]] | None = None,
    learned: Sequence[tuple[str, str, str]] = (),
) -> BuildReport:
    """Validate the sources, embed what changed, write a new snapshot and make it current. A source without
    any entry (an FAQ file, the manuals folder) is an error unless ``allow_empty``; a KB with nothing at all
    is always one (nothing could be searched). ``finish`` runs on the complete snapshot folder before it
    becomes current (the service calibrates it there); what it returns is added to the manifest, and if it
    fails the build fails. ``learned``: phrasings learned from the company's traffic (entry id, text, ref), indexed
    with their entry's own (a unit ``<entry>@<ref>``; those of entries the sources no longer have are left out)."""
    started = time.perf_counter()
    # raises SourceError before anything is written
    entries = load_faq_files(faq_files, allow_empty=allow_empty)
    manuals = load_manuals(docs_dir, allow_empty=allow_empty) if docs_dir else []
    chunks = faq_chunks(entries) + learned_chunks(entries, learned) + manual_chunks(manuals)
    if not chunks:
        raise KnowledgeBaseError("the knowledge base would be empty: give at least one FAQ entry or manual")

    out = Path(out)
    stale_removed = remove_stale_builds(out / "snapshots")
    cache, _ = _previous_vectors(out, embedder.name)
    hashes = [unit_hash(embedder.name, c) for c in chunks]
    missing = [i for i, h in enumerate(hashes) if h not in cache]
    embed_started = time.perf_counter()
    fresh = embed_chunks(embedder, [chunks[i] for i in missing], progress)
    embed_seconds = time.perf_counter() - embed_started
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        if h in cache:
            vectors[i] = cache[h]
    if missing:
        vectors[missing] = fresh

    (out / "snapshots").mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    final = out / "snapshots" / stamp
    with _building(out / "snapshots", stamp) as work:
        with open(work / "entries.jsonl", "w", encoding="utf-8") as fh:
            for entry in entries:
                fh.write(json.dumps(_entry_dict(entry), ensure_ascii=False) + "\n")
        with open(work / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for chunk, h in zip(chunks, hashes, strict=True):
                fh.write(json.dumps({**chunk.to_dict(), "hash": h}, ensure_ascii=False) + "\n")
        np.save(work / "vectors.npy", vectors)
        dense = dense_index(vectors)
        faiss.write_index(dense, str(work / "dense.faiss"))
        LexicalIndex.build([c.text for c in chunks]).save(work / "lexical")
        faq_rows = [i for i, c in enumerate(chunks) if c.kind == "faq"]
        classifier = EntryClassifier.train(vectors[faq_rows], [chunks[i].entry_id for i in faq_rows])
        if classifier is not None:
            classifier.save(work / "classifier.npz")
        manifest: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "embedder": {"name": embedder.name, "dim": embedder.dim},
            "dense_index": "hnsw" if isinstance(dense, faiss.IndexHNSWFlat) else "flat",
            "classifier": classifier is not None,
            "counts": {"entries": len(entries), "manuals": len(manuals), "chunks": len(chunks),
                       "learned_chunks": sum(c.learned for c in chunks),
                       "faq_chunks": sum(c.kind == "faq" for c in chunks),
                       "doc_chunks": sum(c.kind == "doc" for c in chunks)},
            "sources": {"faq": [str(p) for p in faq_files], "docs": str(docs_dir) if docs_dir else None},
            "content_hash": hashlib.sha256("".join(hashes).encode()).hexdigest()[:24],
            **(extra_manifest or {}),
        }
        (work / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        if finish is not None:
            manifest.update(finish(work))
            (work / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2),
                                                encoding="utf-8")
        os.rename(work, final)
        _swap_current(out, final)
    _prune(out, final)
    return BuildReport(path=final, entries=len(entries), chunks=len(chunks), embedded=len(missing),
                       reused=len(chunks) - len(missing), seconds=time.perf_counter() - started,
                       embed_seconds=embed_seconds, stale_removed=stale_removed)
