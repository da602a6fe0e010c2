"""Email channel: inbound-parse fields of three providers, quote stripping on real client layouts, HTML to text,
threaded replies, and SMTP delivery to a real local server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.header import Header
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from triage.channels import DeliveryError
from triage.channels.mail import (
    InboundMail,
    SmtpSender,
    build_reply,
    html_to_text,
    new_message_id,
    parse_inbound,
    reply_subject,
    strip_quoted,
)
from triage.errors import InputError

HONG = Header("홍길동", "utf-8").encode()  # "=?utf-8?b?7ZmN6ri464+Z?="

# --- inbound ---------------------------------------------------------------------------------------------------


def test_sendgrid_fields_with_ids_from_the_raw_headers():
    mail = parse_inbound({
        "from": f"{HONG} <Hong.GilDong@Example.COM>", "to": "고객센터 <help@shop.example>", "subject": "환불 문의",
        "text": "환불은 언제 되나요?\n", "html": "<div>환불은 언제 되나요?</div>",
        "headers": "Received: by mx.sendgrid.net\nMessage-ID: <CAF+abc=1@mail.gmail.com>\n"
                   "In-Reply-To: <r2@shop.example>\nReferences: <r1@shop.example>\n <r2@shop.example>\n"
                   "Subject: =?UTF-8?B?7ZmY67aIIOusuOydmA==?=\n",
    })
    assert mail == InboundMail(
        sender="hong.gildong@example.com", sender_name="홍길동", to="help@shop.example", subject="환불 문의",
        text="환불은 언제 되나요?\n", html="<div>환불은 언제 되나요?</div>", message_id="<CAF+abc=1@mail.gmail.com>",
        in_reply_to="<r2@shop.example>", references=["<r1@shop.example>", "<r2@shop.example>"])


def test_mailgun_fields():
    mail = parse_inbound({
        "sender": "bounce+kim@example.com", "from": '"Kim, Minji" <kim@example.com>', "From": "Kim <kim@example.com>",
        "recipient": "help@shop.example", "To": "Help <help@shop.example>, cs@shop.example", "subject": "Order #1234",
        "body-plain": "Where is my order?", "body-html": "<p>Where is my order?</p>",
        "Message-Id": "<m1@mail.example>", "In-Reply-To": "<r1@shop.example>",
        "References": "<r0@shop.example> <r1@shop.example>",
    })
    assert (mail.sender, mail.sender_name, mail.to) == ("kim@example.com", "Kim, Minji",
                                                        "help@shop.example, cs@shop.example")
    assert (mail.text, mail.message_id, mail.in_reply_to) == ("Where is my order?", "<m1@mail.example>",
                                                              "<r1@shop.example>")
    assert mail.references == ["<r0@shop.example>", "<r1@shop.example>"]


def test_postmark_fields_html_only_and_ids_without_brackets():
    mail = parse_inbound({
        "From": "kim@example.com", "To": "help@shop.example", "Subject": "", "TextBody": "",
        "HtmlBody": "<html><body><p>배송지를 <b>변경</b>해 주세요&nbsp;&amp; 감사합니다</p></body></html>",
        "MessageID": "22c74902-a0c1-4511-804f2-341342852c90", "References": "r0@shop.example r1@shop.example",
    })
    assert (mail.sender, mail.sender_name, mail.subject) == ("kim@example.com", None, "")
    assert mail.text == "배송지를 변경해 주세요 & 감사합니다"
    assert mail.message_id == "<22c74902-a0c1-4511-804f2-341342852c90>"
    assert (mail.in_reply_to, mail.references) == (None, ["<r0@shop.example>", "<r1@shop.example>"])


@pytest.mark.parametrize(("missing", "match"), [
    ("from", "'from'"), ("text", "'text'"), ("message-id", "'message-id'")])
def test_missing_fields_say_what_to_send(missing: str, match: str):
    fields = {"from": "kim@example.com", "text": "hi", "message-id": "<m@x>"}
    del fields[missing]
    with pytest.raises(InputError, match=match):
        parse_inbound(fields)


def test_a_sender_without_an_address_is_refused():
    with pytest.raises(InputError, match="sender"):
        parse_inbound({"from": "Kim Minji", "text": "hi", "message-id": "<m@x>"})


# --- quote stripping ---------------------------------------------------------------------------------------------

GMAIL_EN = """Thanks, the refund arrived.

On Mon, Nov 30, 2026 at 1:00 PM Support <help@shop.example> wrote:

