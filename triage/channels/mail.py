"""Email as a channel: inbound-parse webhooks in, threaded plain-text replies out over SMTP.

SendGrid Inbound Parse, Mailgun routes and Postmark post the same mail under different field names, so
``parse_inbound`` reads any of them. ``strip_quoted`` keeps only the customer's new words, so triage does not
classify our own earlier answer quoted below them. ``build_reply`` sets In-Reply-To and References so the
customer's mail client files the reply under their question, and ``SmtpSender`` turns every failure into a
``DeliveryError`` that says whether a retry can help.
"""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from html.parser import HTMLParser
from typing import Literal

from triage.channels import DeliveryError
from triage.errors import InputError

log = logging.getLogger("triage.channels.mail")

# Lower-cased field names of each provider, first match wins (Mailgun posts both "from" and "From").
FIELDS = {
    "sender": ("from", "sender"), "to": ("to", "recipient"), "subject": ("subject",),
    "text": ("text", "body-plain", "textbody", "plain"), "html": ("html", "body-html", "htmlbody"),
    "message_id": ("message-id", "messageid"), "in_reply_to": ("in-reply-to",), "references": ("references",),
}
MAX_REFERENCES = 20
DEFAULT_SUBJECT = "문의하신 내용"


@dataclass(frozen=True)
class InboundMail:
    sender: str  # bare address, lower-cased
    sender_name: str | None
    to: str  # bare address(es), comma-separated; may be ""
    subject: str
    text: str  # the plain-text body as received (from the html when there is no text part)
    html: str | None
    message_id: str  # with angle brackets
    in_reply_to: str | None
    references: list[str]  # oldest first


def parse_inbound(fields: Mapping[str, str]) -> InboundMail:
    """The mail an inbound-parse webhook posted; ``InputError`` names what is missing and how to send it."""
    given: dict[str, str] = {}
    for name, value in fields.items():
        if isinstance(value, str) and value.strip():
            given.setdefault(name.lower(), value)

    def get(key: str) -> str | None:
        return next((given[name] for name in FIELDS[key] if name in given), None)

    headers = HeaderParser(policy=compat32).parsestr(given.get("headers", ""))  # SendGrid: all headers, one field

    def header(key: str, name: str) -> str:
        value = get(key) or headers.get(name) or ""
        return re.sub(r"\r?\n[ \t]+", " ", str(value))  # unfold

    name, address = parseaddr(get("sender") or "")
    if "@" not in address:
        raise InputError("the mail has no sender address: send the From header (\"Name <addr@example.com>\") "
                         "as the 'from' field")
    text, html = get("text"), get("html")
    if text is None and html is None:
        raise InputError("the mail has no body: send the plain-text part as 'text' (or the HTML part as 'html')")
    message_id = next(iter(message_ids(header("message_id", "Message-ID"))), None)
    if message_id is None:
        raise InputError("the mail has no message id: send its Message-ID header as 'message-id' "
                         "(or all headers as 'headers')")
    to = get("to") or ""
    return InboundMail(
        sender=address.lower(), sender_name=decode_words(name).strip() or None,
        to=", ".join(a for _, a in getaddresses([to]) if a) or to.strip(),
        subject=decode_words(get("subject") or "").strip(),
        text=text if text is not None else html_to_text(html or ""), html=html, message_id=message_id,
        in_reply_to=next(iter(message_ids(header("in_reply_to", "In-Reply-To"))), None),
        references=message_ids(header("references", "References")),
    )


def message_ids(value: str) -> list[str]:
    """The ids in a Message-ID/In-Reply-To/References value, each in angle brackets (some senders omit them)."""
    found = re.findall(r"<[^<>\s]+>", value)
    return found or [f"<{word.strip('<>')}>" for word in value.split() if word.strip("<>")]


