"""The web pages' words: Korean (해요체) by default, English on request (``?lang=en``, kept in a cookie).

One dict per language with the same keys (a test checks it); templates read them as ``t.key``. Formatting
that depends on the language (waiting time, dates) lives here too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

LANG_COOKIE = "triage_lang"
LANGUAGES = ("ko", "en")
DEFAULT_LANG = "ko"
KST = timezone(timedelta(hours=9), "KST")  # Korea keeps no daylight saving time

KO: dict[str, str] = {
    "app_name": "고객 문의함",
    "lang_switch_label": "언어",
    "signed_in_as": "{name}님",
    "logout": "로그아웃",
    "skip_to_content": "본문으로 건너뛰기",
    # login
    "login_title": "로그인",
    "login_intro": "상담원 또는 관리자 API 키로 로그인해요.",
    "login_key": "API 키",
    "login_button": "로그인",
    "login_missing_key": "API 키를 입력해 주세요.",
    "login_unknown_key": "등록되지 않았거나 폐기된 키예요. 키를 다시 확인해 주세요.",
    "login_bot_key": "봇 키로는 로그인할 수 없어요. 상담원이나 관리자 키를 넣어 주세요.",
    # inbox
    "inbox_title": "문의함",
    "filter_priority": "우선순위",
    "filter_tag": "태그",
    "filter_channel": "채널",
    "filter_status": "상태",
    "filter_sort": "정렬",
    "filter_any": "전체",
    "filter_apply": "적용",
    "filter_reset": "초기화",
    "status_open": "열린 문의",
    "status_resolved": "해결됨",
    "status_all": "전체",
    "sort_priority": "우선순위순",
    "sort_waiting": "오래 기다린 순",
    "col_priority": "우선순위",
    "col_waiting": "대기 시간",
    "col_tag": "태그",
    "col_message": "내용",
    "col_channel": "채널",
    "col_customer": "고객",
    "inbox_count": "{n}건",
    "inbox_empty": "조건에 맞는 문의가 없어요.",
    "vip": "VIP",
    "vip_title": "VIP 고객",
    "replied": "답장함",
    "messages_count": "메시지 {n}개",
    "not_ready": "지식베이스를 불러오는 중이라 태그 이름 대신 ID를 보여 드려요.",
    # waiting time
    "wait_now": "방금",
    "wait_minutes": "{m}분",
    "wait_hours": "{h}시간",
    "wait_hours_minutes": "{h}시간 {m}분",
    "wait_days": "{d}일",
    "wait_days_hours": "{d}일 {h}시간",
    # conversation
    "back_to_inbox": "← 문의함",
    "conversation_title": "문의 #{id}",
    "customer_messages": "고객 메시지",
    "context": "고객 정보",
    "customer_id": "고객 ID",
    "customer_level": "설명 수준",
    "level_step_by_step": "새 고객·단계별 안내",
    "level_standard": "일반",
    "level_concise": "오래된 고객·간단히",
    "segment": "고객 등급",
    "segment_none": "정보 없음",
    "tenure": "이용 기간",
    "tenure_days": "{n}일",
    "app_version": "앱 버전",
    "update_app": "{version}으로 업데이트를 안내해 주세요",
    "bot_path": "봇에서 거쳐 온 경로",
    "notes": "참고",
    "repeat_contact": "재문의예요: 같은 문제로 전에 보낸 메시지({id})가 있어요.",
    "injection_warning": "이 메시지에는 AI에게 지시를 바꾸라고 하는 문장이 있어요(프롬프트 인젝션). "
                         "그 부분은 분류에 쓰지 않았어요. 초안을 꼼꼼히 확인해 주세요.",
    "tag": "태그",
    "tag_confidence": "확신도 {pct}%",
    "tag_change": "태그 바꾸기",
    "tag_runners_up": "다른 후보",
    "tag_none": "(태그 없음)",
    "priority": "우선순위",
    "priority_change": "우선순위 바꾸기",
    "priority_reasons": "이유",
    "real_need_title": "고객이 정말 원하는 것",
    "real_need": "진짜 필요",
    "confirm": "확인할 점",
    "clarifying_question": "되물을 질문",
    "alternative": "더 나은 방법",
    "missing_info": "물어봐야 할 정보",
    "auto_answer": "봇이 자동으로 답할 수 있는 문의였어요.",
    "draft": "답장 초안",
    "draft_source_llm": "AI가 쓴 초안",
    "draft_source_template": "템플릿 초안",
    "draft_none": "초안이 없어요. 답장을 직접 써 주세요.",
    "citations": "근거 자료",
    "citations_none": "근거 자료가 없어요.",
    "lint": "확인이 필요한 점",
    "lint_none": "초안에서 문제를 찾지 못했어요.",
    "accept": "수락",
    "edit": "수정 후 보내기",
    "reject": "거절",
    "resolve": "해결",
    "confirm_reject": "이 초안을 거절할까요?",
    "confirm_leave": "수정한 초안이 저장되지 않았어요. 문의함으로 돌아갈까요?",
    "no_suggestion": "이 문의에는 아직 제안이 없어요.",
    "state_open": "처리 전",
    "state_accepted": "수락됨",
    "state_edited": "수정 후 보냄",
    "state_rejected": "거절됨",
    "state_superseded": "새 메시지가 와서 대체됨",
    "decided_by": "{who}님이 처리했어요: {state}",
    "decided_state": "이 제안은 이미 처리됐어요: {state}",
    "sent_reply": "보낸 답장",
    "conversation_resolved": "해결된 문의예요.",
    "flash_saved": "저장했어요.",
    "flash_resolved": "해결로 표시했어요.",
    "error_conflict": "다른 상담원이 먼저 처리했어요. 아래에서 최신 상태를 확인해 주세요.",
    "error_conflict_by": "다른 상담원({who}님)이 먼저 처리했어요: {state}. 아래에서 최신 상태를 확인해 주세요.",
    "error_superseded": "그사이 고객이 새 메시지를 보내서 제안이 바뀌었어요. 새 초안을 확인해 주세요.",
    "error_input": "저장하지 못했어요: {message}",
    "error_empty_reply": "보낼 답장이 비어 있어요. 초안을 채워 주세요.",
    "error_bad_form": "요청이 올바르지 않아요. 페이지를 새로 고친 뒤 다시 시도해 주세요.",
    "error_not_ready": "지식베이스를 불러오는 중이에요. 잠시 후 다시 시도해 주세요.",
    "error_not_found": "문의를 찾을 수 없어요.",
    # channels
    "channel_chat": "채팅",
    "channel_email": "이메일",
    "channel_sms": "문자",
    "channel_phone": "전화",
    "channel_app_review": "앱 리뷰",
    "channel_social": "SNS",
    "channel_none": "—",
    # shortcuts
    "shortcuts": "단축키",
    "shortcuts_hint": "? 키를 누르면 단축키를 볼 수 있어요",
    "close": "닫기",
    "key_j": "다음 문의 선택",
    "key_k": "이전 문의 선택",
    "key_enter": "선택한 문의 열기",
    "key_a": "수락",
    "key_e": "초안 수정하기",
    "key_ctrl_enter": "수정한 답장 보내기",
    "key_r": "거절",
    "key_t": "태그 고르기",
    "key_u": "문의함으로 돌아가기 (입력 중에는 Esc로 입력을 먼저 끝내요)",
    "key_help": "단축키 보기",
}

EN: dict[str, str] = {
    "app_name": "Support inbox",
    "lang_switch_label": "Language",
    "signed_in_as": "{name}",
    "logout": "Sign out",
    "skip_to_content": "Skip to content",
    "login_title": "Sign in",
    "login_intro": "Sign in with an agent or admin API key.",
    "login_key": "API key",
    "login_button": "Sign in",
    "login_missing_key": "Enter your API key.",
    "login_unknown_key": "This key is unknown or revoked. Check it and try again.",
    "login_bot_key": "A bot key cannot sign in. Use an agent or admin key.",
    "inbox_title": "Inbox",
    "filter_priority": "Priority",
    "filter_tag": "Tag",
    "filter_channel": "Channel",
    "filter_status": "Status",
    "filter_sort": "Sort",
    "filter_any": "All",
    "filter_apply": "Apply",
    "filter_reset": "Reset",
    "status_open": "Open",
    "status_resolved": "Resolved",
    "status_all": "All",
    "sort_priority": "Priority",
    "sort_waiting": "Longest waiting",
    "col_priority": "Priority",
    "col_waiting": "Waiting",
    "col_tag": "Tag",
    "col_message": "Message",
    "col_channel": "Channel",
    "col_customer": "Customer",
    "inbox_count": "{n} conversations",
    "inbox_empty": "No conversations match.",
    "vip": "VIP",
    "vip_title": "VIP customer",
    "replied": "replied",
    "messages_count": "{n} messages",
    "not_ready": "The knowledge base is loading: tag ids are shown instead of names.",
    "wait_now": "just now",
    "wait_minutes": "{m} min",
    "wait_hours": "{h} h",
    "wait_hours_minutes": "{h} h {m} min",
    "wait_days": "{d} d",
    "wait_days_hours": "{d} d {h} h",
    "back_to_inbox": "← Inbox",
    "conversation_title": "Conversation #{id}",
    "customer_messages": "Customer messages",
    "context": "Customer",
    "customer_id": "Customer id",
    "customer_level": "Explanation level",
    "level_step_by_step": "New customer · step by step",
    "level_standard": "Standard",
    "level_concise": "Long-time customer · concise",
    "segment": "Segment",
    "segment_none": "unknown",
    "tenure": "Customer for",
    "tenure_days": "{n} days",
    "app_version": "App version",
    "update_app": "suggest updating to {version}",
    "bot_path": "Path through the bot",
    "notes": "Notes",
    "repeat_contact": "Repeat contact: an earlier message ({id}) on the same issue.",
    "injection_warning": "This message tries to instruct the AI (prompt injection). That part was not used "
                         "for tagging. Check the draft carefully.",
    "tag": "Tag",
    "tag_confidence": "confidence {pct}%",
    "tag_change": "Change tag",
    "tag_runners_up": "Runners-up",
    "tag_none": "(no tag)",
    "priority": "Priority",
    "priority_change": "Change priority",
    "priority_reasons": "Reasons",
    "real_need_title": "What the customer really needs",
    "real_need": "Real need",
    "confirm": "Confirm",
    "clarifying_question": "Ask",
    "alternative": "A better way",
    "missing_info": "Ask the customer for",
    "auto_answer": "The bot could have answered this one.",
    "draft": "Reply draft",
    "draft_source_llm": "written by the LLM",
    "draft_source_template": "from a template",
    "draft_none": "No draft: write the reply yourself.",
    "citations": "Sources",
    "citations_none": "No sources.",
    "lint": "Check before sending",
    "lint_none": "No problems found in the draft.",
    "accept": "Accept",
    "edit": "Send edited",
    "reject": "Reject",
    "resolve": "Resolve",
    "confirm_reject": "Reject this draft?",
    "confirm_leave": "Your changes to the draft are not saved. Go back to the inbox?",
    "no_suggestion": "No suggestion for this conversation yet.",
    "state_open": "not decided",
    "state_accepted": "accepted",
    "state_edited": "edited and sent",
    "state_rejected": "rejected",
    "state_superseded": "replaced by a newer message",
    "decided_by": "Decided by {who}: {state}",
    "decided_state": "This suggestion is already decided: {state}",
    "sent_reply": "Reply sent",
    "conversation_resolved": "This conversation is resolved.",
    "flash_saved": "Saved.",
    "flash_resolved": "Marked as resolved.",
    "error_conflict": "Another agent decided this first. The latest state is shown below.",
    "error_conflict_by": "Another agent ({who}) decided this first: {state}. The latest state is shown below.",
    "error_superseded": "The customer wrote again, so the suggestion changed. Check the new draft.",
    "error_input": "Not saved: {message}",
    "error_empty_reply": "The reply is empty. Fill in the draft.",
    "error_bad_form": "The request is not valid. Reload the page and try again.",
    "error_not_ready": "The knowledge base is still loading. Try again in a moment.",
    "error_not_found": "No such conversation.",
    "channel_chat": "Chat",
    "channel_email": "Email",
    "channel_sms": "SMS",
    "channel_phone": "Phone",
    "channel_app_review": "App review",
    "channel_social": "Social",
    "channel_none": "—",
    "shortcuts": "Keyboard shortcuts",
    "shortcuts_hint": "Press ? for keyboard shortcuts",
    "close": "Close",
    "key_j": "Select the next conversation",
    "key_k": "Select the previous conversation",
    "key_enter": "Open the selected conversation",
    "key_a": "Accept",
    "key_e": "Edit the draft",
    "key_ctrl_enter": "Send the edited reply",
    "key_r": "Reject",
    "key_t": "Choose the tag",
    "key_u": "Back to the inbox (while typing, Esc leaves the field first)",
    "key_help": "Show shortcuts",
}

STRINGS: dict[str, dict[str, str]] = {"ko": KO, "en": EN}


def pick_language(query: str | None, cookie: str | None) -> str:
    """``?lang=`` first, then the cookie, then Korean."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice  # type: ignore[return-value]
    return DEFAULT_LANG


def strings(lang: str) -> dict[str, str]:
    return STRINGS.get(lang, KO)


def waiting(seconds: float | None, lang: str) -> str:
    """Human waiting time: '방금', '12분', '3시간 12분', '1일 5시간', '4일'; '' when nobody waits."""
    if seconds is None:
        return ""
    t = strings(lang)
    minutes = max(int(seconds // 60), 0)
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return t["wait_days_hours"].format(d=days, h=hours) if days < 3 and hours else t["wait_days"].format(d=days)
    if hours:
        return t["wait_hours_minutes"].format(h=hours, m=mins) if mins else t["wait_hours"].format(h=hours)
    return t["wait_minutes"].format(m=mins) if mins else t["wait_now"]


def when(at: datetime | None, lang: str) -> str:
    """A message's time in Korea: '11월 8일 20:38' (ko) or 'Nov 8, 20:38 KST' (en)."""
    if at is None:
        return ""
    local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(KST)
    if lang == "en":
        return f"{local:%b} {local.day}, {local:%H:%M} KST"
    return f"{local.month}월 {local.day}일 {local:%H:%M}"
