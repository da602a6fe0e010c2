"""The store itself on SQLite and PostgreSQL: migrations match the models, times stay UTC, SQLite runs WAL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import select, text

from triage.errors import StoreError
from triage.models import BotOutcomeIn, CesIn, FeedbackIn, Message, TriageResult
from triage.store import Store
from triage.store.tables import Base, BotOutcome, CesAnswer, FeedbackEvent, Suggestion


def test_migrations_create_exactly_the_models_and_run_again_safely(store_url):
    store = Store.open(store_url)
    Store.open(store_url).close()  # a second start: already at head, nothing to do
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0004"
    store.close()


def test_times_come_back_as_the_same_utc_moment(store_url):
    store = Store.open(store_url)
    seoul = datetime(2026, 11, 8, 20, 38, tzinfo=timezone(timedelta(hours=9)))
    intake = store.record_message(Message(text="배송이 안 와요", created_at=seoul), TriageResult(priority="P2"))
    [message] = store.conversation(intake.conversation_id).messages
    assert message.created_at == seoul and message.created_at.tzinfo == UTC
    store.close()


@pytest.mark.clock
def test_imported_verdicts_outcomes_and_ces_answers_keep_their_own_time(store_url):
    store = Store.open(store_url)
    then = datetime(2025, 6, 30, 23, 10, tzinfo=timezone(timedelta(hours=9)))
    intake = store.record_message(Message(text="환불 언제 돼요", created_at=then), TriageResult(draft="초안"))
    store.record_feedback(intake.suggestion_id, FeedbackIn(action="accept", created_at=then), "agent")
    store.record_bot_outcome(BotOutcomeIn(auto_answered=True, helpful=False, question="q", created_at=then))
    store.record_ces(intake.conversation_id, 6, then)
    before = datetime.now(UTC)
    store.record_bot_outcome(BotOutcomeIn(auto_answered=False))  # no time given: the moment it is recorded
    with store.session() as s:
        assert s.scalar(select(FeedbackEvent.created_at)) == then
        assert s.scalar(select(Suggestion.decided_at)) == then
        assert s.scalar(select(CesAnswer.created_at)) == then
        imported, live = s.scalars(select(BotOutcome.created_at).order_by(BotOutcome.id))
        assert imported == then and live >= before - timedelta(seconds=1)
    store.close()


@pytest.mark.parametrize("model", [BotOutcomeIn, CesIn, FeedbackIn])
@pytest.mark.parametrize(("value", "says"), [("2025-06-30T23:10:00", "time zone"), ("1969-12-31T23:59:59Z", "1970"),
                                             ("2200-01-01T00:00:00Z", "2200")])
def test_an_event_time_needs_a_time_zone_and_a_sane_year(model, value, says):
    fields = {"auto_answered": True, "conversation_id": 1, "score": 4, "action": "reject"}
    with pytest.raises(ValidationError, match=says) as caught:
        model.model_validate({**fields, "created_at": value})
    assert caught.value.errors()[0]["loc"] == ("created_at",)


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path}/var/t.db")  # the folder is created
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.close()


@pytest.mark.parametrize(("url", "says"), [
    ("not a url", "TRIAGE_DATABASE_URL"),
    ("postgresql+psycopg://postgres@127.0.0.1:1/none", "cannot reach the database"),
])
def test_a_bad_database_url_is_a_clear_error(url, says):
    with pytest.raises(StoreError, match=says):
        Store.open(url)


def test_a_customer_on_another_channel_starts_another_conversation(store_url):
    store = Store.open(store_url)
    customer = {"id": "c-1"}
    chat = store.record_message(Message(text="환불 언제 돼요", channel="chat", customer=customer), TriageResult())
    again = store.record_message(Message(text="환불 아직이요", channel="chat", customer=customer), TriageResult())
    email = store.record_message(Message(text="환불 문의", channel="email", customer=customer), TriageResult())
    assert chat.conversation_id == again.conversation_id != email.conversation_id
    [item] = [i for i in store.inbox() if i.conversation_id == chat.conversation_id]
    assert item.messages == 2 and item.suggestion_id == again.suggestion_id and item.first_line == "환불 아직이요"
    store.close()


def test_messages_without_a_channel_or_a_customer_id(store_url):
    store = Store.open(store_url)
    first = store.record_message(Message(text="문의가 있어요", customer={"id": "c-7"}), TriageResult())
    second = store.record_message(Message(text="답이 없네요", customer={"id": "c-7"}), TriageResult())
    anonymous = store.record_message(Message(text="익명 문의", customer={"id": ""}), TriageResult())
    assert first.conversation_id == second.conversation_id != anonymous.conversation_id
    assert store.conversation(anonymous.conversation_id).customer is None
    store.close()


def test_an_agents_correction_outlives_the_customers_next_message(store_url):
    from triage.models import FeedbackIn

    store = Store.open(store_url)
    customer = {"id": "c-fix"}
    first = store.record_message(Message(text="환불 언제 돼요", channel="chat", customer=customer),
                                 TriageResult(tag="refund_status", priority="P3", draft="초안"))
    store.record_feedback(first.suggestion_id, FeedbackIn(action="accept", tag="payment_failed", priority="P2"), "a")
    store.record_message(Message(text="아직이요", channel="chat", customer=customer),
                         TriageResult(tag="refund_status", priority="P4", draft="초안"))
    view = store.conversation(first.conversation_id)
    assert (view.tag, view.priority) == ("payment_failed", "P2") and len(view.messages) == 2
    store.close()
