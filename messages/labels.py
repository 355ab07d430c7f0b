"""The one place that turns a form's choice into the text a member sees: form, field and
choice id → label. Every door (Slack modal options, Telegram buttons, console lists) uses it."""

from __future__ import annotations

from collections.abc import Mapping

from messages.render import Format, renderer

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


__all__ = ["choice_label", "choice_labels"]
