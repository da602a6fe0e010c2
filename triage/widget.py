"""The support bot as customers meet it: the chat widget a company embeds with one script tag.

A customer asks (typing, or through the section's quick replies); the bot answers from the KB with its source, or
says honestly that a person will help. The customer can rate an answer, and ask for a person at any time: the
chat so far, the quick replies pressed (``bot_path``) and the page go to the inbox as one conversation, and agents'
replies come back into the open widget (a long poll, woken by ``TurnBell``). After the conversation is resolved
the widget asks the CES question.

A widget key is public (it sits in the page), so ``WidgetGate`` holds it to its origins and rate-limits every
request per session and per IP address (``limits``: moving windows in this process's memory; each replica counts
its own, which only makes a replicated service a little more lenient).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import yaml
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from triage.errors import AuthError, ConflictError, ForbiddenError, InputError, RateLimitedError
from triage.models import BotPathItem, Customer, Id, Message, MessageText, WidgetTurn
from triage.stages.privacy import redact_text
from triage.store import Store
from triage.store.chat_rows import ChatSession, ChatState
from triage.store.repository import hash_key
from triage.web.i18n import strings

if TYPE_CHECKING:
    from triage.service import ServiceState

log = logging.getLogger("triage.widget")

ORIGIN_CACHE_SECONDS = 10.0  # a revoked key or a changed origin list is followed within this time
QUICK_REPLIES = 4  # the section's most asked questions shown as buttons
POLL_SECONDS = 25.0  # the longest a long poll is held (below common proxies' 30 s idle timeouts)
SOURCES = 1  # sources shown under an answer: the entry it came from


class MenuItem(BaseModel):
    """A quick reply: ``ask`` sends a question, ``children`` opens a submenu."""

    label: BotPathItem = Field(min_length=1)
    ask: Annotated[MessageText, Field(max_length=500)] | None = None
    children: list[MenuItem] = Field(default_factory=list, max_length=12)


class WidgetConfig(BaseModel):
    lang: Literal["ko", "en"]
    greeting: str
    menu: list[MenuItem]


class WidgetSessionIn(BaseModel):
    page: Id | None = None
    section: Id | None = None
    lang: Literal["ko", "en"] = "ko"


class WidgetAsk(BaseModel):
    text: Annotated[MessageText, Field(max_length=2000)]
    path: list[BotPathItem] = Field(default_factory=list, max_length=8)


class WidgetRating(BaseModel):
    helpful: bool


class WidgetCes(BaseModel):
    score: int = Field(ge=1, le=7, description="1 = very hard … 7 = very easy")


class CesView(BaseModel):
    asked: bool
    score: int | None


class WidgetSessionView(BaseModel):
    state: Literal["bot", "agent", "resolved"]
    turns: list[WidgetTurn]
    ces: CesView


class WidgetAskResult(BaseModel):
    turns: list[WidgetTurn]
    state: Literal["bot", "agent", "resolved"]


def load_menu(path: Path) -> dict[str, list[MenuItem]]:
    """Quick-reply menus per section (``default``: for sections without one) from a YAML mapping; an unusable
    file is an ``InputError`` naming the file and the line or item."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the widget menu ({exc.strerror})") from exc
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise InputError(f"{path}:{line}: not valid YAML ({exc.problem})") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: the widget menu is a mapping of section → list of items (label, ask or children)")
    menus: dict[str, list[MenuItem]] = {}
    for section, items in data.items():
        menus[str(section)] = []
        for n, item in enumerate(items or [], 1):
            try:
                menus[str(section)].append(MenuItem.model_validate(item))
            except ValidationError as exc:
                problem = exc.errors()[0]
                where = ".".join(str(p) for p in problem["loc"]) or "the item"
                raise InputError(f"{path}: section {section!r}, item {n}: {where}: {problem['msg']}") from exc
    return menus


