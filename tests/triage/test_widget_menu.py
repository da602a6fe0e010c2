"""The widget's quick-reply menu file: read per section, and an unusable file named with its line or item."""

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
