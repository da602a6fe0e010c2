"""Helpdesk exports as tools write them (the project's JSONL, Zendesk JSON and JSONL, message-per-row CSVs), read
into tickets: authors told apart, bot messages and private notes dropped, field names mapped, bad rows named as
file:line while the rest comes through, and JSONL read as a stream."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from triage.errors import InputError
from triage.helpdesk.exports import load_mapping, read_export
from triage.helpdesk.tickets import BadRow, Comment, Ticket

SAMPLE = Path(__file__).resolve().parents[2] / "knowledge/samples/telecom/history/tickets.jsonl"
KST = timezone(timedelta(hours=9))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def jsonl(tmp_path: Path, name: str, *records: object) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def split(rows: list[Ticket | BadRow]) -> tuple[list[Ticket], list[BadRow]]:
    return [r for r in rows if isinstance(r, Ticket)], [r for r in rows if isinstance(r, BadRow)]


def talk(ticket: Ticket) -> list[tuple[str, str]]:
    return [(c.author, c.body) for c in ticket.comments]


def project_ticket(ticket_id: str | int, *comments: tuple[str, str]) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "created_at": "2026-09-01T09:46:00+09:00", "channel": "chat",
            "subject": "요금 문의", "requester": {"id": "C1", "segment": "vip"}, "tags": ["billing"],
            "status": "closed", "comments": [{"author": a, "created_at": "2026-09-01T09:50:00Z", "body": b}
                                             for a, b in comments]}


# ---------------------------------------------------------------- the project's JSONL

def test_the_sample_history_loads_as_it_is() -> None:
    tickets, bad = split(list(read_export([SAMPLE])))
    assert len(tickets) == 320 and bad == []
    first = tickets[0]
    assert first.ticket_id == "T-100001"
    assert first.created_at == datetime(2026, 9, 1, 9, 46, tzinfo=KST)
    assert (first.channel, first.subject, first.status) == ("chat", "할부 남은거 일시불로 갚고 싶어요", "closed")
    assert (first.requester_id, first.segment, first.tags) == ("C57193", "new", ("billing",))
    assert [c.author for c in first.comments] == ["customer", "agent", "customer", "agent"]
    assert first.first_customer_message == "급해요 남은 할부금을 한 번에 갚을 수 있나요? 감사합니다"
    assert first.comments[1].created_at == datetime(2026, 9, 1, 9, 56, tzinfo=KST)
    assert first.origin == f"{SAMPLE}:1" and tickets[1].origin == f"{SAMPLE}:2"


def test_project_roles_are_mapped_and_bot_messages_dropped(tmp_path: Path) -> None:
    path = jsonl(tmp_path, "t.jsonl", project_ticket(
        "T-1", ("end-user", "안녕하세요"), ("bot", "자동 안내입니다"), ("system", "배정됨"), ("admin", "네 고객님"),
        ("requester", "감사해요"), ("manager", "좋은 하루 되세요"), ("agent", "   ")))
    [ticket] = read_export([path])
    assert isinstance(ticket, Ticket)
    assert talk(ticket) == [("customer", "안녕하세요"), ("agent", "네 고객님"), ("customer", "감사해요"),
                            ("agent", "좋은 하루 되세요")]
    assert ticket.comments[0].created_at == datetime(2026, 9, 1, 9, 50, tzinfo=UTC)
    assert (ticket.requester_id, ticket.segment) == ("C1", "vip")


def test_text_no_database_can_store_is_a_bad_row(tmp_path: Path) -> None:
    # JSON escapes reach a NUL and a lone surrogate: PostgreSQL refuses the one, UTF-8 the other
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join([
        json.dumps(project_ticket("T-1", ("customer", "환불 언제 돼요\x00"))),
        json.dumps(project_ticket("T-2", ("customer", "잘 됐어요"), ("agent", "네 \udc80"))),
        json.dumps({**project_ticket("T-3", ("customer", "하나")), "tags": ["a\x00"]}),
        json.dumps(project_ticket("T-4", ("customer", "둘")))]) + "\n", encoding="utf-8")
    tickets, bad = split(list(read_export([path])))
    assert [t.ticket_id for t in tickets] == ["T-4"]
    assert [b.origin for b in bad] == [f"{path}:1", f"{path}:2", f"{path}:3"]
    assert "NUL" in bad[0].problem and "surrogate" in bad[1].problem and "fix the export" in bad[2].problem


def test_bad_lines_are_named_and_the_good_ones_come_through(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    lines = [json.dumps(project_ticket("T-1", ("customer", "하나"))),
             "{not json",
             "",
             json.dumps({**project_ticket("", ("customer", "id 없음")), "ticket_id": None}),
             json.dumps(project_ticket("T-4", ("bot", "봇만"), ("customer", ""))),
             json.dumps(project_ticket("T-5", ("customer", "질문"), ("상담봇", "??"))),
             json.dumps(project_ticket(12345, ("customer", "숫자 id"))),
             "[1, 2]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tickets, bad = split(list(read_export([path])))
    assert [t.ticket_id for t in tickets] == ["T-1", "12345"]
    assert [b.origin for b in bad] == [f"{path}:{n}" for n in (2, 4, 5, 6, 8)]
    problems = [b.problem for b in bad]
    assert "not JSON" in problems[0]
    assert "no id" in problems[1] and "--map" in problems[1]
    assert "T-4" in problems[2] and "no customer or agent comment with a body" in problems[2]
    assert "unknown author role '상담봇'" in problems[3] and "roles" in problems[3]
    assert "expected a ticket object" in problems[4]
    assert all("질문" not in p for p in problems)  # bodies are never repeated in problems


def test_jsonl_is_read_as_a_stream(tmp_path: Path) -> None:
    """The first ticket comes before the rest of the file exists: lines written after it still arrive."""
    path = jsonl(tmp_path, "t.jsonl", project_ticket("T-1", ("customer", "하나")))
    rows = read_export([path])
    first = next(rows)
    assert isinstance(first, Ticket) and first.ticket_id == "T-1"
    with path.open("a", encoding="utf-8") as f:
        for n in (2, 3):
            f.write(json.dumps(project_ticket(f"T-{n}", ("customer", "더"))) + "\n")
    assert [r.ticket_id for r in rows if isinstance(r, Ticket)] == ["T-2", "T-3"]


def test_timestamps_in_several_shapes(tmp_path: Path) -> None:
    times = ["2026-09-01T09:46:00Z", "2026-09-01 09:46:00", 1788256000, 1788256000123, "1788256000",
             "어제", None]
    record = project_ticket("T-1", *[("customer", str(n)) for n in range(len(times))])
    for comment, when in zip(record["comments"], times, strict=True):
        comment["created_at"] = when
    [ticket] = read_export([jsonl(tmp_path, "t.jsonl", record)])
    assert isinstance(ticket, Ticket)
    assert [c.created_at for c in ticket.comments] == [
        datetime(2026, 9, 1, 9, 46, tzinfo=UTC), datetime(2026, 9, 1, 9, 46),
        datetime.fromtimestamp(1788256000, UTC), datetime.fromtimestamp(1788256000.123, UTC),
        datetime.fromtimestamp(1788256000, UTC), None, None]


# ---------------------------------------------------------------- Zendesk

def zendesk_ticket(ticket_id: int, requester: int) -> dict[str, Any]:
    return {
        "id": ticket_id, "created_at": "2024-03-01T10:00:00Z", "subject": "Refund", "status": "solved",
        "requester_id": requester, "via": {"channel": "email", "source": {}}, "tags": ["refund", "vip"],
        "comments": [
            {"id": 1, "author_id": requester, "body": "I want a refund", "public": True,
             "created_at": "2024-03-01T10:00:00Z"},
            {"id": 2, "author_id": 900, "body": "Customer is angry, check the order", "public": False,
             "created_at": "2024-03-01T10:05:00Z"},
            {"id": 3, "author_id": 900, "plain_body": "Refunded today.", "public": True,
             "created_at": "2024-03-01T10:10:00Z"},
        ],
    }


def test_zendesk_json_export(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"tickets": [zendesk_ticket(101, 7), zendesk_ticket(102, 8)], "count": 2},
                               indent=2), encoding="utf-8")
    tickets, bad = split(list(read_export([path])))
    assert bad == [] and [t.ticket_id for t in tickets] == ["101", "102"]
    first = tickets[0]
    assert talk(first) == [("customer", "I want a refund"), ("agent", "Refunded today.")]  # the private note dropped
    assert (first.channel, first.requester_id, first.tags, first.status) == ("email", "7", ("refund", "vip"), "solved")
    assert first.created_at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    lines = path.read_text().splitlines()
    assert [int(t.origin.rsplit(":", 1)[1]) for t in tickets] == [
        n for n, line in enumerate(lines, 1) if line == "    {"]  # each ticket's opening line


def test_zendesk_jsonl_and_bare_list(tmp_path: Path) -> None:
    lines = jsonl(tmp_path, "export.jsonl", zendesk_ticket(101, 7), {"id": 102, "requester_id": 8, "comments": []})
    tickets, bad = split(list(read_export([lines])))
    assert [t.ticket_id for t in tickets] == ["101"] and talk(tickets[0])[0] == ("customer", "I want a refund")
    assert [b.origin for b in bad] == [f"{lines}:2"]
    bare = tmp_path / "list.json"
    bare.write_text(json.dumps([zendesk_ticket(103, 9)]), encoding="utf-8")
    [ticket] = read_export([bare], fmt="zendesk")
    assert isinstance(ticket, Ticket) and ticket.ticket_id == "103" and ticket.channel == "email"


def test_a_cut_short_zendesk_json_keeps_the_tickets_before_the_cut(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    text = json.dumps({"tickets": [zendesk_ticket(101, 7), zendesk_ticket(102, 8)]}, indent=2)
    path.write_text(text[: text.index('"id": 102') + 20], encoding="utf-8")
    tickets, bad = split(list(read_export([path])))
    assert [t.ticket_id for t in tickets] == ["101"]
    [cut] = bad
    assert cut.origin.startswith(f"{path}:") and "not JSON" in cut.problem


# ---------------------------------------------------------------- CSV, one row per message

def test_channel_talk_like_csv_groups_interleaved_chats(tmp_path: Path) -> None:
    path = write(tmp_path, "messages.csv", """
        chatId,personType,plainText,createdAt,tags
        c1,user,결제가 두 번 됐어요,1725151560000,"billing, refund"
        c2,user,비밀번호를 잊었어요,1725151570000,account
        c1,bot,상담사를 연결해 드릴게요,1725151580000,
        c1,manager,확인 후 환불해 드릴게요,1725151590000,refund|urgent
        c2,manager,"재설정 링크를 보내 드렸어요, 확인해 주세요",1725151600000,account
        c1,user,감사합니다,1725151610000,
        """)
    tickets, bad = split(list(read_export([path])))
    assert bad == []
    c1, c2 = tickets
    assert (c1.ticket_id, c2.ticket_id) == ("c1", "c2")
    assert talk(c1) == [("customer", "결제가 두 번 됐어요"), ("agent", "확인 후 환불해 드릴게요"),
                        ("customer", "감사합니다")]
    assert talk(c2) == [("customer", "비밀번호를 잊었어요"), ("agent", "재설정 링크를 보내 드렸어요, 확인해 주세요")]
    assert c1.tags == ("billing", "refund", "urgent") and c2.tags == ("account",)
    assert (c1.origin, c2.origin) == (f"{path}:2", f"{path}:3")
    assert c1.created_at == c1.comments[0].created_at == datetime.fromtimestamp(1725151560, UTC)


def test_freshdesk_like_csv_with_other_column_names(tmp_path: Path) -> None:
    path = write(tmp_path, "freshdesk.csv", """
        Ticket ID;Subject;Source;Status;Contact ID;Author Type;Message;Created Time;Tags
        501;Login fails;Portal;Closed;U-9;Requester;I cannot log in;2024-05-02 09:00:00;login|account
        501;;;;;Agent;"Try resetting; it works";2024-05-02 09:30:00;
        502;;Email;Open;U-3;Agent;Anything else?;2024-05-03 11:00:00;
        501;;;;;Requester;It works now;2024-05-02 10:00:00;
        """)
    tickets, bad = split(list(read_export([path])))
    assert bad == []
    t501, t502 = tickets
    assert talk(t501) == [("customer", "I cannot log in"), ("agent", "Try resetting; it works"),
                          ("customer", "It works now")]
    assert (t501.subject, t501.channel, t501.status, t501.tags) == ("Login fails", "Portal", "Closed",
                                                                    ("login", "account"))
    assert t501.origin == f"{path}:2" and t501.comments[1].created_at == datetime(2024, 5, 2, 9, 30)
    assert (t502.channel, t502.status, t502.requester_id, talk(t502)) == ("Email", "Open", "U-3",
                                                                         [("agent", "Anything else?")])


def test_csv_row_problems_are_reported_and_the_ticket_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", """
        ticket_id,role,body,created_at,segment,subject
        7,customer,요금이 이상해요,2024-01-01T09:00:00+09:00,vip,요금
        ,agent,누구의 답인가요,2024-01-01T09:01:00+09:00,,
        7,상담사,확인해 볼게요,2024-01-01T09:02:00+09:00,,
        7,supervisor,메모,2024-01-01T09:03:00+09:00,,
        8,bot,봇만 말했어요,2024-01-01T09:04:00+09:00,,
        """)
    tickets, bad = split(list(read_export([path])))
    [ticket] = tickets
    assert talk(ticket) == [("customer", "요금이 이상해요"), ("agent", "확인해 볼게요")]
    assert (ticket.segment, ticket.subject) == ("vip", "요금")
    assert ticket.created_at == datetime(2024, 1, 1, 9, 0, tzinfo=KST)
    assert [b.origin for b in bad] == [f"{path}:3", f"{path}:5", f"{path}:6"]
    assert "no ticket id" in bad[0].problem
    assert "unknown author role 'supervisor'" in bad[1].problem
    assert "ticket 8 has no customer or agent message" in bad[2].problem


def test_an_unknown_csv_header_names_what_is_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "odd.csv", """
        Ticket ID,Who,Message
        1,customer,hello
        """)
    with pytest.raises(InputError) as caught:
        list(read_export([path]))
    message = str(caught.value)
    assert str(path) in message and "author" in message and "persontype" in message.casefold()
    assert "Ticket ID, Who, Message" in message and "--map" in message


# ---------------------------------------------------------------- --map

def test_a_mapping_renames_fields_with_dot_paths_and_roles(tmp_path: Path) -> None:
    mapping = write(tmp_path, "map.yaml", """
        ticket_id: Ticket ID
        author: Author role
        body: Message
        created_at: Created
        tags: Tags
        requester_id: requester.id      # dot paths for nested JSON
        roles: {customer: [end-user, 고객], agent: [agent, 상담사], ignore: [알림]}
        """)
    csv_path = write(tmp_path, "custom.csv", """
        Ticket ID,Author role,Message,Created,Tags,Message ID
        A-1,고객,배송이 안 와요,2024-02-01 10:00:00,delivery,m1
        A-1,알림,배송 조회 링크,2024-02-01 10:00:05,,m2
        A-1,상담사,오늘 도착 예정이에요,2024-02-01 10:05:00,,m3
        """)
    json_path = jsonl(tmp_path, "custom.jsonl", {
        "Ticket ID": 77, "Created": "2024-02-02T08:00:00Z", "Tags": "a;b", "requester": {"id": 5},
        "comments": [{"Author role": "고객", "Message": "환불 되나요"}, {"Author role": "상담사", "Message": "네"}]})
    rows = list(read_export([csv_path, json_path], mapping=mapping))
    tickets, bad = split(rows)
    assert bad == []
    from_csv, from_json = tickets
    assert talk(from_csv) == [("customer", "배송이 안 와요"), ("agent", "오늘 도착 예정이에요")]
    assert from_csv.tags == ("delivery",) and from_csv.created_at == datetime(2024, 2, 1, 10, 0)
    assert (from_json.ticket_id, from_json.requester_id, from_json.tags) == ("77", "5", ("a", "b"))
    assert from_json.created_at == datetime(2024, 2, 2, 8, 0, tzinfo=UTC)
    assert talk(from_json) == [("customer", "환불 되나요"), ("agent", "네")]


def test_a_mapping_of_zendesk_author_ids(tmp_path: Path) -> None:
    mapping = write(tmp_path, "map.yaml", "requester_id: requester.id\nbody: html_body\n")
    record = zendesk_ticket(1, 7)
    record["requester"] = {"id": record.pop("requester_id")}
    for comment in record["comments"]:
        comment["html_body"] = comment.pop("body", None) or comment.pop("plain_body")
    [ticket] = read_export([jsonl(tmp_path, "z.jsonl", record)], mapping=mapping)
    assert isinstance(ticket, Ticket)
    assert ticket.comments == (Comment("customer", "I want a refund", datetime(2024, 3, 1, 10, 0, tzinfo=UTC)),
                               Comment("agent", "Refunded today.", datetime(2024, 3, 1, 10, 10, tzinfo=UTC)))


def test_a_bad_mapping_names_file_and_line(tmp_path: Path) -> None:
    mapping = write(tmp_path, "map.yaml", """
        ticket_id: Ticket ID
        bdy: Message
        roles:
          customer: [end-user]
          supervisor: [lead]
        status:
        """)
    with pytest.raises(InputError) as caught:
        load_mapping(mapping)
    message = str(caught.value)
    assert f"{mapping}:2: unknown key 'bdy'" in message
    assert f"{mapping}:5: unknown role 'supervisor'" in message
    assert f"{mapping}:6: 'status' needs" in message
    with pytest.raises(InputError, match=r"map.yaml:2"):
        read_export([SAMPLE], mapping=mapping)


def test_a_missing_mapped_csv_column_is_named(tmp_path: Path) -> None:
    mapping = write(tmp_path, "map.yaml", "body: Nachricht\n")
    path = write(tmp_path, "m.csv", "ticket_id,author,message\n1,customer,hi\n")
    with pytest.raises(InputError, match=r"no column for body.*Nachricht"):
        list(read_export([path], mapping=mapping))


# ---------------------------------------------------------------- files that cannot be read

def test_missing_files_and_unknown_formats_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_export([tmp_path / "nope.jsonl"])
    notes = write(tmp_path, "notes.txt", "just some notes\n")
    with pytest.raises(InputError, match=r"unknown export format.*jsonl, zendesk or csv"):
        list(read_export([notes]))
    other = jsonl(tmp_path, "other.jsonl", {"uuid": "x", "messages": []})
    with pytest.raises(InputError, match=r"other.jsonl:1: cannot tell .*--map"):
        list(read_export([other]))
    with pytest.raises(InputError, match="unknown export format 'xml'"):
        read_export([other], fmt="xml")  # type: ignore[arg-type]