> Hello, we refunded your order #1234.
>
> Best,
> Support
"""
GMAIL_EN_WRAPPED = """It still has not arrived.
Could you check again?

On Mon, Nov 30, 2026 at 1:00 PM Customer Support Team of Shop <
help@shop.example> wrote:
> We shipped it yesterday.
"""
GMAIL_KO = """환불은 언제 되나요?

2026년 11월 30일 (월) 오후 1:00, 고객센터 <help@shop.example>님이 작성:
> 안녕하세요, 고객님.
> 주문이 취소되었습니다.
"""
GMAIL_KO_WRAPPED = """감사합니다! 잘 받았어요.

2026년 11월 30일 (월) 오후 1:00, 주식회사 예시쇼핑 고객센터 <
help@shop.example>님이 작성:

> 교환 상품을 발송했습니다.
"""
NAVER = """배송지 변경 부탁드립니다.
서울시 강남구 테헤란로 1

-----Original Message-----
From: "고객센터"<help@shop.example>
To: "홍길동"<hong@naver.com>;
Cc:
Sent: 2026-11-30 (월) 13:00:00 (GMT+09:00)
Subject: Re: 배송 문의

안녕하세요. 상품은 배송 준비 중입니다.
"""
DAUM = """네, 그 주소로 보내 주세요.

2026-11-30 13:00 고객센터 <help@shop.example>님이 보낸 메일:
주소를 확인해 주세요.
"""
OUTLOOK_KO = """확인했습니다. 감사합니다.

________________________________
보낸 사람: 고객센터 <help@shop.example>
보낸 날짜: 2026년 11월 30일 월요일 오후 1:00
받는 사람: 홍길동 <hong@example.com>
제목: RE: 결제 오류

고객님, 결제가 정상 처리되었습니다.
"""
OUTLOOK_EN = """Please cancel it instead.

From: Support <help@shop.example>
Sent: Monday, November 30, 2026 1:00 PM
To: Kim Minji <kim@example.com>
Subject: RE: Order #1234

Your order ships tomorrow.
"""
OUTLOOK_OLD_KO = """네 그렇게 처리해 주세요.

-----원본 메시지-----
보낸 사람: 고객센터 [mailto:help@shop.example]
보낸 날짜: Monday, November 30, 2026 1:00 PM
"""
MOBILE = """OK, thank you

--------- Original Message ---------
Sender : 고객센터 <help@shop.example>
Date : 2026-11-30 13:00
"""
INTERLEAVED = """On Mon, Nov 30, 2026 at 1:00 PM Support <help@shop.example> wrote:
> Which order number is it?
#1234

> Which size would you like instead?
L, please.

