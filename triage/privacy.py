"""Redaction of personal data in customer text, and its restoration in reply drafts.

Customer text is redacted before it reaches an LLM, a log or disk; the placeholders an LLM copies into its
draft are put back before an agent sees the draft. Detected (Korean formats first):

- ``rrn``: 주민등록번호 / 외국인등록번호, YYMMDD (month 01–12, day 01–31), optional hyphen or space, [1-8] + 6 digits.
- ``phone``: mobile 010/011/016–019, +82 forms, landlines (02, 031–033, 041–044, 051–055, 061–064), 070, 050x.
- ``email``: ordinary addresses, also when Hangul follows directly ("abc@naver.com으로").
- ``card``: 13–19 digits, plain or in space/hyphen groups, with a card-issuer prefix (2221–2720, 3, 4, 5, 6,
  9 for Korean domestic cards) and a valid Luhn check digit.
- ``account``: 10–14 digits in 2–4 hyphen-separated groups, or a plain 10–14 digit run shortly after a bank
  keyword (계좌, 은행, 입금, 국민, 신한, …, account, bank; 우리/하나/기업 only right before the number).
- ``passport``: M/S/R/O/D/G + 8 digits (or the 2021 format M123A4567), only shortly after 여권/passport.
- ``driver_license``: NN-NN-NNNNNN-NN.

Deliberately not redacted, because agents need them: order numbers (a plain digit run without a bank keyword,
or one failing the card checks), business numbers (1588-xxxx, 1644-xxxx, …), prices, dates, times, versions.
A digit is a word character like a Hangul syllable, so numbers are delimited with digit lookarounds, not ``\\b``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PiiKind = Literal["rrn", "phone", "email", "card", "account", "passport", "driver_license"]

# Overlapping spans: the longer one wins, then the kind listed first.
PRIORITY: tuple[PiiKind, ...] = ("rrn", "card", "phone", "driver_license", "account", "passport", "email")

# A number must not be part of a longer number ("2026-11-08", "123-456789-01-012"), but may touch Hangul.
_L = r"(?<![0-9])(?<![0-9][-.])"
_R = r"(?![0-9])(?![-.][0-9])"
_AREA = r"2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70"  # Korean area codes and 070

PATTERNS: dict[PiiKind, re.Pattern[str]] = {
    "rrn": re.compile(_L + r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[- ]?[1-8][0-9]{6}" + _R),
    # One separator used throughout: 4-4-4-4, 4-6-5 (Amex), 4-4-4-4-3, or none.
    "card": re.compile(_L + r"[0-9]{4}([ -]?)[0-9]{4,6}\1[0-9]{4,5}(?:\1[0-9]{1,4}){0,2}" + _R),
    "phone": re.compile(_L + "(?:" + "|".join((
        r"01[016-9][-. ]?[0-9]{3,4}[-. ]?[0-9]{4}",
        r"\+82[-. ]?0?(?:1[016-9]|" + _AREA + r")[-. ]?[0-9]{3,4}[-. ]?[0-9]{4}",
        r"0(?:" + _AREA + r"|50[0-9])[-. ]?[0-9]{3,4}[-. ]?[0-9]{4}",
    )) + ")" + _R),
    "driver_license": re.compile(_L + r"[0-9]{2}-[0-9]{2}-[0-9]{6}-[0-9]{2}" + _R),
    "account": re.compile(_L + r"(?:[0-9]{2,6}(?:-[0-9]{2,7}){1,3}|[0-9]{10,14})" + _R),
    "passport": re.compile(r"(?<![A-Za-z0-9])[MSRODG](?:[0-9]{8}|[0-9]{3}[A-Z][0-9]{4})(?![0-9])"),
    "email": re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}"),
}
# A bank keyword within ~15 characters before a plain digit run; 우리/하나/기업 are also everyday words
# ("we", "one", "company"), so they count only right before the number ("우리 110123456789").
BANK_KEYWORD = re.compile(r"(계좌|은행|입금|국민|신한|농협|카카오뱅크|토스|account|bank)|(우리|하나|기업)\s*$")
PASSPORT_KEYWORD = re.compile(r"여권|passport")
KEYWORD_WINDOW = 15
PLACEHOLDER = re.compile(r"<(?:" + "|".join(kind.upper() for kind in PRIORITY) + r")_[0-9]+>")


@dataclass(frozen=True)
class PiiMatch:
    kind: PiiKind
    start: int
    end: int
    value: str


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _keyword_before(text: str, start: int, keyword: re.Pattern[str]) -> bool:
    return keyword.search(text[max(0, start - KEYWORD_WINDOW):start].lower()) is not None


def _accepted(kind: PiiKind, text: str, start: int, value: str) -> bool:
    digits = re.sub(r"[^0-9]", "", value)
    if kind == "card":
        issuer = digits[0] in "34569" or 2221 <= int(digits[:4]) <= 2720
        return 13 <= len(digits) <= 19 and issuer and _luhn(digits)
    if kind == "account":
        if "-" not in value:  # a plain run is an order number unless a bank keyword precedes it
            return _keyword_before(text, start, BANK_KEYWORD)
        return 10 <= len(digits) <= 14
    if kind == "passport":
        return _keyword_before(text, start, PASSPORT_KEYWORD)
    return True


def _candidates(text: str) -> list[PiiMatch]:
    found = []
    for kind, pattern in PATTERNS.items():
        for m in pattern.finditer(text):
            start, value = m.start(), m.group()
            # A grouped card may have taken in a following number ("… 0004 5개"): retry without the last group.
            if kind == "card" and m.group(1) and not _accepted(kind, text, start, value):
                value = value.rsplit(m.group(1), 1)[0]
            if _accepted(kind, text, start, value):
                found.append(PiiMatch(kind, start, start + len(value), value))
    return found


def find_personal_data(text: str) -> list[PiiMatch]:
    """Every personal-data span in text, non-overlapping, in text order."""
    candidates = sorted(_candidates(text), key=lambda c: (c.start - c.end, PRIORITY.index(c.kind), c.start))
    chosen: list[PiiMatch] = []
    for c in candidates:
        if all(c.end <= o.start or o.end <= c.start for o in chosen):
            chosen.append(c)
    return sorted(chosen, key=lambda c: c.start)


@dataclass
class Redaction:
    text: str  # the text with placeholders
    originals: dict[str, str]  # placeholder -> original value

    def restore(self, text: str) -> str:
        """Put the original values back wherever a placeholder of this redaction appears in text
        (e.g. in an LLM's draft). Unknown placeholders are left as they are."""
        return PLACEHOLDER.sub(lambda m: self.originals.get(m.group(), m.group()), text)

    @property
    def kinds(self) -> list[str]:
        """Sorted distinct kinds found ("<DRIVER_LICENSE_2>" -> "driver_license")."""
        return sorted({p[1:-1].rsplit("_", 1)[0].lower() for p in self.originals})


def redact(text: str) -> Redaction:
    """Replace each personal-data span by a placeholder like <PHONE_1>, <EMAIL_1>, <CARD_1>, <RRN_1>,
    <ACCOUNT_1>, <PASSPORT_1>, <DRIVER_LICENSE_1>; the same value gets the same placeholder, numbered per kind
    in order of first appearance."""
    placeholders: dict[tuple[str, str], str] = {}
    counts: dict[str, int] = {}
    parts: list[str] = []
    pos = 0
    for m in find_personal_data(text):
        key = (m.kind, m.value)
        if key not in placeholders:
            counts[m.kind] = counts.get(m.kind, 0) + 1
            placeholders[key] = f"<{m.kind.upper()}_{counts[m.kind]}>"
        parts += [text[pos:m.start], placeholders[key]]
        pos = m.end
    parts.append(text[pos:])
    return Redaction("".join(parts), {p: value for (_, value), p in placeholders.items()})


def label_placeholders(text: str) -> str:
    """Placeholders replaced by the name of what was removed ("<PHONE_1>" -> "[phone]"): for notes that may
    mention personal data without repeating it."""
    return PLACEHOLDER.sub(lambda m: "[" + m.group()[1:-1].rsplit("_", 1)[0].lower().replace("_", " ") + "]", text)


def redact_text(text: str) -> str:
    """Shorthand for logs and storage: redact(text).text."""
    return redact(text).text
