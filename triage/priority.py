"""Priority P1–P4 with reasons an agent can check.

The tag gives a base priority (the taxonomy's); what the message describes moves it:
- money missing or at risk, unauthorized access, a lost card, an outage → P1;
- a failed or stuck transaction, an error, something that does not work → at least P2;
- a how-to question with nothing broken → P3; information, a feature request, a compliment → P4.
Then it rises one level for each of: a VIP customer, a repeat contact, anger or urgency cues; at most two
levels. Claimed urgency alone never makes P1: a rise that ends at P1 needs the situation, a VIP or loyal
customer, or a repeat contact behind it. A loyal customer backs the customer's urgency that way but adds no
level of its own (on the demo calibration set, a level for loyalty put 5 of 150 messages two levels off).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from triage.customer import customer_segment
from triage.models import Customer
from triage.signals import Signals
from triage.taxonomy import PRIORITIES, Priority, Taxonomy

RAISING_SEGMENTS = {"VIP"}  # a level up on their own
BACKING_SEGMENTS = {"loyal"}  # no level of their own, but let a customer's urgency reach P1
MAX_RAISE = 2


@dataclass
class PriorityDecision:
    priority: Priority
    reasons: list[str] = field(default_factory=list)


def _shift(priority: Priority, levels: int) -> Priority:
    return PRIORITIES[max(0, min(3, PRIORITIES.index(priority) - levels))]


def assign_priority(tag: str, taxonomy: Taxonomy, said: Signals | str, customer: Customer | None,
                    repeat_of: str | None = None, competing: Sequence[str] = ()) -> PriorityDecision:
    """Priority for a message already tagged, from what it says (its ``Signals``, or its text);
    ``repeat_of`` describes an earlier contact on the same issue. A ``needs_review`` message starts from the
    more urgent of the tags that competed for it, or P4 when it is close to no tag at all (off-topic, or a
    question the taxonomy does not cover)."""
    signals = Signals.read(said) if isinstance(said, str) else said
    if tag == taxonomy.catch_all and competing:
        base = min(taxonomy.priority(t) for t in competing)
        reasons = [f"기본 {base}: 경합한 태그 중 더 급한 쪽 ({', '.join(taxonomy.name(t) for t in competing)})"]
    elif tag == taxonomy.catch_all:
        base, reasons = "P4", ["기본 P4: 어느 태그와도 가깝지 않아요 (지원 범위 밖이거나 단순 문의로 보여요)"]
    else:
        base = taxonomy.priority(tag)
        reasons = [f"기본 {base}: '{taxonomy.name(tag)}'"]
    level, why = signals.level, signals.why
    priority = base
    escalates = level in ("P1", "P2") and level < base
    if escalates or (level == "P3" and base in ("P1", "P2")) or (level == "P4" and base == "P3"):
        priority = level  # type: ignore[assignment]
    if why and level == priority:
        reasons.append(f"{priority}: {why}")
    situation_p1 = priority == "P1"

    raises: list[str] = []
    segment = customer_segment(customer)
    if segment in RAISING_SEGMENTS:
        raises.append(f"{segment} 고객이에요")
    if repeat_of:
        raises.append(repeat_of)
    firm = len(raises) + (segment in BACKING_SEGMENTS)  # facts about the customer, not claims in the text
    if not repeat_of and signals.says_repeat is not None:
        raises.append(f"같은 문제로 다시 연락했다고 해요 ('{signals.says_repeat}')")
    if signals.anger is not None:
        raises.append(f"화가 났거나 급하다는 표현이 있어요 ('{signals.anger}')")
    raised = _shift(priority, min(len(raises), MAX_RAISE))
    if raised == "P1" and priority != "P1" and not firm and not situation_p1:
        raised = "P2"
        raises[-1] += " (급하다는 말만으로는 P1로 올리지 않아요)"
    if raised != priority:
        reasons.append(f"{raised}로 올림: " + "; ".join(raises))
        priority = raised
    elif raises:
        reasons.append("참고: " + "; ".join(raises))
    if segment in BACKING_SEGMENTS:
        reasons.append(f"참고: {segment} 고객이에요")
    return PriorityDecision(priority, reasons)