> Best regards,
> Support
"""
SIGNED = ("Where is my parcel?\n\n-- \nKim Minji\nPurchasing, Example Corp.\n\n"
          "On Mon, Nov 30, 2026 at 1:00 PM Support <help@shop.example> wrote:\n> Your parcel left our warehouse.\n")
NO_QUOTE = "안녕하세요.\n주문한 상품이 아직 안 왔어요.\nOn Monday I ordered shoes. From: Seoul, to: Busan.\n"
BOOKING = "Can I change the dates?\nFrom: Dec 1\nTo: Dec 3\nThanks"  # header-like lines, but no Outlook block
QUOTE_ONLY = "> 안녕하세요 고객님\n> 환불 완료되었습니다.\n"


@pytest.mark.parametrize(("text", "expected"), [
    (GMAIL_EN, "Thanks, the refund arrived."),
    (GMAIL_EN_WRAPPED, "It still has not arrived.\nCould you check again?"),
    (GMAIL_KO, "환불은 언제 되나요?"),
    (GMAIL_KO_WRAPPED, "감사합니다! 잘 받았어요."),
    (NAVER, "배송지 변경 부탁드립니다.\n서울시 강남구 테헤란로 1"),
    (DAUM, "네, 그 주소로 보내 주세요."),
    (OUTLOOK_KO, "확인했습니다. 감사합니다."),
    (OUTLOOK_EN, "Please cancel it instead."),
    (OUTLOOK_OLD_KO, "네 그렇게 처리해 주세요."),
    (MOBILE, "OK, thank you"),
    (INTERLEAVED, INTERLEAVED.split("\n\n> Best")[0]),
    ("Fine by me.\n\nSupport Team wrote:\n> Shall we send a new one?\n", "Fine by me."),
    ("네 알겠습니다.\n\n2026. 11. 30. 오후 1:00, 고객센터 <help@shop.example> 작성:\n\n> 안녕하세요\n",
     "네 알겠습니다."),
    (SIGNED, "Where is my parcel?"),
    (SIGNED.replace("-- \n", "--\n"), "Where is my parcel?"),
    (GMAIL_KO.replace("\n", "\r\n"), "환불은 언제 되나요?"),
    (NO_QUOTE, NO_QUOTE.strip()),
    (BOOKING, BOOKING),
    (QUOTE_ONLY, QUOTE_ONLY.strip()),
    ("   \n", ""),
], ids=["gmail-en", "gmail-en-wrapped", "gmail-ko", "gmail-ko-wrapped", "naver", "daum", "outlook-ko", "outlook-en",
        "outlook-old-ko", "mobile", "interleaved", "short-attribution", "apple-mail-ko", "signature",
        "signature-trimmed", "crlf", "no-quote", "booking-dates", "quote-only", "blank"])
def test_strip_quoted(text: str, expected: str):
    assert strip_quoted(text) == expected


def test_a_gmail_html_reply_strips_after_conversion():
    html = ('<div dir="ltr">교환 가능한가요?<br></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
            '2026년 11월 30일 (월) 오후 1:00, 고객센터 &lt;<a href="mailto:help@shop.example">help@shop.example</a>'
            '&gt;님이 작성:<br></div><blockquote class="gmail_quote"><div>재고가 있습니다.</div></blockquote></div>')
    assert html_to_text(html).splitlines()[-1] == "> 재고가 있습니다."
    assert strip_quoted(html_to_text(html)) == "교환 가능한가요?"


# --- HTML to text ------------------------------------------------------------------------------------------------


def test_html_to_text():
    html = """<html><head><title>Mail</title><style>p { color: red }</style></head><body>
      <script>alert("x")</script>
      <h1>주문   확인</h1><p>안녕하세요,<br>고객님 &amp; 가족분들 &lt;3</p>
      <p>&nbsp;</p><p>&nbsp;</p><p>&nbsp;</p>
      <ul><li>상품 A</li><li>상품 B</li></ul>
      <table><tr><td>합계</td><td>10,000원</td></tr></table>
      <pre>line 1
  line 2</pre>
    </body></html>"""
    assert html_to_text(html) == ("주문 확인\n안녕하세요,\n고객님 & 가족분들 <3\n\n상품 A\n상품 B\n합계 10,000원\n"
                                  "line 1\n  line 2")


def test_html_to_text_of_plain_text_and_nested_quotes():
    assert html_to_text("just text") == "just text"
    assert html_to_text("a<blockquote>b<blockquote>c</blockquote></blockquote>d") == "a\n> b\n>> c\nd"


# --- outbound ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("subject", "expected"), [
    ("환불 문의", "Re: 환불 문의"), ("Re: 환불 문의", "Re: 환불 문의"), ("RE: Order", "RE: Order"),
    ("회신: 결제", "회신: 결제"), ("답장: 결제", "답장: 결제"), ("", "Re: 문의하신 내용"), (None, "Re: 문의하신 내용"),
    ("Fwd: 영수증", "Re: Fwd: 영수증"), ("Regarding refund", "Re: Regarding refund"), ("긴\n제목", "Re: 긴 제목"),
])
def test_reply_subject(subject: str | None, expected: str):
    assert reply_subject(subject) == expected


def test_new_message_id_uses_the_domain():
    first, second = new_message_id("shop.example"), new_message_id("shop.example")
    assert first.startswith("<") and first.endswith("@shop.example>") and first != second


def reply(**changes: Any) -> email.message.EmailMessage:
    fields: dict[str, Any] = {
        "sender": "고객센터 <help@shop.example>", "to": "hong@example.com", "subject": "Re: 환불 문의",
        "text": "안녕하세요, 홍길동 고객님.\n환불이 완료되었습니다.", "message_id": "<reply-1@shop.example>",
        "in_reply_to": "<q2@mail.example>", "references": ["<q1@mail.example>", "<a1@shop.example>"]}
    return build_reply(**(fields | changes))


def test_build_reply_threads_under_the_question():
    message = reply()
    assert message["In-Reply-To"] == "<q2@mail.example>"
    assert message["References"] == "<q1@mail.example> <a1@shop.example> <q2@mail.example>"
    assert message["Message-ID"] == "<reply-1@shop.example>"
    assert message["Date"].datetime is not None
    assert "Auto-Submitted" not in message
    raw = message.as_bytes()
    assert b"Subject: Re: =?utf-8?b?" in raw and "환불".encode() not in raw.split(b"\n\n")[0]
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Re: 환불 문의"
    assert parsed.get_content_type() == "text/plain" and parsed.get_content_charset() == "utf-8"
    assert parsed.get_content() == "안녕하세요, 홍길동 고객님.\n환불이 완료되었습니다.\n"


def test_references_are_deduplicated_capped_and_end_with_the_parent():
    many = [f"<m{i}@mail.example>" for i in range(30)]
    message = reply(references=[*many, "<m3@mail.example>", "<q2@mail.example>"], in_reply_to="<q2@mail.example>")
    ids = message["References"].split()
    assert len(ids) == 20 and ids[-1] == "<q2@mail.example>" and len(set(ids)) == 20
    assert ids[0] == "<m11@mail.example>"


def test_a_first_reply_without_thread_headers():
    message = reply(in_reply_to=None, references=[])
    assert "In-Reply-To" not in message and "References" not in message


# --- SMTP --------------------------------------------------------------------------------------------------------


class Recorder:
    """An aiosmtpd handler that keeps accepted envelopes; ``rcpt_reply``/``data_reply`` script refusals."""

    def __init__(self, *, rcpt_reply: str | None = None, data_reply: str = "250 OK", delay: float = 0.0) -> None:
        self.rcpt_reply, self.data_reply, self.delay = rcpt_reply, data_reply, delay
        self.envelopes: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        if self.data_reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.data_reply


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server(handler: Recorder, **kwargs: Any) -> Iterator[int]:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def delivery_error(sender: SmtpSender) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        sender.send(reply())
    return caught.value


def test_smtp_delivers_a_threaded_korean_reply():
    handler = Recorder()
    with smtp_server(handler) as port:
        SmtpSender("127.0.0.1", port, security="none").send(reply())
    [envelope] = handler.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("help@shop.example", ["hong@example.com"])
    received = email.message_from_bytes(envelope.content, policy=policy.default)
    assert received["Subject"] == "Re: 환불 문의"
    assert str(received["From"]) == "고객센터 <help@shop.example>"
    assert (received["In-Reply-To"], received["Message-ID"]) == ("<q2@mail.example>", "<reply-1@shop.example>")
    assert received["References"] == "<q1@mail.example> <a1@shop.example> <q2@mail.example>"
    assert received.get_content_charset() == "utf-8"
    assert "환불이 완료되었습니다." in received.get_content()


def test_smtp_login_when_a_username_is_set():
    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"bot", b"s3cret")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    handler = Recorder()
    with smtp_server(handler, authenticator=authenticator, auth_require_tls=False) as port:
        SmtpSender("127.0.0.1", port, security="none", username="bot", password="s3cret").send(reply())
        refused = delivery_error(SmtpSender("127.0.0.1", port, security="none", username="bot", password="wrong"))
    assert len(handler.envelopes) == 1
    assert (refused.code, refused.retry) == ("auth", False)


@pytest.mark.parametrize(("handler", "code", "retry"), [
    (Recorder(data_reply="451 try later"), "smtp_451", True),
    (Recorder(rcpt_reply="550 no such user"), "smtp_550", False),
    (Recorder(rcpt_reply="452 mailbox full, try later"), "smtp_452", True),
    (Recorder(data_reply="554 message rejected as spam"), "smtp_554", False),
], ids=["data-451", "rcpt-550", "rcpt-452", "data-554"])
def test_smtp_refusals(handler: Recorder, code: str, retry: bool):
    with smtp_server(handler) as port:
        error = delivery_error(SmtpSender("127.0.0.1", port, security="none"))
    assert (error.code, error.retry) == (code, retry)
    assert code.removeprefix("smtp_") in error.message and handler.envelopes == []


def test_smtp_closed_port_is_a_connect_error():
    error = delivery_error(SmtpSender("127.0.0.1", free_port(), security="none", timeout=2.0))
    assert (error.code, error.retry) == ("connect", True)


def test_smtp_slow_server_times_out():
    with smtp_server(Recorder(delay=1.5)) as port:
        error = delivery_error(SmtpSender("127.0.0.1", port, security="none", timeout=0.4))
    assert (error.code, error.retry) == ("timeout", True)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_smtp_tls_against_a_plain_server_fails_without_retry(security: Any):
    with smtp_server(Recorder()) as port:
        error = delivery_error(SmtpSender("127.0.0.1", port, security=security, timeout=2.0))
    assert (error.code, error.retry) == ("tls", False)
