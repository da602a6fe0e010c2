"""``triage history import`` end to end, with the real embedder, FAISS and a SQLite store: a small Korean FAQ with
urls, an export of 60 past tickets whose agents linked an entry, pasted its answer, reworded it or answered by
hand, with personal data in some messages and agent tags of every quality. What is stored (redacted, one row per
ticket, idempotent), what the next snapshot learns (phrasings, calibration, the tagger), resuming a killed import,
removing a learned phrasing, and the matching rules on their own."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from triage import config
from triage.calibration import MIN_LEARNED_ANSWERED, MIN_LEARNED_BY_HAND
from triage.cli import app
from triage.config import Settings
from triage.helpdesk import importer
from triage.helpdesk.exports import read_export
from triage.helpdesk.importer import ticket_digest
from triage.helpdesk.learned import MIN_CALIBRATING, learned_scope, learned_set
from triage.helpdesk.matching import EntryMatcher, TagMapper, normalize_url
from triage.helpdesk.tickets import Comment, Ticket
from triage.store import Store
from triage.store.learned_rows import Learned

runner = CliRunner()
BASE_URL = "https://help.example.co.kr/faq"

# ---------------------------------------------------------------- the FAQ, its taxonomy and the export


@dataclass(frozen=True)
class Entry:
    id: str
    tag: str
    question: str
    answer: str
    examples: tuple[str, str]
    reworded: str  # the answer as an agent says it in their own words
    messages: tuple[str, ...]  # customers asking it, one per ticket

    @property
    def url(self) -> str:
        return f"{BASE_URL}/{self.id}"


ENTRIES = (
    Entry("refund", "refund_request", "환불은 언제 들어오나요?",
          "환불은 반품 상품이 물류센터에 도착해 검수가 끝난 뒤 3영업일 안에 결제하신 수단으로 처리돼요. 카드 결제는 "
          "카드사 사정에 따라 며칠 더 걸릴 수 있어요.",
          ("반품했는데 돈은 언제 돌려받아요?", "환불 처리 기간이 얼마나 걸려요"),
          "보내주신 물건이 저희 창고에 들어와서 확인이 끝나면 사흘 이내로 돈을 돌려드리고, 카드사에 따라 조금 늦어질 "
          "수도 있어요.",
          ("반품 보낸 지 일주일 됐는데 환불이 아직 안 들어왔어요", "환불 언제 돼요? 반품은 벌써 보냈어요",
           "카드로 산 거 반품했는데 취소는 언제쯤 되나요", "환불금이 아직 입금이 안 됐어요 확인 부탁드려요",
           "반품 접수 완료했는데 환불까지 며칠 걸려요?", "돈 언제 돌려주시나요 반품 택배 보냈습니다",
           "반품한 상품 환불 진행 상황이 궁금해요", "지난주에 반품했는데 아직 환불 소식이 없네요")),
    Entry("payment-error", "payment_failed", "결제할 때 오류가 나요",
          "결제 오류는 대부분 카드 한도 초과나 해외 결제 차단 때문이에요. 카드사 앱에서 한도와 온라인 결제 설정을 "
          "확인한 뒤 다른 결제 수단으로 다시 시도해 주세요.",
          ("카드 결제가 자꾸 실패해요", "결제 버튼 누르면 에러가 떠요"),
          "카드 쓸 수 있는 금액이 모자라거나 온라인 결제가 막혀 있으면 실패하니까, 카드사에 확인해 보시고 다른 카드로 "
          "해 보세요.",
          ("결제하려는데 자꾸 오류 난다고 나와요", "카드 결제가 안 돼요 에러 메시지가 떠요",
           "주문 결제 단계에서 실패했다고 떠요", "결제가 계속 거절되는데 왜 그런가요",
           "체크카드로 결제가 안 되네요 오류가 나요", "결제 실패 메시지만 나오고 주문이 안 돼요",
           "결제창에서 승인 오류가 나요 어떻게 해야 하나요", "카드 등록은 되는데 결제만 하면 오류가 납니다")),
    Entry("delivery-track", "delivery_status", "주문한 상품 배송 조회는 어떻게 하나요?",
          "마이페이지 > 주문내역에서 주문을 누르면 택배사와 송장번호가 보여요. 출고 후 24시간이 지나야 택배사 조회에 "
          "반영돼요.",
          ("택배 어디쯤 왔는지 보고 싶어요", "송장번호 어디서 확인해요"),
          "주문하신 내역 화면에 들어가시면 운송장 번호가 나오는데, 보낸 다음 날부터 택배 회사 사이트에서 "
          "위치를 보실 수 있어요.",
          ("주문한 거 지금 어디쯤 오고 있어요?", "배송 조회를 하고 싶은데 어디서 봐요",
           "택배 송장번호를 알려주세요", "물건이 언제 도착하는지 조회가 안 돼요",
           "배송 추적은 어떻게 하나요", "출고됐다는데 택배사 조회가 안 되네요",
           "제 주문 배송 상태 확인하고 싶어요", "운송장 번호로 조회해도 정보가 없어요")),
    Entry("address-change", "address_change", "배송지를 바꾸고 싶어요",
          "상품이 출고되기 전이라면 마이페이지 > 주문내역 > 배송지 변경에서 직접 바꿀 수 있어요. 이미 출고된 주문은 "
          "택배사에 직접 요청해 주셔야 해요.",
          ("주소 잘못 입력했어요 수정해 주세요", "받는 주소 변경 가능한가요"),
          "아직 물건이 안 나갔으면 주문 화면에서 주소를 고치실 수 있고, 벌써 나갔으면 택배 기사님께 말씀하셔야 해요.",
          ("주문할 때 주소를 잘못 썼어요 바꿀 수 있나요", "이사를 가서 배송지를 변경하고 싶어요",
           "받는 곳 주소를 회사로 바꿔 주세요", "배송 주소 수정은 어디서 하나요",
           "주소지에 동호수를 빠뜨렸어요 고쳐 주세요", "배송지 변경하려는데 메뉴가 안 보여요",
           "이미 주문했는데 받는 주소 바꿀 수 있어요?", "배송지를 본가로 바꾸고 싶습니다")),
    Entry("forgot-login", "login_problem", "비밀번호를 잊어버렸어요",
          "로그인 화면의 비밀번호 찾기를 누르고 가입하신 휴대폰으로 본인인증을 하면 새 비밀번호를 설정할 수 "
          "있어요. 인증 문자가 오지 않으면 스팸함을 확인해 주세요.",
          ("비번이 기억 안 나요", "로그인 비밀번호 재설정하고 싶어요"),
          "로그인 창 아래 찾기 메뉴에서 본인 확인만 하시면 새로 정하실 수 있어요. 문자가 안 오면 차단 메시지함을 봐 "
          "주세요.",
          ("비밀번호가 생각이 안 나서 로그인을 못 해요", "비번 까먹었는데 어떻게 찾아요",
           "로그인이 안 돼요 비밀번호를 모르겠어요", "비밀번호 변경하고 싶은데 방법 알려주세요",
           "비밀번호 찾기 했는데 인증 문자가 안 와요", "오랜만에 들어왔더니 비밀번호를 잊었어요",
           "계정 비밀번호 초기화 어떻게 하나요", "비밀번호 틀렸다고만 나와요 재설정하고 싶어요")),
    Entry("membership-cancel", "membership_cancel", "멤버십을 해지하고 싶어요",
          "멤버십은 마이페이지 > 멤버십 관리에서 언제든 해지할 수 있어요. 해지해도 이번 결제 주기가 끝날 "
          "때까지는 혜택이 유지되고, 다음 달부터 요금이 청구되지 않아요.",
          ("유료 회원 그만하고 싶어요", "멤버십 자동결제 끊는 법"),
          "회원 관리 메뉴에서 아무 때나 그만두실 수 있고, 이미 내신 달까지는 혜택을 그대로 쓰시고 다음 "
          "달부터는 돈이 안 나가요.",
          ("멤버십 해지하려면 어떻게 해요", "유료 멤버십 그만 쓰고 싶어요",
           "멤버십 자동 결제를 취소하고 싶어요", "구독 해지 방법 알려주세요",
           "멤버십 끊으면 남은 기간은 어떻게 되나요", "다음 달부터 멤버십 요금 안 나가게 해 주세요",
           "멤버십 해지 버튼이 어디 있나요", "멤버십 탈퇴하고 싶습니다")),
)
BY_ID = {e.id: e for e in ENTRIES}

# (customer message, agent reply): nothing the FAQ says
BY_HAND = (
    ("받은 옷 색상이 사진이랑 너무 달라요",
     "불편을 드려 죄송해요. 담당 부서에 사진을 전달했고 내일 중으로 연락드릴게요."),
    ("포인트가 갑자기 사라졌어요",
     "확인해 보니 이벤트 포인트 유효기간이 지나 소멸됐어요. 이번 한 번만 다시 넣어 드렸어요."),
    ("사은품이 안 들어 있었어요", "누락된 사은품은 오늘 따로 발송해 드렸어요. 번거롭게 해 드려 죄송합니다."),
    ("상품 리뷰를 썼는데 안 보여요", "리뷰는 검수 후 하루 안에 노출돼요. 내일 다시 확인해 주시겠어요?"),
    ("매장에서 산 물건도 온라인에서 교환되나요",
     "매장 구매 상품은 구매하신 매장에서만 교환돼요. 영수증을 꼭 챙겨 가 주세요."),
    ("쿠폰 코드가 유효하지 않대요",
     "해당 쿠폰은 첫 구매 고객 전용이라 적용이 안 됐어요. 대신 다른 쿠폰을 발급해 드렸어요."),
    ("배달 기사님이 너무 불친절했어요", "말씀해 주셔서 감사해요. 택배사에 정식으로 항의 접수했어요."),
    ("세금계산서 발행해 주세요", "사업자등록증을 메일로 보내 주시면 발행해서 보내 드릴게요."),
    ("대량 구매 할인 되나요", "50개 이상은 기업 구매 담당자가 견적을 따로 드려요. 담당자가 곧 전화드릴 거예요."),
    ("앱이 자꾸 꺼져요", "앱을 최신 버전으로 업데이트한 뒤에도 그러면 기기 모델명을 알려 주세요."),
    ("선물 포장 가능한가요", "지금은 선물 포장 서비스를 하지 않아요. 양해 부탁드려요."),
    ("제품 사용 설명서를 잃어버렸어요", "설명서 파일을 메일로 보내 드렸어요. 받은편지함을 확인해 주세요."),
)

TAXONOMY = """\
- id: billing
  name: 결제·환불
  parent: null
  description: 결제와 환불에 관한 문의예요.
  priority: P3
  examples: [결제 문의요, 돈 관련 문의]
