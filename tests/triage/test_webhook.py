"""Signed webhooks: the Standard Webhooks signature, and delivery to a real local HTTP receiver."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from triage.channels import DeliveryError
from triage.channels.webhook import SignatureError, WebhookSender, sign, signing_key, verify

SECRET = "whsec_" + base64.b64encode(b"a 24-byte test secret!!!").decode()
BODY = '{"conversation_id":42,"text":"환불 처리해 드렸습니다."}'.encode()


def headers(msg_id: str = "msg_1", timestamp: int | None = None, body: bytes = BODY, secret: str = SECRET,
            ) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body)}


def test_signing_key_decodes_whsec_secrets_and_keeps_others_as_utf8():
    assert signing_key(SECRET) == b"a 24-byte test secret!!!"
    assert signing_key("plain-비밀") == "plain-비밀".encode()
    with pytest.raises(ValueError, match="base64"):
        signing_key("whsec_not*base64")


def test_signature_matches_the_standard_webhooks_test_vector():
    """The published vector (Svix / standardwebhooks libraries), recomputed here with hmac directly."""
    secret, msg_id, timestamp, body = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                       1614265330, b'{"test": 2432232314}')
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    expected = base64.b64encode(hmac.new(key, b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + body,
                                         hashlib.sha256).digest()).decode()
    assert expected == "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, msg_id, timestamp, body) == "v1," + expected
    verify(secret, {"Webhook-Id": msg_id, "Webhook-Timestamp": str(timestamp), "Webhook-Signature": "v1," + expected},
           body, now=timestamp + 10)


def test_round_trip_with_case_insensitive_headers_and_several_signatures():
    signed = headers()
    verify(SECRET, signed, BODY)
    verify(SECRET, {name.upper(): value for name, value in signed.items()}, BODY)
    rotated = dict(signed, **{"webhook-signature": f"v1,b2xkLXNlY3JldA== v2,xyz {signed['webhook-signature']}"})
    verify(SECRET, rotated, BODY)


AT = 1_800_000_000  # the receiver's clock in these cases: built at collection, they must not age before they run


def at(**changes: object) -> dict[str, str]:
    return headers(timestamp=AT, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("case", "request_headers", "body", "match"), [
    ("tampered body", at(), BODY.replace(b"42", b"43"), "no signature matches"),
    ("wrong secret", at(secret="whsec_" + base64.b64encode(b"another secret").decode()), BODY,
     "no signature matches"),
    ("old timestamp", headers(timestamp=AT - 400), BODY, "old"),
    ("future timestamp", headers(timestamp=AT + 400), BODY, "future"),
    ("bad timestamp", dict(at(), **{"webhook-timestamp": "yesterday"}), BODY, "whole number"),
    ("no id", {k: v for k, v in at().items() if k != "webhook-id"}, BODY, "webhook-id"),
    ("no signature", {k: v for k, v in at().items() if k != "webhook-signature"}, BODY, "webhook-signature"),
    ("no headers", {}, BODY, "webhook-id, webhook-timestamp, webhook-signature"),
    ("unversioned signature", dict(at(), **{"webhook-signature": at()["webhook-signature"][3:]}), BODY,
     "no signature matches"),
])
def test_verify_rejects(case: str, request_headers: dict[str, str], body: bytes, match: str):
    with pytest.raises(SignatureError, match=match):
        verify(SECRET, request_headers, body, now=AT)


def test_signature_error_is_a_value_error():
    assert issubclass(SignatureError, ValueError)


class Receiver(ThreadingHTTPServer):
    """The company's adapter: verifies each POST with ``verify``, keeps the ids it accepted, then answers with the
    next scripted (status, delay, headers)."""

    daemon_threads = True

    def __init__(self, script: list[tuple[int, float, dict[str, str]]]) -> None:
        self.script = list(script)
        self.ids: list[str] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/replies"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        request_headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.requests.append((request_headers, body))
        try:
            verify(SECRET, request_headers, body)
        except SignatureError:
            self.answer(401)
            return
        self.server.ids.append(request_headers["webhook-id"])
        status, delay, extra = self.server.script.pop(0) if self.server.script else (200, 0.0, {})
        time.sleep(delay)
        self.answer(status, extra)

    def answer(self, status: int, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", "5")
        self.end_headers()
        self.wfile.write(b"error" if status >= 300 else b"ok!!!")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    server = Receiver(getattr(request, "param", []))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sender(receiver: Receiver) -> Iterator[WebhookSender]:
    client = WebhookSender(receiver.url, SECRET, timeout=2.0)
    yield client
    client.close()


PAYLOAD: dict[str, object] = {"conversation_id": 42, "text": "환불 처리해 드렸습니다.", "agent": "김상담"}


def test_delivers_signed_utf8_json(receiver: Receiver, sender: WebhookSender):
    sender.send("msg_reply_1", PAYLOAD)
    assert receiver.ids == ["msg_reply_1"]
    request_headers, body = receiver.requests[0]
    assert json.loads(body) == PAYLOAD
    assert "환불".encode() in body  # ensure_ascii=False: UTF-8, not \\u escapes
    assert request_headers["content-type"] == "application/json"
    assert request_headers["user-agent"] == "triage-webhook"
    assert abs(int(request_headers["webhook-timestamp"]) - time.time()) < 5


def test_a_retry_reuses_the_id_so_the_receiver_can_deduplicate(receiver: Receiver, sender: WebhookSender):
    sender.send("msg_reply_2", PAYLOAD)
    sender.send("msg_reply_2", PAYLOAD)
    assert receiver.ids == ["msg_reply_2", "msg_reply_2"]
    assert len(set(receiver.ids)) == 1


@pytest.mark.parametrize("receiver", [[(503, 0.0, {"Retry-After": "2"})]], indirect=True)
def test_503_is_retried_after_the_receivers_delay(receiver: Receiver, sender: WebhookSender):
    with pytest.raises(DeliveryError) as caught:
        sender.send("msg_503", PAYLOAD)
    assert (caught.value.code, caught.value.retry, caught.value.retry_after) == ("http_503", True, 2.0)


@pytest.mark.parametrize("receiver", [[(429, 0.0, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})]], indirect=True)
def test_429_is_retried_without_a_delay_when_retry_after_is_not_seconds(receiver: Receiver, sender: WebhookSender):
    with pytest.raises(DeliveryError) as caught:
        sender.send("msg_429", PAYLOAD)
    assert (caught.value.code, caught.value.retry, caught.value.retry_after) == ("http_429", True, None)


@pytest.mark.parametrize("receiver", [[(400, 0.0, {})]], indirect=True)
def test_400_is_not_retried(receiver: Receiver, sender: WebhookSender):
    with pytest.raises(DeliveryError) as caught:
        sender.send("msg_400", PAYLOAD)
    assert (caught.value.code, caught.value.retry) == ("http_400", False)
    assert "HTTP 400" in caught.value.message


def test_wrong_secret_is_refused_by_the_receiver_and_not_retried(receiver: Receiver):
    wrong = WebhookSender(receiver.url, "whsec_" + base64.b64encode(b"someone else").decode())
    with pytest.raises(DeliveryError) as caught:
        wrong.send("msg_forged", PAYLOAD)
    wrong.close()
    assert (caught.value.code, caught.value.retry) == ("http_401", False)
    assert receiver.ids == []


@pytest.mark.parametrize("receiver", [[(200, 1.5, {})]], indirect=True)
def test_a_slow_receiver_times_out_and_may_be_retried(receiver: Receiver):
    slow = WebhookSender(receiver.url, SECRET, timeout=0.3)
    with pytest.raises(DeliveryError) as caught:
        slow.send("msg_slow", PAYLOAD)
    slow.close()
    assert (caught.value.code, caught.value.retry) == ("timeout", True)
    assert receiver.ids == ["msg_slow"]  # it arrived: only the id keeps a retry from acting twice


def test_a_closed_port_is_a_connect_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = WebhookSender(f"http://127.0.0.1:{port}/hooks", SECRET, timeout=2.0)
    with pytest.raises(DeliveryError) as caught:
        closed.send("msg_closed", PAYLOAD)
    closed.close()
    assert (caught.value.code, caught.value.retry) == ("connect", True)


def test_a_url_that_is_not_http_is_refused_at_configuration():
    with pytest.raises(ValueError, match="http"):
        WebhookSender("ftp://example.com/hooks", SECRET)
