"""The knowledge base the service answers from: which snapshot, built how, loaded once.

Without an explicit index folder the demo KB is used; its index is built under ``var/kb/demo`` on first use
and rebuilt when the demo sources change (their digest is kept in the manifest).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.embedders import Embedder, load_embedder
from knowledge.embedding_cache import CachedEmbedder
from knowledge.errors import KnowledgeBaseError
from knowledge.index import FORMAT_VERSION, BuildReport, Progress, Snapshot, build_snapshot, load_snapshot, resolve
from knowledge.samples import DEMO_LATEST_APP_VERSION
from knowledge.search import Searcher
from knowledge.sources import MANUAL_SUFFIXES
from triage.calibration import calibrate_learned, calibration_summary, self_calibrate, write_calibration
from triage.config import Settings
from triage.corrections import corrections_scope
from triage.helpdesk.learned import LearnedSet, learned_scope, learned_set
from triage.inputs import read_tag_labels
from triage.policy import DEMO_POLICY_FILE, PriorityPolicy, default_policy, load_policy
from triage.stages.answering import DEFAULT_MODEL_FILE, Answerer, AnswerModel
from triage.stages.tagging import Tagger, train_tagger
from triage.taxonomy import Taxonomy, load_taxonomy, taxonomy_from_faq, taxonomy_policy

if TYPE_CHECKING:
    from triage.store import Store

log = logging.getLogger("triage.kb")


def embedder_for(settings: Settings) -> Embedder:
    return load_embedder(settings.embedder, settings.embed_threads, settings.openai_base_url,
                         settings.openai_api_key)


def demo_sources(settings: Settings) -> tuple[list[Path], Path]:
    root = settings.demo_sources
    return [root / "faq.yaml"], root / "manuals"


def _digest(faq_files: list[Path], docs_dir: Path | None) -> str:
    files = list(faq_files)
    if docs_dir:
        files += sorted(p for p in docs_dir.rglob("*") if p.suffix.lower() in MANUAL_SUFFIXES)
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:24]


def ensure_demo_index(settings: Settings, progress: Progress | None = None) -> Path:
    """Build the demo index if it is missing or its sources or shipped answer model changed; return its
    folder. The demo always answers with the shipped model."""
    out = settings.demo_kb_dir
    faq_files, docs = demo_sources(settings)
    digest = _digest([*faq_files, DEFAULT_MODEL_FILE], docs)
    try:
        manifest = json.loads((resolve(out) / "manifest.json").read_text(encoding="utf-8"))
        if (manifest.get("sources_digest") == digest and manifest.get("format") == FORMAT_VERSION
                and manifest["embedder"]["name"] == embedder_for(settings).name):
            return out
    except KnowledgeBaseError:
        pass

    def shipped_model(folder: Path) -> dict[str, Any]:
        shutil.copy2(DEFAULT_MODEL_FILE, folder / "calibration.json")
        return {"calibration": calibration_summary(AnswerModel.load(DEFAULT_MODEL_FILE))}

    build_snapshot(out, embedder_for(settings), faq_files, docs, progress=progress,
                   extra_manifest={"sources_digest": digest}, finish=shipped_model)
    return out


def kb_path(settings: Settings, kb: Path | None = None, progress: Progress | None = None) -> Path:
    """The index folder to use: the one given, the configured one, or the (built on demand) demo."""
    if kb is not None:
        return kb
    if settings.kb_dir is not None:
        return settings.kb_dir
    return ensure_demo_index(settings, progress)


def build_kb(settings: Settings, out: Path, faq_files: list[Path], docs: Path | None = None,
             progress: Progress | None = None, allow_empty: bool = False,
             extra_manifest: dict[str, Any] | None = None,
             calibration_progress: Progress | None = None, learned: LearnedSet | None = None) -> BuildReport:
    """Build a snapshot (with the phrasings ``learned`` from the company's past tickets and verdicts) and calibrate
    its auto-answer model before it serves: from the KB's own content (``self_calibrate``), then, where enough was
    learned, against a model fitted on the past messages (``triage.calibration.calibrate_learned``); the manifest
    records what calibrated it."""
    embedder = embedder_for(settings)

    def calibrate(folder: Path) -> dict[str, Any]:
        snapshot = load_snapshot(folder, embedder)
        model = self_calibrate(snapshot, embedder, section_window=settings.section_window,
                               progress=calibration_progress)
        if learned:
            model = calibrate_learned(snapshot, embedder, learned.labels, model, settings.section_window,
                                      progress=calibration_progress)
        write_calibration(folder, model)
        summary: dict[str, Any] = {"calibration": calibration_summary(model)}
        if learned is not None:
            summary["learned"] = {"phrasings": snapshot.manifest["counts"]["learned_chunks"],
                                  "labels": len(learned.labels), "mix": learned.mix,
                                  "paraphrase_threshold": learned.threshold}
        return summary

    return build_snapshot(out, embedder, faq_files, docs, progress=progress, allow_empty=allow_empty,
                          extra_manifest=extra_manifest, finish=calibrate,
                          learned=learned.phrasings if learned else ())


def answer_model(snapshot: Snapshot, embedder: Embedder, section_window: float = 0.5) -> tuple[AnswerModel, bool]:
    """The snapshot's calibrated model; a snapshot built before calibration was stored is calibrated from its
    own content here, in memory (second value False: rebuild to store it). Never another KB's model."""
    if snapshot.calibration is not None:
        try:
            return AnswerModel.from_dict(snapshot.calibration), True
        except (KeyError, ValueError) as exc:
            raise KnowledgeBaseError(f"{snapshot.path / 'calibration.json'} does not fit this version ({exc}): "
                                     "rebuild the KB (`triage kb build`) or run `triage calibrate` again") from exc
    return self_calibrate(snapshot, embedder, section_window=section_window), False


def taxonomy_file(settings: Settings, taxonomy: Path | None = None) -> Path | None:
    """The taxonomy file given, the configured one, or the demo's for the demo KB; None: none is set."""
    path = taxonomy or settings.taxonomy
    if path is None and settings.serves_demo:
        path = settings.demo_sources / "taxonomy.yaml"
    return path


def taxonomy_for(settings: Settings, snapshot: Snapshot, taxonomy: Path | None = None) -> Taxonomy | None:
    """The taxonomy given, the configured one, the demo's for the demo KB, else one from the FAQ tags."""
    path = taxonomy_file(settings, taxonomy)
    return load_taxonomy(path) if path is not None else taxonomy_from_faq(snapshot)


def policy_file(settings: Settings, policy: Path | None = None, taxonomy: Path | None = None) -> Path | None:
    """The priority policy file given, the configured one, the one the taxonomy names (``policy:`` in its mapping
    form, relative to it), or the demo's for the demo KB; None: none is set."""
    path = policy or settings.priority_policy
    if path is None and (tax := taxonomy_file(settings, taxonomy)) is not None:
        path = taxonomy_policy(tax)
    if path is None and settings.serves_demo:
        path = DEMO_POLICY_FILE
    return path


def policy_for(settings: Settings, policy: Path | None = None, taxonomy: Path | None = None) -> PriorityPolicy:
    """The priority policy given, the configured one, the taxonomy's, else the demo's (for any KB)."""
    path = policy_file(settings, policy, taxonomy)
    return load_policy(path) if path is not None else default_policy()


def tagger_for(settings: Settings, snapshot: Snapshot, embedder: Embedder, taxonomy: Taxonomy,
               tag_labels: Path | None = None, corrections: Sequence[tuple[str, str]] = (),
               learned: Sequence[tuple[str, str]] = ()) -> Tagger:
    """Train the tagger on the taxonomy, the FAQ (with its learned phrasings), the labeled file, the tags agents
    gave past tickets (``learned``) and agents' corrections (text, tag) (those whose tag still exists); texts seen
    before are not embedded again (cache under var/)."""
    labels = tag_labels or settings.tag_labels
    if labels is None and settings.serves_demo:
        labels = settings.demo_sources / "calibration.jsonl"
    known = set(taxonomy.tags)
    labeled = read_tag_labels(labels, known) if labels is not None else []
    labeled += [(text, tag) for text, tag in learned if tag in known]
    corrections = [(text, tag) for text, tag in corrections if tag in known]
    cached = CachedEmbedder(embedder, settings.var_dir / "cache" / "embeddings")
    tagger = train_tagger(taxonomy, cached, snapshot, labeled, corrections,
                          cutoffs_cache=settings.var_dir / "cache" / "tag-cutoffs")
    cached.save()
    if (warning := tagger.cutoffs.warning) is not None:
        log.warning("event=tag_cutoffs taxonomy=%s %s", taxonomy.origin, warning)
    return tagger


def serves_configured(settings: Settings, kb: Path) -> bool:
    """``kb`` is the configured index folder (or the demo's), or one of its snapshots."""
    configured = (settings.kb_dir or settings.demo_kb_dir).resolve()
    given = Path(kb).resolve()
    return given == configured or configured in given.parents


@dataclass
class KnowledgeBase:
    snapshot: Snapshot
    searcher: Searcher
    answerer: Answerer
    calibrated: bool
    tagger: Tagger | None = None
    latest_app_version: str | None = None
    corrections_up_to: int = 0  # the newest stored correction the tagger was trained with
    policy: PriorityPolicy = field(default_factory=default_policy)  # read once, with the knowledge base
    scope: str = ""  # of the corrections it learns and records (``triage.corrections``)

    @property
    def embedder(self) -> Embedder:
        return self.searcher.embedder

    @classmethod
    def open(cls, settings: Settings, kb: Path | None = None, progress: Progress | None = None,
             taxonomy: Path | None = None, tag_labels: Path | None = None,
             corrections: Sequence[tuple[int, str, str]] = (), policy: Path | None = None,
             store: Store | None = None, scope: str | None = None) -> KnowledgeBase:
        """The index (given, configured or the demo's), its answer model, a tagger trained with
        ``corrections`` (id, text, tag) or with ``store``'s corrections of its scope, and the priority policy
        (``policy_for``). A KB given here that is not (a snapshot of) the configured one is not the demo: none of
        the demo's taxonomy, labels, policy or app version apply to it. ``scope``: of its corrections (default:
        this KB and taxonomy's, ``corrections_scope``; a process serving the configured KB through one of its
        snapshots passes the configured one's)."""
        scope = scope or corrections_scope(settings, kb, taxonomy)
        learned: LearnedSet | None = None
        if store is not None:
            corrections = store.tag_corrections(scope)
        if kb is not None and not serves_configured(settings, kb):
            settings = settings.model_copy(update={"kb_dir": kb})
        priority_policy = policy_for(settings, policy, taxonomy)  # a broken file fails before any embedding
        embedder = embedder_for(settings)
        snapshot = load_snapshot(kb_path(settings, kb, progress), embedder)
        model, calibrated = answer_model(snapshot, embedder, settings.section_window)
        tax = taxonomy_for(settings, snapshot, taxonomy)
        pairs = [(text, tag) for _, text, tag in corrections]
        if store is not None and tax is not None:
            learned = learned_set(store.learned_examples(learned_scope(settings)), set(snapshot.entries))
        tagger = (tagger_for(settings, snapshot, embedder, tax, tag_labels, pairs,
                             learned.tag_pairs(tax, snapshot) if learned else ()) if tax is not None else None)
        latest = settings.latest_app_version or (DEMO_LATEST_APP_VERSION if settings.serves_demo else None)
        return cls(snapshot, Searcher(snapshot, embedder, settings.section_window), Answerer(model), calibrated,
                   tagger, latest, max((i for i, _, _ in corrections), default=0), priority_policy, scope)
