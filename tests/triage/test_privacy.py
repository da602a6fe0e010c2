"""Redaction of personal data and its restoration in reply drafts."""

from __future__ import annotations

import pytest

from triage.stages.privacy import PiiMatch, find_personal_data, label_placeholders, redact, redact_text

# ---------------------------------------------------------------- each kind, Hangul right after the number


@pytest.mark.parametrize(("text", "expected"), [
    ("010-1234-5678로 연락주세요", "<PHONE_1>로 연락주세요"),
    ("01012345678이에요", "<PHONE_1>이에요"),
    ("번호는 010 1234 5678입니다", "번호는 <PHONE_1>입니다"),
    ("010.1234.5678번으로", "<PHONE_1>번으로"),
    ("+82-10-1234-5678로 주세요", "<PHONE_1>로 주세요"),
    ("+821012345678입니다", "<PHONE_1>입니다"),
    ("집 02-123-4567, 회사 02-1234-5678로", "집 <PHONE_1>, 회사 <PHONE_2>로"),
    ("031-123-4567이나 051-1234-5678로", "<PHONE_1>이나 <PHONE_2>로"),
    ("070-1234-5678로 걸어주세요", "<PHONE_1>로 걸어주세요"),
    ("안심번호 0504-1234-5678입니다", "안심번호 <PHONE_1>입니다"),
    ("메일은 abc@naver.com으로 보내주세요", "메일은 <EMAIL_1>으로 보내주세요"),
    ("hong.gil-dong+cs@company.co.kr로 회신", "<EMAIL_1>로 회신"),
    ("주민번호 900101-1234567이고요", "주민번호 <RRN_1>이고요"),
    ("외국인등록번호 9001015123456입니다", "외국인등록번호 <RRN_1>입니다"),
    ("카드번호는4111-1111-1111-1111이고요", "카드번호는<CARD_1>이고요"),
    ("4111111111111111이고요", "<CARD_1>이고요"),
    ("환불 계좌는 110-123-456789입니다", "환불 계좌는 <ACCOUNT_1>입니다"),
    ("우리은행 1002-123-456789로", "우리은행 <ACCOUNT_1>로"),
    ("123-456789-01-012로 입금", "<ACCOUNT_1>로 입금"),
    ("국민은행 계좌 12345678901234로 보내주세요", "국민은행 계좌 <ACCOUNT_1>로 보내주세요"),
    ("여권번호 M12345678입니다", "여권번호 <PASSPORT_1>입니다"),
    ("여권 M123A4567로 예약했어요", "여권 <PASSPORT_1>로 예약했어요"),
    ("면허번호 11-22-333333-44입니다", "면허번호 <DRIVER_LICENSE_1>입니다"),
    # resident numbers in parts, addresses, passwords and PINs
    ("주민번호 앞자리 920304 뒷자리 2345678이에요", "주민번호 앞자리 <RRN_1> 뒷자리 <RRN_2>이에요"),
    ("앞자리는 920304이고 뒷자리는 2345678입니다", "앞자리는 <RRN_1>이고 뒷자리는 <RRN_2>입니다"),
    ("주민등록번호 920304, 뒷번호 2345678", "주민등록번호 <RRN_1>, 뒷번호 <RRN_2>"),
    ("주소는 서울 마포구 월드컵로 123, 101동 1001호예요", "주소는 서울 마포구 <ADDRESS_1>, <ADDRESS_2>예요"),
    ("월드컵로 123, 101동 1001호로 보내주세요", "<ADDRESS_1>, <ADDRESS_2>로 보내주세요"),
    ("배송지를 판교역로 235로 바꿔주세요", "배송지를 <ADDRESS_1>로 바꿔주세요"),
    ("강남구 테헤란로 152에 있는 회사로요", "강남구 <ADDRESS_1>에 있는 회사로요"),
    ("올림픽로35길 10-2로 와 주세요", "<ADDRESS_1>로 와 주세요"),
    ("동일로 1234번길 5예요", "<ADDRESS_1>예요"),
    ("망원동 123-4번지에 살아요", "<ADDRESS_1>에 살아요"),
    ("배송지 역삼동 123-4로요", "배송지 <ADDRESS_1>로요"),
    ("3동 201호 앞에 두세요", "<ADDRESS_1> 앞에 두세요"),
    ("비밀번호 qwer1234! 넣어도 안 돼요", "비밀번호 <PASSWORD_1> 넣어도 안 돼요"),
    ("비밀번호는 qwer1234!예요", "비밀번호는 <PASSWORD_1>예요"),
    ("비번 abcdefgh로 했는데요", "비번 <PASSWORD_1>로 했는데요"),
    ("핀번호 1234 맞게 넣었어요", "핀번호 <PASSWORD_1> 맞게 넣었어요"),
    ("my password is hunter2.", "my password is <PASSWORD_1>."),
    ("PIN: 4821, card locked", "PIN: <PASSWORD_1>, card locked"),
])
def test_each_kind_is_redacted_when_hangul_follows(text, expected):
    assert redact_text(text) == expected


