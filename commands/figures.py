"""Neutral figures and rows that a use case hands to `messages/` to draw or write as a file
(the report's chart and CSV export). Plain values only: nothing here renders, and nothing
here holds personal data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

# The groups a case's outcome counts in (see commands.rapport.outcome_group), in chart order.
OUTCOME_GROUPS = ("voorkomen", "vertrokken", "uitgezet", "ingetrokken")

CsvRow = tuple[Any, ...]


@dataclass
class MonthCounts:
    """One calendar month (its first day): the meldingen filed and the cases closed, per
    outcome group."""

    first: date
    meldingen: int = 0
    closed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOME_GROUPS, 0))

    def add(self, group: str, number: int) -> None:
        if group in self.closed:
            self.closed[group] += number


@dataclass(frozen=True)
class MonthChart:
    """What a report's chart shows: counts per month, nothing else."""

    months: list[MonthCounts]


@dataclass(frozen=True)
class CaseExport:
    """A CSV export: the header, then one row per case in the order of the header."""

    columns: tuple[str, ...]
    rows: list[CsvRow]
