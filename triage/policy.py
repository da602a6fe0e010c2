"""A deployment's priority policy: the file that says how ``triage.stages.priority`` moves a tag's base priority.

The file (YAML; the demo's ``knowledge/samples/demo/policy.yaml`` documents it in its header and reproduces the
rules the service always had):

- ``situations``: for each situation of ``triage.stages.signals.SITUATIONS``, the level it sets (``set_to``) and the
  base priorities it moves (``when_base``). A situation that refines another (``signals.REFINES``: ``fraud_victim``
  and ``money_overdue`` refine ``money_at_risk``, ``phone_lost`` refines ``card_lost``) may be given a rule of its own
  or listed in ``never_changes_priority``; where the file names it nowhere it follows the rule of the situation it
  refines (that rule's id is what its reasons name), so a file written before it existed loads and means the same;
- ``segments`` (optional): customer segments, any name, each raising ``raise`` levels at the priorities in
  ``at``, and whether it may take a message to P1 (``can_reach_p1``) or back the customer's claims so that they
  may (``backs_claims``); ``tenure_days_at_least`` (optional) also counts a customer with that tenure in the
  segment when their data names no segment the policy has a rule for;
- ``segments_from_scores`` (optional, default yes): whether a customer without a segment gets one derived from
  their RFM scores (``triage.stages.customer.customer_segment``);
- ``modifiers``: ``repeat_contact`` (a stored earlier contact; ``within_hours``, optional, is how far back an
  earlier contact counts, instead of the ``TRIAGE_REPEAT_WINDOW_HOURS`` setting), ``says_repeat`` (the customer
  says they asked before) and ``anger`` (anger or urgency cues), each with ``raise``, ``at`` and
  ``can_reach_p1``;
- ``limits``: ``max_raise`` (the most levels segments and modifiers add together) and ``claimed_urgency``
  (a raise ends at P1 only with a rule that ``can_reach_p1`` or a backing segment behind it, else at P2);
- ``never_changes_priority`` (optional): situations, modifiers or segments that change nothing.

Every rule has a ``rule`` id, unique in the file, that the reasons name. Every situation (but a refining one) and
every modifier must be either given a rule or listed in ``never_changes_priority``, so that deleting one by mistake is
an error, not a silent change. Any other problem (an unknown key or name, a level that is not P1–P4, a duplicate
key or rule id) is reported as ``file:line: what``, all of them at once (``PolicyError``).

Over 400 lines because it is the file's reader and its checker together: every key's check names the line it
came from, so the two are written side by side.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from yaml.constructor import SafeConstructor

from knowledge.samples import DEMO_DIR
from knowledge.sources import read_text
from triage.errors import PolicyError
from triage.models import Reason
from triage.stages.customer import customer_segment, segment_name
from triage.stages.history import LONGEST_WINDOW
from triage.stages.signals import REFINES, SITUATIONS
from triage.taxonomy import PRIORITIES, Priority

if TYPE_CHECKING:
    from triage.models import Customer

DEMO_POLICY_FILE = DEMO_DIR / "policy.yaml"
SITUATION_NAMES: tuple[str, ...] = tuple(name for name, *_ in SITUATIONS)
MODIFIER_NAMES = ("repeat_contact", "says_repeat", "anger")
IGNORE_KEY = "never_changes_priority"  # also the rule id reasons name for what it lists
MAX_LEVELS = 3
MAX_REPEAT_HOURS = LONGEST_WINDOW.total_seconds() / 3600
_RULE_ID = re.compile(r"^\w[\w.-]*$")


@dataclass(frozen=True)
class SituationRule:
    """The situation moves a base priority in ``when_base`` to ``set_to``."""

    name: str
    rule: str
    set_to: Priority
    when_base: tuple[Priority, ...]


@dataclass(frozen=True)
class RaiseRule:
    """A segment or a modifier: ``levels`` up when the priority (after the situation) is in ``at``."""

    name: str
    rule: str
    levels: int
    at: tuple[Priority, ...] = ()
    can_reach_p1: bool = False
    backs_claims: bool = False
    tenure_days_at_least: int | None = None  # a segment: customers with this tenure count in it too
    within_hours: float | None = None  # repeat_contact: how far back an earlier contact counts


def segment_key(name: str) -> str:
    """How a segment is matched: as ``customer_segment`` names it, case-insensitively."""
    return segment_name(name).casefold()


@dataclass(frozen=True)
class PriorityPolicy:
    situations: Mapping[str, SituationRule]
    segments: Mapping[str, RaiseRule]  # by segment_key
    modifiers: Mapping[str, RaiseRule]
    max_raise: int
    max_raise_rule: str
    claimed_urgency_rule: str
    ignored: frozenset[str] = frozenset()  # situation and modifier names, segment keys
    segments_from_scores: bool = True
    origin: str = field(default="policy", compare=False)

    def segment(self, name: str | None) -> RaiseRule | None:
        return self.segments.get(segment_key(name)) if name else None

    def customer_segment(self, customer: Customer | None) -> tuple[str | None, Reason]:
        """The segment this policy reads for a customer, and the fact a reason names: the given one (or, if the
        policy allows, the one their scores give); where the policy has no rule for it, the segment their
        tenure earns, if any."""
        segment = customer_segment(customer, from_scores=self.segments_from_scores)
        tenure = customer.tenure_days if customer is not None else None
        if self.segment(segment) is None and tenure is not None:
            earned = [rule for rule in self.segments.values()
                      if rule.tenure_days_at_least is not None and tenure >= rule.tenure_days_at_least]
            if earned:
                rule = max(earned, key=lambda rule: (rule.levels, rule.tenure_days_at_least or 0))
                return rule.name, Reason(code="fact.segment_by_tenure", params={
                    "segment": rule.name, "tenure": tenure, "at_least": rule.tenure_days_at_least})
        return segment, Reason(code="fact.segment", params={"segment": segment})

    @property
    def repeat_window(self) -> timedelta | None:
        """How far back an earlier contact counts as a repeat, when the policy says (else the setting)."""
        rule = self.modifiers.get("repeat_contact")
        return timedelta(hours=rule.within_hours) if rule is not None and rule.within_hours else None

    def ignores_segment(self, name: str | None) -> bool:
        return bool(name) and segment_key(name or "") in self.ignored


@lru_cache(maxsize=1)
def default_policy() -> PriorityPolicy:
    """The demo's policy: the rules used when no policy file is set."""
    return load_policy(DEMO_POLICY_FILE)