def test_find_personal_data_reports_kinds_spans_and_values_in_text_order():
    text = "abc@naver.com으로, 010-1234-5678로"

    assert find_personal_data(text) == [
        PiiMatch("email", 0, 13, "abc@naver.com"),
        PiiMatch("phone", 17, 30, "010-1234-5678"),
    ]


# ---------------------------------------------------------------- placeholders and restore


def test_same_value_gets_one_placeholder_and_kinds_are_numbered_separately():
    text = "010-1234-5678, 010-9876-5432, 다시 010-1234-5678. 메일 a@b.com"
    redaction = redact(text)

    assert redaction.text == "<PHONE_1>, <PHONE_2>, 다시 <PHONE_1>. 메일 <EMAIL_1>"
    assert redaction.originals == {
        "<PHONE_1>": "010-1234-5678", "<PHONE_2>": "010-9876-5432", "<EMAIL_1>": "a@b.com",
    }
    assert redaction.kinds == ["email", "phone"]


def test_kinds_are_sorted_and_distinct():
    redaction = redact("면허 11-22-333333-44, 카드 4111 1111 1111 1111, 주민 900101-1234567, 카드 4111 1111 1111 1111")

    assert redaction.kinds == ["card", "driver_license", "rrn"]
    assert redact("문의드립니다").kinds == []


@pytest.mark.parametrize("text", [
    "010-1234-5678로 연락주시고 abc@naver.com으로도 보내주세요. 카드 4111 1111 1111 1111, 주민 900101-1234567",
    "환불 계좌 110-123-456789, 다시 110-123-456789, 여권 M12345678",
    "개인정보 없는 문의입니다",
])
def test_restore_round_trips(text):
    redaction = redact(text)

    assert redaction.text != text or not redaction.originals
    assert redaction.restore(redaction.text) == text


def test_restore_fills_placeholders_in_a_draft_and_keeps_unknown_ones():
    redaction = redact("연락처 010-1234-5678, 메일 abc@naver.com")
    draft = "고객님, <EMAIL_1>로 안내드렸고 <PHONE_1>로도 연락드리겠습니다. <CARD_1> <PHONE_2>"

    assert redaction.restore(draft) == (
        "고객님, abc@naver.com로 안내드렸고 010-1234-5678로도 연락드리겠습니다. <CARD_1> <PHONE_2>"
    )


# ---------------------------------------------------------------- cards: Luhn


@pytest.mark.parametrize(("valid", "invalid"), [
    ("4111 1111 1111 1111", "4111 1111 1111 1112"),
    ("5500-0000-0000-0004", "5500-0000-0000-0005"),
    ("3782 822463 10005", "3782 822463 10006"),
    ("4111111111111111", "4111111111111112"),
])
def test_card_requires_a_valid_luhn_check_digit(valid, invalid):
    assert redact_text(f"카드 {valid}입니다") == "카드 <CARD_1>입니다"
    assert redact_text(f"카드 {valid} 5개") == "카드 <CARD_1> 5개"  # a following quantity is not a card group
    assert redact_text(f"카드 {invalid}입니다") == f"카드 {invalid}입니다"


# ---------------------------------------------------------------- numbers agents need stay


@pytest.mark.parametrize("text", [
    "주문번호 20261108123456 배송 언제 오나요?",
    "order 113542617735902 has not arrived",  # passes Luhn, but no card issuer starts with 1
    "고객센터 1588-1234, 1644-5678로 전화했어요",
    "39,800원 결제했는데 1,234,567원이 청구됐어요",
    "2026-11-08 14:30에 주문했고 2026.11.08 오후 2시 30분에 취소",
    "앱 버전 5.4.0, 빌드 12.3.45678에서 오류",
    "3개 주문했는데 2개만 왔어요. 수량 100",
    "송장번호 6012345678901 조회가 안돼요",
    "9913451234567 이 번호로 조회돼요",
    "시리얼 02-123-4567-8901-2345, 8901-02-123-4567-2345 제품",  # no phone cut out of a longer identifier
])
def test_numbers_that_are_not_personal_data_are_kept(text):
    assert find_personal_data(text) == []
    assert redact_text(text) == text