class _DaemonTimers(MemoryStorage):
    """``limits``' in-memory storage with its expiry timers as daemon threads. Its own are not daemons: a process
    exits only after its last 10 ms timer has fired, and where a timed wait never ends (under libfaketime, as the
    clock tests run) the process never exits. The two hooks are ``MemoryStorage``'s (``limits`` 5.8, pinned)."""

    def __init__(self) -> None:
        super().__init__()
        self.timer.cancel()  # the one the constructor started (it ends at once: its wait is not timed out)
        self._start_timer()

    def _MemoryStorage__schedule_expiry(self) -> None:
        if not self.timer.is_alive():
            self._start_timer()

    def _start_timer(self) -> None:
        self.timer = threading.Timer(0.01, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
        self.timer.daemon = True
        self.timer.start()


class WidgetGate:
    """A widget key's origins and the rate limits of its sessions and callers."""

    def __init__(self, store: Store, session_rate: str, ip_rate: str) -> None:
        self.store = store
        self.per_session: RateLimitItem = parse(session_rate)
        self.per_ip: RateLimitItem = parse(ip_rate)
        self.limiter = MovingWindowRateLimiter(_DaemonTimers())
        self._origins: dict[str, tuple[list[str] | None, float]] = {}

    def origins(self, key: str) -> list[str]:
        """The origins of an active widget key; ``AuthError`` for an unknown or revoked one."""
        cached = self._origins.get(key)
        if cached is None or cached[1] < time.monotonic():
            cached = (self.store.widget_origins(key), time.monotonic() + ORIGIN_CACHE_SECONDS)
            self._origins[key] = cached
        if cached[0] is None:
            raise AuthError("unknown or revoked widget key: check data-key in the script tag (`triage keys list`)")
        return cached[0]

    def check_origin(self, key: str, origin: str | None, own: set[str]) -> list[str]:
        """The key's origins, if a request from ``origin`` may use it: the service's own pages (the widget's
        frame), the key's sites, or no Origin at all (not a browser, which no origin list could stop)."""
        allowed = self.origins(key)
        if origin is not None and origin not in own and origin not in allowed:
            raise ForbiddenError(f"this widget key may not be used from {origin}; add the site with "
                                 "`triage keys create NAME --role widget --origin https://…`")
        return allowed

    def hit(self, ip: str, token: str | None) -> None:
        """Count one request; ``RateLimitedError`` with the seconds to wait when over a limit."""
        for item, scope, who in ((self.per_ip, "ip", ip), (self.per_session, "session", token)):
            if who is None:
                continue
            identity = hash_key(who)
            if not self.limiter.hit(item, scope, identity):
                reset = self.limiter.get_window_stats(item, scope, identity).reset_time
                wait = max(1, int(reset - time.time() + 0.999))
                raise RateLimitedError(f"too many requests from this {'chat' if scope == 'session' else 'address'}"
                                       f" ({item}); retry in {wait} s", wait)


class TurnBell:
    """Wakes this process's long polls when their chat gets a line, whichever process or replica wrote it: while
    anyone waits, one query every ``interval`` reads the new lines of every chat."""

    def __init__(self, store: Store, interval: float = 0.25) -> None:
        self.store, self.interval = store, interval
        self._waiters: dict[int, set[asyncio.Event]] = {}
        self._last: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()

    @contextmanager
    def listening(self, session_id: int) -> Iterator[asyncio.Event]:
        """An event set when session ``session_id`` gets a line; listen before reading, so none is missed."""
        event = asyncio.Event()
        self._waiters.setdefault(session_id, set()).add(event)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())
        try:
            yield event
        finally:
            waiting = self._waiters.get(session_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._waiters[session_id]

    async def _poll(self) -> None:
        try:
            if self._last is None:
                newest = await run_in_threadpool(self.store.newest_turns, 0)
                self._last = newest[-1][0] if newest else 0
            while self._waiters:
                await asyncio.sleep(self.interval)
                rows = await run_in_threadpool(self.store.newest_turns, self._last)
                for turn_id, session_id in rows:
                    self._last = max(self._last, turn_id)
                    for event in self._waiters.get(session_id, ()):
                        event.set()
        except Exception:  # the database is away: the polls time out and the widget asks again
            log.exception("event=turn_bell_failed")


class WidgetChat:
    """What the widget routes do, over the service."""

    def __init__(self, service: ServiceState) -> None:
        self.service, self.store, self.settings = service, service.store, service.settings
        self.gate = WidgetGate(self.store, self.settings.widget_session_rate, self.settings.widget_ip_rate)
        self.bell = TurnBell(self.store)
        self.menus = load_menu(self.settings.widget_menu) if self.settings.widget_menu else None
        self._top: tuple[dict[str, int], float] = ({}, 0.0)
        self.idle = timedelta(days=self.settings.widget_session_days)

    # --- reading -------------------------------------------------------------------------------------

    def config(self, section: str | None, lang: str) -> WidgetConfig:
        chosen: Literal["ko", "en"] = "en" if lang == "en" else "ko"
        return WidgetConfig(lang=chosen, greeting=strings(chosen)["widget_greeting"], menu=self.menu(section))

    def menu(self, section: str | None) -> list[MenuItem]:
        """The deployment's menu for ``section`` (else its ``default``), or the section's most asked questions."""
        if self.menus is not None:
            return self.menus.get(section or "", self.menus.get("default", []))
        pipeline = self.service.pipeline
        if pipeline is None:
            return []
        entries = [e for e in pipeline.kb.snapshot.entries.values() if not section or e.section == section]
        counts = self._answer_counts()
        entries.sort(key=lambda e: -counts.get(e.id, 0))  # stable: the KB's order among equals
        return [MenuItem(label=e.question, ask=e.question) for e in entries[:QUICK_REPLIES]]

    def _answer_counts(self) -> dict[str, int]:
        counts, until = self._top
        if until < time.monotonic():
            counts = self.store.bot_answer_counts()
            self._top = (counts, time.monotonic() + 60)
        return counts

    def session(self, key: str, token: str | None) -> ChatSession:
        if not token:
            raise AuthError("no chat session: send the X-Widget-Session header (POST …/sessions gives one)")
        found = self.store.chat_session(key, token, self.idle)
        if found is None:
            raise AuthError("unknown or expired chat session: start a new one (POST …/sessions)")
        return found

    def view(self, session: ChatSession) -> WidgetSessionView:
        state = self.store.chat_state(session)
        return WidgetSessionView(state=state.state, turns=self.words(session, self.store.chat_turns(session.id)),
                                 ces=_ces(state))

    def words(self, session: ChatSession, turns: list[WidgetTurn]) -> list[WidgetTurn]:
        """System lines are stored as codes; the customer reads them in the chat's language."""
        t = strings(session.lang)
        return [turn.model_copy(update={"text": t.get(f"widget_system_{turn.text}", turn.text)})
                if turn.role == "system" else turn for turn in turns]

    async def wait(self, session: ChatSession, after: int, wait: float) -> WidgetSessionView:
        """The chat's lines after ``after`` (waiting up to ``wait`` seconds for one), its state and CES."""
        deadline = time.monotonic() + min(wait, POLL_SECONDS)
        with self.bell.listening(session.id) as rung:
            while True:
                turns = await run_in_threadpool(self.store.chat_turns, session.id, after)
                left = deadline - time.monotonic()
                if turns or left <= 0:
                    break
                with suppress(TimeoutError):
                    await asyncio.wait_for(rung.wait(), left)
                rung.clear()
        state = await run_in_threadpool(self.store.chat_state, session)
        return WidgetSessionView(state=state.state, turns=self.words(session, turns), ces=_ces(state))

    # --- the customer's acts -------------------------------------------------------------------------

    def ask(self, session: ChatSession, request: WidgetAsk) -> WidgetAskResult:
        """The customer's line: to the agent once handed over, else answered by the bot."""
        state = self.store.chat_state(session).state
        mine = {"role": "customer", "text": request.text}
        if state == "agent":
            self.service.take_message(self._message(session, request.text))
            return WidgetAskResult(turns=self.store.add_chat_turns(session, [mine], path=request.path), state=state)
        result = self.service.bot_answer(Message(text=request.text), session.section)
        answered = result.decision == "auto_answer" and bool(result.answer)
        t = strings(session.lang)
        sources = [{"title": c.title, "url": c.url} for c in result.citations if c.id == result.faq_id][:SOURCES]
        bot = {"role": "bot", "answered": answered, "faq_id": result.faq_id if answered else None,
               "text": result.answer if answered else t["widget_handoff_text"], "sources": sources if answered else []}
        outcome = {"message_id": f"widget-{session.id}", "faq_id": result.faq_id if answered else None,
                   "question": redact_text(request.text), "auto_answered": answered, "helpful": None,
                   "escalated": False}
        turns = self.store.add_chat_turns(session, [mine, bot], path=request.path, outcome=outcome)
        return WidgetAskResult(turns=turns, state=state)

    def rate(self, session: ChatSession, turn_id: int, helpful: bool) -> WidgetTurn:
        turn, faq_id = self.store.rate_chat_turn(session, turn_id, helpful)
        if not helpful and faq_id:
            self.service.follower.recheck(faq_id)  # an entry customers keep finding unhelpful stops auto-answering
        return turn

    def hand_over(self, session: ChatSession) -> WidgetSessionView:
        """The chat so far goes to the inbox as one conversation (once: asking again changes nothing)."""
        if self.store.chat_state(session).state == "agent":
            return self.view(session)
        intake = self.service.take_message(self._message(session, None))
        self.store.hand_chat_over(session, intake.conversation_id)
        return self.view(replace(session, conversation_id=intake.conversation_id))

    def answer_ces(self, session: ChatSession, score: int) -> None:
        state = self.store.chat_state(session)
        if state.state != "resolved" or session.conversation_id is None:
            raise ConflictError("the conversation is not resolved yet; the CES question comes after it is")
        self.store.record_ces(session.conversation_id, score, once=True)

    def _message(self, session: ChatSession, text: str | None) -> Message:
        """The customer's words for the inbox: ``text``, or (at the hand-off) every line since the last
        hand-off or resolution."""
        chat = self.store.open_chat(session.id)
        if text is None:
            text = "\n".join(chat.lines) or strings(session.lang)["widget_handoff_request"]
        limit = self.settings.max_message_chars
        return Message(id=f"widget-{session.id}-{chat.said}", text=text[-limit:], channel="chat",
                       customer=Customer(id=session.customer_id), bot_path=session.bot_path, page=session.page,
                       declined_faq_ids=chat.declined_faq_ids)


def _ces(state: ChatState) -> CesView:
    return CesView(asked=state.ces_asked, score=state.ces_score)
