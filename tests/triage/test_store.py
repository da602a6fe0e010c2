"""The store itself on SQLite and PostgreSQL: migrations match the models, times stay UTC, SQLite runs WAL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from triage.corrections import LEGACY_SCOPE, scope_code
from triage.errors import StoreError
from triage.models import BotOutcomeIn, CesIn, FeedbackIn, Message, TriageResult
from triage.store import Store
from triage.store.database import create
from triage.store.tables import Base, BotOutcome, CesAnswer, FeedbackEvent, Suggestion


def test_migrations_create_exactly_the_models_and_run_again_safely(store_url):
    store = Store.open(store_url)
    Store.open(store_url).close()  # a second start: already at head, nothing to do
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0008"
    store.close()


def migrate_to(url: str, revision: str, down: bool = False) -> None:
    """Upgrade (or downgrade) the database at ``url`` to ``revision`` exactly, as an earlier version left it."""
    from alembic import command
    from alembic.config import Config

    from triage.store.database import MIGRATIONS, create

    engine = create(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)
    engine.dispose()


def test_migration_0005_keeps_earlier_corrections_for_the_demo_scope_only(store_url):
    migrate_to(store_url, "0004")
    engine = create(store_url)
    with engine.begin() as connection:  # what a 0004 service stored
        for n, tag in enumerate(("refund_status", "payment_info"), 1):
            connection.execute(text("INSERT INTO tag_corrections (text, tag, message_id, created_at) "
                                    "VALUES (:text, :tag, NULL, :at)"),
                               {"text": f"예전 수정 {n}", "tag": tag, "at": datetime(2026, 11, 1, tzinfo=UTC)})
        old = list(connection.execute(text("SELECT id FROM tag_corrections ORDER BY id")).scalars())
    engine.dispose()
    store = Store.open(store_url)  # a new version's start migrates to the newest (0006)
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0008"
        assert connection.execute(text("SELECT count(*) FROM tag_corrections WHERE scope IS NULL")).scalar() == 2
    other = scope_code("/srv/kb", "/srv/taxonomy.yaml")
    new = store.add_correction("새 수정", "delivery_info", other)
    assert [(i, tag) for i, _, tag in store.tag_corrections(LEGACY_SCOPE)] == [(old[0], "refund_status"),
                                                                               (old[1], "payment_info")]
    assert [(i, tag) for i, _, tag in store.tag_corrections(other)] == [(new, "delivery_info")]
    assert store.tag_corrections(LEGACY_SCOPE, after_id=old[0]) == [(old[1], "예전 수정 2", "payment_info")]
    assert store.unscoped_corrections() == 2
    store.close()
    migrate_to(store_url, "0004", down=True)  # and back: the column and its index go
    engine = create(store_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM tag_corrections")).scalar() == 3
        with pytest.raises(DBAPIError):
            connection.execute(text("SELECT scope FROM tag_corrections"))
    engine.dispose()


def test_a_correction_is_stored_in_its_scope_and_needs_one(store_url):
    store = Store.open(store_url)
    one, two = scope_code("/srv/kb-one", "/srv/taxonomy.yaml"), scope_code("/srv/kb-two", "/srv/taxonomy.yaml")
    first = store.add_correction("환불 언제 돼요", "refund_status", one)
    intake = store.record_message(Message(text="결제가 안 돼요"), TriageResult(tag="refund_status", draft="초안"))
    decided = store.record_feedback(intake.suggestion_id, FeedbackIn(action="accept", tag="payment_failed"), "a",
                                    scope=two)
    assert store.tag_corrections(one) == [(first, "환불 언제 돼요", "refund_status")]
    assert store.tag_corrections(two) == [(decided.correction_id, "결제가 안 돼요", "payment_failed")]
    assert store.tag_corrections(LEGACY_SCOPE) == [] and store.unscoped_corrections() == 0
    with pytest.raises(ValueError, match="scope"):
        store.add_correction("배송", "delivery_info", "")
    second = store.record_message(Message(text="배송이 늦어요"), TriageResult(tag="refund_status", draft="초안"))
    with pytest.raises(ValueError, match="scope"):  # nothing is stored: the verdict is not taken either
        store.record_feedback(second.suggestion_id, FeedbackIn(action="accept", tag="delivery_delay"), "a")
    assert store.suggestion(second.suggestion_id).state == "open"
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
    store.record_feedback(first.suggestion_id, FeedbackIn(action="accept", tag="payment_failed", priority="P2"), "a",
                          scope="test-scope")
    store.record_message(Message(text="아직이요", channel="chat", customer=customer),
                         TriageResult(tag="refund_status", priority="P4", draft="초안"))
    view = store.conversation(first.conversation_id)
    assert (view.tag, view.priority) == ("payment_failed", "P2") and len(view.messages) == 2
    store.close()


def test_removing_a_learned_example_names_unknown_and_impossible_ids_on_both_databases(store_url):
    from triage.errors import NotFoundError
    from triage.store.learned_rows import Learned

    store = Store.open(store_url)
    try:
        store.save_learned("kb", [Learned(source="history", ref="T-1", digest="d", text="환불 언제 돼요?", how="linked",
                                          tag_how="none", entry_id="refund")])
        (row,) = store.learned_examples("kb")
        for impossible in (row.id + 1, 2**31, 2**40):  # beyond PostgreSQL's integer: still "not found", never a 5xx
            with pytest.raises(NotFoundError):
                store.remove_learned("kb", impossible, "content")
        with pytest.raises(NotFoundError):
            store.remove_learned("another-kb", row.id, "content")  # another KB's example is not this one's
        assert store.remove_learned("kb", row.id, "content").removed_by == "content"
        assert store.learned_examples("kb") == []
        assert [r.ref for r in store.learned_examples("kb", removed=True)] == ["T-1"]
    finally:
        store.close()
