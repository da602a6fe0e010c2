"""Typed inputs and outputs of every stage (DESIGN.md §4 fixes the JSON shapes).

Inputs are checked here against what the store can hold (``triage.store.tables``), so SQLite and PostgreSQL
accept and refuse the same things: strings within their column's length, with no NUL character and no lone
surrogate (PostgreSQL stores neither); integers within a 32-bit column; timestamps with a time zone, between
1970 and 2200. A value outside is a 422 naming the field, at the edge, never a database error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

Channel = Literal["chat", "email", "sms", "phone", "app_review", "social"]
DecisionName = Literal["auto_answer", "handoff"]
# why a message was handed off, for programs (reports, routing): no FAQ entry came close; the best one was not close
# enough; two entries were almost equally close; the message tries to instruct the system; agents and customers
# kept turning the entry's answer down; the KB's calibration allows no auto-answer (too few phrasings); this
# customer already found the entry's answer unhelpful (the widget's rating); the message describes a situation only
# a person can act on (money at risk or missing, an account taken over, a lost card or phone, a fraud victim), and
# the KB does not mark the entry as that situation's self-service answer
HandoffReason = Literal["no_match", "not_confident", "ambiguous", "prompt_injection", "distrusted_entry",
                        "not_calibrated", "declined_by_customer", "urgent_situation"]

# --- what the store can hold ---------------------------------------------------------------------------------

INT32_MAX = 2**31 - 1  # an Integer column (PostgreSQL's integer)
ID_CHARS = 128  # ids, FAQ ids, key names, pages: String(128)
TAG_CHARS = 64  # tags: String(64)
SHORT_CHARS = 32  # a customer's segment and app version: String(32)
BOT_PATH_ITEMS = 32  # menu steps of the bot before the hand-off
BOT_PATH_ITEM_CHARS = 128
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def storable(value: str) -> str:
    """Text every database stores as sent: no NUL character, no lone surrogate (not valid Unicode)."""
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain a NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("lone_surrogate", "must be valid Unicode (a lone surrogate such as \\ud800 "
                                                    "is not)") from None
    return value


def _moment(value: datetime) -> datetime:
    """A time with a zone (without one it is ambiguous), between 1970 and 2200."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise PydanticCustomError("timezone_required", "needs a time zone, e.g. 2026-03-02T10:00:00+09:00 or …Z")
    if not EARLIEST <= value < LATEST:
        raise PydanticCustomError("time_out_of_range", f"must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


Text = Annotated[str, AfterValidator(storable)]
Id = Annotated[str, Field(max_length=ID_CHARS), AfterValidator(storable)]
Tag = Annotated[str, Field(max_length=TAG_CHARS), AfterValidator(storable)]
Short = Annotated[str, Field(max_length=SHORT_CHARS), AfterValidator(storable)]
BotPathItem = Annotated[str, Field(max_length=BOT_PATH_ITEM_CHARS), AfterValidator(storable)]
Timestamp = Annotated[datetime, AfterValidator(_moment),
                      Field(description="ISO 8601 with a time zone (e.g. +09:00 or Z), 1970 to 2200")]
RowId = Annotated[int, Field(ge=1, le=INT32_MAX)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty or whitespace only")
    return value


# a customer's text: the schema tells generators and clients it needs a non-space character
MessageText = Annotated[str, AfterValidator(_not_blank), AfterValidator(storable),
                        Field(json_schema_extra={"minLength": 1, "pattern": r"\S"})]


class Customer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Id | None = None
    tenure_days: int | None = Field(default=None, ge=0, le=INT32_MAX)
    segment: Short | None = None
    recency: int | None = Field(default=None, ge=1, le=5, description="RFM score 1-5")
    frequency: int | None = Field(default=None, ge=1, le=5, description="RFM score 1-5")
    monetary: int | None = Field(default=None, ge=1, le=5, description="RFM score 1-5")
    app_version: Short | None = None


class Message(BaseModel):
    """An incoming customer message; only ``text`` is required (``id`` is required in batch files)."""

    model_config = ConfigDict(extra="ignore")

    id: Id | None = None
    text: MessageText
    channel: Channel | None = None
    customer: Customer | None = None
    bot_path: list[BotPathItem] = Field(default_factory=list, max_length=BOT_PATH_ITEMS,
                                        description="the bot's menu steps before the hand-off")
    page: Id | None = None
    created_at: Timestamp | None = None
    declined_faq_ids: list[Id] = Field(
        default_factory=list, max_length=BOT_PATH_ITEMS,
        description="FAQ entries whose answer this customer already saw and found unhelpful (the widget's "
                    "ratings): such an entry is not answered, nor offered in the draft, again")

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_string(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class Citation(BaseModel):
    id: str
    title: str
    url: str | None = None
    score: float


class TagCandidate(BaseModel):
    tag: str
    score: float = Field(description="the tagger's score")
    probability: float | None = Field(default=None, ge=0.0, le=1.0,
                                      description="calibrated probability that this is the right tag")


class CustomerContext(BaseModel):
    """What the agent should know about the customer before replying."""

    segment: str | None = Field(default=None, description="VIP, loyal, promising, new, at risk, sleeping, "
                                                          "or the segment given")
    explanation_level: Literal["step_by_step", "standard", "concise"] = "standard"
    notes: list[str] = Field(default_factory=list)
    bot_path: list[str] = Field(default_factory=list)
    update_app_to: str | None = Field(default=None, description="latest app version, when the customer's is older")


class RealNeed(BaseModel):
    """The goal behind the literal question and how to check it (also the LLM's output schema: no string
    length limits, which llama.cpp turns into grammars too deep to parse; lint bounds the draft instead)."""

    real_need: str = Field(min_length=1, description="one sentence: the goal behind the question")
    confirm: str = Field(min_length=1, description="how to check that we understood")
    clarifying_question: str | None = Field(default=None, description="'혹시 …' when unclear")
    alternative: str | None = Field(default=None, description="a better or easier way, from the KB")
    missing_info: list[str] = Field(default_factory=list, max_length=5, description="what to ask the customer for")


class DraftInfo(BaseModel):
    """How the draft was made: which path, from which template, at what cost."""

    source: Literal["llm", "template"]
    kind: str = Field(description="answered, handoff, account_specific, complaint, bug_report, feature_request "
                                  "or praise")
    structure: dict[str, bool] = Field(default_factory=dict,
                                       description="empathy, confirm, answer, closing: present in the draft")
    cited_ids: list[str] = Field(default_factory=list, description="KB entries the draft's answer relies on")
    prompt: str | None = None
    prompt_hash: str | None = Field(default=None, description="hash of the prompt or reply template used")
    model: str | None = Field(default=None, description="the LLM tried, also when its draft was not kept")
    llm_calls: int = Field(default=0, description="LLM calls answered for this draft")
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float | None = Field(default=None, description="time spent on the LLM, failed attempts included")
    regenerated: bool = False
    fallback_reason: str | None = Field(default=None, description="why the LLM draft was not used")


class Reason(BaseModel):
    """Why, as a code of ``prompts/reasons/*.yaml`` and its parameters (``triage.reasons`` writes it out)."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="tag.top, priority.raised, fact.situation.money_at_risk, …")
    params: dict[str, str | int | float | Reason | None] = Field(default_factory=dict)


class TriageResult(BaseModel):
    """One result per message; fields a stage has not produced are null."""

    id: str | None = None
    decision: DecisionName | None = None
    decision_reason: str | None = None
    handoff_reason: HandoffReason | None = Field(
        default=None, description="the hand-off's reason as a code (decision_reason says it in words)")
    faq_id: str | None = None
    candidate_faq_id: str | None = None
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    answer: str | None = None
    answer_source: Literal["kb", "llm_rephrased"] | None = Field(
        default=None, description="the KB entry's text, or the LLM's rephrasing of it (checked to add no facts)")
    citations: list[Citation] = Field(default_factory=list)
    tag: str | None = None
    tag_confidence: float | None = None
    tag_reason: str | None = None
    tag_why: Reason | None = Field(default=None, description="tag_reason as a code with parameters")
    tag_probability: float | None = Field(
        default=None, ge=0.0, le=1.0, description="calibrated probability that the tag is right (for the catch-all: "
        "that its top candidate is); a tag is given only when it reaches the taxonomy's cut-off")
    tag_candidates: list[TagCandidate] = Field(default_factory=list, description="runners-up, best first; behind the "
                                               "catch-all, the candidates the agent chooses from")
    priority: Literal["P1", "P2", "P3", "P4"] | None = None
    reasons: list[str] = Field(default_factory=list)
    priority_why: list[Reason] = Field(default_factory=list, description="reasons as codes with parameters")
    priority_rules: list[str] = Field(
        default_factory=list,
        description="one code per entry of reasons, in the same order: the rule of the priority policy behind it "
                    "(base:tag, situation:money_at_risk, modifier:VIP, cap:claimed_urgency, ignored:anger, …; "
                    "guard:prompt_injection for the guard's note)")
    real_need: str | None = None
    need: RealNeed | None = Field(default=None, description="real need, what to confirm or ask, the alternative")
    draft: str | None = Field(default=None, description="reply draft for an agent to review")
    drafting: DraftInfo | None = None
    lint: list[str] = Field(default_factory=list)
    language: Literal["ko", "en", "other"] | None = None
    context: CustomerContext | None = None
    duplicate_of: str | None = Field(default=None, description="earlier message of this customer on the same "
                                                              "issue within the repeat window")
    flags: list[Literal["prompt_injection"]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    @property
    def sent_to_review(self) -> bool:
        """No tag was likely enough to be right (or nothing but instructions was left): the catch-all, for an agent
        to choose among ``tag_candidates``."""
        return self.tag_why is not None and self.tag_why.code in ("tag.far", "tag.competing", "tag.instructions_only")


class BotAnswerRequest(BaseModel):
    """What the support bot sends: the customer's text and, optionally, the page (section) it sits on."""

    id: Id | None = None
    text: MessageText
    section: Id | None = Field(default=None, description="Entries of this FAQ section rank first.")


class TagCorrection(BaseModel):
    """An agent's correction of a message's tag."""

    text: MessageText
    tag: Tag
    message_id: Id | None = None


# --- the inbox (triage.store): what agents see and send --------------------------------------------------

Priority = Literal["P1", "P2", "P3", "P4"]
FeedbackAction = Literal["accept", "edit", "reject"]
Role = Literal["bot", "agent", "admin"]


SuggestionState = Literal["open", "accepted", "edited", "rejected", "superseded"]


class InboxItem(BaseModel):
    conversation_id: int
    suggestion_id: int | None
    suggestion_state: SuggestionState | None = Field(default=None, description="the latest suggestion's state")
    priority: Priority | None
    tag: str | None
    channel: str | None
    vip: bool
    status: Literal["open", "resolved"]
    first_line: str = Field(description="the latest customer message's first line, shortened")
    waiting_seconds: float | None = Field(description="since the oldest customer message not yet replied to")
    messages: int


class StoredMessage(BaseModel):
    id: int
    external_id: str | None
    text: str
    created_at: datetime
    page: str | None = Field(default=None, description="the page the customer wrote from")


class FeedbackRecord(BaseModel):
    id: int
    suggestion_id: int
    action: FeedbackAction
    final_text: str | None
    edit_distance: int | None
    corrected_tag: str | None
    corrected_priority: Priority | None
    agent: str
    created_at: datetime
    replayed: bool = Field(default=False, description="an earlier request with this Idempotency-Key; nothing new")


class SuggestionView(BaseModel):
    id: int
    conversation_id: int
    state: SuggestionState
    decided_by: str | None
    message: StoredMessage
    result: TriageResult
    feedback: list[FeedbackRecord]


class DeliveryView(BaseModel):
    """An agent's reply on its way to the customer."""

    id: int
    route: Literal["widget", "email", "webhook"] = Field(description="widget: shown in the chat; email: SMTP; "
                                                                     "webhook: the company's channel adapter")
    status: Literal["queued", "sending", "sent", "failed"]
    attempts: int
    error_code: str | None = Field(description="why the last attempt failed: connect, timeout, http_503, smtp_550, "
                                               "not_configured, …")
    error: str | None
    created_at: datetime
    sent_at: datetime | None


class WidgetSource(BaseModel):
    title: str
    url: str | None = None


class WidgetTurn(BaseModel):
    """One line of a widget chat."""

    id: int
    role: Literal["customer", "bot", "agent", "system"]
    text: str
    created_at: datetime
    answered: bool = Field(description="a bot line answered from the KB (false: it offers a person)")
    sources: list[WidgetSource] = Field(default_factory=list)
    helpful: bool | None = Field(default=None, description="the customer's 'did this help?' on a bot answer")


class ConversationView(BaseModel):
    id: int
    status: Literal["open", "resolved"]
    channel: str | None
    customer: Customer | None
    priority: Priority | None
    tag: str | None
    vip: bool
    waiting_seconds: float | None
    messages: list[StoredMessage]
    suggestion: SuggestionView | None = Field(description="the latest suggestion")
    deliveries: list[DeliveryView] = Field(default_factory=list, description="agents' replies sent to the customer")
    chat: list[WidgetTurn] = Field(default_factory=list, description="the widget chat before and after the hand-off")


# When an event happened, to import history; stored as given. Omitted: the moment it is recorded.
EventTime = Annotated[Timestamp | None, Field(description="when it happened, with a time zone (e.g. "
                                                          "2026-03-02T10:00:00+09:00); default: when it is recorded")]


class FeedbackIn(BaseModel):
    """An agent's verdict on a suggestion. ``accept`` with a text that differs from the draft is stored as
    ``edit``. A corrected tag is learned at once; an edited reply is kept as a reference reply."""

    action: FeedbackAction
    final_text: Text | None = Field(default=None, description="the reply sent (accept: the draft if omitted)")
    tag: Tag | None = Field(default=None, description="the right tag, when the suggested one is wrong")
    priority: Priority | None = Field(default=None, description="the right priority, when the suggested one is wrong")
    created_at: EventTime = None


class Intake(BaseModel):
    """What storing a message created."""

    conversation_id: int
    suggestion_id: int
    result: TriageResult


class BotOutcomeIn(BaseModel):
    message_id: Id | None = None
    faq_id: Id | None = None
    question: Text | None = Field(default=None, description="the customer's question (stored with personal data "
                                                           "redacted; unhelpful answers feed the FAQ gaps)")
    auto_answered: bool
    helpful: bool | None = Field(default=None, description="the customer's 'did this help?' answer")
    escalated: bool = False
    created_at: EventTime = None


class CesIn(BaseModel):
    conversation_id: RowId
    score: int = Field(ge=1, le=7, description="1 = very hard … 7 = very easy to get the issue solved")
    created_at: EventTime = None


class ApiKeyIn(BaseModel):
    name: Id = Field(min_length=1)
    role: Role


class ApiKeyCreated(BaseModel):
    name: str
    role: Role
    key: str = Field(description="shown once; only its hash is stored")
