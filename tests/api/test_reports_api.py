"""The reports API on SQLite and PostgreSQL: JSON, CSV and PNG for agents and admins; 401 without a key, 403
for the bot; 422 for bad parameters."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from knowledge.samples import DEMO_DIR
from triage.api.app import create_app
from triage.kb import KnowledgeBase
from triage.models import FeedbackIn, Message, TriageResult
from triage.store import Store

pytestmark = pytest.mark.clock  # a period defaults to the days up to today

SEOUL = ZoneInfo("Asia/Seoul")
RANGE = {"period": "day", "start": "2026-03-02", "end": "2026-03-04"}
PNG = b"\x89PNG\r\n\x1a\n"
ROUTES = ("/v1/reports/summary", "/v1/reports/export.csv", "/v1/reports/chart/volume.png")


@pytest.fixture(scope="module")
def kb_settings(small_kb, tmp_path_factory):
    from triage.config import Settings

    settings = Settings(kb_dir=small_kb, var_dir=tmp_path_factory.mktemp("var"), taxonomy=DEMO_DIR / "taxonomy.yaml")
    return settings, KnowledgeBase.open(settings)


@pytest.fixture
def api(kb_settings, store_url):
    settings, kb = kb_settings
    store = Store.open(store_url)
    app = create_app(settings, kb_loaded=kb, store=store)
    with TestClient(app) as client:
        client.store = store  # type: ignore[attr-defined]
        names = itertools.count()
        client.as_ = lambda role: {"Authorization": f"Bearer {store.create_key(f'{role}-{next(names)}', role)}"}
        yield client
    store.close()


def seed(store: Store) -> None:
    """Three messages on 2 and 3 March (Seoul time), one accepted suggestion, one auto-answer."""
    for i, (hour, day, tag, decision) in enumerate(((10, 2, "refund_status", "auto_answer"),
                                                    (23, 2, "delivery_delay", "handoff"),
                                                    (0, 3, "refund_status", "handoff"))):
        at = datetime(2026, 3, day, hour, 30, tzinfo=SEOUL)
        intake = store.record_message(
            Message(text="문의", channel="chat", created_at=at, customer={"id": f"c-{i}"}),
            TriageResult(tag=tag, decision=decision, draft="안내드려요", candidate_faq_id="f-1"))
        if i == 0:
            store.record_feedback(intake.suggestion_id, FeedbackIn(action="accept"), "alice")


def test_summary_is_the_report_as_json(api):
    seed(api.store)

    response = api.get("/v1/reports/summary", params=RANGE, headers=api.as_("agent"))

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["period"], body["start"], body["end"], body["timezone"]) == ("day", "2026-03-02", "2026-03-04",
                                                                              "Asia/Seoul")
    assert [b["messages"] for b in body["volume"]["buckets"]] == [2, 1]
    assert body["volume"]["by_tag"] == {"refund_status": 2, "delivery_delay": 1}
    assert body["automation"]["rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert body["acceptance"]["accepted"] == 1 and body["ces"]["target"] == 6.5
    assert body["tag_names"]["delivery_delay"] == "배송 지연"  # from the loaded taxonomy
    assert all(item["title"] and item["size"] >= 1 for item in body["gaps"]["items"])  # the top FAQ gaps


def test_weeks_and_an_admin_key(api):
    seed(api.store)

    response = api.get("/v1/reports/summary", params={"period": "week", "start": "2026-02-23", "end": "2026-03-09"},
                       headers=api.as_("admin"))

    assert response.status_code == 200
    assert [(b["bucket"], b["messages"]) for b in response.json()["volume"]["buckets"]] == [
        ("2026-02-23", 0), ("2026-03-02", 3)]


def test_export_csv(api):
    seed(api.store)

    response = api.get("/v1/reports/export.csv", params=RANGE, headers=api.as_("agent"))

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="report-day-2026-03-02-2026-03-04.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["bucket", "metric", "dimension", "value"]
    by = {(r["bucket"], r["metric"], r["dimension"]): r["value"] for r in rows}
    assert by[("2026-03-02", "messages", "")] == "2" and by[("2026-03-03", "messages_by_tag", "refund_status")] == "1"


@pytest.mark.parametrize("name", ["volume", "auto_answer", "acceptance", "ces", "first_response"])
def test_charts_are_png(api, name):
    seed(api.store)

    response = api.get(f"/v1/reports/chart/{name}.png", params=RANGE, headers=api.as_("agent"))

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG) and len(response.content) > 1000


def test_an_unknown_chart_is_404(api):
    response = api.get("/v1/reports/chart/pie.png", params=RANGE, headers=api.as_("agent"))

    assert response.status_code == 404 and "volume" in response.json()["error"]["message"]


def test_no_key_is_401_and_the_bot_gets_403_with_no_data(api):
    seed(api.store)
    bot = api.as_("bot")
    for route in ROUTES:
        for headers in ({}, {"Authorization": "Bearer tk_nope"}):
            response = api.get(route, params=RANGE, headers=headers)
            assert response.status_code == 401 and set(response.json()) == {"error"}
        forbidden = api.get(route, params=RANGE, headers=bot)
        assert forbidden.status_code == 403 and "refund" not in forbidden.text
    assert api.get("/v1/reports/summary", params={"start": "nope"}).status_code == 401  # the key is checked first


@pytest.mark.parametrize(("params", "says"), [
    ({"start": "2026/03/02"}, "YYYY-MM-DD"),
    ({"end": "03-04-2026"}, "YYYY-MM-DD"),
    ({"start": "2026-02-30"}, "YYYY-MM-DD"),
    ({"start": "2026-03-04", "end": "2026-03-02"}, "must be after start"),
    ({"period": "month"}, "period"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
])
def test_bad_parameters_are_422_with_a_clear_message(api, params, says):
    agent = api.as_("agent")
    for route in ROUTES:
        response = api.get(route, params=params, headers=agent)
        assert response.status_code == 422, (route, response.text)
        assert says in response.json()["error"]["message"]


def test_an_empty_store_gives_a_report_of_zeros(api):
    agent = api.as_("agent")

    body = api.get("/v1/reports/summary", params={"period": "week"}, headers=agent).json()

    assert body["empty"] is True and len(body["buckets"]) == 8 and body["automation"]["rate"] is None
    png = api.get("/v1/reports/chart/ces.png", headers=agent)
    assert png.status_code == 200 and png.content.startswith(PNG)
