"""Modals (Slack views) built from the neutral form definitions, and reading their answers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from bot.slack.payloads import MalformedPayload
from commands.forms import melding_choice_names
from commands.melding import UNKNOWN_WIJK, FormField, melding_fields
from commands.organisation import Member, Organisation
from commands.replies import Message
from messages.form_texts import FORM_TEXTS, PERSONAL_DATA_NOTE
from messages.labels import choice_labels
from messages.render import renderer
from messages.slack import (
    MAX_MODAL_BLOCKS,
    Block,
    context_note,
    cut,
    fit_blocks,
    mrkdwn_section,
    plain,
    split_text,
)

VALUE = "v"  # the action_id of the one element in every input block
TITLE = 24
OPTION_TEXT = 75
OPTION_VALUE = 150
MAX_OPTIONS = 100
ERROR_TEXT = 300


def label(key: str) -> str:
    return renderer("plain").label(key)


def text(template: str, **data: Any) -> str:
    return renderer("mrkdwn").text(f"slack/{template}", **data)


def option(value: str, shown: str) -> dict[str, Any]:
    return {"text": plain(shown, OPTION_TEXT), "value": value[:OPTION_VALUE]}


def modal(
    callback_id: str, title_key: str, blocks: list[Block], *,
    submit_key: str | None = "formulier.knop.versturen", metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(label(title_key), TITLE),
        "close": plain(label("slack.knop.annuleren" if submit_key else "slack.knop.sluiten"), TITLE),
        "blocks": blocks[:MAX_MODAL_BLOCKS],
        "private_metadata": json.dumps(metadata or {}, separators=(",", ":"))[:3000],
    }
    if submit_key:
        view["submit"] = plain(label(submit_key), TITLE)
    return view


def message_modal(title_key: str, message: Message) -> dict[str, Any]:
    """A modal that only shows a message (the result of a form, or why it cannot be done)."""
    body = renderer("mrkdwn").render(message)
    blocks = [mrkdwn_section(chunk) for chunk in split_text(body)]
    fitted = fit_blocks(blocks, [], "", max_blocks=MAX_MODAL_BLOCKS)
    return modal("regie_bericht", title_key, fitted.blocks, submit_key=None)


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# --- inputs ----------------------------------------------------------------------------------


def input_block(
    block_id: str, label_text: str, element: dict[str, Any], *, optional: bool = False,
    hint: str | None = None,
) -> Block:
    block: Block = {
        "type": "input", "block_id": block_id, "optional": optional,
        "label": plain(label_text, 2000), "element": {**element, "action_id": VALUE},
    }
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def static_select(choices: Iterable[tuple[str, str]], initial: str | None = None) -> dict[str, Any]:
    options = [option(value, shown) for value, shown in list(choices)[:MAX_OPTIONS]]
    element: dict[str, Any] = {"type": "static_select", "options": options,
                               "placeholder": plain(label("slack.kies"))}
    chosen = next((o for o in options if o["value"] == initial), None)
    if chosen:
        element["initial_option"] = chosen
    return element


def multi_select(choices: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "multi_static_select", "placeholder": plain(label("slack.kies")),
            "options": [option(v, s) for v, s in list(choices)[:MAX_OPTIONS]]}


def checkboxes(choices: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "checkboxes", "options": [option(v, s) for v, s in list(choices)[:10]]}


def radio(choices: Iterable[tuple[str, str]], initial: str | None = None) -> dict[str, Any]:
    options = [option(v, s) for v, s in list(choices)[:10]]
    element: dict[str, Any] = {"type": "radio_buttons", "options": options}
    chosen = next((o for o in options if o["value"] == initial), None)
    if chosen:
        element["initial_option"] = chosen
    return element


def text_input(max_length: int = 0, multiline: bool = False, initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": multiline}
    if max_length:
        element["max_length"] = min(max_length, 3000)
    if initial:
        element["initial_value"] = initial
    return element


def number_input(maximum: int | None = None, minimum: int = 0) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "number_input", "is_decimal_allowed": False,
                               "min_value": str(minimum)}
    if maximum:
        element["max_value"] = str(maximum)
    return element


def datepicker(initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "datepicker", "placeholder": plain(label("slack.kies_datum"))}
    if initial:
        element["initial_date"] = initial
    return element


def users_select() -> dict[str, Any]:
    return {"type": "users_select", "placeholder": plain(label("slack.kies_persoon"))}


def read_values(view: dict[str, Any]) -> dict[str, Any]:
    """{block_id: value} from a submitted view: strings, lists for multi-selects, None when empty.

    Raises MalformedPayload when the state is not shaped as Slack sends it."""
    try:
        return {block_id: _read_value(actions.get(VALUE) or next(iter(actions.values()), {}))
                for block_id, actions in (view.get("state") or {}).get("values", {}).items()}
    except (AttributeError, KeyError, TypeError) as exc:
        raise MalformedPayload("view.state heeft de verkeerde vorm") from exc


def _read_value(state: dict[str, Any]) -> Any:
    kind = state.get("type")
    if kind in ("static_select", "radio_buttons"):
        selected = state.get("selected_option")
        return str(selected["value"]) if selected else None
    if kind in ("multi_static_select", "checkboxes"):
        return [str(o["value"]) for o in state.get("selected_options") or []]
    if kind == "datepicker":
        value = state.get("selected_date")
    elif kind == "users_select":
        value = state.get("selected_user")
    else:
        value = state.get("value")
    if value is not None and not isinstance(value, str):
        raise TypeError(kind)
    return value


def field_errors(errors: dict[str, Message], view: dict[str, Any]) -> dict[str, str]:
    """Inline errors keyed by block_id; an error for a field that is not in the modal is shown
    on the first input, so that Slack does not reject the answer."""
    present = [b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input"]
    shown: dict[str, str] = {}
    for name, message in errors.items():
        target = name if name in present else (present[0] if present else name)
        text_ = cut(renderer("plain").render(message), ERROR_TEXT)
        shown[target] = f"{shown[target]} {text_}" if target in shown else text_
    return {k: cut(v, ERROR_TEXT) for k, v in shown.items()}


# --- a form field as an input element ------------------------------------------------------------


def field_element(form_field: FormField, labels: dict[str, str], initial: Any = None, *,
                  radio_upto: int = 0, checkboxes_upto: int = 0) -> dict[str, Any]:
    """The input element for one field of a neutral form. `labels`: choice id → text (from
    `messages.labels`). Up to `radio_upto` choices show as radio buttons, up to
    `checkboxes_upto` multiple choices as checkboxes; more as menus."""
    kind = form_field.kind
    choices = [(key, labels.get(key, key)) for key in
               (("ja", "nee") if kind == "yesno" else form_field.choices)]
    if kind == "yesno" or (kind == "choice" and len(choices) <= radio_upto):
        return radio(choices, initial)
    if kind == "choice":
        return static_select(choices, initial)
    if kind == "multichoice":
        return checkboxes(choices) if len(choices) <= checkboxes_upto else multi_select(choices)
    if kind == "number":
        element = number_input(form_field.maximum or None,
                               minimum=1 if form_field.name == "weken" else 0)
        return {**element, "initial_value": str(initial)} if initial else element
    if kind == "date":
        return datepicker(initial or None)
    return text_input(form_field.max_length, multiline=kind == "longtext", initial=initial or None)


# --- the casusformulier -------------------------------------------------------------------------

MELDING = "melding"
_PROBES: tuple[dict[str, Any], ...] = ({}, {"reden": "anders", "wijk": UNKNOWN_WIJK})


def _shown(form_field: FormField) -> bool:
    return form_field.when is None or any(form_field.applies(p) for p in _PROBES)


def _labels(org: Organisation, form_field: FormField) -> dict[str, str]:
    names = melding_choice_names(org, form_field.name)
    keys = ("ja", "nee") if form_field.kind == "yesno" else form_field.choices
    return choice_labels(MELDING, form_field.name, keys, names)


class _MeldingViews:
    """The built casusformulier, kept per organisation: between the acknowledgement of
    /melding and `views.open` there is nothing to build. The form depends on the member only
    through whether they belong to a corporation (`melding_fields`). A reloaded organisation
    is another object, and its forms are built anew."""

    def __init__(self) -> None:
        self._org: Organisation | None = None
        self._views: dict[bool, dict[str, Any]] = {}

    def view(self, org: Organisation, member: Member) -> dict[str, Any]:
        if org is not self._org:
            self._org, self._views = org, {}
        key = org.partner(member.partner).kind == "corporatie"
        if key not in self._views:
            self._views[key] = build_melding_modal(org, member)
        return self._views[key]


_MELDING_VIEWS = _MeldingViews()


def melding_modal(org: Organisation, member: Member) -> dict[str, Any]:
    """The casusformulier as a modal view, built once per organisation (and kind of member).
    The view is shared: send it, do not change it."""
    return _MELDING_VIEWS.view(org, member)


def build_melding_modal(org: Organisation, member: Member) -> dict[str, Any]:
    blocks: list[Block] = [mrkdwn_section(renderer("mrkdwn").text(FORM_TEXTS[MELDING].intro))]
    for form_field in melding_fields(org, member):
        if not _shown(form_field):
            continue
        if form_field.name == "huurder_naam":
            blocks.append(context_note(renderer("mrkdwn").text(PERSONAL_DATA_NOTE)))
        blocks.append(input_block(
            form_field.name, label(f"veld.{form_field.name}"),
            field_element(form_field, _labels(org, form_field)),
            optional=not form_field.required or form_field.when is not None,
            hint=label(f"hint.{form_field.name}"),
        ))
    return modal(MELDING, FORM_TEXTS[MELDING].title, blocks, metadata={"form": MELDING})


def melding_answers(view: dict[str, Any]) -> dict[str, Any]:
    """The answers in the shape `file_melding` expects (strings and lists of strings)."""
    answers = {k: v for k, v in read_values(view).items() if v not in (None, "")}
    return answers