# ---------------------------------------------------------------- reading and validating the file

def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    """Walks the YAML nodes (which know their lines), collecting every problem as ``file:line: what``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []
        self.rules: dict[str, int] = {}
        self._constructor = SafeConstructor()
        self._key_lines: dict[int, int] = {}  # id of a value node → the line of its key

    def owner(self, node: yaml.Node) -> int:
        """The line of the key a mapping or list belongs to (``situations:``), else where it starts."""
        return self._key_lines.get(id(node), _line(node))

    def problem(self, at: yaml.Node | int | None, message: str) -> None:
        line = at if isinstance(at, int) or at is None else _line(at)
        self.problems.append(f"{self.path}:{line}: {message}" if line else f"{self.path}: {message}")

    def value(self, node: yaml.Node) -> Any:
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.problem(node, f"cannot read this value ({getattr(exc, 'problem', None) or exc})")
            return None

    def mapping(self, node: yaml.Node, where: str) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
        """(key, key node, value node) of a mapping, each key once; problems for the rest."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(self.owner(node), f"{where}: expected a mapping (key: value lines), got {self._kind(node)}")
            return
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or not key.strip():
                self.problem(key_node, f"{where}: a key must be a name, got {key!r}")
                continue
            if key in seen:
                self.problem(key_node, f"{where}: duplicate key '{key}' (also on line {seen[key]})")
                continue
            seen[key] = _line(key_node)
            self._key_lines[id(value_node)] = seen[key]
            yield key, key_node, value_node

    def fields(self, node: yaml.Node, where: str, required: tuple[str, ...],
               optional: tuple[str, ...] = ()) -> dict[str, yaml.Node] | None:
        """The value nodes of a mapping that must have ``required`` keys and may have ``optional`` ones."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(self.owner(node), f"{where}: expected a mapping with {', '.join(required + optional)}, "
                               f"got {self._kind(node)}")
            return None
        found: dict[str, yaml.Node] = {}
        allowed = required + optional
        for key, key_node, value_node in self.mapping(node, where):
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                self.problem(key_node, f"{where}: unknown key '{key}'"
                             + (f" (did you mean '{hint[0]}'?)" if hint else f" (expected: {', '.join(allowed)})"))
            else:
                found[key] = value_node
        for key in required:
            if key not in found:
                self.problem(self.owner(node), f"{where}: '{key}' is missing")
        return found

    def rule_id(self, node: yaml.Node | None, where: str) -> str | None:
        if node is None:
            return None
        value = self.value(node)
        if not isinstance(value, str) or not _RULE_ID.match(value):
            self.problem(node, f"{where}.rule: a rule id is one word of letters, digits, _ . - (got {value!r})")
            return None
        if value == IGNORE_KEY:
            self.problem(node, f"{where}.rule: '{IGNORE_KEY}' is taken (the reasons name it for what the "
                               "policy ignores)")
            return None
        if value in self.rules:
            self.problem(node, f"{where}.rule: rule id '{value}' is already used on line {self.rules[value]} "
                               "(each rule needs its own id, so a reason names exactly one)")
            return None
        self.rules[value] = _line(node)
        return value

    def level(self, node: yaml.Node | None, where: str) -> Priority | None:
        if node is None:
            return None
        value = self.value(node)
        if value not in PRIORITIES:
            self.problem(node, f"{where}: a priority is one of P1, P2, P3, P4 (got {value!r})")
            return None
        return value  # type: ignore[no-any-return]

    def levels(self, node: yaml.Node | None, where: str) -> tuple[Priority, ...] | None:
        if node is None:
            return None
        value = self.value(node)
        if not isinstance(value, list) or not value:
            self.problem(self.owner(node), f"{where}: expected a list of priorities such as [P1, P2] (got {value!r})")
            return None
        bad = [v for v in value if v not in PRIORITIES]
        if bad:
            self.problem(node, f"{where}: a priority is one of P1, P2, P3, P4 (got {', '.join(map(repr, bad))})")
            return None
        if len(set(value)) < len(value):
            self.problem(node, f"{where}: a priority is listed twice ({value})")
            return None
        return tuple(p for p in PRIORITIES if p in value)

    def boolean(self, node: yaml.Node | None, where: str) -> bool | None:
        if node is None:
            return None
        value = self.value(node)
        if not isinstance(value, bool):
            self.problem(node, f"{where}: expected yes or no (got {value!r})")
            return None
        return value

    def count(self, node: yaml.Node | None, where: str, low: int, high: int) -> int | None:
        if node is None:
            return None
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(node, f"{where}: expected a whole number of levels from {low} to {high} (got {value!r})")
            return None
        return value

    def number(self, node: yaml.Node | None, where: str, low: float, high: float, unit: str) -> float | None:
        if node is None:
            return None
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            self.problem(node, f"{where}: expected a number of {unit} from {low:g} to {high:g} (got {value!r})")
            return None
        return float(value)

    @staticmethod
    def _kind(node: yaml.Node) -> str:
        return {yaml.ScalarNode: "a single value", yaml.SequenceNode: "a list",
                yaml.MappingNode: "a mapping"}.get(type(node), type(node).__name__)


def _close_to_fixed(name: str) -> str | None:
    """The situation or modifier name ``name`` is (or nearly is): a segment must not look like one."""
    fixed = SITUATION_NAMES + MODIFIER_NAMES
    if name.casefold() in fixed:
        return name.casefold()
    close = difflib.get_close_matches(name.casefold(), fixed, n=1, cutoff=0.8)
    return close[0] if close else None


def load_policy(path: Path) -> PriorityPolicy:
    """Read and validate a priority policy file; every problem is reported at once as ``file:line: what``."""
    if not path.is_file():
        raise PolicyError([f"{path}: no such priority policy file"])
    text = read_text(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyError([f"{path}:{mark.line + 1 if mark else 1}: invalid YAML "
                           f"({getattr(exc, 'problem', None) or exc})"]) from exc
    if root is None:
        raise PolicyError([f"{path}: the file is empty; start from {DEMO_POLICY_FILE}"])
    r = _Reader(path)
    top = r.fields(root, "policy", ("situations", "modifiers", "limits"),
                   ("segments", "segments_from_scores", IGNORE_KEY))
    if top is None:
        raise PolicyError(r.problems)
    ignored = _ignored(r, top.get(IGNORE_KEY))
    situations = _situations(r, top.get("situations"), ignored)
    segments = _segments(r, top.get("segments"), ignored)
    modifiers = _modifiers(r, top.get("modifiers"), ignored)
    limits = r.fields(top["limits"], "limits", ("max_raise", "claimed_urgency")) if "limits" in top else None
    limits = limits or {}
    cap = r.fields(limits["max_raise"], "limits.max_raise", ("rule", "levels")) if "max_raise" in limits else None
    claims = (r.fields(limits["claimed_urgency"], "limits.claimed_urgency", ("rule",))
              if "claimed_urgency" in limits else None)
    max_rule = r.rule_id(cap.get("rule"), "limits.max_raise") if cap else None
    max_raise = r.count(cap.get("levels"), "limits.max_raise.levels", 0, MAX_LEVELS) if cap else None
    claims_rule = r.rule_id(claims.get("rule"), "limits.claimed_urgency") if claims else None
    from_scores = (r.boolean(top["segments_from_scores"], "segments_from_scores")
                   if "segments_from_scores" in top else True)
    if r.problems or max_raise is None or max_rule is None or claims_rule is None or from_scores is None:
        raise PolicyError(r.problems or [f"{path}: the limits could not be read"])
    _refined(situations, ignored)
    return PriorityPolicy(situations, segments, modifiers, max_raise, max_rule, claims_rule,
                          frozenset(ignored), from_scores, str(path))


def _ignored(r: _Reader, node: yaml.Node | None) -> dict[str, int]:
    """Names in ``never_changes_priority`` (segments by their key) → line."""
    found: dict[str, int] = {}
    if node is None or _null(node):
        return found
    if not isinstance(node, yaml.SequenceNode):
        r.problem(r.owner(node), f"{IGNORE_KEY}: expected a list of situation, modifier or segment names such as "
                        "[anger] (or [] for none)")
        return found
    for item in node.value:
        name = r.value(item)
        if not isinstance(name, str) or not name.strip():
            r.problem(item, f"{IGNORE_KEY}: expected a name (got {name!r})")
            continue
        if name in SITUATION_NAMES or name in MODIFIER_NAMES:
            key = name
        elif (near := _close_to_fixed(name)) is not None:
            r.problem(item, f"{IGNORE_KEY}: unknown name '{name}' (did you mean '{near}'? a segment's name must "
                            "not look like a situation or modifier)")
            continue
        else:
            key = segment_key(name)
        if key in found:
            r.problem(item, f"{IGNORE_KEY}: '{name}' is listed twice (also on line {found[key]})")
            continue
        found[key] = _line(item)
    return found


def _null(node: yaml.Node) -> bool:
    """An optional section written with nothing after its key (``segments:``): none."""
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _both(r: _Reader, key_node: yaml.Node, where: str, name: str, ignored: dict[str, int]) -> None:
    """A rule given to a name the file also lists as changing nothing is a problem: keep one."""
    if name in ignored:
        r.problem(key_node, f"{where}: '{name}' has a rule here and is listed in {IGNORE_KEY} on line "
                            f"{ignored[name]}: keep one")


def _unknown(r: _Reader, key_node: yaml.Node, kind: str, name: str, names: Sequence[str], note: str = "") -> None:
    hint = difflib.get_close_matches(name, names, n=1)
    r.problem(key_node, f"{kind}s: unknown {kind} '{name}'" + (f" (did you mean '{hint[0]}'?)" if hint else "")
              + f"; the {kind}s are {', '.join(names)}{note}")


def _situations(r: _Reader, node: yaml.Node | None, ignored: dict[str, int]) -> dict[str, SituationRule]:
    out: dict[str, SituationRule] = {}
    if node is None:
        return out
    for name, key_node, value in r.mapping(node, "situations"):
        where = f"situations.{name}"
        if name not in SITUATION_NAMES:
            _unknown(r, key_node, "situation", name, SITUATION_NAMES)
            continue
        _both(r, key_node, where, name, ignored)
        f = r.fields(value, where, ("rule", "set_to", "when_base"))
        if f is None:
            continue
        rule, set_to = r.rule_id(f.get("rule"), where), r.level(f.get("set_to"), f"{where}.set_to")
        when_base = r.levels(f.get("when_base"), f"{where}.when_base")
        if rule is not None and set_to is not None and when_base is not None:
            out[name] = SituationRule(name, rule, set_to, when_base)
    for name in SITUATION_NAMES:
        if name not in out and name not in ignored and name not in REFINES and not _named(node, name):
            r.problem(r.owner(node), f"situations: '{name}' is missing: give it a rule, or list it in {IGNORE_KEY}")
    return out


def _refined(situations: dict[str, SituationRule], ignored: dict[str, int]) -> None:
    """A refining situation the file names nowhere follows the one it refines: its rule (under its own name, the
    rule id the same), or its place in ``never_changes_priority``."""
    for name, refined in REFINES.items():
        if name in situations or name in ignored:
            continue
        if (rule := situations.get(refined)) is not None:
            situations[name] = SituationRule(name, rule.rule, rule.set_to, rule.when_base)
        elif refined in ignored:
            ignored[name] = ignored[refined]


def _named(node: yaml.Node, name: str) -> bool:
    """Whether ``node`` has the key ``name`` (it may have failed validation); True for a node that is not a
    mapping, which is reported as such instead of every name it lacks."""
    return not isinstance(node, yaml.MappingNode) or any(
        isinstance(k, yaml.ScalarNode) and k.value == name for k, _ in node.value)


def _raise_rule(r: _Reader, node: yaml.Node, where: str, name: str, segment: bool) -> RaiseRule | None:
    optional = (("at", "can_reach_p1", "backs_claims", "tenure_days_at_least") if segment
                else ("within_hours",) if name == "repeat_contact" else ())
    required = ("rule", "raise") if segment else ("rule", "raise", "at", "can_reach_p1")
    f = r.fields(node, where, required, optional)
    if f is None:
        return None
    tenure = r.number(f.get("tenure_days_at_least"), f"{where}.tenure_days_at_least", 1, 36500, "days")
    within = r.number(f.get("within_hours"), f"{where}.within_hours", 1, MAX_REPEAT_HOURS, "hours")
    bad_number = ("tenure_days_at_least" in f and tenure is None) or ("within_hours" in f and within is None)
    rule = r.rule_id(f.get("rule"), where)
    levels = r.count(f.get("raise"), f"{where}.raise", 0 if segment else 1, MAX_LEVELS)
    at, reach = r.levels(f.get("at"), f"{where}.at"), r.boolean(f.get("can_reach_p1"), f"{where}.can_reach_p1")
    backs = r.boolean(f.get("backs_claims"), f"{where}.backs_claims") if "backs_claims" in f else False
    if segment and levels is not None:
        if levels > 0:
            for key in ("at", "can_reach_p1"):
                if key not in f:
                    r.problem(r.owner(node), f"{where}: '{key}' is missing (needed when raise is 1 or more)")
        else:
            for key in ("at", "can_reach_p1"):
                if key in f:
                    r.problem(f[key], f"{where}.{key}: has no effect with raise: 0 (remove it)")
            if backs is False:
                r.problem(r.owner(node), f"{where}: raise: 0 without backs_claims: yes changes nothing (remove it, or "
                                f"list '{name}' in {IGNORE_KEY})")
    if rule is None or levels is None or backs is None or bad_number or (levels > 0 and (at is None or reach is None)):
        return None
    return RaiseRule(name, rule, levels, at or (), bool(reach), backs, int(tenure) if tenure else None, within)


def _segments(r: _Reader, node: yaml.Node | None, ignored: dict[str, int]) -> dict[str, RaiseRule]:
    out: dict[str, RaiseRule] = {}
    if node is None or _null(node):
        return out
    lines: dict[str, tuple[str, int]] = {}
    for name, key_node, value in r.mapping(node, "segments"):
        where = f"segments.{name}"
        if (near := _close_to_fixed(name)) is not None:
            r.problem(key_node, f"segments: '{name}' looks like the "
                      + ("modifier" if near in MODIFIER_NAMES else "situation")
                      + f" '{near}': put it under " + ("modifiers" if near in MODIFIER_NAMES else "situations"))
            continue
        key = segment_key(name)
        if key in lines:
            r.problem(key_node, f"segments: '{name}' is the same segment as '{lines[key][0]}' on line "
                                f"{lines[key][1]}")
            continue
        lines[key] = (name, _line(key_node))
        if key in ignored:
            _both(r, key_node, where, name, {name: ignored[key]})
        if (rule := _raise_rule(r, value, where, segment_name(name), segment=True)) is not None:
            out[key] = rule
    return out


def _modifiers(r: _Reader, node: yaml.Node | None, ignored: dict[str, int]) -> dict[str, RaiseRule]:
    out: dict[str, RaiseRule] = {}
    if node is None:
        return out
    for name, key_node, value in r.mapping(node, "modifiers"):
        where = f"modifiers.{name}"
        if name not in MODIFIER_NAMES:
            _unknown(r, key_node, "modifier", name, MODIFIER_NAMES, " (customer segments go under 'segments')")
            continue
        _both(r, key_node, where, name, ignored)
        if (rule := _raise_rule(r, value, where, name, segment=False)) is not None:
            out[name] = rule
    for name in MODIFIER_NAMES:
        if name not in out and name not in ignored and not _named(node, name):
            r.problem(r.owner(node), f"modifiers: '{name}' is missing: give it a rule, or list it in {IGNORE_KEY}")
    return out