- id: refund_request
  name: 환불 요청
  parent: billing
  description: 환불 시점과 진행 상황 문의예요.
  priority: P2
  examples: [환불 언제 돼요, 환불 진행 상황 알려주세요]
- id: payment_failed
  name: 결제 실패
  parent: billing
  description: 결제가 되지 않는 문제예요.
  priority: P2
  examples: [결제가 안 돼요, 카드 결제 오류]
- id: delivery
  name: 배송
  parent: null
  description: 배송에 관한 문의예요.
  priority: P3
  examples: [배송 문의, 택배 관련이요]
- id: delivery_status
  name: 배송 조회
  parent: delivery
  description: 배송 위치와 도착 시점 문의예요.
  priority: P3
  examples: [택배 어디쯤이에요, 배송 조회 어떻게 해요]
- id: address_change
  name: 배송지 변경
  parent: delivery
  description: 받는 주소를 바꾸는 요청이에요.
  priority: P3
  examples: [주소 바꿔 주세요, 배송지 수정하고 싶어요]
- id: account
  name: 계정
  parent: null
  description: 로그인과 회원 정보, 멤버십에 관한 문의예요.
  priority: P3
  examples: [계정 문의, 회원 관련 문의]
- id: login_problem
  name: 로그인 문제
  parent: account
  description: 로그인과 비밀번호 문제예요.
  priority: P3
  examples: [로그인이 안 돼요, 비밀번호 찾기]
- id: membership_cancel
  name: 멤버십 해지
  parent: account
  description: 유료 멤버십을 그만두는 요청이에요.
  priority: P3
  examples: [멤버십 해지요, 구독 그만할래요]
