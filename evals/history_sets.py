"""History exports for ``triage eval history``: a helpdesk's past tickets, built from a public intent set.

``history_export(unseen, settings, work)`` writes ``work / "history.jsonl"`` in the shape of
``knowledge/samples/telecom/history/README.md`` (one ticket per line: ``ticket_id``, ``created_at``, ``channel``,
``subject``, ``requester``, ``tags``, ``status``, ``comments``) for the sets ``evals.unseen`` builds from CLINC150,
HWU64 and Bitext, and returns the shipped export for ``telecom``. Beside it, ``work / "history_truth.jsonl"``
says what each ticket really was (its entry, its tag, the noise put in it), so the eval can tell how well an
import read the noise; an import must never read it.

Customer messages are train rows the set's FAQ and taxonomy do not carry (``evals.unseen`` takes each intent's
first ten train phrasings), never a tuning or test row. A quarter of the tickets are things the FAQ does not
answer: messages of the intents held out of the FAQ and, for CLINC150, its ``oos_train`` rows; an agent answers
them by hand (a few English templates, or for Bitext a reference reply of the held-out intent). The others are
answered from their intent's entry, in thirds: its ``url`` linked, its answer pasted (sometimes lightly edited),
or said in other words (Bitext: another reference reply of the intent, written by a person; CLINC150 and HWU64:
another templated wording). Noise, as agents make it: a tenth of the answered tickets first get a neighbouring
entry (same domain or category), the customer objects and the agent sends the right one; a few end with the
customer's thanks and an agent's closing line; tags are the intent's about three times in four, otherwise a
sibling intent, the category only, a free-form tag or none.

Deterministic (``SEED``), no network; reads ``settings.datasets_dir``.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evals.triage_evals import bitext_rows
from evals.unseen import PHRASINGS, UnseenSet, bitext_answers, intent_words
from knowledge.samples import SAMPLES_DIR
from knowledge.sources import FaqEntry, load_faq_files
from triage.config import Settings
from triage.taxonomy import NEEDS_REVIEW

SEED = 2026
END = datetime(2026, 6, 1, tzinfo=UTC)  # the export is taken then; tickets span the six months before it
DAYS = 182
BY_HAND_SHARE = 0.25  # of the tickets: questions the FAQ does not answer
OUT_OF_SCOPE_SHARE = 1 / 3  # of the by-hand tickets at most, where the set has out-of-scope rows
WRONG_FIRST_SHARE = 0.10  # of the answered tickets: a neighbouring entry first, then the right one
CLOSING_SHARE = 0.08  # of all tickets: the customer thanks, the agent closes
REPEAT_SHARE = 0.05  # of the tickets: from a requester seen before
EDITED_SHARE = 0.3  # of the pasted answers: lightly edited
TAG_NOISE = {"correct": 0.75, "sibling": 0.10, "parent": 0.07, "free": 0.04, "none": 0.04}
FREE_TAGS = ("vip", "followup", "urgent")
REPLY_KINDS = ("linked", "pasted", "paraphrased")
SHIPPED = ("telecom", "travel")  # sample KBs whose history was written blind: travel tunes, telecom only reports

AGENTS = ("Mia", "Daniel", "Sofia", "Liam", "Hana", "Omar", "Grace", "Noah")
GREETINGS = ("Hi there,", "Hello,", "Hi, thanks for contacting us.", "Hello and thanks for reaching out!",
             "Hi,", "Good morning,", "Thanks for your message.")
CLOSINGS = ("Best regards,\n{agent}", "Let us know if there's anything else we can do.\n{agent}",
            "Have a great day!\n{agent}", "Kind regards,\n{agent} | Customer Support", "Cheers,\n{agent}",
            "Hope this helps!")
LINKS = ("You'll find the steps in this article: {url}", "This help page covers it: {url}",
         "Please have a look here: {url} - it explains everything.", "Here's the guide you need: {url}",
         "All the details are on this page:\n{url}")
# Other wordings of the templated answers of evals.unseen (CLINC150, HWU64): the same help, said differently
PARAPHRASES = (
    "You can sort out {topic} on your own: sign in, find {topic} in the menu, and the screen tells you each step.",
    "Good question! {Topic} is something you can do from your account without waiting for us, and it only takes "
    "a moment.",
    "For anything about {topic}, the self-service section of your account is the place to look; everything you "
    "need is explained there.",
    "No problem. {Topic} is done online: log in, pick {topic}, and confirm. You will see it go through straight "
    "away.",
)
BY_HAND = (
    "Thanks for reaching out about {topic}. I've looked into your account and taken care of it on our side, so "
    "there's nothing more you need to do.",
    "I checked this for you. {Topic} is handled case by case, so I've passed your request to the team in charge "
    "and they'll email you within two working days.",
    "Sorry for the trouble with {topic}. I've made a note on your account and escalated it; you'll hear from us "
    "as soon as we have an update.",
    "We don't have a help article on {topic} yet, but I can confirm I've updated your details and everything "
    "looks fine now.",
    "Thanks for the details about {topic}. I've forwarded them to our specialists, who will get back to you "
    "directly.",
)
OUT_OF_SCOPE = (
    "Thanks for your question. I'm afraid that's not something we can help with here, as it's outside the "
    "services we offer.",
    "Sorry, that's outside what our support team covers, so I can't give you a reliable answer on that one.",
    "Thanks for writing in! Unfortunately we don't handle that kind of request, but I'm happy to help with "
    "anything about your account.",
)
OBJECTIONS = ("That's not what I asked.", "Hmm, that doesn't answer my question.",
              "No, that's about something else. Please read my question again.",
              "That's not what I asked... {message}", "This isn't what I need, sorry.")
CORRECTED = ("Sorry about the mix-up!", "Apologies, I misread your question.", "You're right, my mistake.",
             "Sorry about that, here is the right information.")
THANKS = ("Thanks!", "ok thank you", "Great, that worked.", "Perfect, thanks a lot", "got it, thanks")
CLOSED = ("You're welcome! Have a nice day.", "Glad I could help!", "Happy to help. Take care!")
EMAIL_OPENERS = ("Hi,\n\n", "Hello,\n\n", "Hi there,\n\n", "")
EMAIL_SIGN_OFFS = ("\n\nThanks", "\n\nThank you", "\n\nRegards", "")
SUBJECTS = ("Question", "Need help", "Help please", "Support request", "Quick question", "My account")
# light edits of a pasted answer: one word or phrase changed (the first match)
EDITS = ((r"\byou can\b", "you're able to"), (r"\bplease\b", "kindly"), (r"\bopen\b", "go to"),
         (r"\bfollow\b", "just follow"), (r"\bassist\b", "help"), (r"\bHere is\b", "Here's"),
         (r"\bwill\b", "'ll"))


@dataclass
class _Material:
    """What a public set brings to a history: train rows outside the FAQ and the taxonomy, the texts that must
    never appear (FAQ phrasings, tuning and test rows), a neighbourhood of each intent, and real replies."""

    pool: list[tuple[str, str | None]]  # (text, intent; None: out of scope)
    excluded: set[str]
    group: dict[str, str]  # intent → its domain or category (neighbours share one)
    replies: dict[str, list[str]] = field(default_factory=dict)  # Bitext's reference replies by intent


def _rest(rows: list[tuple[str, str]]) -> tuple[list[tuple[str, str | None]], set[str]]:
    """Each intent's train rows after its first ``PHRASINGS`` (those are the FAQ's and the taxonomy's), and those
    first ones."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in rows:
        by_intent[intent].append(text)
    rest: list[tuple[str, str | None]] = [(t, i) for i, texts in by_intent.items() for t in texts[PHRASINGS:]]
    return rest, {t for texts in by_intent.values() for t in texts[:PHRASINGS]}


