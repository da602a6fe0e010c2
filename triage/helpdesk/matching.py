"""What agents did with a past ticket, read with its noise: the FAQ entry that answered the customer's first
message, and the agents' tag mapped to the taxonomy.

The entry: an agent's reply links the entry's ``url`` (``linked``), pastes its answer (``pasted``: most of the
answer's character 4-grams are in the reply, so a greeting around it or a light edit still counts), or only says
it in other words. That last case is decided later, over the whole history (``triage.helpdesk.learned``), from
the evidence kept here: the entry among the question's search hits whose answer the reply is closest to by
meaning, and how close. A later reply in the same ticket wins when the customer wrote in between (they objected
or asked again) and its entry is one the question's search also finds: a correction, not a reply to a new
question. No entry: the ticket was answered by hand.

The tag: an agent tag that is a taxonomy leaf (by id or name, case and separators ignored) is ``mapped``; a
category only is a weak hint (``parent``); anything else is ``unknown``; no tag at all is ``none``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from knowledge.embedders import Embedder
    from knowledge.search import Searcher
    from triage.helpdesk.tickets import Ticket
    from triage.taxonomy import Taxonomy

SHINGLE = 4  # characters
PASTED_CONTAINMENT = 0.6  # share of the answer's 4-grams found in the reply
MIN_ANSWER_CHARS = 20  # shorter answers are too common to be recognised by their words
QUESTION_HITS = 10  # an entry the question's search does not find in this many is not what the agent meant
URL = re.compile(r"https?://[^\s<>\"'()\[\]{}]+", re.IGNORECASE)


def normalize_url(url: str) -> str:
    """The part of a URL that names a page: no scheme, ``www.``, fragment, tracking parameters (``utm_*``) or
    trailing slash or punctuation."""
    url = url.strip().rstrip(".,;:!?)>]'\"").split("#", 1)[0]
    url = re.sub(r"^https?://(www\.)?", "", url, flags=re.IGNORECASE)
    path, _, query = url.partition("?")
    kept = "&".join(p for p in query.split("&") if p and not p.lower().startswith("utm_"))
    host, _, rest = path.partition("/")
    return f"{host.lower()}/{rest}".rstrip("/") + (f"?{kept}" if kept else "")


def _normalized_text(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).lower())


def shingles(text: str) -> set[str]:
    flat = _normalized_text(text)
    return {flat[i:i + SHINGLE] for i in range(max(0, len(flat) - SHINGLE + 1))}


@dataclass(frozen=True)
class ReplyEvidence:
    """What one agent reply says about the entry it used."""

    linked: tuple[str, ...] = ()  # entries whose url it links
    pasted: str | None = None  # the entry whose answer it contains
    containment: float = 0.0


@dataclass(frozen=True)
class EntryMatch:
    entry_id: str | None
    how: str  # linked | pasted | reply (a reply that neither links nor pastes) | no_reply
    evidence: dict[str, Any] = field(default_factory=dict)


class EntryMatcher:
    """Reads agents' replies against one KB snapshot's entries."""

    def __init__(self, searcher: Searcher, embedder: Embedder) -> None:
        entries = searcher.snapshot.entries
        self.searcher, self.embedder = searcher, embedder
        self.by_url: dict[str, list[str]] = {}
        for entry in entries.values():
            if entry.url:
                self.by_url.setdefault(normalize_url(entry.url), []).append(entry.id)
        self.answer_ids = [e.id for e in entries.values() if len(_normalized_text(e.answer)) >= MIN_ANSWER_CHARS]
        self.answer_shingles = {e: shingles(entries[e].answer) for e in self.answer_ids}
        self._column = {e: n for n, e in enumerate(entries)}
        answers = [e.answer for e in entries.values()]
        self.answer_vectors = embedder.encode_passages(answers) if answers else np.zeros((0, embedder.dim), np.float32)

    def reply_evidence(self, reply: str) -> ReplyEvidence:
        linked = tuple(dict.fromkeys(e for url in URL.findall(reply) for e in self.by_url.get(normalize_url(url), ())))
        words = shingles(reply)
        best, best_share = None, 0.0
        if words:
            for entry_id in self.answer_ids:
                own = self.answer_shingles[entry_id]
                share = len(own & words) / len(own)
                if share > best_share:
                    best, best_share = entry_id, share
        return ReplyEvidence(linked, best if best_share >= PASTED_CONTAINMENT else None, round(best_share, 3))

    def match(self, tickets: Sequence[Ticket], questions: Sequence[str],
              replies: Sequence[Sequence[str]]) -> tuple[list[EntryMatch], NDArray[np.float32]]:
        """The entry of each ticket (its redacted first message ``questions[i]`` and agents' replies in order
        ``replies[i]``), and the questions' vectors. Embeds the batch's questions and replies in one call each."""
        vectors = self.embedder.encode_queries(list(questions))
        flat = [reply for ticket_replies in replies for reply in ticket_replies]
        reply_vectors = self.embedder.encode_passages(flat) if flat else np.zeros((0, self.embedder.dim), np.float32)
        out, start = [], 0
        for n, ticket in enumerate(tickets):
            hits = [h.entry_id for h in self.searcher.search(questions[n], k=QUESTION_HITS, vector=vectors[n]).faq_hits]
            own = reply_vectors[start:start + len(replies[n])]
            start += len(replies[n])
            out.append(self._decide(ticket, hits, replies[n], own))
        return out, vectors

    def _decide(self, ticket: Ticket, hits: list[str], replies: Sequence[str],
                reply_vectors: NDArray[np.float32]) -> EntryMatch:
        evidence: dict[str, Any] = {"top_hit": hits[0] if hits else None}
        if not replies:
            return EntryMatch(None, "no_reply", evidence)
        objected = _customer_between(ticket)
        chosen: tuple[str, str, int] | None = None
        for n, reply in enumerate(replies):
            seen = self.reply_evidence(reply)
            found = _pick(seen.linked, hits), seen.pasted
            entry, how = (found[0], "linked") if found[0] else (found[1], "pasted")
            if entry is None:
                continue
            if chosen is None or (objected[n] and entry in hits):  # a correction after the customer wrote
                chosen = (entry, how, n)
                if how == "pasted":
                    evidence["containment"] = seen.containment
        if hits:
            # each reply against the answers of the question's hits: a closing "you're welcome" says nothing
            sims = reply_vectors @ self.answer_vectors[[self._column[e] for e in hits]].T
            if chosen is None:
                row, col = np.unravel_index(int(np.argmax(sims)), sims.shape)
                evidence["closest"], evidence["closest_sim"] = hits[int(col)], round(float(sims[row, col]), 4)
            else:
                decisive = sims[chosen[2]]
                own = [float(decisive[i]) for i, e in enumerate(hits) if e == chosen[0]]
                others = [float(decisive[i]) for i, e in enumerate(hits) if e != chosen[0]]
                evidence["own_sim"] = round(own[0], 4) if own else None
                evidence["other_sim"] = round(max(others), 4) if others else None
        if chosen is None:
            return EntryMatch(None, "reply", evidence)
        return EntryMatch(chosen[0], chosen[1], evidence)


def _pick(linked: tuple[str, ...], hits: list[str]) -> str | None:
    """One entry from those a reply links: the one the question's search ranks highest, else the first."""
    if not linked:
        return None
    ranked = [e for e in hits if e in linked]
    return ranked[0] if ranked else linked[0]