def decode_words(value: str) -> str:
    """RFC 2047 encoded words ("=?UTF-8?B?...?=") as text; undecodable input is kept as it came."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, UnicodeDecodeError):
        return value


# Quote markers of the mail clients our customers use (Gmail, Naver, Daum, Outlook, Apple Mail, Thunderbird).
ON_START = re.compile(r"^\s*On\s")
WROTE = re.compile(r"\bwrote:\s*$")
KO_WROTE = re.compile(r"(님이\s*(작성|보낸\s*메일)|>\s*작성)\s*:\s*$")  # "...> 작성:" is Apple Mail
KO_DATE = re.compile(r"^\s*\d{4}\s*(년|[.\-/])")
SEPARATOR = re.compile(r"^\s*-{2,}\s*(Original Message|원본 메시지|원본 메일)\s*-{2,}\s*$", re.IGNORECASE)
HEADER_FROM = re.compile(r"^\s*\*?(From|보낸 사람)\s*:", re.IGNORECASE)
HEADER_NEXT = re.compile(r"^\s*\*?(Sent|Date|To|Subject|보낸 날짜|받는 사람|제목)\s*:", re.IGNORECASE)
SIGNATURE = re.compile(r"^--\s?$")
RULE = re.compile(r"^\s*[_\-=*]{5,}\s*$")
QUOTED = re.compile(r"^\s*>")


def strip_quoted(text: str) -> str:
    """The customer's new words in a reply: cut at the earlier mail's attribution, separator or header block, the
    trailing ">" quote and the signature. Regexes rather than a library: talon is heavy and unmaintained, and
    email-reply-parser knows only English clients; the markers are few and well known."""
    lines = text.splitlines()
    cut = min(_quote_start(lines), _trailing_quote(lines))
    kept = _trim(lines[:cut])
    if kept and cut < len(lines) and (WROTE.search(kept[-1]) or KO_WROTE.search(kept[-1])):  # "Kim wrote:"
        kept = _trim(kept[:-1])
    for i in range(len(kept) - 1, max(len(kept) - 12, -1), -1):  # a signature is short and at the end
        if SIGNATURE.match(kept[i]):
            kept = _trim(kept[:i])
            break
    return "\n".join(kept).strip() or text.strip()


def _quote_start(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if QUOTED.match(line):
            continue
        start = _attribution(lines, i)
        if start is not None and not _interleaved(lines[i + 1:]):
            return start
        # Outlook's block has Sent, To and Subject; two of them keep "From: 12/1\nTo: 12/3" in a booking question.
        if SEPARATOR.match(line) or (HEADER_FROM.match(line) and sum(bool(HEADER_NEXT.match(n)) for n in
                                                                      lines[i + 1:i + 5]) >= 2):
            return i
    return len(lines)


def _attribution(lines: list[str], i: int) -> int | None:
    """Where an "On ... wrote:" / "...님이 작성:" line ending at line ``i`` starts (clients wrap it over two)."""
    line, previous = lines[i], lines[i - 1] if i else ""
    if KO_WROTE.search(line):
        return i - 1 if KO_DATE.match(previous) and not KO_DATE.match(line) else i
    if WROTE.search(line) and (ON_START.match(line) or ON_START.match(previous)):
        return i if ON_START.match(line) else i - 1
    return None


def _interleaved(after: list[str]) -> bool:
    """Quoted lines answered in between: the customer's words follow the quote, so the attribution stays."""
    rest = [line for line in after if line.strip()]
    return bool(rest and QUOTED.match(rest[0])) and not all(QUOTED.match(line) for line in rest)


def _trailing_quote(lines: list[str]) -> int:
    start = len(lines)
    while start and (QUOTED.match(lines[start - 1]) or not lines[start - 1].strip()):
        start -= 1
    while start < len(lines) and not QUOTED.match(lines[start]):
        start += 1
    return start


def _trim(lines: list[str]) -> list[str]:
    """Without trailing blank lines and rules (Outlook draws "____" above its header block)."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or RULE.match(lines[end - 1])):
        end -= 1
    return lines[:end]


BLOCKS = frozenset({"address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt", "fieldset",
                    "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
                    "nav", "ol", "p", "pre", "section", "table", "tbody", "tfoot", "thead", "tr", "ul"})
SKIPPED = frozenset({"script", "style", "head", "title", "template"})


class _TextExtractor(HTMLParser):
    """Lines of text; ``<blockquote>`` lines get "> " like a plain-text quote, so ``strip_quoted`` works on
    HTML-only mail too."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []  # finished lines
        self.words: list[str] = []  # the line being written
        self.skip = self.quote = self.pre = self.line_quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tag(tag, 1)

    def handle_endtag(self, tag: str) -> None:
        self.tag(tag, -1)

    def tag(self, tag: str, step: int) -> None:  # step: +1 opens the element, -1 closes it
        if tag in SKIPPED:
            self.skip = max(self.skip + step, 0)
        elif tag in BLOCKS:
            self.end_line()
            self.quote = max(self.quote + step * (tag == "blockquote"), 0)
            self.pre = max(self.pre + step * (tag == "pre"), 0)
        elif step > 0 and tag == "br":
            self.end_line(force=True)
        elif step > 0 and tag in ("td", "th"):
            self.words.append(" ")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if not self.words:
            self.line_quote = self.quote
        first, *rest = data.split("\n") if self.pre else [re.sub(r"[ \t\r\n\f]+", " ", data)]
        self.words.append(first)
        for part in rest:  # <pre> keeps its line breaks
            self.end_line(force=True)
            self.words.append(part)

    def end_line(self, *, force: bool = False) -> None:
        raw = "".join(self.words)
        line = raw.replace("\xa0", " ").rstrip() if self.pre else raw.replace("\xa0", " ").strip()
        if line or force or "\xa0" in raw:  # "<p>&nbsp;</p>" is Outlook's blank line
            self.lines.append(f"{'>' * self.line_quote} {line}".strip() if self.line_quote else line)
        self.words, self.line_quote = [], self.quote


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    parser.end_line()
    lines: list[str] = []
    for line in parser.lines:
        if line or (lines and lines[-1]):  # collapse blank lines
            lines.append(line)
    return "\n".join(lines).strip()