def _taxonomy_parents(unseen: UnseenSet) -> dict[str, str]:
    if unseen.taxonomy is None:
        return {}
    rows = json.loads(unseen.taxonomy.read_text(encoding="utf-8"))  # evals.unseen writes it as JSON
    return {r["id"]: r["parent"] for r in rows if r.get("parent")}


def _clinc150(settings: Settings, unseen: UnseenSet) -> _Material:
    folder = settings.datasets_dir / "clinc150_oos_eval"
    data = json.loads((folder / "data_full.json").read_text(encoding="utf-8"))
    pool, faq = _rest([(t, i) for t, i in data["train"]])
    pool += [(t, None) for t, _ in data["oos_train"]]
    excluded = faq | {t for split in ("val", "oos_val", "test", "oos_test") for t, _ in data[split]}
    group = dict(_taxonomy_parents(unseen))
    if (folder / "domains.json").is_file():  # the taxonomy has one category; the domains make better neighbours
        group.update({i: d for d, intents in json.loads((folder / "domains.json").read_text()).items()
                      for i in intents})
    return _Material(pool, excluded, group)


def _hwu64(settings: Settings, unseen: UnseenSet) -> _Material:
    folder = settings.datasets_dir / "hwu64"

    def read(name: str) -> list[tuple[str, str]]:
        with (folder / name).open(encoding="utf-8") as fh:
            return [(row["text"], row["label"]) for row in map(json.loads, fh)]

    faq = {t for t, _ in read("train_10.jsonl")}  # the FAQ and taxonomy take the whole 10-shot file
    excluded = faq | {t for name in ("valid.jsonl", "test.jsonl") for t, _ in read(name)}
    pool: list[tuple[str, str | None]] = [(t, i) for t, i in read("train.jsonl")]
    return _Material(pool, excluded, _taxonomy_parents(unseen))