# ---------------------------------------------------------------- accounts and passports need context


def test_plain_digit_run_is_an_account_only_after_a_bank_keyword():
    assert redact_text("계좌 3333012345678로 환불해주세요") == "계좌 <ACCOUNT_1>로 환불해주세요"
    assert redact_text("카카오뱅크 3333012345678") == "카카오뱅크 <ACCOUNT_1>"
    assert redact_text("refund to my bank account 3333012345678") == "refund to my bank account <ACCOUNT_1>"
    assert redact_text("우리 110123456789로 보내주세요") == "우리 <ACCOUNT_1>로 보내주세요"
    assert redact_text("번호 3333012345678로 조회해주세요") == "번호 3333012345678로 조회해주세요"
    # 우리/하나/기업 are everyday words too ("one", "we"); away from the number they are not bank names.
    assert redact_text("하나 샀어요 주문번호 2026110812345") == "하나 샀어요 주문번호 2026110812345"
    assert redact_text("우리 애가 주문한 3333012345678 건이요") == "우리 애가 주문한 3333012345678 건이요"
    # The keyword must be close: more than ~15 characters before, the run is an order number.
    assert redact_text("계좌 변경은 나중에 하고요, 일단 주문번호 3333012345678 확인 부탁드려요") == (
        "계좌 변경은 나중에 하고요, 일단 주문번호 3333012345678 확인 부탁드려요"
    )


def test_passport_requires_a_keyword():
    assert redact_text("passport no. M12345678, please") == "passport no. <PASSPORT_1>, please"
    assert redact_text("모델명 M12345678 제품이에요") == "모델명 M12345678 제품이에요"


# ---------------------------------------------------------------- rrn dates


@pytest.mark.parametrize("number", ["991345-1234567", "990132-1234567", "990001-1234567", "990101-9234567"])
def test_rrn_needs_a_plausible_date_and_gender_digit(number):
    assert all(m.kind != "rrn" for m in find_personal_data(f"주민번호 {number}입니다"))


def test_rrn_without_hyphen_and_with_space():
    assert redact_text("9001011234567, 900101 2234567") == "<RRN_1>, <RRN_2>"


# ---------------------------------------------------------------- English


def test_english_message():
    redaction = redact("call me at +82 10 1234 5678 or mail john.doe@example.com.")

    assert redaction.text == "call me at <PHONE_1> or mail <EMAIL_1>."
    assert redaction.originals == {"<PHONE_1>": "+82 10 1234 5678", "<EMAIL_1>": "john.doe@example.com"}


def test_email_containing_a_phone_number_is_one_email():
    assert redact_text("01012345678@naver.com으로요") == "<EMAIL_1>으로요"


def test_label_placeholders_names_what_was_removed():
    assert label_placeholders("연락처 <PHONE_1>, 면허 <DRIVER_LICENSE_2>") == "연락처 [phone], 면허 [driver license]"


# ---------------------------------------------------------------- addresses and passwords need their cues


@pytest.mark.parametrize("text", [
    "택배로 2개 보냈는데 1개만 왔어요",
    "말씀하신대로 25개 주문했어요",
    "카드로 3만원 결제했어요",
    "3번 출구 앞에서 기다렸어요",
    "비밀번호를 바꿨는데 로그인이 안 돼요",
    "비밀번호 5회 틀려서 잠겼어요",
    "PIN 4자리를 잊었어요",
    "I need a password reset link",
    "My password isn't working, please?",
    "recover my account pin,please",
    "카드 앞자리 4111만 기억나요",
])
def test_quantities_and_password_talk_are_not_personal_data(text):
    assert redact_text(text) == text


def test_a_value_from_the_message_is_masked_where_a_reply_repeats_it_without_its_keyword():
    message = "여권번호 M12345678로 예약했는데 확인해 주세요"
    reply = "고객님, M12345678 여권으로 예약된 건 확인했어요. 비밀번호 qwer1234!는 바꿔 주세요"

    assert redact_text(reply) == "고객님, M12345678 여권으로 예약된 건 확인했어요. 비밀번호 <PASSWORD_1>는 바꿔 주세요"
    assert redact_text(reply, seen_in=message) == (
        "고객님, <PASSPORT_1> 여권으로 예약된 건 확인했어요. 비밀번호 <PASSWORD_1>는 바꿔 주세요")
    assert redact_text("모델명 M123456789", seen_in=message) == "모델명 M123456789"  # a longer code is another value