- id: needs_review
  name: 분류 보류
  parent: null
  description: 바로 분류할 수 없는 메시지예요.
  priority: P4
  examples: [저기요, 확인 좀요]
"""
PARENT = {"refund_request": "billing", "payment_failed": "billing", "delivery_status": "delivery",
          "address_change": "delivery", "login_problem": "account", "membership_cancel": "account"}
LEAF_NAME = {"refund_request": "환불 요청", "payment_failed": "결제 실패", "delivery_status": "배송 조회",
             "address_change": "배송지 변경", "login_problem": "로그인 문제", "membership_cancel": "멤버십 해지"}
BY_HAND_TAGS = ("refund_request", "payment_failed", "delivery_status", "address_change", "login_problem",
                "membership_cancel")

GREETINGS = ("안녕하세요 고객님, 문의 주셔서 감사합니다.", "고객님 안녕하세요!", "안녕하세요. 상담사 김하나입니다.")
CLOSINGS = ("더 궁금한 점 있으시면 편하게 말씀해 주세요.", "좋은 하루 보내세요.", "감사합니다.")
# ways agents write an entry's url: plain, with trailing punctuation, in brackets, www/http/slash/fragment
LINK_FORMS = ("{url}", "{url}.", "({url}).", "{url}/", "{www}#top", "<{url}>", "{url}!", "{url},")


@dataclass(frozen=True)
class Planned:
    """One ticket of the generated export and what the import should make of it."""

    ticket_id: str
    kind: str  # linked | pasted | reworded | by_hand
    entry: str | None  # the entry the agent used (None: by hand)
    message: str  # the customer's first message as exported (personal data included)
    tags: tuple[str, ...]
    tag: str | None  # the expected mapped tag
    tag_how: str
    requester: str
    pii: tuple[str, ...]  # personal data in the message


def _agent_tags(n: int, leaf: str) -> tuple[tuple[str, ...], str | None, str]:
    """The agent's tags for ticket ``n`` and what they map to: mostly the leaf, a few written otherwise."""
    match n % 10:
        case 1:
            return (LEAF_NAME[leaf],), leaf, "mapped"  # by name
        case 3:
            return ("vip", leaf.upper().replace("_", " ")), leaf, "mapped"  # case and separators; noise first
        case 5:
            return (PARENT[leaf],), PARENT[leaf], "parent"
        case 7:
            return ("urgent-callback",), None, "unknown"
        case 8:
            return ("needs_review",), None, "unknown"  # the catch-all is not a tag agents can teach
        case 9:
            return (), None, "none"
        case _:
            return (leaf,), leaf, "mapped"


def _plan() -> list[Planned]:
    """48 tickets answered from an entry (20 linked, 20 pasted, 8 reworded) and 12 by hand, interleaved."""
    answered = [(e, e.messages[j]) for j in range(8) for e in ENTRIES]
    kinds = ["linked"] * 20 + ["pasted"] * 20 + ["reworded"] * 8
    out: list[tuple[str, Entry | None, str]] = [(kind, entry, message)
                                                for (entry, message), kind in zip(answered, kinds, strict=True)]
    for n, (message, _) in enumerate(BY_HAND):
        out.insert(5 * n + 2, ("by_hand", None, message))
    planned = []
    for n, (kind, entry, message) in enumerate(out):
        pii: tuple[str, ...] = ()
        if n % 6 == 1:
            pii = (f"010-{2000 + n}-{3000 + n}",)
            message = f"{message} 연락처는 {pii[0]} 이에요"
        elif n % 6 == 4:
            pii = (f"buyer{n}@example.com",)
            message = f"{message}. 답장은 {pii[0]}으로 주세요"
        leaf = entry.tag if entry else BY_HAND_TAGS[n % len(BY_HAND_TAGS)]
        tags, tag, tag_how = _agent_tags(n, leaf)
        planned.append(Planned(f"T-{1000 + n}", kind, entry.id if entry else None, message, tags, tag, tag_how,
                               f"C{n % 20:03d}", pii))
    return planned


PLAN = _plan()
PLANNED = {p.ticket_id: p for p in PLAN}


def _reply(p: Planned, n: int) -> str:
    greet, close = GREETINGS[n % 3], CLOSINGS[n % 3]
    if p.kind == "by_hand":
        reply = dict(BY_HAND)[p.message.split(" 연락처는")[0].split(". 답장은")[0]]
        return f"{greet} {reply}"
    entry = BY_ID[str(p.entry)]
    if p.kind == "linked":
        link = LINK_FORMS[n % len(LINK_FORMS)].format(url=entry.url, www=entry.url.replace("https://", "http://www."))
        return f"{greet} 자세한 방법은 이 안내를 참고해 주세요: {link} {close}"
    if p.kind == "pasted":
        return f"{greet}\n\n{entry.answer}\n\n{close}"
    return f"{greet} {entry.reworded} {close}"


