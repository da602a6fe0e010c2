"""Does an FAQ entry cover what a message asks? Lexical coverage features over Kiwi morphemes.

Near-misses share words with an entry but ask something it does not cover ("포인트 선물할 수 있나요?"
against "포인트는 어떻게 적립하나요?"): the dense similarity and the keyword agreement are high, the action
differs. ``coverage_features`` measures, with no KB-specific knowledge, which of the message's content
morphemes and which main action the entry's texts never mention, and the reverse.

Output keys (stable; ``COVERAGE_FEATURES`` in this order; every value is a float, 0.0 when undefined):

- ``uncovered_share``: share of the message's distinct content morphemes (nouns NNG/NNP, verb and adjective
  stems VV/VA, roots XR, foreign words SL, Chinese characters SH, numbers SN; a few light words such as 하다,
  되다, 있다, 어떻다, 가능, 방법 left out) that appear nowhere in the entry's texts or answer. A morpheme also
  counts as covered when it occurs in them as a substring (two characters or more), so compounds split
  differently (배송지 / 배송 지) still match.
- ``uncovered_count``: how many such morphemes there are.
- ``action_uncovered``: 1.0 when the message's main action (its last non-light predicate: the noun of a
  하다/되다/받다 verb such as 선물하다 → 선물, or a verb stem such as 바꾸다 → 바꾸; without one, its last
  content noun, as in "예약 취소는 어떻게 하나요" → 취소) is absent from the entry's texts and answer.
- ``entry_action_missing``: 1.0 when none of the entry's phrasings (question and examples, not the answer)
  has its main action in the message.
- ``entry_uncovered_share``: share of the closest phrasing's content morphemes absent from the message (the
  minimum over the phrasings): what the entry asks that the message does not.
- ``negation_mismatch``: 1.0 when the message is negated (안, 못, 않다, 없다, 안되다) and no phrasing is, or
  every phrasing is and the message is not ("결제가 안 돼요" against "결제는 어떻게 하나요?").

Cost: one Kiwi analysis per distinct text, cached (entries repeat), well under a millisecond for a short
message once Kiwi is loaded (``knowledge.lexical`` loads the same instance).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from knowledge.lexical import _kiwi, _kiwi_lock

COVERAGE_FEATURES = ("uncovered_share", "uncovered_count", "action_uncovered", "entry_action_missing",
                     "entry_uncovered_share", "negation_mismatch")

_NOUN_TAGS = ("NNG", "NNP", "SL", "SH", "SN", "XR")
_PREDICATE_TAGS = ("VV", "VA")
# Verbs and adjectives that carry no action of their own ("어떻게 하나요", "돼요", "있나요"), and nouns that
# only frame a question ("방법", "가능", "문의").
_LIGHT_PREDICATES = frozenset({"하", "되", "있", "어떻", "그렇", "이렇", "저렇", "같", "받", "시키", "주", "보",
                               "알", "싶", "드리", "나"})
_GENERIC_NOUNS = frozenset({"가능", "불가", "불가능", "방법", "문의", "질문", "경우", "관련", "궁금", "필요",
                            "여부", "어떻", "좀", "요", "등", "때", "이용"})
_LIGHT_AFTER_NOUN = frozenset({"하", "되", "받", "시키", "당하", "드리"})  # 선물하다, 적용되다, 환불받다
_NEGATIONS = frozenset({"안", "못", "않", "없", "아니", "안되"})
_MIN_SUBSTRING = 2  # shorter morphemes match only whole


@dataclass(frozen=True)
class _Analysis:
    keys: frozenset[str]  # content morphemes (lower-cased; verb stems by lemma without 다)
    action: str | None  # the main action, see the module docstring
    negated: bool
    compact: str  # the text without spaces, lower-cased, for substring matches


def _key(form: str, tag: str, lemma: str) -> str:
    if tag.startswith(_PREDICATE_TAGS) and lemma.endswith("다"):
        return lemma[:-1].lower()  # irregular stems (들었어 → 듣) meet their regular forms
    return form.lower()


@lru_cache(maxsize=8192)
def _analyse(text: str) -> _Analysis:
    with _kiwi_lock:
        tokens = _kiwi().tokenize(text)
    keys: list[str] = []
    candidates: list[str] = []
    nouns: list[str] = []
    negated = False
    for i, t in enumerate(tokens):
        key = _key(t.form, t.tag, t.lemma)
        if key in _NEGATIONS and (t.tag.startswith(("MAG", "VX", "VA", "VCN"))):
            negated = True
            continue
        if t.tag.startswith(_NOUN_TAGS):
            if key in _GENERIC_NOUNS:
                continue
            keys.append(key)
            nouns.append(key)
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if nxt is not None and nxt.start == t.start + t.len and (
                    nxt.tag in ("XSV", "XSA") or (nxt.tag.startswith("VV")
                                                  and _key(nxt.form, nxt.tag, nxt.lemma) in _LIGHT_AFTER_NOUN)):
                candidates.append(key)  # 선물하다, 환불받다: the noun is the action
        elif t.tag.startswith(_PREDICATE_TAGS):
            if key in _LIGHT_PREDICATES or key in _NEGATIONS:
                continue
            keys.append(key)
            candidates.append(key)
    action = candidates[-1] if candidates else (nouns[-1] if nouns else None)
    return _Analysis(frozenset(keys), action, negated, "".join(text.lower().split()))


def _covered(key: str, keys: frozenset[str] | set[str], compact: str) -> bool:
    return key in keys or (len(key) >= _MIN_SUBSTRING and key in compact)


def coverage_features(message: str, entry_texts: Sequence[str], answer: str = "") -> dict[str, float]:
    """How much of what ``message`` asks the entry covers (keys: ``COVERAGE_FEATURES``, see the module doc).

    ``entry_texts``: the entry's question and example phrasings (the first is taken as the question);
    ``answer``: its answer, optional: it can cover the message's words and action, but its own wording is
    never taken as something the message must ask.
    """
    msg = _analyse(message)
    phrasings = [_analyse(t) for t in entry_texts if t.strip()]
    covering = [*phrasings, _analyse(answer)] if answer.strip() else phrasings
    entry_keys: set[str] = set().union(*(a.keys for a in covering)) if covering else set()
    entry_compact = "\n".join(a.compact for a in covering)

    uncovered = [k for k in msg.keys if not _covered(k, entry_keys, entry_compact)]
    action_uncovered = msg.action is not None and not _covered(msg.action, entry_keys, entry_compact)
    entry_actions = [a.action for a in phrasings if a.action is not None]
    entry_action_missing = bool(entry_actions) and not any(
        _covered(action, msg.keys, msg.compact) for action in entry_actions)
    leftovers = [sum(not _covered(k, msg.keys, msg.compact) for k in a.keys) / len(a.keys)
                 for a in phrasings if a.keys]
    negation_mismatch = bool(phrasings) and (
        (msg.negated and not any(a.negated for a in phrasings))
        or (not msg.negated and all(a.negated for a in phrasings)))
    return {
        "uncovered_share": len(uncovered) / len(msg.keys) if msg.keys else 0.0,
        "uncovered_count": float(len(uncovered)),
        "action_uncovered": float(action_uncovered),
        "entry_action_missing": float(entry_action_missing),
        "entry_uncovered_share": min(leftovers) if leftovers else 0.0,
        "negation_mismatch": float(negation_mismatch),
    }
