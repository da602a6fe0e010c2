"""Why a message got its tag and its priority, as codes with parameters, written in the reader's language at
the edge.

Tagging, the priority policy and the pipeline say *why* as a ``Reason``: a code from the closed set that
``prompts/reasons/<lang>.yaml`` writes out (``tag.top``, ``priority.raised``, ``fact.anger``, …) and the values
it names (tag ids and names, priorities, rule ids, numbers, the customer's own words). A parameter may itself be
a reason (``fact``: what was found, inside what the policy did with it). ``render`` writes a reason in Korean or
English; the result's fixed fields ``tag_reason`` and ``reasons`` keep the Korean text, and ``tag_why`` and
``priority_why`` carry the codes for pages in other languages.
"""

from __future__ import annotations

from triage.models import Reason
from triage.prompting import reason_templates


def render(reason: Reason, language: str = "ko") -> str:
    """``reason`` in ``language`` (ko or en; English for any other)."""
    values = {k: render(v, language) if isinstance(v, Reason) else v for k, v in reason.params.items()}
    return reason_templates(language).render(reason.code, **values)


def render_all(reasons: list[Reason], language: str = "ko") -> list[str]:
    return [render(r, language) for r in reasons]
