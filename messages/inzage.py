"""The inzage document for one household as HTML: every stored value made readable."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Protocol

from messages.render import datum, getal, renderer, tijd


class Inzage(Protocol):
    """What `commands.privacy.inzage` collects (sections of rows, column → value)."""

    reference: str
    made_at: datetime
    erased_at: datetime | None
    sections: list[tuple[str, list[dict[str, Any]]]]
    members: dict[str, dict[str, str]]


def readable(value: Any) -> str:
    """A stored value as text: dates in Dutch, yes/no, lists and mappings spelled out."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)  # years, counts, cents: without thousands separators
    if isinstance(value, float):
        return getal(value, 2)
    if isinstance(value, datetime):
        return f"{datum(value)} {tijd(value)}"
    if isinstance(value, date):
        return datum(value)
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {readable(item)}" for key, item in sorted(value.items()))
    if isinstance(value, list | tuple | set):
        return ", ".join(readable(item) for item in value)
    return str(value)


def inzage_html(found: Inzage) -> str:
    sections = [(name, [{column: readable(value) for column, value in row.items()} for row in rows])
                for name, rows in found.sections]
    return renderer("html").text(
        "privacy/inzage_document", referentie=found.reference, gemaakt_op=found.made_at,
        gewist_op=found.erased_at, onderdelen=sections, deelnemers=found.members)
