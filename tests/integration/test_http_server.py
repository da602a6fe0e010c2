"""The API through a real uvicorn server on 127.0.0.1 (a separate process, real HTTP)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from knowledge.samples import DEMO_DIR

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(small_kb, tmp_path_factory):
    port = free_port()
    env = {**os.environ, "TRIAGE_KB_DIR": str(small_kb), "TRIAGE_VAR_DIR": str(tmp_path_factory.mktemp("var")),
           "TRIAGE_TAXONOMY": str(DEMO_DIR / "taxonomy.yaml")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "triage.api.app:app_from_environment",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "server exited"
            time.sleep(0.3)
        else:
            pytest.fail("the server did not become ready in 90 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_bot_answers_over_real_http(server):
    payload = {"text": "새벽배송 마감 시간 알려주세요", "section": "delivery"}
    response = httpx.post(f"{server}/v1/bot/answer", json=payload, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["candidate_faq_id"] == "dawn-delivery-cutoff"
    assert body["timings_ms"]["total"] > 0


def test_errors_are_json_over_real_http(server):
    response = httpx.post(f"{server}/v1/bot/answer", json={"text": ""}, timeout=30)
    assert response.status_code == 422 and response.json()["error"]["message"].startswith("text:")
    assert httpx.get(f"{server}/openapi.json", timeout=30).json()["info"]["title"] == "CX triage"


def test_triage_and_a_correction_over_real_http(server):
    message = {"id": "h1", "text": "카드 결제가 계속 실패해요", "customer": {"id": "c1", "segment": "VIP"}}
    body = httpx.post(f"{server}/v1/triage", json=message, timeout=30).json()
    assert body["tag"] == "payment_failed" and body["priority"] == "P1"  # P2 issue, VIP customer
    assert body["language"] == "ko" and body["context"]["segment"] == "VIP"
    fix = httpx.post(f"{server}/v1/triage/corrections", json={"text": message["text"], "tag": "refund_status"},
                     timeout=30)
    assert fix.status_code == 201
    again = httpx.post(f"{server}/v1/triage", json={"text": message["text"]}, timeout=30).json()
    assert again["tag"] == "refund_status"
    bad = httpx.post(f"{server}/v1/triage", json={"text": "환불", "customer": {"monetary": 7}}, timeout=30)
    assert bad.status_code == 422 and "customer.monetary" in bad.json()["error"]["message"]