def new_message_id(domain: str) -> str:
    return make_msgid(domain=domain)


def reply_subject(subject: str | None) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        return f"Re: {DEFAULT_SUBJECT}"
    return subject if re.match(r"(re|회신|답장)\s*:", subject, re.IGNORECASE) else f"Re: {subject}"


def build_reply(*, sender: str, to: str, subject: str, text: str, message_id: str, in_reply_to: str | None,
                references: list[str]) -> EmailMessage:
    """A UTF-8 plain-text reply threaded under ``in_reply_to``; no Auto-Submitted header, since a person wrote
    it (auto-responders would otherwise ignore it and some clients file it as automatic)."""
    parent = next(iter(message_ids(in_reply_to or "")), None)
    chain = [ref for refs in references for ref in message_ids(refs) if ref != parent]
    chain = [*dict.fromkeys(chain), *([parent] if parent else [])][-MAX_REFERENCES:]
    message = EmailMessage()
    message["From"], message["To"] = sender, to
    message["Subject"] = " ".join(subject.split())  # a header may not hold line breaks
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id
    if parent:
        message["In-Reply-To"] = parent
    if chain:
        message["References"] = " ".join(chain)
    message.set_content(text)
    return message


SmtpSecurity = Literal["none", "starttls", "tls"]


class SmtpSender:
    """Sends one message per connection; the delivery queue is slow enough that pooling would not pay."""

    def __init__(self, host: str, port: int, *, security: SmtpSecurity = "starttls", username: str | None = None,
                 password: str | None = None, timeout: float = 10.0) -> None:
        self.host, self.port, self.security, self.timeout = host, port, security, timeout
        self.username, self.password = username, password

    def send(self, message: EmailMessage) -> None:
        smtp: smtplib.SMTP | None = None
        stage = "connect"
        try:
            if self.security == "tls":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                stage = "starttls"
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                stage = "login"
                smtp.login(self.username, self.password or "")
            stage = "send"
            refused = smtp.send_message(message)
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()  # the server accepted the mail: a failed goodbye must not cause a second copy
        except (smtplib.SMTPException, OSError) as exc:
            raise self.error(exc, stage) from exc
        finally:
            if smtp is not None:
                smtp.close()
        if refused:  # some recipients accepted it, so it is delivered; a retry would duplicate it for them
            log.warning("event=mail_recipients_refused count=%d", len(refused))

    def error(self, exc: OSError, stage: str) -> DeliveryError:
        where = f"{self.host}:{self.port}"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):  # all of them; the code of the first
            code, refusal = next(iter(exc.recipients.values()), (550, b""))
            return DeliveryError(f"smtp_{code}", f"{where} refused {', '.join(exc.recipients)}: {code} "
                                 f"{refusal.decode(errors='replace')}", retry=400 <= code < 500)
        if isinstance(exc, smtplib.SMTPResponseException) and not (stage == "login" and exc.smtp_code >= 500):
            reply = exc.smtp_error if isinstance(exc.smtp_error, str) else exc.smtp_error.decode(errors="replace")
            return DeliveryError(f"smtp_{exc.smtp_code}", f"{where} answered {exc.smtp_code} {reply}",
                                 retry=400 <= exc.smtp_code < 500)
        disconnected = isinstance(exc, smtplib.SMTPServerDisconnected)
        if stage == "login" and isinstance(exc, smtplib.SMTPException) and not disconnected:
            return DeliveryError("auth", f"{where} refused the login of {self.username}: {exc}", retry=False)
        if stage in ("connect", "starttls") and isinstance(exc, ssl.SSLError | smtplib.SMTPNotSupportedError):
            return DeliveryError("tls", f"TLS with {where} failed: {exc}", retry=False)
        if isinstance(exc, smtplib.SMTPException) and not disconnected:
            return DeliveryError("smtp_error", f"{where}: {exc}", retry=False)
        if isinstance(exc, TimeoutError) or stage == "send":  # the mail may have arrived: outcome unknown
            return DeliveryError("timeout", f"no answer from {where} ({stage}): {exc!r}", retry=True)
        return DeliveryError("connect", f"could not connect to {where}: {exc!r}", retry=True)
