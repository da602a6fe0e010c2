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
- ``rrn`` also in parts: a YYMMDD front or a [1-8]+6-digit back right after 주민번호/앞자리/뒷자리 and the like
  ("앞자리 920304 뒷자리 2345678").
- ``address``: a road address (…로/…길 + building number, "월드컵로 123", "올림픽로35길 10-2") or a lot address
  (…동/리/가 + 번지, "망원동 123-4") next to an address cue: 주소/배송지/address before it, a 시/도/구/군/읍/면
  before it, 번지, or a unit after it; and an apartment unit ("101동 1001호") anywhere.
- ``password``: the value after 비밀번호/비번/패스워드/PIN/password…: printable ASCII, with a digit or one of
  !@#$%^&*+=~ in it unless the keyword is Korean or assigns it ("비밀번호 abcdefg", "password: hunter",
  "password is hunter").

Deliberately not redacted, because agents need them: order numbers (a plain digit run without a bank keyword,
or one failing the card checks), business numbers (1588-xxxx, 1644-xxxx, …), prices, dates, times, versions.
A digit is a word character like a Hangul syllable, so numbers are delimited with digit lookarounds, not ``\\b``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PiiKind = Literal["rrn", "phone", "email", "card", "account", "passport", "driver_license", "address", "password"]

# Overlapping spans: the longer one wins, then the kind listed first.
PRIORITY: tuple[PiiKind, ...] = ("rrn", "card", "phone", "driver_license", "account", "passport", "email",
                                 "password", "address")

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
# A number followed by a unit is a quantity, not a building number ("말한대로 2개", "택배로 3번").
_NO_QUANTITY = (r"(?!\s?(?:개|원|번째|번(?!지)|명|회|시|분|초|일|월|년|%|배|마리|장|권|건|살|세|위|등"
                r"|달|주|만|천|백|억|층|kg|g|km|m\b|GB|MB))")
_YYMMDD = r"[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
_RRN_KEYWORD = (r"주민(?:등록)?\s?번호|외국인\s?등록\s?번호|앞\s?자리|뒷\s?자리|앞\s?번호|뒷\s?번호"
                r"|앞\s?6\s?자리|뒤\s?7\s?자리")
_PASSWORD_KEYWORD = r"비밀\s?번호|비번|패스\s?워드|핀\s?번호|(?<![a-z_])(?:pin|password|passcode|passwd|pwd?)(?![a-z_])"
_BUILDING_NUMBER = r"\s?[0-9]{1,5}(?:-[0-9]{1,5})?"
_NOT_AFTER_WORD = r"(?<![가-힣A-Za-z0-9])"
# Spans found only next to their keyword: the named group ``value`` is what is redacted.
KEYED_PATTERNS: tuple[tuple[PiiKind, re.Pattern[str]], ...] = (
    ("rrn", re.compile(f"(?:{_RRN_KEYWORD})" + r"[^0-9]{0,8}?(?<![0-9])(?P<value>" + _YYMMDD
                       + r"|[1-8][0-9]{6})(?![0-9])")),
    ("password", re.compile(f"(?i)(?:{_PASSWORD_KEYWORD})"
                            + r"(?P<assign>\s*(?:는|은|:|=|\bis\b|\bwas\b)?)\s*(?P<value>[!-~]{4,64})")),
    ("address", re.compile(r"(?P<value>[0-9]{1,4}\s?동\s?[0-9]{1,5}\s?호)(?![가-힣]?[0-9])")),
    # road: 월드컵로 123, 올림픽로35길 10-2, 동일로 1234번길 5
    ("address", re.compile(_NOT_AFTER_WORD + r"(?P<value>[가-힣][가-힣A-Za-z0-9]*(?:로|길)" + _BUILDING_NUMBER
                           + f"(?:번길{_BUILDING_NUMBER})?)" + r"(?![0-9])(?!-[0-9])" + _NO_QUANTITY)),
    # lot: 망원동 123-4번지
    ("address", re.compile(_NOT_AFTER_WORD + r"(?P<value>[가-힣]+(?:동|리|가)" + _BUILDING_NUMBER + r"(?:\s?번지)?)"
                           + r"(?![0-9])(?!-[0-9])" + _NO_QUANTITY)),
)
# What makes "…로 123" or "…동 12" an address and not a particle before a quantity ("택배로 2개").
ADDRESS_CUE_BEFORE = re.compile(r"주소|배송지|사는\s?곳|거주|자택|address|ship\s?to|deliver\s?to|"
                                r"[가-힣](?:시|도|구|군|읍|면)\s+[가-힣A-Za-z0-9]*$")
