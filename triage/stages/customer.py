"""The customer behind a message: the segment (given, or derived from RFM scores) and the context that shapes
the reply (how much to explain, an app to update, the support bot's path)."""

from __future__ import annotations

import re

from triage.models import Customer, CustomerContext

NEW_CUSTOMER_DAYS = 30
VETERAN_DAYS = 365

_SEGMENT_NAMES = {"vip": "VIP", "champion": "VIP", "champions": "VIP", "loyal": "loyal", "충성": "loyal",
                  "promising": "promising", "유망": "promising", "new": "new", "신규": "new",
                  "at risk": "at risk", "at_risk": "at risk", "at-risk": "at risk", "이탈 위험": "at risk",
                  "sleeping": "sleeping", "hibernating": "sleeping", "dormant": "sleeping", "휴면": "sleeping"}


def segment_name(name: str) -> str:
    """A segment as written (vip, Champions, 충성, …) under the name ``customer_segment`` gives it."""
    return _SEGMENT_NAMES.get(name.strip().lower(), name.strip())


def customer_segment(customer: Customer | None, from_scores: bool = True) -> str | None:
    """The given segment (normalized), else "new" for a short tenure, else (``from_scores``) one derived from RFM
    scores 1–5, else None."""
    if customer is None:
        return None
    if customer.segment:
        return segment_name(customer.segment)
    r, f, m = customer.recency, customer.frequency, customer.monetary
    if customer.tenure_days is not None and customer.tenure_days < NEW_CUSTOMER_DAYS:
        return "new"
    if not from_scores or r is None or f is None or m is None:
        return None
    if r >= 4 and f >= 4 and m >= 4:
        return "VIP"
    if r >= 3 and f >= 4:
        return "loyal"
    if r <= 2:
        return "at risk" if f >= 3 or m >= 3 else "sleeping"
    if f <= 1:  # few purchases: new, unless the tenure says they have been with us long (just occasional)
        return "new" if customer.tenure_days is None else "promising"
    return "promising"


def _version(text: str) -> tuple[int, ...] | None:
    parts = re.findall(r"\d+", text)
    return tuple([int(p) for p in parts[:4]] + [0] * (4 - len(parts[:4]))) if parts else None


def customer_context(customer: Customer | None, bot_path: list[str],
                     latest_app_version: str | None) -> CustomerContext:
    segment = customer_segment(customer)
    context = CustomerContext(segment=segment, bot_path=list(bot_path))
    tenure = customer.tenure_days if customer else None
    if segment == "new" or (tenure is not None and tenure < NEW_CUSTOMER_DAYS):
        context.explanation_level = "step_by_step"
        context.notes.append("새로 온 고객이에요: 단계별로 차근차근 설명해 주세요")
    elif tenure is not None and tenure >= VETERAN_DAYS:
        context.explanation_level = "concise"
        context.notes.append(f"{tenure // 365}년 넘게 이용한 고객이에요: 핵심만 간결하게, 고급 옵션도 안내해 주세요")
    app = customer.app_version if customer else None
    have, latest = _version(app or ""), _version(latest_app_version or "")
    if have and latest and have < latest:
        context.notes.append(f"앱 버전 {app}: 최신 {latest_app_version}보다 낮아요. 업데이트를 먼저 권해 주세요")
        context.update_app_to = latest_app_version
    if bot_path:
        context.notes.append("지원 봇에서 거쳐 온 경로: " + " → ".join(bot_path))
    return context
