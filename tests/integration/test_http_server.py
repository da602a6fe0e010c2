"""The API through a real uvicorn server on 127.0.0.1 (a separate process, real HTTP)."""

from __future__ import annotations

import httpx
import pytest

from knowledge.samples import DEMO_DIR
from tests.conftest import api_key, uvicorn_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(small_kb, tmp_path_factory):
    var = tmp_path_factory.mktemp("var")
    env = {"TRIAGE_KB_DIR": str(small_kb), "TRIAGE_VAR_DIR": str(var),
           "TRIAGE_TAXONOMY": str(DEMO_DIR / "taxonomy.yaml")}
    key = api_key(f"sqlite:///{var}/triage.db", "admin")
    with uvicorn_server(env) as (base, _):
        yield httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def test_bot_answers_over_real_http(server):
    payload = {"text": "새벽배송 마감 시간 알려주세요", "section": "delivery"}
    response = server.post("/v1/bot/answer", json=payload)
    assert response.status_code == 200
    body = response.json()
    assert body["candidate_faq_id"] == "dawn-delivery-cutoff"
    assert body["timings_ms"]["total"] > 0


def test_errors_are_json_over_real_http(server):
    response = server.post("/v1/bot/answer", json={"text": ""})
    assert response.status_code == 422 and response.json()["error"]["message"].startswith("text:")
    assert server.get("/openapi.json").json()["info"]["title"] == "CX triage"


def test_triage_and_a_correction_over_real_http(server):
    message = {"id": "h1", "text": "카드 결제가 계속 실패해요", "customer": {"id": "c1", "segment": "VIP"}}
    body = server.post("/v1/triage", json=message).json()
    assert body["tag"] == "payment_failed" and body["priority"] == "P1"  # P2 issue, VIP customer
    assert body["language"] == "ko" and body["context"]["segment"] == "VIP"
    fix = server.post("/v1/triage/corrections", json={"text": message["text"], "tag": "refund_status"},
                     timeout=30)
    assert fix.status_code == 201
    again = server.post("/v1/triage", json={"text": message["text"]}).json()
    assert again["tag"] == "refund_status"
    bad = server.post("/v1/triage", json={"text": "환불", "customer": {"monetary": 7}})
    assert bad.status_code == 422 and "customer.monetary" in bad.json()["error"]["message"]
