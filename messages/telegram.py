"""Neutral messages as Telegram HTML with inline keyboards, within Telegram's limits.

- Text: rendered with the HTML renderer (every value escaped, only `strong()` makes markup),
  at most 4096 characters per message. Longer text is split at line ends into pages that each
  end with a note ("deel 1 van 3"); a message that must stay one message (an edit in place) is
  cut with a note instead. Open tags are closed at a cut and reopened on the next page.
- Buttons: one inline button per `Action`. Callback data is at most 64 bytes (Telegram's
  limit, not checked by python-telegram-bot): `callback_data` raises when it does not fit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from commands.replies import Action, Message
from messages.render import renderer

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_CALLBACK_ANSWER = 200
MAX_BUTTON_TEXT = 64
SEPARATOR = "|"

_TAG = re.compile(r"<(/?)([a-zA-Z0-9-]+)([^>]*)>")


class CallbackDataTooLong(ValueError):
    """Callback data over 64 bytes: Telegram would refuse the whole message."""


def size(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units; conservative for markup)."""
    return len(text.encode("utf-16-le")) // 2


def html(message: Message) -> str:
    return renderer("html").render(message)


def plain(message: Message) -> str:
    return renderer("plain").render(message)


def label(key: str) -> str:
    """A button or choice text from the labels (plain: button texts are not parsed)."""
    return renderer("plain").label(key)


def _note(template: str, **data: object) -> str:
    return renderer("html").text(f"telegram/{template}", **data)


# --- length ----------------------------------------------------------------------------------


def _open_tags(text: str) -> list[tuple[str, str]]:
    """The tags left open at the end of `text`, as (name, full opening tag)."""
    stack: list[tuple[str, str]] = []
    for match in _TAG.finditer(text):
        closing, name = match[1], match[2].lower()
        if not closing:
            stack.append((name, match[0]))
        elif stack and stack[-1][0] == name:
            stack.pop()
    return stack


def _safe_cut(text: str, limit: int) -> int:
    """A position whose prefix is at most `limit` units, preferably at a space, never inside
    a tag or an entity."""
    units, end = 0, 0
    for end, char in enumerate(text):  # noqa: B007
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            break
    else:
        return len(text)
    end = max(1, end)
    cut = text.rfind(" ", 0, end)
    if cut < end // 2:
        cut = end
    for opener, closer in (("<", ">"), ("&", ";")):
        start = text.rfind(opener, 0, cut)
        if start > 0 and text.find(closer, start, cut) == -1:
            cut = start
    return cut


def _split(text: str, budget: int) -> list[str]:
    """Split into pieces of at most `budget`, at line ends where possible, keeping tags valid:
    a tag open at a cut is closed there and opened again on the next piece."""
    room = budget - 24  # for closing and reopening tags
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if size(candidate) <= room:
            current = candidate
            continue
        if current:
            pieces.append(current)
            current = ""
        while size(line) > room:
            cut = _safe_cut(line, room)
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        current = line
    if current:
        pieces.append(current)
    balanced: list[str] = []
    carried = ""
    for piece in pieces or [""]:
        piece = carried + piece
        opened = _open_tags(piece)
        balanced.append(piece + "".join(f"</{name}>" for name, _tag in reversed(opened)))
        carried = "".join(tag for _name, tag in opened)
    return balanced


def pages(text: str, limit: int = MAX_TEXT) -> list[str]:
    """The text as one or more messages of at most `limit`, each page with a note."""
    if size(text) <= limit:
        return [text]
    budget = limit - size(_note("deel", nummer=99, totaal=99)) - 2
    pieces = _split(text, budget)
    total = len(pieces)
    return [f"{piece}\n\n{_note('deel', nummer=i, totaal=total)}"
            for i, piece in enumerate(pieces, start=1)]


def cut(text: str, limit: int = MAX_TEXT) -> str:
    """The text as one message of at most `limit`, with a note when something was left out."""
    if size(text) <= limit:
        return text
    note = _note("ingekort")
    first = _split(text, limit - size(note) - 2)[0]
    return f"{first}\n\n{note}"


def answer_text(message: Message) -> str | None:
    """Plain text for a callback answer (a short pop-up), or None when it is too long."""
    text = plain(message)
    return text if size(text) <= MAX_CALLBACK_ANSWER else None


# --- buttons ---------------------------------------------------------------------------------


def callback_data(*parts: str) -> str:
    """Join parts with '|'; raise CallbackDataTooLong over 64 bytes."""
    data = SEPARATOR.join(parts)
    if len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
        raise CallbackDataTooLong(data)
    return data


def button_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_BUTTON_TEXT else text[: MAX_BUTTON_TEXT - 1] + "…"


def button(text: str, data: str) -> InlineKeyboardButton:
    if len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
        raise CallbackDataTooLong(data)
    return InlineKeyboardButton(button_text(text), callback_data=data)


def url_button(text: str, url: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(button_text(text), url=url)


def rows(buttons: Sequence[InlineKeyboardButton], per_row: int = 0) -> InlineKeyboardMarkup:
    """Lay buttons out: short texts three to a row, longer ones one per row."""
    if not per_row:
        longest = max((len(b.text) for b in buttons), default=0)
        per_row = 3 if longest <= 12 else 2 if longest <= 20 else 1
    grid = [list(buttons[i:i + per_row]) for i in range(0, len(buttons), per_row)]
    return InlineKeyboardMarkup(grid)


def action_keyboard(
    actions: Sequence[Action], data_for: Callable[[Action], str]
) -> InlineKeyboardMarkup | None:
    """One button per action; `data_for` gives its callback data (checked here).

    Buttons of the same kind in a row (e.g. the answers to one question) share a row, up to
    three; other short buttons go two to a row."""
    if not actions:
        return None
    grid: list[list[InlineKeyboardButton]] = []
    previous: str | None = None
    for action in actions:
        made = button(label(action.label), data_for(action))
        if grid and action.name == previous and len(grid[-1]) < 3:
            grid[-1].append(made)
        else:
            grid.append([made])
        previous = action.name
    merged: list[list[InlineKeyboardButton]] = []
    for row in grid:
        if (merged and len(row) == 1 and len(merged[-1]) == 1
                and max(len(row[0].text), len(merged[-1][0].text)) <= 20):
            merged[-1] = [*merged[-1], row[0]]
        else:
            merged.append(row)
    return InlineKeyboardMarkup(merged)