ADDRESS_CUE_AFTER = re.compile(r"^\s?(?:번지|,?\s*[0-9]{1,4}\s?동|,?\s*[0-9]{1,5}\s?호|,?\s*지하|,?\s*[0-9]{1,3}\s?층)")
ADDRESS_WINDOW = 20
# Forms that are addresses without a cue: an apartment unit, 번지, a numbered side road, a 대로.
SELF_EVIDENT_ADDRESS = re.compile(r"동\s?[0-9]{1,5}\s?호$|번지$|[0-9]번?길|[가-힣]대로\s?[0-9]")
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


def _keyed_accepted(kind: PiiKind, text: str, m: re.Match[str], value: str) -> bool:
    if kind == "password":
        return (value[0] not in ",.;:?!)]}'\"" and
                (bool(m.group("assign").strip()) or "가" <= m.group()[0] <= "힣"
                 or re.search(r"[0-9!@#$%^&*+=~]", value) is not None))
    if kind == "address" and not SELF_EVIDENT_ADDRESS.search(value):
        before = text[max(0, m.start("value") - ADDRESS_WINDOW):m.start("value")].lower()
        return bool(ADDRESS_CUE_BEFORE.search(before) or ADDRESS_CUE_AFTER.match(text[m.end("value"):]))
    return True


def _keyed_candidates(text: str) -> list[PiiMatch]:
    found = []
    for kind, pattern in KEYED_PATTERNS:
        for m in pattern.finditer(text):
            value = m.group("value")
            if kind == "password":  # sentence punctuation after a password is not part of it
                value = value.rstrip(".,;)]}\"'")
                if len(value) < 4:
                    continue
            if _keyed_accepted(kind, text, m, value):
                found.append(PiiMatch(kind, m.start("value"), m.start("value") + len(value), value))
    return found


def _candidates(text: str) -> list[PiiMatch]:
    found = _keyed_candidates(text)
    for kind, pattern in PATTERNS.items():
        for m in pattern.finditer(text):
            start, value = m.start(), m.group()
            # A grouped card may have taken in a following number ("… 0004 5개"): retry without the last group.
            if kind == "card" and m.group(1) and not _accepted(kind, text, start, value):
                value = value.rsplit(m.group(1), 1)[0]
            if _accepted(kind, text, start, value):
                found.append(PiiMatch(kind, start, start + len(value), value))
    return found


def _repeated(text: str, seen_in: str) -> list[PiiMatch]:
    """Where a value found in ``seen_in`` recurs in text, even without the keyword that marked it there (an
    agent's reply quoting the customer's passport number)."""
    found = []
    for kind, value in {(m.kind, m.value) for m in find_personal_data(seen_in)}:
        for m in re.finditer(r"(?<![0-9A-Za-z])" + re.escape(value) + r"(?![0-9A-Za-z])", text):
            found.append(PiiMatch(kind, m.start(), m.end(), value))
    return found


def find_personal_data(text: str, seen_in: str | None = None) -> list[PiiMatch]:
    """Every personal-data span in text, non-overlapping, in text order; with ``seen_in`` (the customer's
    message a reply or note derives from), also every value found there that text repeats."""
    found = _candidates(text) + (_repeated(text, seen_in) if seen_in else [])
    candidates = sorted(found, key=lambda c: (c.start - c.end, PRIORITY.index(c.kind), c.start))
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


def redact(text: str, seen_in: str | None = None) -> Redaction:
    """Replace each personal-data span by a placeholder like <PHONE_1>, <EMAIL_1>, <CARD_1>, <RRN_1>,
    <ACCOUNT_1>, <PASSPORT_1>, <DRIVER_LICENSE_1>, <ADDRESS_1>, <PASSWORD_1>; the same value gets the same
    placeholder, numbered per kind in order of first appearance. ``seen_in``: see ``find_personal_data``."""
    placeholders: dict[tuple[str, str], str] = {}
    counts: dict[str, int] = {}
    parts: list[str] = []
    pos = 0
    for m in find_personal_data(text, seen_in):
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


def redact_text(text: str, seen_in: str | None = None) -> str:
    """Shorthand for logs and storage: redact(text, seen_in).text."""
    return redact(text, seen_in).text
