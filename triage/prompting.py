"""Prompt and reply templates from ``prompts/``: Jinja rendering, template hashes, Korean particles.

A prompt file (``prompts/<name>.prompt.md``) has a ``# system`` and a ``# user`` section; both are rendered
with the same variables. Customer text is escaped so it cannot close the ``<customer_message>`` block that
marks it as data. Reply templates (``prompts/replies/<lang>.yaml``) hold the no-LLM drafts per situation;
reason templates (``prompts/reasons/<lang>.yaml``) say why a message got its tag and priority.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from prompts import PROMPTS_DIR
from triage.llm import Prompt

REPLY_LANGUAGES = ("ko", "en")
_SECTION = re.compile(r"^# (system|user)\s*$", re.MULTILINE)
_DELIMITER = re.compile(r"</?\s*customer_(message|questions)\s*>", re.IGNORECASE)


def josa(word: str, pair: str) -> str:
    """``word`` with the Korean particle of ``pair`` ("을/를", "이/가", "은/는", "과/와", "으로/로") that fits
    its last syllable; words ending in a non-Hangul character get the form after a vowel."""
    with_final, without_final = pair.split("/")
    last = word.rstrip()[-1:] if word.strip() else ""
    code = ord(last) - 0xAC00 if last else -1
    final = code % 28 if 0 <= code < 11172 else 0
    if pair == "으로/로" and final == 8:  # ㄹ takes 로
        return word + without_final
    return word + (with_final if final else without_final)


def as_data(text: str) -> str:
    """Customer text made safe to put between data delimiters (it cannot close or open one)."""
    return _DELIMITER.sub(lambda m: m.group(0).replace("<", "‹").replace(">", "›"), text)


@lru_cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(PROMPTS_DIR), undefined=StrictUndefined, autoescape=False,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.filters["josa"] = josa
    return env


def template_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


@lru_cache
def _prompt_source(name: str) -> str:
    return (PROMPTS_DIR / f"{name}.prompt.md").read_text(encoding="utf-8")


@lru_cache
def _prompt_template(name: str) -> Template:
    """Compiled once per process: compiling costs milliseconds of the interpreter that every request shares."""
    return _environment().from_string(_prompt_source(name))


def render_prompt(name: str, **variables: Any) -> Prompt:
    """Render ``prompts/<name>.prompt.md``; ``message``, ``questions`` and ``replies`` are escaped as data."""
    if "message" in variables:
        variables["message"] = as_data(variables["message"])
    for listed in ("questions", "replies"):
        if listed in variables:
            variables[listed] = [as_data(q) for q in variables[listed]]
    source = _prompt_source(name)
    rendered = _prompt_template(name).render(**variables)
    parts = _SECTION.split(rendered)
    sections = dict(zip(parts[1::2], (p.strip() for p in parts[2::2]), strict=True))
    if set(sections) != {"system", "user"}:
        raise ValueError(f"prompts/{name}.prompt.md needs a '# system' and a '# user' section")
    return Prompt(name=name, hash=template_hash(source), system=sections["system"], user=sections["user"])


class Templates:
    """The templates of one language in ``prompts/<folder>/<language>.yaml``; ``render(key, **vars)`` fills one
    (keys like "empathy.blocked")."""

    def __init__(self, folder: str, language: str) -> None:
        path = PROMPTS_DIR / folder / f"{language}.yaml"
        source = path.read_text(encoding="utf-8")
        self.folder = folder
        self.language = language
        self.hash = template_hash(source)
        self._raw: dict[str, Any] = yaml.safe_load(source)
        self._compiled: dict[str, Template] = {}

    def _source(self, key: str) -> str | None:
        node: Any = self._raw
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node if isinstance(node, str) else None

    def has(self, key: str) -> bool:
        return self._source(key) is not None

    def render(self, key: str, **variables: Any) -> str:
        if key not in self._compiled:
            source = self._source(key)
            if source is None:
                raise KeyError(f"prompts/{self.folder}/{self.language}.yaml has no template '{key}'")
            self._compiled[key] = _environment().from_string(source)
        return self._compiled[key].render(**variables).strip()


@lru_cache
def reply_templates(language: str) -> Templates:
    """The no-LLM reply drafts (``prompts/replies``); English for a language without its own."""
    return Templates("replies", language if language in REPLY_LANGUAGES else "en")


@lru_cache
def reason_templates(language: str) -> Templates:
    """Why a tag and a priority (``prompts/reasons``, see ``triage.reasons``); English for other languages."""
    return Templates("reasons", language if language in REPLY_LANGUAGES else "en")


@lru_cache
def boilerplate_phrases(language: str) -> tuple[str, ...]:
    """Phrases customers read as indifference (``prompts/lint/boilerplate.<lang>.txt``)."""
    path = PROMPTS_DIR / "lint" / f"boilerplate.{language}.txt"
    if not path.exists():
        return ()
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