def _bitext(settings: Settings, unseen: UnseenSet) -> _Material:
    folder = settings.datasets_dir / "bitext_cs_intent"
    pool, faq = _rest([(r["utterance"], r["intent"]) for r in bitext_rows(folder / "train.csv")])
    excluded = faq | {r["utterance"] for name in ("dev.csv", "test.csv") for r in bitext_rows(folder / name)}
    return _Material(pool, excluded, _taxonomy_parents(unseen), bitext_answers(settings))


MATERIAL: dict[str, Callable[[Settings, UnseenSet], _Material]] = {
    "clinc150": _clinc150, "hwu64": _hwu64, "bitext": _bitext}


def history_export(unseen: UnseenSet, settings: Settings, work: Path, tickets: int = 1500) -> Path:
    """The helpdesk history export of ``unseen``: written to ``work / "history.jsonl"`` (with
    ``history_truth.jsonl`` beside it) for a public intent set, the shipped file for ``telecom`` and ``travel``."""
    if unseen.name in SHIPPED:
        return SAMPLES_DIR / unseen.name / "history" / "tickets.jsonl"
    if unseen.name not in MATERIAL:
        raise ValueError(f"no history export for the set {unseen.name!r}: there is one for telecom, travel and "
                         f"{', '.join(sorted(MATERIAL))}")
    entries = {e.id: e for e in load_faq_files([unseen.faq])}
    return _Writer(unseen, entries, MATERIAL[unseen.name](settings, unseen)).write(work, tickets)


def _key(text: str) -> str:
    return " ".join(text.split()).lower()


def _title(text: str) -> str:
    return text[:1].upper() + text[1:]


