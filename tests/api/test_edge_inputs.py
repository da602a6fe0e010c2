"""Edge inputs through a real uvicorn, on SQLite and on PostgreSQL alike: what the schema cannot hold is a 422
naming the field (never a 500), what it can hold at the very limit is stored, and every 4xx has the JSON error
shape, parse and content-type errors included."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.api.conftest import MAX_BODY_BYTES
from triage.models import BOT_PATH_ITEM_CHARS, BOT_PATH_ITEMS, ID_CHARS, INT32_MAX, SHORT_CHARS, TAG_CHARS

BIG = 2**63


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message"} and error["message"]
    return error


def invalid(response, field: str) -> str:
    """The response is a 422 whose message names ``field``; returns the message."""
    message = error_of(response, 422)["message"]
    assert message.startswith(f"{field}:") or f"; {field}:" in message, message
    return message


def message(**fields) -> dict:
    return {"text": "배송이 아직 안 왔어요", "channel": "chat", **fields}


EDGE_MESSAGES = [  # (the message, the field named)
    (message(customer={"id": "c-big", "tenure_days": BIG}), "customer.tenure_days"),
    (message(customer={"id": "c-int", "tenure_days": INT32_MAX + 1}), "customer.tenure_days"),
    (message(created_at="0001-01-01T00:00:00+09:00"), "created_at"),
    (message(created_at="9999-12-31T23:59:59-09:00"), "created_at"),
    (message(created_at="2026-03-02T10:00:00"), "created_at"),  # no time zone
    (message(text="널 \x00 바이트"), "text"),
    (message(id="m\x00"), "id"),
    (message(page="home\x00"), "page"),
    (message(bot_path=["배송", "\x00"]), "bot_path.1"),
    (message(customer={"id": "c\x00"}), "customer.id"),
    (message(customer={"id": "c-1", "segment": "VIP\x00"}), "customer.segment"),
    (message(customer={"id": "c-1", "app_version": "5.4\x00"}), "customer.app_version"),
    (message(id="m" * (ID_CHARS + 1)), "id"),
    (message(customer={"id": "c" * (ID_CHARS + 1)}), "customer.id"),
    (message(customer={"id": "c-1", "segment": "s" * (SHORT_CHARS + 1)}), "customer.segment"),
    (message(customer={"id": "c-1", "app_version": "9" * (SHORT_CHARS + 1)}), "customer.app_version"),
    (message(page="p" * (ID_CHARS + 1)), "page"),
    (message(bot_path=["메뉴"] * (BOT_PATH_ITEMS + 1)), "bot_path"),
    (message(bot_path=["메" * (BOT_PATH_ITEM_CHARS + 1)]), "bot_path.0"),
]


@pytest.mark.integration
@pytest.mark.parametrize("route", ["/v1/messages", "/v1/bot/handoff", "/v1/triage"])
def test_edge_messages_are_422_naming_the_field(served, route):
    for body, field in EDGE_MESSAGES:
        invalid(served.client.post(route, json=body), field)


@pytest.mark.integration
def test_a_lone_surrogate_is_422_naming_the_field(served):
    raw = '{"text": "\\ud800 안녕하세요", "customer": {"id": "c-s", "segment": "\\udfff"}}'
    for route in ("/v1/messages", "/v1/bot/answer", "/v1/triage"):
        response = served.client.post(route, content=raw, headers={"Content-Type": "application/json"})
        assert invalid(response, "text")
    outcome = '{"auto_answered": true, "question": "\\ud800?"}'
    invalid(served.client.post("/v1/bot/outcomes", content=outcome, headers={"Content-Type": "application/json"}),
            "question")


@pytest.mark.integration
def test_a_naive_time_on_a_customers_second_message_is_422(served):
    customer = {"id": f"c-{uuid.uuid4().hex[:6]}"}
    first = served.client.post("/v1/messages", json=message(customer=customer, created_at="2026-03-02T10:00:00+09:00"))
    assert first.status_code == 201, first.text
    invalid(served.client.post("/v1/messages", json=message(customer=customer, created_at="2026-03-02T11:00:00")),
            "created_at")


@pytest.mark.integration
def test_values_at_the_limits_are_stored_alike(served):
    """What validation lets through, both databases store: the longest ids, the largest integers, the oldest
    and newest times, the longest bot path."""
    suffix = uuid.uuid4().hex[:8]
    customer = {"id": ("고객" * ID_CHARS)[: ID_CHARS - 8] + suffix, "tenure_days": INT32_MAX,
                "segment": "세" * SHORT_CHARS, "app_version": "9" * SHORT_CHARS}
    for at in ("1970-01-01T00:00:00Z", "2199-12-31T23:59:59+00:00"):
        body = message(id="m" * ID_CHARS, page="페" * ID_CHARS, customer=customer, created_at=at,
                       bot_path=["메" * BOT_PATH_ITEM_CHARS] * BOT_PATH_ITEMS)
        response = served.client.post("/v1/messages", json=body)
        assert response.status_code == 201, response.text
        stored = served.client.get(f"/v1/conversations/{response.json()['conversation_id']}").json()
        assert stored["customer"]["tenure_days"] == INT32_MAX and stored["customer"]["id"] == customer["id"]
    outcome = {"auto_answered": True, "helpful": False, "faq_id": "f" * ID_CHARS, "message_id": "m" * ID_CHARS,
               "question": "환불은 언제 되나요?"}
    assert served.client.post("/v1/bot/outcomes", json=outcome).status_code == 201


@pytest.mark.integration
def test_other_stored_strings_are_checked_too(served):
    c = served.client
    invalid(c.post("/v1/bot/outcomes", json={"auto_answered": True, "faq_id": "f" * (ID_CHARS + 1)}), "faq_id")
    invalid(c.post("/v1/bot/outcomes", json={"auto_answered": True, "message_id": "m\x00"}), "message_id")
    invalid(c.post("/v1/bot/ces", json={"conversation_id": BIG, "score": 5}), "conversation_id")
    invalid(c.post("/v1/admin/keys", json={"name": "k\x00", "role": "agent"}), "name")
    invalid(c.post("/v1/triage/corrections", json={"text": "환불", "tag": "t" * (TAG_CHARS + 1)}), "tag")
    intake = c.post("/v1/messages", json=message()).json()
    feedback = f"/v1/suggestions/{intake['suggestion_id']}/feedback"
    invalid(c.post(feedback, json={"action": "edit", "final_text": "답변 \x00"}), "final_text")
    invalid(c.post(feedback, json={"action": "accept", "tag": "배송\x00"}), "tag")
    draft = {"question": "질문\x00", "answer": "답변", "entry_id": "new-entry"}
    invalid(c.post("/v1/gaps/accept", json=draft), "question")


@pytest.mark.integration
def test_query_and_path_edges_are_422_or_404(served):
    c = served.client
    invalid(c.get("/v1/inbox", params={"offset": BIG}), "query.offset")
    invalid(c.get("/v1/inbox", params={"offset": -1}), "query.offset")
    invalid(c.get("/v1/inbox", params={"limit": BIG}), "query.limit")
    invalid(c.get("/v1/inbox", params={"tag": "배송\x00"}), "query.tag")
    invalid(c.get("/v1/reference-replies", params={"faq_id": "f\x00"}), "query.faq_id")
    invalid(c.delete("/v1/admin/keys/k%00"), "path.name")
    assert c.get("/v1/inbox", params={"offset": 1_000_000}).json() == []
    error_of(c.get(f"/v1/conversations/{BIG}"), 404)
    error_of(c.post(f"/v1/suggestions/{BIG}/feedback", json={"action": "reject"}), 404)


@pytest.mark.integration
@pytest.mark.parametrize("params,field", [
    ({"start": "0001-01-01"}, "start"), ({"end": "9999-12-31"}, "end"),
    ({"start": "9999-01-01", "end": "9999-01-08"}, "start"), ({"timezone": "America"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"), ({"timezone": "Asia/Seoul\x00"}, "timezone"),
])
def test_report_edges_are_422_naming_the_field(served, params, field):
    for route in ("/v1/reports/summary", "/v1/reports/export.csv", "/v1/reports/chart/volume.png"):
        invalid(served.client.get(route, params=params), field)


@pytest.mark.integration
def test_any_iana_time_zone_and_the_widest_range_answer(served):
    for zone in ("America/New_York", "UTC", "Pacific/Kiritimati"):
        response = served.client.get("/v1/reports/summary", params={"timezone": zone, "period": "week",
                                                                   "start": "2026-01-05", "end": "2026-03-02"})
        assert response.status_code == 200, response.text
    edge = served.client.get("/v1/reports/summary", params={"start": "1970-01-01", "end": "1970-01-08"})
    assert edge.status_code == 200, edge.text
    assert served.client.get("/v1/reports/summary", params={"start": "2199-12-25", "end": "2200-01-01",
                                                             "timezone": "Pacific/Kiritimati"}).status_code == 200


@pytest.mark.integration
def test_every_4xx_has_the_json_error_shape(served):
    c = served.client
    raw = json.dumps(message()).encode()
    unsupported = error_of(c.post("/v1/messages", content=raw, headers={"Content-Type": "text/plain"}), 415)
    assert unsupported["code"] == "unsupported_media_type" and "application/json" in unsupported["message"]
    assert error_of(c.post("/v1/messages", content=raw, headers={"Content-Type": ""}), 415)
    broken = error_of(c.post("/v1/messages", content=b'{"text": ', headers={"Content-Type": "application/json"}),
                      422)
    assert broken["code"] == "invalid_json" and "not valid JSON" in broken["message"]
    not_utf8 = error_of(c.post("/v1/messages", content=b'{"text": "\xff"}',
                               headers={"Content-Type": "application/json"}), 400)
    assert "UTF-8" in not_utf8["message"]
    assert error_of(c.post("/v1/messages", content=b"[1, 2]", headers={"Content-Type": "application/json"}), 422)
    missing = error_of(c.get("/v1/no-such-route"), 404)
    assert missing["code"] == "not_found" and "/v1/no-such-route" in missing["message"]
    wrong_method = c.put("/v1/inbox")
    assert error_of(wrong_method, 405)["code"] == "method_not_allowed" and "GET" in wrong_method.json()["error"][
        "message"]
    assert error_of(c.get("/static/no-such-file.css"), 404)["code"] == "not_found"
    assert error_of(c.get("/v1/inbox", headers={"Authorization": "Bearer nope"}), 401)["code"] == "unauthorized"


@pytest.mark.integration
def test_a_body_over_the_limit_is_413_without_being_read(served):
    c = served.client
    declared = c.post("/v1/messages", content=b"x" * (MAX_BODY_BYTES + 1), headers={"Content-Type": "application/json"})
    assert error_of(declared, 413)["code"] == "body_too_large"

    def chunks():  # no Content-Length: counted as it streams in
        for _ in range(20):
            yield b" " * 20_000

    streamed = c.post("/v1/messages", content=chunks(), headers={"Content-Type": "application/json"})
    assert error_of(streamed, 413)["code"] == "body_too_large"
    big_bot_path = message(bot_path=["메뉴"] * 200_000)  # the 3.2 MB bot path
    assert error_of(c.post("/v1/messages", json=big_bot_path), 413)["code"] == "body_too_large"
    assert c.post("/v1/messages", json=message(bot_path=["메뉴"] * 10)).status_code == 201