def ticket_record(p: Planned, extra: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    n = int(p.ticket_id[2:]) - 1000
    comments = [("customer", p.message), ("agent", _reply(p, n))]
    if p.pii and n % 4 == 1:  # the agent repeats what the customer gave: redacted there too
        comments.append(("agent", f"말씀하신 {p.pii[0]} 로 안내 메시지도 보내 드렸어요."))
    if n % 5 == 3:
        comments += [("customer", "네 알겠습니다 감사해요"), ("agent", "네 좋은 하루 되세요!")]
    comments += list(extra)
    day, minute = 1 + n % 28, n % 60
    return {"ticket_id": p.ticket_id, "created_at": f"2025-03-{day:02d}T10:{minute:02d}:00+09:00", "channel": "chat",
            "subject": p.message[:20], "requester": {"id": p.requester, "segment": "regular"}, "tags": list(p.tags),
            "status": "closed",
            "comments": [{"author": a, "created_at": f"2025-03-{day:02d}T10:{minute:02d}:30+09:00", "body": b}
                         for a, b in comments]}


def write_export(path: Path, records: list[dict[str, Any]], bad_lines: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    for at, text in sorted((bad_lines or {}).items()):
        lines.insert(at - 1, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def faq_yaml() -> str:
    rows = []
    for e in ENTRIES:
        rows.append(textwrap.dedent(f"""\
            - id: {e.id}
              question: {json.dumps(e.question, ensure_ascii=False)}
              answer: {json.dumps(e.answer, ensure_ascii=False)}
              examples: {json.dumps(list(e.examples), ensure_ascii=False)}
              tags: [{e.tag}]
              url: {e.url}
            """))
    return "".join(rows)


# ---------------------------------------------------------------- fixtures


@dataclass
class Sources:
    faq: Path
    taxonomy: Path
    export: Path
    base_kb: Path  # built once; tests that import copy it


@pytest.fixture(scope="module")
def sources(tmp_path_factory, embedder) -> Sources:
    from triage.kb import build_kb

    root = tmp_path_factory.mktemp("helpdesk")
    faq = root / "faq.yaml"
    faq.write_text(faq_yaml(), encoding="utf-8")
    taxonomy = root / "taxonomy.yaml"
    taxonomy.write_text(TAXONOMY, encoding="utf-8")
    export = write_export(root / "tickets.jsonl", [ticket_record(p) for p in PLAN])
    base = root / "base-kb"
    build_kb(Settings(var_dir=root / "var"), base, [faq])
    return Sources(faq, taxonomy, export, base)


@dataclass
class Env:
    settings: Settings
    kb: Path
    var: Path
    db: str

    def store(self) -> Store:
        return Store.open(self.db)

    @property
    def scope(self) -> str:
        return learned_scope(self.settings, self.kb)

    def rows(self, removed: bool = False) -> list[Learned]:
        store = self.store()
        try:
            return store.learned_examples(self.scope, removed=removed)
        finally:
            store.close()


def make_env(root: Path, sources: Sources, mp: pytest.MonkeyPatch) -> Env:
    """A copy of the base KB and an empty SQLite store under ``root``, named to the CLI through the environment."""
    kb = root / "kb"
    shutil.copytree(sources.base_kb, kb, symlinks=True)
    var, db = root / "var", f"sqlite:///{root}/t.db"
    for name in ("TRIAGE_KB_DIR", "TRIAGE_TAXONOMY", "TRIAGE_TAG_LABELS", "TRIAGE_EMBEDDER"):
        mp.delenv(name, raising=False)
    mp.setenv("TRIAGE_VAR_DIR", str(var))
    mp.setenv("TRIAGE_DATABASE_URL", db)
    config.get_settings.cache_clear()
    return Env(Settings(kb_dir=kb, var_dir=var, database_url=db), kb, var, db)


@pytest.fixture
def env(tmp_path, sources, monkeypatch) -> Iterator[Env]:
    yield make_env(tmp_path, sources, monkeypatch)
    config.get_settings.cache_clear()


@dataclass
class Imported:
    env: Env
    result: Any  # the CLI's result


@pytest.fixture(scope="module")
def imported(tmp_path_factory, sources) -> Iterator[Imported]:
    """The export imported once through the CLI, for the tests that only read what it stored and built."""
    with pytest.MonkeyPatch.context() as mp:
        env = make_env(tmp_path_factory.mktemp("imported"), sources, mp)
        result = history_import(env, sources)
        assert result.exit_code == 0, result.output
        yield Imported(env, result)
    config.get_settings.cache_clear()


def cli(*args: object) -> Any:
    return runner.invoke(app, [str(a) for a in args])


def history_import(env: Env, sources: Sources, export: Path | None = None) -> Any:
    return cli("history", "import", export or sources.export, "--kb", env.kb, "--taxonomy", sources.taxonomy)


def summary(result: Any) -> tuple[int, int, int, int]:
    """(read, new, changed, already imported) from the import's report line."""
    m = re.search(r"read (\d+) tickets: (\d+) new, (\d+) changed, (\d+) already imported", result.output)
    assert m, result.output
    return tuple(int(g) for g in m.groups())  # type: ignore[return-value]


def chunks(kb: Path) -> list[dict[str, Any]]:
    lines = (kb / "current" / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def manifest(kb: Path) -> dict[str, Any]:
    return json.loads((kb / "current" / "manifest.json").read_text(encoding="utf-8"))


def learned_texts(kb: Path) -> set[str]:
    return {c["text"] for c in chunks(kb) if c.get("learned")}


def contacts(env: Env) -> int:
    from sqlalchemy import func, select

    from triage.store.tables import ContactRow

    store = env.store()
    try:
        with store.session() as s:
            return int(s.scalar(select(func.count()).select_from(ContactRow)) or 0)
    finally:
        store.close()


# ---------------------------------------------------------------- the first import, through the CLI


def test_the_export_is_what_the_tests_claim():
    kinds = [p.kind for p in PLAN]
    assert len(PLAN) == 60 and len(PLANNED) == 60
    assert {k: kinds.count(k) for k in set(kinds)} == {"linked": 20, "pasted": 20, "reworded": 8, "by_hand": 12}
    assert len({p.message for p in PLAN}) == 60
    assert sum(bool(p.pii) for p in PLAN) == 20
    hows = [p.tag_how for p in PLAN]
    assert {h: hows.count(h) for h in set(hows)} == {"mapped": 36, "parent": 6, "unknown": 12, "none": 6}
    assert all(len(e.answer) >= 40 for e in ENTRIES)
    forms = {LINK_FORMS[(int(p.ticket_id[2:]) - 1000) % len(LINK_FORMS)] for p in PLAN if p.kind == "linked"}
    assert {"{url}.", "({url}).", "{www}#top"} <= forms


def test_import_prints_the_mix_and_the_tags(imported):
    out = imported.result.output
    assert summary(imported.result) == (60, 60, 0, 0)
    assert "0 bad rows skipped" in out
    mix = re.search(r"answered: linked (\d+) \(\d+%\)[^,]*, pasted (\d+) \(\d+%\)[^,]*, paraphrased (\d+) \(\d+%\)"
                    r"[^,]*, by_hand (\d+) \(\d+%\)", out)
    assert mix, out
    linked, pasted, paraphrased, by_hand = map(int, mix.groups())
    assert (linked, pasted) == (20, 20)
    assert paraphrased + by_hand == 20 and paraphrased <= 8
    # 40 linked or pasted replies: enough (MIN_CALIBRATING) to choose the paraphrase threshold on
    assert MIN_CALIBRATING <= 40 and "a reply closer than" in out
    assert re.search(r"tags: mapped 36, none 6, parent 6, unknown 12\b", out), out


def test_one_redacted_row_per_ticket_with_the_entry_agents_used(imported):
    rows = imported.env.rows()
    assert sorted(r.ref for r in rows) == sorted(PLANNED)
    for row in rows:
        p = PLANNED[row.ref]
        if p.kind in ("linked", "pasted"):
            assert (row.entry_id, row.how) == (p.entry, p.kind), row
        else:  # reworded or by hand: decided later, from the evidence
            assert (row.entry_id, row.how) == (None, "reply"), row
            assert row.evidence_value("closest") in BY_ID
        assert (row.tag, row.tag_how) == (p.tag, p.tag_how), row
        assert row.channel == "chat" and row.at is not None
        if not p.pii:
            assert row.text == p.message


def test_personal_data_is_never_stored(imported):
    rows = imported.env.rows()
    stored = " ".join(f"{r.text} {r.reply or ''}" for r in rows)
    for p in PLAN:
        for value in p.pii:
            assert value not in stored
    with_pii = [r for r in rows if PLANNED[r.ref].pii]
    assert len(with_pii) == 20
    for row in with_pii:
        placeholder = "<PHONE_1>" if "010-" in PLANNED[row.ref].pii[0] else "<EMAIL_1>"
        assert placeholder in row.text, row.text
    # the stored answer is the agent's longest reply: never a closing pleasantry
    assert rows and not [r for r in rows if r.reply == "네 좋은 하루 되세요!"]
    snapshot_text = (imported.env.kb / "current" / "chunks.jsonl").read_text(encoding="utf-8")
    assert not re.search(r"010-\d{4}-\d{4}|buyer\d+@example\.com", snapshot_text)


def test_the_new_snapshot_learns_the_linked_and_pasted_phrasings(imported):
    env = imported.env
    rows = {r.ref: r for r in env.rows()}
    units = [c for c in chunks(env.kb) if c.get("learned")]
    for unit in units:
        assert unit["kind"] == "faq" and unit["url"] == BY_ID[unit["entry_id"]].url
    by_text = {u["text"]: u["entry_id"] for u in units}
    for ref, row in rows.items():
        if PLANNED[ref].kind in ("linked", "pasted"):
            assert by_text.get(row.text) == row.entry_id, row.text
        elif PLANNED[ref].kind == "by_hand":
            assert row.text not in by_text
    data = manifest(env.kb)
    assert data["counts"]["learned_chunks"] == len(units) >= 40
    # 40+ tickets answered from an entry (MIN_LEARNED_ANSWERED) and 12+ by hand (MIN_LEARNED_BY_HAND): the answer
    # model is calibrated on them (the one it fits serves, or the KB's own if that one does better on them)
    calibration = data["calibration"]
    assert calibration["learned_answered"] >= max(40, MIN_LEARNED_ANSWERED)
    assert calibration["learned_by_hand"] >= MIN_LEARNED_BY_HAND
    assert (calibration["source"] == "learned"
            or (calibration["source"] == "self" and calibration["chosen_on_learned"]["of"] == "own"))
    assert 40 <= data["learned"]["labels"] <= 60  # every link and paste, and the clear ones of the rest
    assert data["learned"]["mix"] == {"linked": 20, "pasted": 20, **data["learned"]["mix"]}


def test_the_importers_requesters_have_past_contacts(imported):
    from triage.stages.history import as_utc

    env = imported.env
    store = env.store()
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 12, 31, tzinfo=UTC)
    try:
        for requester in ("C000", "C001", "C013"):
            mine = {f"history:{p.ticket_id}": p for p in PLAN if p.requester == requester}
            found = store.recent_contacts(requester, start, end, limit=10)
            assert sorted(c.message_id or "" for c in found) == sorted(mine)
            for contact in found:
                p = mine[str(contact.message_id)]
                record = ticket_record(p)
                assert as_utc(contact.at) == datetime.fromisoformat(record["created_at"]).astimezone(UTC)
                assert contact.channel == "chat" and contact.vector.shape == found[0].vector.shape
                # the agents' tag where it maps to a leaf, else the catch-all (a repeat on it still counts)
                assert contact.tag == (p.tag if p.tag_how == "mapped" else "needs_review")
        assert store.recent_contacts("C000", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC),
                                     limit=10) == []
    finally:
        store.close()
    assert contacts(env) == 60


def test_paraphrases_are_decided_from_the_evidence_and_only_to_their_own_entry(imported):
    from triage.helpdesk.learned import decide

    decided, threshold = decide(imported.env.rows(), set(BY_ID))
    assert threshold is not None  # 40 linked or pasted replies to choose it on
    kinds = {d.ref: d for d in decided}
    for ref, d in kinds.items():
        p = PLANNED[ref]
        if p.kind in ("linked", "pasted"):
            assert (d.kind, d.entry_id) == (p.kind, p.entry)
        elif p.kind == "by_hand":
            assert (d.kind, d.entry_id) == ("by_hand", None), d
        else:  # reworded: a paraphrase of its own entry, or (missed) by hand; never another entry
            assert (d.kind, d.entry_id) in (("paraphrased", p.entry), ("by_hand", None)), d


# ---------------------------------------------------------------- importing again


def test_importing_again_adds_nothing_and_an_overlapping_export_only_what_changed(env, sources, tmp_path):
    some = PLAN[:30]
    export = write_export(tmp_path / "march.jsonl", [ticket_record(p) for p in some])
    first = history_import(env, sources, export)
    assert first.exit_code == 0, first.output
    assert summary(first) == (30, 30, 0, 0)
    texts = learned_texts(env.kb)

    again = history_import(env, sources, export)
    assert again.exit_code == 0, again.output
    assert summary(again) == (30, 0, 0, 30)
    assert len(env.rows()) == 30 and contacts(env) == 30
    assert learned_texts(env.kb) == texts

    # a later export overlaps the first: its second half, one by-hand ticket now also linking an entry, one new
    changed = next(p for p in some[15:] if p.kind == "by_hand")
    before = {r.ref: r for r in env.rows()}[changed.ticket_id]
    new = Planned("T-2000", "linked", "refund", "환불 신청했는데 카드 취소가 아직 안 됐어요", ("refund_request",),
                  "refund_request", "mapped", "C900", ())
    link = ("agent", f"참고로 환불 일정은 여기 있어요: {BY_ID['refund'].url}")
    records = [ticket_record(p, [link] if p is changed else []) for p in some[15:]]
    later = write_export(tmp_path / "april.jsonl", [*records, ticket_record(new)])
    result = history_import(env, sources, later)
    assert result.exit_code == 0, result.output
    assert summary(result) == (16, 1, 1, 14)
    rows = {r.ref: r for r in env.rows()}
    assert len(rows) == 31
    assert (rows["T-2000"].entry_id, rows["T-2000"].how) == ("refund", "linked")
    after = rows[changed.ticket_id]
    assert after.id == before.id and after.digest != before.digest  # updated in place
    assert (after.entry_id, after.how) == ("refund", "linked")
    assert contacts(env) == 31  # the new ticket's requester only
    assert {rows["T-2000"].text, after.text} <= learned_texts(env.kb)


def test_a_bad_line_is_named_and_the_other_tickets_come_through(env, sources, tmp_path):
    some = PLAN[:10]
    silent = {**ticket_record(PLAN[10]), "ticket_id": "T-silent",
              "comments": [{"author": "agent", "created_at": "2025-03-02T10:00:00+09:00", "body": "안녕하세요"}]}
    export = write_export(tmp_path / "with-bad.jsonl", [*(ticket_record(p) for p in some), silent],
                          bad_lines={4: '{"ticket_id": "T-cut", "comments": [{"author": "cust'})
    result = history_import(env, sources, export)
    assert result.exit_code == 0, result.output
    assert re.search(rf"^{re.escape(str(export))}:4: not JSON", result.stderr, re.MULTILINE), result.stderr
    assert re.search(rf"^{re.escape(str(export))}:12: ticket T-silent: no message from the customer", result.stderr,
                     re.MULTILINE), result.stderr
    assert summary(result) == (11, 10, 0, 0) and "2 bad rows skipped" in result.output
    assert sorted(r.ref for r in env.rows()) == sorted(p.ticket_id for p in some)
    # too few tickets to calibrate on: the KB calibrates on its own content, as the manifest says
    assert manifest(env.kb)["calibration"]["source"] == "self"
    assert "learned_answered" not in manifest(env.kb)["calibration"]


def test_a_killed_import_resumes_where_it_stopped(env, sources, monkeypatch, tmp_path):
    some = PLAN[:30]
    export = write_export(tmp_path / "some.jsonl", [ticket_record(p) for p in some])
    monkeypatch.setattr(importer, "BATCH", 10)
    real = importer.read_export

    def killed_after_25(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for n, item in enumerate(real(*args, **kwargs)):
            if n == 25:
                raise KeyboardInterrupt
            yield item

    before = (env.kb / "current").resolve()
    monkeypatch.setattr(importer, "read_export", killed_after_25)
    killed = history_import(env, sources, export)
    assert killed.exit_code != 0
    stored = env.rows()
    assert [r.ref for r in stored] == [p.ticket_id for p in some[:20]]  # two whole batches; the third was lost
    assert contacts(env) == 20
    assert (env.kb / "current").resolve() == before  # nothing built yet

    monkeypatch.setattr(importer, "read_export", real)
    resumed = history_import(env, sources, export)
    assert resumed.exit_code == 0, resumed.output
    assert summary(resumed) == (30, 10, 0, 20)
    rows = env.rows()
    assert [r.ref for r in rows] == [p.ticket_id for p in some]
    assert [r.id for r in rows[:20]] == [r.id for r in stored]
    assert contacts(env) == 30
    assert (env.kb / "current").resolve() != before
    assert {r.text for r in rows if r.how in ("linked", "pasted")} <= learned_texts(env.kb)


# ---------------------------------------------------------------- what was learned, and taking it out


def test_a_removed_phrasing_stays_out_of_the_next_builds(env, sources, tmp_path):
    some = PLAN[:24]  # 19 linked, 5 by hand: enough to list and remove (too few to calibrate on)
    export = write_export(tmp_path / "some.jsonl", [ticket_record(p) for p in some])
    assert history_import(env, sources, export).exit_code == 0
    listed = cli("history", "learned", "--kb", env.kb)
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["ticket"] for r in rows] == [p.ticket_id for p in some]
    assert set(rows[0]) == {"id", "ticket", "entry", "how", "tag", "tag_how", "text"}
    refunds = cli("history", "learned", "--kb", env.kb, "--entry", "refund")
    assert {json.loads(line)["entry"] for line in refunds.stdout.splitlines()} == {"refund"}

    victim = next(r for r in rows if r["how"] == "linked")
    texts, labels = learned_texts(env.kb), manifest(env.kb)["learned"]["labels"]
    assert victim["text"] in texts
    removed = cli("history", "learned", "--kb", env.kb, "--remove", victim["id"])
    assert removed.exit_code == 0, removed.output
    assert f"removed {victim['id']}" in removed.output
    assert victim["id"] not in {r.id for r in env.rows()}
    gone = env.rows(removed=True)
    assert [(r.id, r.removed_by) for r in gone] == [(victim["id"], "cli")] and gone[0].removed_at is not None
    removed_digest = gone[0].digest
    assert victim["text"] in learned_texts(env.kb)  # until the next build

    built = cli("kb", "build", "--faq", sources.faq, "--out", env.kb)
    assert built.exit_code == 0, built.output
    assert learned_texts(env.kb) == texts - {victim["text"]}
    assert manifest(env.kb)["learned"]["labels"] == labels - 1

    # the same ticket exported again with another reply: updated in place, still removed
    p = PLANNED[victim["ticket"]]
    changed = write_export(tmp_path / "changed.jsonl", [ticket_record(p, [("agent", "추가 안내드렸어요.")])])
    result = history_import(env, sources, changed)
    assert result.exit_code == 0 and summary(result) == (1, 0, 1, 0)
    gone = env.rows(removed=True)
    assert [(r.id, r.ref) for r in gone] == [(victim["id"], victim["ticket"])]
    assert gone[0].digest != removed_digest  # updated by the changed ticket, and still removed
    assert victim["text"] not in learned_texts(env.kb)

    unknown = cli("history", "learned", "--kb", env.kb, "--remove", 999999)
    assert unknown.exit_code == 2 and "no learned example 999999" in unknown.output


# ---------------------------------------------------------------- repeat contacts and the tagger


def test_the_tagger_trains_on_the_agents_mapped_tags(imported, sources, embedder):
    from knowledge.index import load_snapshot
    from triage.kb import KnowledgeBase
    from triage.taxonomy import load_taxonomy

    env = imported.env
    taxonomy = load_taxonomy(sources.taxonomy)
    snapshot = load_snapshot(env.kb, embedder)
    store = env.store()
    try:
        pairs = learned_set(store.learned_examples(env.scope), set(snapshot.entries)).tag_pairs(taxonomy, snapshot)
        kb = KnowledgeBase.open(env.settings, env.kb, taxonomy=sources.taxonomy, store=store)
    finally:
        store.close()
    rows = {r.ref: r for r in env.rows()}
    by_hand = [p for p in PLAN if p.kind == "by_hand" and p.tag_how == "mapped"]
    assert by_hand
    for p in by_hand:
        assert (rows[p.ticket_id].text, p.tag) in pairs
    # only mapped leaves are taught: parent-only, unknown and missing tags are not
    assert {tag for _, tag in pairs} <= set(taxonomy.leaves)
    assert len(pairs) == sum(p.tag_how == "mapped" for p in PLAN)

    def learned_by(tagger: Any, text: str) -> bool:
        vector = embedder.encode_queries([text])[0]
        return bool(np.max(tagger.memory @ vector) > 0.999)

    text = rows[by_hand[0].ticket_id].text
    assert kb.tagger is not None and learned_by(kb.tagger, text)
    plain = KnowledgeBase.open(env.settings, env.kb, taxonomy=sources.taxonomy)
    assert plain.tagger is not None and not learned_by(plain.tagger, text)


def test_tag_pairs_leave_out_a_tag_that_contradicts_the_entry(sources, embedder):
    from knowledge.index import load_snapshot
    from triage.helpdesk.learned import LearnedSet
    from triage.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(sources.taxonomy)
    snapshot = load_snapshot(sources.base_kb, embedder)
    learned = LearnedSet(tagged=[("환불 언제 돼요", "refund_request", "refund"),  # agrees with its entry
                                 ("환불 아직이에요", "delivery_status", "refund"),  # contradicts it: a mis-tag
                                 ("포인트 사라졌어요", "membership_cancel", None),  # by hand: taught as tagged
                                 ("옛 태그", "old_tag", None)])  # a tag the taxonomy no longer has
    assert learned.tag_pairs(taxonomy, snapshot) == [("환불 언제 돼요", "refund_request"),
                                                     ("포인트 사라졌어요", "membership_cancel")]


# ---------------------------------------------------------------- the matching rules


@pytest.mark.parametrize(("given", "expected"), [
    ("https://help.example.co.kr/faq/refund", "help.example.co.kr/faq/refund"),
    ("https://help.example.co.kr/faq/refund).", "help.example.co.kr/faq/refund"),
    ("http://www.HELP.example.co.kr/faq/refund/", "help.example.co.kr/faq/refund"),
    ("HTTPS://help.example.co.kr/faq/refund#how-long", "help.example.co.kr/faq/refund"),
    ("https://help.example.co.kr/faq/refund!?", "help.example.co.kr/faq/refund"),
    ("help.example.co.kr/faq/Refund", "help.example.co.kr/faq/Refund"),  # the path keeps its case
])
def test_normalize_url(given, expected):
    assert normalize_url(given) == expected


def test_tag_mapper_reads_leaves_by_id_or_name_and_nothing_else(sources):
    from triage.taxonomy import load_taxonomy

    tags = TagMapper(load_taxonomy(sources.taxonomy))
    assert tags.map(["refund_request"]) == ("refund_request", "mapped")
    assert tags.map(["Refund Request"]) == ("refund_request", "mapped")
    assert tags.map(["REFUND-REQUEST"]) == ("refund_request", "mapped")
    assert tags.map(["환불 요청"]) == ("refund_request", "mapped")
    assert tags.map(["환불_요청"]) == ("refund_request", "mapped")
    assert tags.map(["billing", "vip", "login_problem"]) == ("login_problem", "mapped")  # a leaf over a parent
    assert tags.map(["Billing"]) == ("billing", "parent")
    assert tags.map(["결제·환불"]) == ("billing", "parent")
    assert tags.map(["vip", "urgent"]) == (None, "unknown")
    assert tags.map(["needs_review"]) == (None, "unknown")  # the catch-all is never an agent's answer
    assert tags.map(["분류 보류"]) == (None, "unknown")
    assert tags.map([]) == (None, "none")
    assert tags.map(["  "]) == (None, "none")
    assert TagMapper(None).map(["refund_request"]) == (None, "unknown")


@pytest.fixture(scope="module")
def matcher(sources, embedder) -> EntryMatcher:
    from knowledge.index import load_snapshot
    from knowledge.search import Searcher

    snapshot = load_snapshot(sources.base_kb, embedder)
    return EntryMatcher(Searcher(snapshot, embedder), embedder)


def conversation(*comments: tuple[str, str]) -> Ticket:
    return Ticket("T-unit", tuple(Comment(a, b) for a, b in comments))  # type: ignore[arg-type]


def test_a_correction_after_the_customer_objects_wins(matcher):
    question = "환불이 아직 안 들어왔어요 결제도 계속 오류가 나요"
    pasted = f"안녕하세요. {BY_ID['refund'].answer}"
    linked = f"죄송해요, 결제 오류 안내는 여기 있어요: {BY_ID['payment-error'].url}."
    corrected = conversation(("customer", question), ("agent", pasted), ("customer", "아니요 결제가 안 된다고요"),
                             ("agent", linked))
    uncorrected = conversation(("customer", question), ("agent", pasted), ("agent", linked))
    closing = conversation(("customer", question), ("agent", pasted), ("customer", "감사합니다"),
                           ("agent", "좋은 하루 보내세요"))
    matches, vectors = matcher.match([corrected, uncorrected, closing], [question] * 3,
                                     [[pasted, linked], [pasted, linked], [pasted, "좋은 하루 보내세요"]])
    hits = [h.entry_id for h in matcher.searcher.search(question, k=10, vector=vectors[0]).faq_hits]
    assert "payment-error" in hits  # what makes the second reply a correction
    assert (matches[0].entry_id, matches[0].how) == ("payment-error", "linked")
    assert (matches[1].entry_id, matches[1].how) == ("refund", "pasted")
    assert (matches[2].entry_id, matches[2].how) == ("refund", "pasted")  # a reply without an entry changes nothing
    assert vectors.shape[0] == 3


def test_a_correction_is_read_the_same_after_an_agent_greeting_and_an_empty_comment(matcher):
    question = "환불이 아직 안 들어왔어요 결제도 계속 오류가 나요"
    pasted = f"안녕하세요. {BY_ID['refund'].answer}"
    linked = f"죄송해요, 결제 오류 안내는 여기 있어요: {BY_ID['payment-error'].url}."
    # an agent's note before the customer wrote and an empty agent comment are not among the replies read
    corrected = conversation(("agent", "무엇을 도와드릴까요?"), ("customer", question), ("agent", pasted),
                             ("agent", " "), ("customer", "아니요 결제가 안 된다고요"), ("agent", linked))
    uncorrected = conversation(("agent", "무엇을 도와드릴까요?"), ("customer", question), ("agent", pasted),
                               ("agent", linked))
    matches, _ = matcher.match([corrected, uncorrected], [question] * 2, [[pasted, linked], [pasted, linked]])
    assert (matches[0].entry_id, matches[0].how) == ("payment-error", "linked")
    assert (matches[1].entry_id, matches[1].how) == ("refund", "pasted")  # nobody objected between the two


def test_reply_evidence_links_pastes_or_neither(matcher):
    refund = BY_ID["refund"]
    assert matcher.reply_evidence(f"여기 보세요 ({refund.url}).").linked == ("refund",)
    assert matcher.reply_evidence(f"안내: {refund.url.replace('https://', 'http://www.')}/#a").linked == ("refund",)
    assert matcher.reply_evidence("https://help.example.co.kr/faq/unknown 참고하세요").linked == ()
    pasted = matcher.reply_evidence(f"고객님 안녕하세요!\n{refund.answer}\n감사합니다.")
    assert (pasted.pasted, pasted.linked) == ("refund", ()) and pasted.containment >= 0.9
    edited = matcher.reply_evidence(refund.answer.replace("3영업일", "사흘").replace("며칠 더", "조금 더"))
    assert edited.pasted == "refund"
    own_words = matcher.reply_evidence(f"안녕하세요. {refund.reworded}")
    assert own_words.pasted is None and own_words.linked == ()


def test_no_reply_and_no_entry_are_told_apart(matcher):
    question = "받은 옷 색상이 사진이랑 너무 달라요"
    silent = conversation(("customer", question))
    by_hand = conversation(("customer", question), ("agent", "담당 부서에 전달했어요. 내일 연락드릴게요."))
    matches, _ = matcher.match([silent, by_hand], [question] * 2, [[], ["담당 부서에 전달했어요. 내일 연락드릴게요."]])
    assert (matches[0].entry_id, matches[0].how) == (None, "no_reply")
    assert (matches[1].entry_id, matches[1].how) == (None, "reply")
    assert matches[1].evidence["closest"] in BY_ID and isinstance(matches[1].evidence["closest_sim"], float)


# ---------------------------------------------------------------- duplicates in one import; links in raw replies


def test_a_ticket_twice_in_one_import_is_stored_once_as_its_latest(env, sources, tmp_path):
    p = PLAN[0]
    jan = write_export(tmp_path / "jan.jsonl", [ticket_record(p)])
    feb = write_export(tmp_path / "feb.jsonl", [ticket_record(p, [("agent", "추가 안내드렸어요.")])])
    result = cli("history", "import", jan, feb, "--kb", env.kb, "--taxonomy", sources.taxonomy)
    assert result.exit_code == 0, result.output
    rows = env.rows()
    assert [r.ref for r in rows] == [p.ticket_id]  # once, as the later file has it
    assert rows[0].digest == ticket_digest(next(read_export([feb])))


def test_a_link_is_read_before_the_reply_is_redacted(tmp_path, embedder):
    from triage.helpdesk.importer import import_history
    from triage.kb import build_kb

    urls = {"refund": "https://acme.zendesk.com/hc/ko/articles/4405298754324",  # redacted as <RRN_1>
            "payment-error": "https://acme.zendesk.com/hc/ko/articles/4222222222222",  # as <CARD_1>
            "forgot-login": "https://help.example.co.kr/faq/password-reset"}  # with a fragment: <PASSWORD_1>
    faq = tmp_path / "faq.yaml"
    faq.write_text("".join(textwrap.dedent(f"""\
        - id: {e.id}
          question: {json.dumps(e.question, ensure_ascii=False)}
          answer: {json.dumps(e.answer, ensure_ascii=False)}
          tags: [{e.tag}]
          url: {urls[e.id]}
        """) for e in ENTRIES if e.id in urls), encoding="utf-8")
    settings = Settings(kb_dir=tmp_path / "kb", var_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path}/t.db")
    build_kb(settings, tmp_path / "kb", [faq])
    records = [{"ticket_id": f"Z-{e}", "comments": [
        {"author": "customer", "body": BY_ID[e].messages[0]},
        {"author": "agent", "body": f"이 글을 참고해 주세요: {url}{'#top' if e == 'forgot-login' else ''}"}]}
        for e, url in urls.items()]
    export = write_export(tmp_path / "z.jsonl", records)
    store = Store.open(settings.store_url)
    try:
        import_history(settings, store, tmp_path / "kb", [export])
        rows = store.learned_examples(learned_scope(settings, tmp_path / "kb"))
    finally:
        store.close()
    assert {r.ref: (r.how, r.entry_id) for r in rows} == {f"Z-{e}": ("linked", e) for e in urls}
