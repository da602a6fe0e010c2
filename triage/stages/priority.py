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

Before the situation, a P1 or P2 base falls to P3 where the message names its urgent situation only as over or not
happening (``Signals.settled``: a loss already stopped, "what if I lose it", a prevention question, a past outage's
compensation) and describes no other that calls for P1.

``PriorityDecision.rules`` gives one code per reason, in the same order: ``base:tag``, ``base:competing`` or
``base:no_tag``; ``base:settled`` (that fall); ``situation:NAME``; ``modifier:NAME`` (a segment or modifier that
applied; NAME is the segment, ``repeat_contact``, ``says_repeat`` or ``anger``); ``skipped:NAME`` (present, but
the policy raises it only at other priorities); ``cap:max_raise``, ``cap:claimed_urgency`` and
``cap:uncertain_tag`` (a limit kept it from raising; the last: no tag was likely enough, so nothing but a situation
makes it P1); ``backing:NAME`` (a segment that lets claims reach P1); ``ignored:NAME`` (the policy never changes
priority for it, and the message had it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from triage.models import Customer, Reason
from triage.policy import IGNORE_KEY, PriorityPolicy, RaiseRule, default_policy
from triage.reasons import render_all
from triage.stages.signals import Signals
from triage.taxonomy import PRIORITIES, Priority, Taxonomy

# The base of a P1 or P2 tag whose situation the message names only as over or not happening (``Signals.settled``):
# a request about it. Both written policies among the samples put these at P3 (a loss already stopped, a hypothetical
# "what if I lose it", a prevention question, documents after reporting a fraud, a past outage's compensation).
SETTLED_BASE: Priority = "P3"


@dataclass(frozen=True)
class RepeatContact:
    """An earlier contact of the customer on the same issue within the repeat window (``hours``)."""

    hours: float
    channel: str | None
    message_id: str | None

    @property
    def fact(self) -> Reason:
        return Reason(code="fact.repeat_contact",
                      params={"hours": self.hours, "channel": self.channel, "message_id": self.message_id})


@dataclass
class PriorityDecision:
    priority: Priority
    why: list[Reason] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # one code per reason, same order

    def add(self, why: Reason, rule: str) -> None:
        self.why.append(why)
        self.rules.append(rule)

    @property
    def reasons(self) -> list[str]:
        """The reasons in Korean (the result's ``reasons``)."""
        return render_all(self.why)


def _shift(priority: Priority, levels: int) -> Priority:
    return PRIORITIES[max(0, min(3, PRIORITIES.index(priority) - levels))]


def assign_priority(tag: str, taxonomy: Taxonomy, said: Signals | str, customer: Customer | None,
                    repeat_of: RepeatContact | None = None, competing: Sequence[str] = (),
                    policy: PriorityPolicy | None = None) -> PriorityDecision:
    """Priority for a message already tagged, from what it says (its ``Signals``, or its text), under ``policy``
    (default: the demo's); ``repeat_of`` is an earlier contact on the same issue. Only a tag that was given lends
    its base priority: a ``needs_review`` message starts from the more urgent of the candidates in ``competing``
    (those likely enough to be right to count, ``triage.stages.tagging.COMPETITOR_PROBABILITY``), or P4 when none
    is (off-topic, or a question the taxonomy does not cover). P1 otherwise comes from a situation the message
    describes, a raise the policy allows, or an agent."""
    policy = policy or default_policy()
    signals = Signals.read(said) if isinstance(said, str) else said
    decision = PriorityDecision("P4")
    if tag == taxonomy.catch_all and competing:
        base = min(taxonomy.priority(t) for t in competing)
        decision.add(Reason(code="priority.base_competing", params={
            "base": base, "tag_names": ", ".join(taxonomy.name(t) for t in competing)}), "base:competing")
    elif tag == taxonomy.catch_all:
        base = "P4"
        decision.add(Reason(code="priority.base_no_tag"), "base:no_tag")
    else:
        base = taxonomy.priority(tag)
        decision.add(Reason(code="priority.base_tag", params={"base": base, "tag": tag,
                                                              "tag_name": taxonomy.name(tag)}), "base:tag")
    if signals.settled is not None and base in ("P1", "P2") and signals.level != "P1":
        # the tag's urgency rests on a situation the message says is over or not happening (already stopped,
        # hypothetical, hearsay, a past outage's compensation): what is left is a request, and the situation that
        # still applies moves it from there
        decision.add(Reason(code="priority.base_settled", params={"base": SETTLED_BASE, "was": base, "fact": Reason(
            code=f"fact.settled.{signals.settled_kind}", params={"cue": signals.settled_cue})}), "base:settled")
        base = SETTLED_BASE
    priority = base
    name, fact = signals.situation, signals.fact
    if name is not None and fact is not None and name in policy.ignored:
        decision.add(Reason(code="priority.ignored", params={"fact": fact, "rule": IGNORE_KEY}), f"ignored:{name}")
    elif name is not None and fact is not None and (situation := policy.situations.get(name)) is not None:
        if base in situation.when_base:
            priority = situation.set_to
        if priority == situation.set_to:
            decision.add(Reason(code="priority.situation", params={
                "priority": priority, "fact": fact, "rule": situation.rule}), f"situation:{name}")

    # what may raise it: (the rule, or None when the policy ignores it; its name; the fact), in the order the
    # reasons list them
    present: list[tuple[RaiseRule | None, str, Reason]] = []
    segment, segment_fact = policy.customer_segment(customer)
    segment_rule = policy.segment(segment)
    backing: RaiseRule | None = None
    if segment is not None and policy.ignores_segment(segment):
        present.append((None, segment, segment_fact))
    elif segment is not None and segment_rule is not None and segment_rule.levels > 0:
        present.append((segment_rule, segment_rule.name, segment_fact))
    if segment_rule is not None and segment_rule.backs_claims and not policy.ignores_segment(segment):
        backing = segment_rule
    cues = [("repeat_contact", repeat_of.fact if repeat_of else None),
            # the customer saying so is the same fact as a stored earlier contact: counted once
            ("says_repeat", None if repeat_of or signals.says_repeat is None
             else Reason(code="fact.says_repeat", params={"cue": signals.says_repeat})),
            ("anger", None if signals.anger is None else Reason(code="fact.anger", params={"cue": signals.anger}))]
    for cue, cue_fact in cues:
        if cue_fact and cue in policy.ignored:
            present.append((None, cue, cue_fact))
        elif cue_fact and (modifier := policy.modifiers.get(cue)) is not None:
            present.append((modifier, cue, cue_fact))

    applies = [rule for rule, _, _ in present if rule is not None and priority in rule.at]
    # facts, not claims in the text, on a base that is known: a message no tag was likely enough for rests on a
    # guess, which a segment or a repeat does not make P1 (only a situation it describes does)
    firm = (any(rule.can_reach_p1 for rule in applies) or backing is not None) and tag != taxonomy.catch_all
    final = _shift(priority, min(sum(rule.levels for rule in applies), policy.max_raise))
    claims_stopped = final == "P1" and priority != "P1" and not firm
    if claims_stopped:
        final = "P2"
    running = priority
    for rule, name, found in present:
        code = f"modifier:{name}"
        if rule is None:
            decision.add(Reason(code="priority.ignored", params={"fact": found, "rule": IGNORE_KEY}), f"ignored:{name}")
            continue
        if priority not in rule.at:
            decision.add(Reason(code="priority.skipped", params={"fact": found, "at": "·".join(rule.at),
                                                                 "rule": rule.rule}), f"skipped:{name}")
            continue
        give = min(rule.levels, PRIORITIES.index(running) - PRIORITIES.index(final))
        if give > 0:
            running = _shift(running, give)
            decision.add(Reason(code="priority.raised", params={"priority": running, "fact": found, "rule": rule.rule}),
                         code)
        elif running == "P1":
            decision.add(Reason(code="priority.already_p1", params={"fact": found, "rule": rule.rule}), code)
        elif claims_stopped and running == final and tag == taxonomy.catch_all:
            decision.add(Reason(code="priority.uncertain_tag", params={
                "fact": found, "rule": policy.claimed_urgency_rule}), "cap:uncertain_tag")
        elif claims_stopped and running == final:
            decision.add(Reason(code="priority.claimed_urgency", params={
                "fact": found, "rule": policy.claimed_urgency_rule}), "cap:claimed_urgency")
        else:
            decision.add(Reason(code="priority.max_raise", params={
                "fact": found, "levels": policy.max_raise, "rule": policy.max_raise_rule}), "cap:max_raise")
    if backing is not None and backing.levels == 0:
        decision.add(Reason(code="priority.backing", params={"fact": segment_fact, "rule": backing.rule}),
                     f"backing:{backing.name}")
    decision.priority = final
    return decision
