"""The language a message is written in: ``ko``, ``en`` or ``other``, from the scripts of its letters."""

from __future__ import annotations

import re
from typing import Literal

HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
LATIN = re.compile(r"[A-Za-z]")
LETTER = re.compile(r"[^\W\d_]")
# markup, links and addresses are not what the customer wrote in (a pasted "<b>" or URL is not English)
# (an address is matched from the start of its word only: from every character, a long run would cost O(n²))
NOT_PROSE = re.compile(r"<[^<>]{0,200}>|https?://\S+|www\.\S+|(?<!\S)\S+@\S+")
KOREAN_SHARE = 0.3  # Korean messages often carry English product names, order ids and app versions


def detect_language(text: str) -> Literal["ko", "en", "other"]:
    text = NOT_PROSE.sub(" ", text)
    letters = len(LETTER.findall(text))
    if not letters:
        return "other"
    if len(HANGUL.findall(text)) / letters >= KOREAN_SHARE:
        return "ko"
    return "en" if len(LATIN.findall(text)) / letters >= 0.5 else "other"
