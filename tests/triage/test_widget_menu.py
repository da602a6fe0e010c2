"""The widget's quick-reply menu file (read per section, an unusable file named with its line or item) and its rate
limiter."""

from __future__ import annotations

import pytest

from triage.errors import InputError
from triage.widget import load_menu


def test_a_menu_file_gives_each_section_its_menu(tmp_path):
    menu = tmp_path / "menu.yaml"
    menu.write_text("default:\n  - label: 주문·배송\n    children:\n      - label: 배송 조회\n"
                    "        ask: 배송 조회는 어디서 해요?\n"
                    "delivery:\n  - label: 새벽배송 마감\n    ask: 새벽배송은 몇 시까지 주문해요?\n", encoding="utf-8")
    menus = load_menu(menu)
    assert [i.label for i in menus["delivery"]] == ["새벽배송 마감"]
    [top] = menus["default"]
    assert top.ask is None and top.children[0].ask == "배송 조회는 어디서 해요?"


@pytest.mark.parametrize(("text", "found"), [
    ("default:\n  - label: a\n   ask: [b\n", "menu.yaml:3"),  # broken YAML: the line
    ("- label: a\n", "a mapping of section"),
    ("delivery:\n  - ask: 라벨 없이\n", "section 'delivery', item 1: label: Field required"),
])
def test_an_unusable_menu_file_is_named_with_what_to_fix(tmp_path, text, found):
    menu = tmp_path / "menu.yaml"
    menu.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_menu(menu)
    assert found in str(caught.value) and str(menu) in str(caught.value)


def test_the_rate_limiter_leaves_no_thread_that_keeps_a_process_from_exiting():
    from triage.widget import WidgetGate

    gate = WidgetGate(store=None, session_rate="2/minute", ip_rate="100/minute")  # type: ignore[arg-type]
    assert gate.limiter.storage.timer.daemon  # the timer the storage starts at once
    gate.hit("127.0.0.1", "token")
    gate.hit("127.0.0.1", "token")
    with pytest.raises(Exception, match="too many requests from this chat"):
        gate.hit("127.0.0.1", "token")
    # each hit schedules the expiry on a timer thread: a daemon, or (under libfaketime, where its timed wait never
    # ends) the process could not exit
    assert gate.limiter.storage.timer.daemon