class _Writer:
    def __init__(self, unseen: UnseenSet, entries: dict[str, FaqEntry], material: _Material) -> None:
        self.unseen, self.entries, self.material = unseen, entries, material
        self.parents = _taxonomy_parents(unseen)
        self.rng = random.Random(f"{SEED}:{unseen.name}")

    # ------------------------------------------------------------------ which messages

    def _sample(self, tickets: int) -> list[tuple[str, str | None]]:
        seen = {_key(t) for t in self.material.excluded}  # never an FAQ phrasing, a tuning or a test message
        answerable: list[tuple[str, str | None]] = []
        held: list[tuple[str, str | None]] = []
        out_of_scope: list[tuple[str, str | None]] = []
        for text, intent in self.material.pool:
            key = _key(text)
            if not key or key in seen:
                continue
            seen.add(key)
            if intent is None:
                out_of_scope.append((text, intent))
            elif intent in self.entries:
                answerable.append((text, intent))
            elif intent in self.unseen.held_out:
                held.append((text, intent))
        by_hand = round(BY_HAND_SHARE * tickets)
        n_oos = min(len(out_of_scope), round(OUT_OF_SCOPE_SHARE * by_hand))
        n_held = min(len(held), by_hand - n_oos)
        n_answered = min(len(answerable), tickets - n_oos - n_held)
        rows = (self.rng.sample(answerable, n_answered) + self.rng.sample(held, n_held)
                + self.rng.sample(out_of_scope, n_oos))
        self.rng.shuffle(rows)
        return rows

    # ------------------------------------------------------------------ the ticket

    def write(self, work: Path, tickets: int) -> Path:
        rows = self._sample(tickets)
        start = END - timedelta(days=DAYS)
        span = int((DAYS - 2) * 86400)  # the last replies still come before the export
        times = sorted(self.rng.sample(range(span), len(rows)))
        requesters: list[dict[str, Any]] = []
        used: set[str] = set()
        out, truth = [], []
        for n, ((text, intent), offset) in enumerate(zip(rows, times, strict=True), 1):
            if requesters and self.rng.random() < REPEAT_SHARE:
                requester = self.rng.choice(requesters)
            else:
                while (rid := f"C{self.rng.randrange(10**5, 10**6)}") in used:
                    pass
                used.add(rid)
                segment = self.rng.choices([None, "new", "loyal", "VIP"], [0.75, 0.1, 0.1, 0.05])[0]
                requester = {"id": rid, "segment": segment}
                requesters.append(requester)
            ticket, facts = self._ticket(f"H-{n:06d}", start + timedelta(seconds=offset), text, intent, requester)
            out.append(ticket)
            truth.append(facts)
        work.mkdir(parents=True, exist_ok=True)
        _write_jsonl(work / "history_truth.jsonl", truth)
        return _write_jsonl(work / "history.jsonl", out)

    def _ticket(self, ticket_id: str, created: datetime, text: str, intent: str | None,
                requester: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        rng = self.rng
        channel = rng.choices(["chat", "email"], [0.6, 0.4])[0]
        agent = rng.choice(AGENTS)
        entry = self.entries.get(intent) if intent else None
        facts: dict[str, Any] = {"ticket_id": ticket_id, "entry": entry.id if entry else None,
                                 "tag": intent or NEEDS_REVIEW, "message": text,
                                 "held_out": intent is not None and entry is None, "out_of_scope": intent is None,
                                 "kind": "by_hand", "edited": False, "wrong_first": None, "closing": False}
        body = text
        if channel == "email":
            body = rng.choice(EMAIL_OPENERS) + _title(text) + rng.choice(EMAIL_SIGN_OFFS)
        at = created
        said: list[tuple[str, datetime, str]] = [("customer", at, body)]

        def say(author: str, words: str, minutes: tuple[float, float]) -> None:
            nonlocal at
            at += timedelta(minutes=rng.uniform(*minutes))
            said.append((author, at, words))

        wait = (1, 40) if channel == "chat" else (20, 900)
        if entry is None:
            say("agent", self._framed(self._by_hand(text, intent), agent), wait)
        else:
            kind = rng.choice(REPLY_KINDS)
            facts["kind"] = kind
            if rng.random() < WRONG_FIRST_SHARE and (wrong := self._neighbour(entry.id)):
                facts["wrong_first"] = wrong.id
                say("agent", self._framed(self._from_entry(wrong, rng.choice(("linked", "pasted")))[0], agent), wait)
                say("customer", rng.choice(OBJECTIONS).format(message=text), (2, 120))
                reply, edited = self._from_entry(entry, kind)
                say("agent", self._framed(f"{rng.choice(CORRECTED)} {reply}", agent, greet=False), wait)
            else:
                reply, edited = self._from_entry(entry, kind)
                say("agent", self._framed(reply, agent), wait)
            facts["edited"] = edited
        if rng.random() < CLOSING_SHARE:
            facts["closing"] = True
            say("customer", rng.choice(THANKS), (1, 240))
            say("agent", rng.choice(CLOSED), (1, 60))
        tags, facts["tag_noise"] = self._tags(intent, requester)
        subject = f"Chat with {requester['id']}" if channel == "chat" else (
            rng.choice(SUBJECTS) if rng.random() < 0.4 else _title(" ".join(text.split()[:8])))
        status = "closed" if created < END - timedelta(days=14) and rng.random() < 0.85 else "solved"
        comments = [{"author": who, "created_at": when.isoformat(timespec="seconds"), "body": words}
                    for who, when, words in said]
        return ({"ticket_id": ticket_id, "created_at": comments[0]["created_at"], "channel": channel,
                 "subject": subject, "requester": dict(requester), "tags": tags, "status": status,
                 "comments": comments}, facts)

    # ------------------------------------------------------------------ replies

    def _framed(self, reply: str, agent: str, greet: bool = True) -> str:
        parts = ([self.rng.choice(GREETINGS)] if greet else []) + [reply, self.rng.choice(CLOSINGS).format(agent=agent)]
        return "\n\n".join(parts)

    def _from_entry(self, entry: FaqEntry, kind: str) -> tuple[str, bool]:
        """A reply that links, pastes or paraphrases ``entry``, and whether a paste was edited."""
        rng = self.rng
        if kind == "linked":
            return rng.choice(LINKS).format(url=entry.url), False
        if kind == "pasted":
            if rng.random() < EDITED_SHARE:
                return _edited(entry.answer, rng), True
            return entry.answer, False
        # Bitext: another agent's reply to the intent
        others = [r for r in self.material.replies.get(entry.id, [])[1:] if r != entry.answer]
        if others:
            return rng.choice(others), False
        words = intent_words(entry.id)
        return rng.choice(PARAPHRASES).format(topic=words, Topic=_title(words)), False

    def _by_hand(self, text: str, intent: str | None) -> str:
        rng = self.rng
        if intent is None:
            return rng.choice(OUT_OF_SCOPE)
        if replies := self.material.replies.get(intent):  # Bitext: a reference reply of the held-out intent
            return rng.choice(replies)
        words = intent_words(intent)
        return rng.choice(BY_HAND).format(topic=words, Topic=_title(words))

    def _neighbour(self, entry_id: str) -> FaqEntry | None:
        """Another FAQ entry of the same domain or category (any other entry when it has none)."""
        group = self.material.group.get(entry_id)
        same = [e for e in sorted(self.entries) if e != entry_id and self.material.group.get(e) == group]
        others = same or [e for e in sorted(self.entries) if e != entry_id]
        return self.entries[self.rng.choice(others)] if others else None

    # ------------------------------------------------------------------ tags

    def _tags(self, intent: str | None, requester: dict[str, Any]) -> tuple[list[str], str]:
        rng = self.rng
        if intent is None:  # out of scope: no taxonomy tag fits
            noise = rng.choice(("none", "free"))
        else:
            noise = rng.choices(list(TAG_NOISE), list(TAG_NOISE.values()))[0]
        parent = self.parents.get(intent or "")
        siblings = sorted(i for i, p in self.parents.items() if p == parent and i != intent
                          and self.material.group.get(i) == self.material.group.get(intent or ""))
        siblings = siblings or sorted(i for i, p in self.parents.items() if p == parent and i != intent)
        if (noise == "sibling" and not siblings) or (noise == "parent" and not parent):
            noise = "correct"
        given: dict[str, list[str | None]] = {
            "correct": [intent], "sibling": [rng.choice(siblings)] if siblings else [], "parent": [parent],
            "free": [rng.choice(FREE_TAGS)], "none": []}
        tags = [t for t in given[noise] if t]
        if requester["segment"] == "VIP" and "vip" not in tags and rng.random() < 0.5:
            tags = [*tags, "vip"]
        return tags, noise


def _edited(answer: str, rng: random.Random) -> str:
    """A light edit of a pasted answer: a long one loses one of its later sentences; a short one has a word or a
    phrase changed."""
    sentences = re.split(r"(?<=[.!?])\s+", answer.strip())
    if len(sentences) >= 5:
        del sentences[rng.randrange(2, len(sentences))]
        return " ".join(sentences)
    for pattern, new in rng.sample(EDITS, len(EDITS)):
        edited, n = re.subn(pattern, new, answer, count=1, flags=re.IGNORECASE)
        if n:
            return edited
    return answer.rstrip(".") + "!"


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def summary(work: Path) -> dict[str, Any]:
    """Counts of an export from its truth file: tickets, answered by hand, reply kinds, follow-ups, tag noise."""
    with (work / "history_truth.jsonl").open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    by_hand = sum(r["entry"] is None for r in rows)
    return {"tickets": len(rows), "by_hand": by_hand, "by_hand_share": round(by_hand / max(1, len(rows)), 3),
            "held_out": sum(r["held_out"] for r in rows), "out_of_scope": sum(r["out_of_scope"] for r in rows),
            "kinds": dict(Counter(r["kind"] for r in rows)), "edited": sum(r["edited"] for r in rows),
            "wrong_first": sum(r["wrong_first"] is not None for r in rows),
            "closing": sum(r["closing"] for r in rows), "tag_noise": dict(Counter(r["tag_noise"] for r in rows)),
            "entries_used": len({r["entry"] for r in rows if r["entry"]})}
