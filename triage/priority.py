"""Priority P1–P4 with reasons an agent can check, each naming the rule of the priority policy that gave it.

The tag gives a base priority (the taxonomy's); the deployment's policy (``triage.policy``; by default the demo's
``knowledge/samples/demo/policy.yaml``) says how the rest moves it. The demo's rules:
- money missing or at risk, unauthorized access, a lost card, an outage → P1;
- a failed or stuck transaction, an error, something that does not work → at least P2;
- a how-to question with nothing broken → P3; information, a feature request, a compliment → P4.
Then it rises one level for each of: a VIP customer, a repeat contact, the customer saying they asked before,
anger or urgency cues; at most two levels. Claimed urgency alone never makes P1: a rise that ends at P1 needs the
situation, a VIP or loyal customer, or a repeat contact behind it. A loyal customer backs the customer's urgency
that way but adds no level of its own (on the demo calibration set, a level for loyalty put 5 of 150 messages two
levels off).

``PriorityDecision.rules`` gives one code per reason, in the same order: ``base:tag``, ``base:competing`` or
``base:no_tag``; ``situation:NAME``; ``modifier:NAME`` (a segment or modifier that applied; NAME is the segment,
``repeat_contact``, ``says_repeat`` or ``anger``); ``skipped:NAME`` (present, but the policy raises it only at
other priorities); ``cap:max_raise`` and ``cap:claimed_urgency`` (a limit kept it from raising);
``backing:NAME`` (a segment that lets claims reach P1); ``ignored:NAME`` (the policy never changes priority for
it, and the message had it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from triage.models import Customer
from triage.policy import IGNORE_KEY, PriorityPolicy, RaiseRule, default_policy
from triage.signals import Signals
from triage.taxonomy import PRIORITIES, Priority, Taxonomy

CLAIMS_STOPPED = "급하다는 말만으로는 P1로 올리지 않아요"
IGNORED = f" — 이 정책에서는 우선순위를 바꾸지 않아요 (규칙: {IGNORE_KEY})"


@dataclass
class PriorityDecision:
    priority: Priority
    reasons: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # one code per reason, same order

    def add(self, reason: str, rule: str) -> None:
        self.reasons.append(reason)
        self.rules.append(rule)


def _shift(priority: Priority, levels: int) -> Priority:
    return PRIORITIES[max(0, min(3, PRIORITIES.index(priority) - levels))]


def _rule(rule: str, note: str = "") -> str:
    """How a reason names its rule (after a note on why it did not raise, if any)."""
    return f" ({note}, 규칙: {rule})" if note else f" (규칙: {rule})"


def assign_priority(tag: str, taxonomy: Taxonomy, said: Signals | str, customer: Customer | None,
                    repeat_of: str | None = None, competing: Sequence[str] = (),
                    policy: PriorityPolicy | None = None) -> PriorityDecision:
    """Priority for a message already tagged, from what it says (its ``Signals``, or its text), under ``policy``
    (default: the demo's); ``repeat_of`` describes an earlier contact on the same issue. A ``needs_review``
    message starts from the more urgent of the tags that competed for it, or P4 when it is close to no tag at
    all (off-topic, or a question the taxonomy does not cover)."""
    policy = policy or default_policy()
    signals = Signals.read(said) if isinstance(said, str) else said
    decision = PriorityDecision("P4")
    if tag == taxonomy.catch_all and competing:
        base = min(taxonomy.priority(t) for t in competing)
        decision.add(f"기본 {base}: 경합한 태그 중 더 급한 쪽 ({', '.join(taxonomy.name(t) for t in competing)})",
                     "base:competing")
    elif tag == taxonomy.catch_all:
        base = "P4"
        decision.add("기본 P4: 어느 태그와도 가깝지 않아요 (지원 범위 밖이거나 단순 문의로 보여요)", "base:no_tag")
    else:
        base = taxonomy.priority(tag)
        decision.add(f"기본 {base}: '{taxonomy.name(tag)}'", "base:tag")
    priority = base
    name, why = signals.situation, signals.why
    if name is not None and why and name in policy.ignored:
        decision.add(f"참고: {why}{IGNORED}", f"ignored:{name}")
    elif name is not None and why and (situation := policy.situations.get(name)) is not None:
        if base in situation.when_base:
            priority = situation.set_to
        if priority == situation.set_to:
            decision.add(f"{priority}: {why}{_rule(situation.rule)}", f"situation:{name}")

    # what may raise it: (the rule, or None when the policy ignores it; its name; what the reason says), in the
    # order the reasons list them
    present: list[tuple[RaiseRule | None, str, str]] = []
    segment, said = policy.customer_segment(customer)
    segment_rule = policy.segment(segment)
    backing: RaiseRule | None = None
    if segment is not None and policy.ignores_segment(segment):
        present.append((None, segment, said))
    elif segment is not None and segment_rule is not None and segment_rule.levels > 0:
        present.append((segment_rule, segment_rule.name, said))
    if segment_rule is not None and segment_rule.backs_claims and not policy.ignores_segment(segment):
        backing = segment_rule
    cues = [("repeat_contact", repeat_of),
            # the customer saying so is the same fact as a stored earlier contact: counted once
            ("says_repeat", None if repeat_of or signals.says_repeat is None
             else f"같은 문제로 다시 연락했다고 해요 ('{signals.says_repeat}')"),
            ("anger", None if signals.anger is None else f"화가 났거나 급하다는 표현이 있어요 ('{signals.anger}')")]
    for cue, text in cues:
        if text and cue in policy.ignored:
            present.append((None, cue, text))
        elif text and (modifier := policy.modifiers.get(cue)) is not None:
            present.append((modifier, cue, text))

    applies = [rule for rule, _, _ in present if rule is not None and priority in rule.at]
    firm = any(rule.can_reach_p1 for rule in applies) or backing is not None  # facts, not claims in the text
    final = _shift(priority, min(sum(rule.levels for rule in applies), policy.max_raise))
    claims_stopped = final == "P1" and priority != "P1" and not firm
    if claims_stopped:
        final = "P2"
    running = priority
    for rule, name, text in present:
        code = f"modifier:{name}"
        if rule is None:
            decision.add(f"참고: {text}{IGNORED}", f"ignored:{name}")
            continue
        if priority not in rule.at:
            only = "·".join(rule.at)
            decision.add(f"참고: {text}{_rule(rule.rule, f'{only}일 때만 올려요')}", f"skipped:{name}")
            continue
        give = min(rule.levels, PRIORITIES.index(running) - PRIORITIES.index(final))
        if give > 0:
            running = _shift(running, give)
            decision.add(f"{running}로 올림: {text}{_rule(rule.rule)}", code)
        elif running == "P1":
            decision.add(f"참고: {text}{_rule(rule.rule, '이미 P1이에요')}", code)
        elif claims_stopped and running == final:
            decision.add(f"참고: {text}{_rule(policy.claimed_urgency_rule, CLAIMS_STOPPED)}", "cap:claimed_urgency")
        else:
            most = f"모두 합쳐 {policy.max_raise}단계까지만 올려요"
            decision.add(f"참고: {text}{_rule(policy.max_raise_rule, most)}", "cap:max_raise")
    if backing is not None and backing.levels == 0:
        decision.add(f"참고: {said}{_rule(backing.rule)}", f"backing:{backing.name}")
    decision.priority = final
    return decision
