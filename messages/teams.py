"""Neutral messages as Bot Framework activities for Microsoft Teams.

- Text: rendered with the HTML renderer (every value escaped, only `strong()` makes markup)
  and sent as `textFormat: xml`, with line ends as `<br>`. User text therefore shows
  literally: `<at>` cannot mention anyone (the bot adds no mention entities) and no markup
  can be injected. Text over MAX_TEXT characters is cut with a note.
- Buttons: one Adaptive Card holding only `Action.Submit` buttons; each button's data names
  the action and its value. The card carries no user text at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from commands.replies import Action, Message
from messages.render import renderer

MAX_TEXT = 20_000  # Teams refuses activities of about 28 KB; leave room for the card
MAX_BUTTON_TEXT = 40
MARK = "regiebot"  # key in a button's data, so the bot knows the submit is one of its own
CARD_TYPE = "application/vnd.microsoft.card.adaptive"


def text(message: Message) -> str:
    """The message as Teams XML text: escaped values, `<br>` for line ends, within MAX_TEXT."""
    html = renderer("html").render(message)
    if len(html) > MAX_TEXT:
        note = renderer("html").text("teams/ingekort")
        html = html[: MAX_TEXT - len(note) - 2]
        html = html[: html.rfind("\n")] if "\n" in html else html
        html = f"{html}\n\n{note}"
    return html.replace("\n", "<br>")


def label(key: str) -> str:
    return renderer("plain").label(key)


def button_title(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= MAX_BUTTON_TEXT else title[: MAX_BUTTON_TEXT - 1] + "…"


def submit_data(action: Action) -> dict[str, str]:
    return {MARK: "knop", "actie": action.name, "waarde": action.value}


def pressed(value: Any) -> tuple[str, str] | None:
    """(action name, value) from the data of an `Action.Submit`, or None when it is not ours."""
    if not isinstance(value, dict) or value.get(MARK) != "knop":
        return None
    name, given = value.get("actie"), value.get("waarde", "")
    if not isinstance(name, str) or not isinstance(given, str) or not name:
        return None
    return name[:64], given[:512]


def card(actions: Sequence[Action]) -> dict[str, Any]:
    """An Adaptive Card with one `Action.Submit` per action."""
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [],
        "actions": [{"type": "Action.Submit", "title": button_title(label(a.label)),
                     "data": submit_data(a),
                     **({"style": "positive" if a.style == "primary" else "destructive"}
                        if a.style else {})}
                    for a in actions],
    }


def activity(message: Message) -> dict[str, Any]:
    """The message as the fields of a message activity (type, text, attachments)."""
    made: dict[str, Any] = {"type": "message", "textFormat": "xml", "text": text(message)}
    if message.actions:
        made["attachments"] = [{"contentType": CARD_TYPE, "content": card(message.actions)}]
    return made
