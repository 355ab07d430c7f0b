"""The one place that turns a form's choice into the text a member sees: form, field and
choice id → label. Every door (Slack modal options, Telegram buttons, console lists) uses it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from messages.render import Format, datum, renderer

# Fields whose choices have a label of their own kind (labels_sluiten.j2).
_FIELD_PREFIX = {"opvang": "opvang", "gemeld_bij": "meldpunt"}


def choice_label(form: str, field: str, key: str, names: Mapping[str, str] | None = None,
                 fmt: Format = "plain") -> str:
    """The shown text of choice `key` of `field` in `form`. `names` holds choices that are
    named by the organisation (members, corporations, Regieteams): their name is the text."""
    if names and key in names:
        return names[key]
    text = renderer(fmt)
    specific = f"keuze.{form}.{field}.{key}"
    if text.label(specific) != specific:
        return text.label(specific)
    prefix = _FIELD_PREFIX.get(field)
    if prefix is not None:
        return text.label(f"{prefix}.{key}")
    return text.choice(key)


def choice_labels(form: str, field: str, keys: tuple[str, ...] | list[str],
                  names: Mapping[str, str] | None = None, fmt: Format = "plain") -> dict[str, str]:
    return {key: choice_label(form, field, key, names, fmt) for key in keys}


def shown_answer(form: str, field: str, kind: str, value: Any,
                 names: Mapping[str, str] | None = None, fmt: Format = "plain") -> str:
    """An answer as a summary shows it: choices by their label, dates in Dutch."""
    if kind == "multichoice":
        return ", ".join(choice_label(form, field, str(v), names, fmt) for v in value or [])
    if kind in ("choice", "yesno"):
        return choice_label(form, field, str(value), names, fmt)
    if kind == "date" and value:
        try:
            return datum(date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
    if kind == "amount" and value:
        return f"€ {value}"
    return "" if value is None else str(value)


__all__ = ["choice_label", "choice_labels", "shown_answer"]