def _customer_between(ticket: Ticket) -> list[bool]:
    """For each agent reply after the customer's first message (the replies the import reads: non-empty ones),
    whether the customer wrote after the previous such reply (false for the first)."""
    out, wrote, seen_agent, started = [], False, False, False
    for comment in ticket.comments:
        if not comment.body.strip():
            continue
        if comment.author == "customer":
            wrote, started = seen_agent, True
        elif started:
            out.append(seen_agent and wrote)
            seen_agent, wrote = True, False
    return out


def _key(text: str) -> str:
    return re.sub(r"[\s_\-/]+", "_", unicodedata.normalize("NFKC", text).strip().lower())


class TagMapper:
    """Agents' tags → one taxonomy tag, with how it was read (see the module's docstring)."""

    def __init__(self, taxonomy: Taxonomy | None) -> None:
        self.leaves: dict[str, str] = {}
        self.parents: dict[str, str] = {}
        if taxonomy is None:
            return
        leaves = set(taxonomy.leaves)
        for tag in taxonomy.tags.values():
            if tag.id == taxonomy.catch_all:
                continue
            target = self.leaves if tag.id in leaves else self.parents
            target.setdefault(_key(tag.id), tag.id)
            target.setdefault(_key(tag.name), tag.id)

    def map(self, tags: Sequence[str]) -> tuple[str | None, str]:
        keys = [_key(t) for t in tags if t.strip()]
        leaves = [self.leaves[k] for k in keys if k in self.leaves]
        if leaves:
            return leaves[0], "mapped"
        parents = [self.parents[k] for k in keys if k in self.parents]
        if parents:
            return parents[0], "parent"
        return None, "unknown" if keys else "none"
