"""Neutral messages as Bot Framework activities for Microsoft Teams.

- Text: rendered with the HTML renderer (every value escaped, only `strong()` makes markup)
  and sent as `textFormat: xml`, with line ends as `<br>`. User text therefore shows
  literally: `<at>` cannot mention anyone (the bot adds no mention entities) and no markup
  can be injected. Text over MAX_TEXT characters is cut with a note.
- Buttons: one Adaptive Card holding only `Action.Submit` buttons; each button's data names
  the action and its value. The card carries no user text at all.
- Forms: one Adaptive Card per form (`form_card`), an input per field of the neutral form
  definition, with its label, hint, value and error. Such a card is only ever sent to the
  member's 1:1 chat: what was typed (personal data in the casusformulier) stays on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


# --- forms as Adaptive Cards ---------------------------------------------------------------------

FORM = "formulier"  # the MARK of a form's submit; its data names the form and its value
MAX_CHOICES = 100
EXPANDED_UPTO = 3   # single choices up to this many show as radio buttons
CHECKBOXES_UPTO = 10
MAX_INPUT_TEXT = 5000  # a typed value kept on the card is cut to this (the card must fit)


@dataclass(frozen=True)
class CardField:
    """One form field as the card shows it: the neutral field's name, kind and limits (see
    `commands.melding.FormField`) with its texts and value."""

    name: str
    kind: str
    label: str
    hint: str | None = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, shown text)
    value: Any = None
    error: str | None = None
    optional: bool = False
    max_length: int = 0
    maximum: int = 0
    only_if: str | None = None  # when a field applies only after another answer: which


def form_data(form: str, value: str) -> dict[str, str]:
    return {MARK: FORM, FORM: form, "waarde": value}


def submitted_form(data: Any) -> tuple[str, str, dict[str, Any]] | None:
    """(form name, value, the typed answers) from a form card's submit, or None when it is not
    one. Teams puts the inputs next to the submit's own data, by input id."""
    if not isinstance(data, dict) or data.get(MARK) != FORM:
        return None
    name, given = data.get(FORM), data.get("waarde", "")
    if not isinstance(name, str) or not isinstance(given, str) or not name:
        return None
    answers = {key: raw for key, raw in data.items()
               if key not in (MARK, FORM, "waarde") and isinstance(raw, str | int | float)}
    return name[:64], given[:512], {key[:64]: _typed(raw) for key, raw in answers.items()}


def _typed(raw: str | int | float) -> str:
    """An input's value as text; a whole number from Input.Number without its ".0"."""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def form_answers(kinds: Mapping[str, str], typed: Mapping[str, str]) -> dict[str, Any]:
    """The typed answers in the shape the forms expect: strings, lists for multiple choices
    (Teams sends them as "a,b"), nothing for an empty input."""
    answers: dict[str, Any] = {}
    for name, kind in kinds.items():
        raw = typed.get(name)
        if raw is None or raw == "":
            continue
        answers[name] = [part for part in raw.split(",") if part] if kind == "multichoice" \
            else raw
    return answers


def _choice_set(item: CardField) -> dict[str, Any]:
    kind = item.kind
    many = kind == "multichoice"
    value = item.value
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    element: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "choices": [{"title": button_title(shown) if len(shown) > 200 else shown, "value": key}
                    for key, shown in item.choices[:MAX_CHOICES]],
        "style": "expanded" if len(item.choices) <= (CHECKBOXES_UPTO if many else EXPANDED_UPTO)
        else "compact",
    }
    if many:
        element["isMultiSelect"] = True
    if value not in (None, ""):
        element["value"] = str(value)
    return element


def _number(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _input(item: CardField) -> dict[str, Any]:
    kind = item.kind
    if kind in ("choice", "multichoice", "yesno"):
        element = _choice_set(item)
    elif kind == "number":
        element = {"type": "Input.Number", "min": 1 if item.name == "weken" else 0}
        if item.maximum:
            element["max"] = item.maximum
        if item.value not in (None, ""):
            number = _number(item.value)
            # a typed value that is no number cannot be an Input.Number's value: it stays as
            # the error says, and the member types it again
            if number is not None:
                element["value"] = number
    elif kind == "date":
        element = {"type": "Input.Date"}
        if item.value:
            element["value"] = str(item.value)[:10]
    else:  # text, longtext, amount
        element = {"type": "Input.Text", "isMultiline": kind == "longtext"}
        if item.max_length:
            element["maxLength"] = item.max_length
        if item.value not in (None, ""):
            element["value"] = str(item.value)[:MAX_INPUT_TEXT]
    element["id"] = item.name
    if item.only_if:
        element["label"] = f"{item.label} {item.only_if}"
    elif item.optional:
        element["label"] = f"{item.label} {renderer('plain').text('teams/optioneel')}"
    else:
        element["label"] = item.label
    element["isRequired"] = not item.optional
    if item.error:
        element["errorMessage"] = item.error
    return element


def form_card(title: str, intro: str, fields: Sequence[CardField], submit: str,
              data: dict[str, str], notes: Mapping[str, str] | None = None) -> dict[str, Any]:
    """An Adaptive Card with one input per field, the typed or initial values filled in, each
    field's error under it in attention colour, and one `Action.Submit` whose data names the
    form and its value. `notes`: a text shown before the field of that name."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "weight": "bolder", "size": "medium", "wrap": True},
        {"type": "TextBlock", "text": intro, "wrap": True},
    ]
    if any(item.error for item in fields):
        body.append({"type": "TextBlock", "text": renderer("plain").text("teams/formulier_fouten"),
                     "color": "attention", "weight": "bolder", "wrap": True})
    for item in fields:
        if notes and item.name in notes:
            body.append({"type": "TextBlock", "text": notes[item.name], "wrap": True,
                         "isSubtle": True})
        body.append(_input(item))
        if item.hint:
            body.append({"type": "TextBlock", "text": item.hint, "wrap": True, "isSubtle": True,
                         "size": "small", "spacing": "none"})
        if item.error:
            body.append({"type": "TextBlock", "text": item.error, "color": "attention",
                         "wrap": True, "spacing": "small"})
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.Submit", "title": button_title(submit), "data": data,
                     "style": "positive"}],
    }


def card_activity(content: dict[str, Any]) -> dict[str, Any]:
    """A message activity that holds only the card."""
    return {"type": "message", "attachments": [{"contentType": CARD_TYPE, "content": content}]}
