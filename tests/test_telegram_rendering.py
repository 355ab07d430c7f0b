"""Telegram HTML: escaping, length limits (pages with a note, cuts), callback data limits."""

from __future__ import annotations

import pytest

from commands.replies import Action, Message
from messages import telegram as tg


def test_user_text_is_escaped() -> None:
    text = tg.html(Message("telegram/vorig_antwoord", {"waarde": "<b>Jan</b> & <a href='x'>"}))
    assert "&lt;b&gt;Jan&lt;/b&gt; &amp; &lt;a href='x'&gt;" in text
    assert "<b>" not in text


def test_long_text_is_split_into_pages_with_a_note() -> None:
    lines = [f"<b>Regel {i}</b> " + "tekst " * 30 for i in range(200)]
    pages = tg.pages("\n".join(lines))
    assert len(pages) > 1
    for number, page in enumerate(pages, start=1):
        assert tg.size(page) <= tg.MAX_TEXT
        assert f"(deel {number} van {len(pages)})" in page
        assert page.count("<b>") == page.count("</b>")


def test_one_very_long_line_is_cut_without_breaking_tags_or_entities() -> None:
    text = "<b>" + "a&amp;b " * 2000 + "</b>"
    pages = tg.pages(text)
    assert len(pages) > 1
    for page in pages:
        assert tg.size(page) <= tg.MAX_TEXT
        assert page.count("<b>") == page.count("</b>")
        body = page.rsplit("\n\n", 1)[0]
        assert not body.rstrip("</b>").endswith("&amp")
    single = tg.cut(text)
    assert tg.size(single) <= tg.MAX_TEXT and "ingekort" in single


def test_wide_characters_count_double() -> None:
    text = "😀" * 3000  # 6000 UTF-16 units
    assert all(tg.size(page) <= tg.MAX_TEXT for page in tg.pages(text))


def test_callback_data_is_checked() -> None:
    assert tg.callback_data("a", "stem", "RT-2026-0001|q1|twijfel") == "a|stem|RT-2026-0001|q1|twijfel"
    with pytest.raises(tg.CallbackDataTooLong):
        tg.callback_data("a", "stem", "x" * 70)
    with pytest.raises(tg.CallbackDataTooLong):
        tg.button("Knop", "é" * 33)  # 66 bytes


def test_action_keyboard_uses_labels() -> None:
    markup = tg.action_keyboard(
        (Action("toon_gegevens", "RT-2026-0001", "actie.toon_gegevens"),),
        lambda action: tg.callback_data("a", action.name, action.value),
    )
    assert markup is not None
    button = markup.inline_keyboard[0][0]
    assert button.text == "Toon gegevens"
    assert button.callback_data == "a|toon_gegevens|RT-2026-0001"


def test_a_tag_over_many_lines_is_closed_and_reopened_across_pages() -> None:
    text = "<b>" + "vet regel\n" * 1500 + "</b>einde"
    pages = tg.pages(text)
    assert len(pages) > 1
    for page in pages:
        assert tg.size(page) <= tg.MAX_TEXT
        assert page.count("<b>") == page.count("</b>")
    assert pages[1].startswith("<b>")
