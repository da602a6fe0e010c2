"""``triage history import``: read a helpdesk export, store what agents did with each past ticket (redacted) in
the learned set of the KB, then build the KB's next snapshot from it.

The export is streamed in batches; each batch is one transaction, so a killed import resumes where it stopped
(stored tickets with the same content are skipped, changed ones updated in place: importing the same export
twice, or an overlapping later one, adds nothing the second time). Personal data is redacted before anything is
stored or logged, and the export itself is never copied. Each new ticket's first message is also a past contact
of its requester, for the repeat-contact check."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from knowledge.index import BuildReport, load_snapshot
from knowledge.search import Searcher
from triage.helpdesk.exports import Format, read_export
from triage.helpdesk.learned import KINDS, decide, learned_scope, learned_set
from triage.helpdesk.matching import EntryMatcher, TagMapper
from triage.helpdesk.tickets import BadRow, Ticket
from triage.kb import build_kb, embedder_for, taxonomy_for
from triage.stages.history import Contact, as_utc
from triage.stages.privacy import redact_text
from triage.store.learned_rows import Learned

if TYPE_CHECKING:
    from triage.config import Settings
    from triage.store import Store

log = logging.getLogger("triage.helpdesk")

BATCH = 256  # tickets per transaction and per embedding call
SOURCE = "history"
MAX_TEXT_CHARS = 4000  # of a stored message or reply (a pasted mail thread can be long)
Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    read: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[BadRow] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)  # over the KB's whole learned set, after this import
    tags: dict[str, int] = field(default_factory=dict)
    agreement: dict[str, float] = field(default_factory=dict)  # per kind: the question's own top hit agrees
    paraphrase_threshold: float | None = None
    build: BuildReport | None = None
    calibration: dict[str, Any] = field(default_factory=dict)


def ticket_digest(ticket: Ticket) -> str:
    """Of what the import reads from a ticket: another digest means the export changed it."""
    data = [ticket.ticket_id, list(ticket.tags), ticket.channel, ticket.requester_id,
            [(c.author, c.body) for c in ticket.comments]]
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()[:32]


def _batches(items: Iterable[Ticket | BadRow], report: ImportReport) -> Iterator[list[Ticket]]:
    """Tickets in batches of ``BATCH``; bad rows go to the report (and the log, by origin only)."""
    batch: list[Ticket] = []
    for item in items:
        if isinstance(item, BadRow):
            report.bad.append(item)
            log.warning("event=history_bad_row origin=%s", item.origin)
            continue
        batch.append(item)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class Conversation:
    """A ticket as the import reads it: the first customer message (redacted), the agents' replies after it as
    written (links, pastes and meaning are read from these, in this process, never stored or logged), and the
    reply kept as the ticket's answer (redacted: the customer's values also where an agent repeats them)."""

    question: str
    replies: list[str]
    answer: str | None


def _conversation(ticket: Ticket) -> Conversation | None:
    comments = list(ticket.comments)
    first = next((n for n, c in enumerate(comments) if c.author == "customer" and c.body.strip()), None)
    if first is None:
        return None
    customer_text = " ".join(c.body for c in comments if c.author == "customer")
    replies = [c.body[:MAX_TEXT_CHARS] for c in comments[first + 1:] if c.author == "agent" and c.body.strip()]
    # the longest reply: a closing "좋은 하루 보내세요" is no answer to learn from
    answer = redact_text(max(replies, key=len), seen_in=customer_text) if replies else None
    return Conversation(redact_text(comments[first].body[:MAX_TEXT_CHARS]), replies, answer)


def _latest(batch: list[Ticket]) -> list[Ticket]:
    """One ticket per id, the last one read (an export may list a ticket once per update, or two files overlap)."""
    return list({t.ticket_id: t for t in batch}.values())


def import_history(settings: Settings, store: Store, kb: Path, paths: Sequence[Path], fmt: Format = "auto",
                   mapping: Path | None = None, taxonomy: Path | None = None,
                   progress: Progress | None = None, build_progress: Progress | None = None,
                   calibration_progress: Progress | None = None) -> ImportReport:
    """Import ``paths`` into the learned set of the KB ``kb`` and build its next snapshot (see the module)."""
    tickets = read_export(paths, fmt, mapping)  # a missing file, unknown format or bad mapping fails before any work
    embedder = embedder_for(settings)
    snapshot = load_snapshot(kb, embedder)
    tax = taxonomy_for(settings, snapshot, taxonomy)
    matcher = EntryMatcher(Searcher(snapshot, embedder, settings.section_window), embedder)
    tags = TagMapper(tax)
    catch_all = tax.catch_all if tax is not None else "needs_review"
    scope = learned_scope(settings, kb)
    report = ImportReport()
    for batch in _batches(tickets, report):
        report.read += len(batch)
        batch = _latest(batch)
        stored = store.learned_digests(scope, SOURCE, [t.ticket_id for t in batch])
        todo: list[tuple[Ticket, str, Conversation]] = []
        for ticket in batch:
            digest = ticket_digest(ticket)
            if stored.get(ticket.ticket_id) == digest:
                report.unchanged += 1
                continue
            read = _conversation(ticket)
            if read is None:
                report.bad.append(BadRow(ticket.origin, f"ticket {ticket.ticket_id}: no message from the customer"))
                continue
            todo.append((ticket, digest, read))
        if todo:
            matches, vectors = matcher.match([t for t, _, _ in todo], [c.question for _, _, c in todo],
                                             [c.replies for _, _, c in todo])
            rows, contacts = [], []
            for n, ((ticket, digest, read), match) in enumerate(zip(todo, matches, strict=True)):
                tag, tag_how = tags.map(ticket.tags)
                rows.append(Learned(source=SOURCE, ref=ticket.ticket_id, digest=digest, text=read.question,
                                    how=match.how, tag_how=tag_how, entry_id=match.entry_id, evidence=match.evidence,
                                    tag=tag, reply=read.answer, channel=ticket.channel, at=ticket.created_at))
                if ticket.requester_id and ticket.ticket_id not in stored:
                    contacts.append((ticket.requester_id, Contact(
                        f"history:{ticket.ticket_id}", ticket.channel, as_utc(ticket.created_at),
                        tag if tag_how == "mapped" and tag else catch_all, vectors[n])))
            added, updated = store.save_learned(scope, rows, contacts)
            report.added += added
            report.updated += updated
        if progress:
            progress(report.read, 0)
    rows = store.learned_examples(scope)
    _summarise(rows, set(snapshot.entries), report)
    manifest = snapshot.manifest
    faq_files = [Path(p) for p in manifest["sources"]["faq"]]
    docs = Path(manifest["sources"]["docs"]) if manifest["sources"].get("docs") else None
    learned = learned_set(rows, set(snapshot.entries), store.answer_verdicts())
    report.build = build_kb(settings, kb, faq_files, docs, progress=build_progress, learned=learned,
                            calibration_progress=calibration_progress)
    report.calibration = load_snapshot(kb).manifest.get("calibration", {})
    log.info("event=history_import scope=%s read=%d added=%d updated=%d bad=%d", scope, report.read, report.added,
             report.updated, len(report.bad))
    return report


def _summarise(rows: Sequence[Learned], entries: set[str], report: ImportReport) -> None:
    """The mix of the KB's whole learned set (not only this import's tickets) and how sure each kind is: the
    share of its messages whose own top search hit is the entry the agents used (for by hand: that the top hit
    is *not* an entry agents used for it, i.e. nothing to agree with, so it is left out)."""
    decided, report.paraphrase_threshold = decide(rows, entries)
    for kind in KINDS:
        of_kind = [d for d in decided if d.kind == kind]
        report.kinds[kind] = len(of_kind)
        if of_kind and kind != "by_hand":
            agree = sum(d.row.evidence_value("top_hit") == d.entry_id for d in of_kind)
            report.agreement[kind] = round(agree / len(of_kind), 3)
    for r in rows:
        report.tags[r.tag_how] = report.tags.get(r.tag_how, 0) + 1
