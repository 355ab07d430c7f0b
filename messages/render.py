"""Render neutral messages with Jinja2 templates, for plain text, Slack mrkdwn or Telegram HTML.

Every value a template prints is escaped for the target format, so user text such as
``<!channel>`` or ``<b>`` is shown literally and cannot notify anyone or break markup.
Templates use ``strong()`` for emphasis; it is the only way to produce markup.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import jinja2

from commands.replies import Message

Format = Literal["plain", "mrkdwn", "html"]
TEMPLATES = Path(__file__).parent / "templates"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")

WEEKDAYS_SHORT = ("ma", "di", "wo", "do", "vr", "za", "zo")
WEEKDAYS_LONG = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
MONTHS_SHORT = ("jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec")
MONTHS_LONG = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
               "september", "oktober", "november", "december")


class Raw(str):
    """Text that is already in the target format and must not be escaped again."""


def escape_mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


ESCAPE: dict[str, Callable[[str], str]] = {
    "plain": lambda text: text,
    "mrkdwn": escape_mrkdwn,
    "html": lambda text: html.escape(text, quote=False),
}
STRONG = {"plain": "{}", "mrkdwn": "*{}*", "html": "<b>{}</b>"}


# --- Dutch formatting ------------------------------------------------------------------------


def _as_date(value: date | datetime) -> date:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))).astimezone(
            AMSTERDAM
        ).date()
    return value


def datum(value: date | datetime | None) -> str:
    """di 3 dec 2026"""
    if value is None:
        return "onbekend"
    day = _as_date(value)
    return f"{WEEKDAYS_SHORT[day.weekday()]} {day.day} {MONTHS_SHORT[day.month - 1]} {day.year}"


def datum_lang(value: date | datetime | None) -> str:
    """dinsdag 3 december 2026"""
    if value is None:
        return "onbekend"
    day = _as_date(value)
    return f"{WEEKDAYS_LONG[day.weekday()]} {day.day} {MONTHS_LONG[day.month - 1]} {day.year}"


def tijd(value: datetime) -> str:
    """10:00 (Amsterdam time)"""
    moment = value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(AMSTERDAM).strftime("%H:%M")


def bedrag(cents: int | Decimal | None) -> str:
    """€ 1.234,56"""
    if cents is None:
        return "onbekend"
    euros, rest = divmod(int(cents), 100)
    whole = f"{euros:,}".replace(",", ".")
    return f"€ {whole},{rest:02d}"


def getal(value: float | int | None, decimals: int = 0) -> str:
    if value is None:
        return "–"
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def opsomming(items: Iterable[Any]) -> str:
    """a, b en c"""
    words = [str(item) for item in items]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " en " + words[-1]


def leesbaar(key: str) -> str:
    """gezin_met_minderjarige_kinderen → gezin met minderjarige kinderen"""
    return str(key).replace("_", " ")


# --- the renderer ----------------------------------------------------------------------------


class Renderer:
    """Turns a `Message` into text for one format."""

    def __init__(self, fmt: Format = "plain", language: str = "nl") -> None:
        self.format = fmt
        escape = ESCAPE[fmt]

        def finalize(value: Any) -> Any:
            if value is None:
                return ""
            if isinstance(value, Raw):
                return value
            return escape(str(value))

        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES / language)),
            finalize=finalize,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,  # the templates ship with the code: no file check per message
            cache_size=-1,
        )
        self.env.filters.update(
            datum=datum, datum_lang=datum_lang, tijd=tijd, bedrag=bedrag, getal=getal,
            opsomming=opsomming, leesbaar=leesbaar, keuze=self.choice,
        )
        self.env.globals["strong"] = lambda text: Raw(STRONG[fmt].format(escape(str(text))))
        self.env.globals["fmt"] = fmt
        self.env.globals["label"] = self.label
        self.env.globals["keuze"] = self.choice

    def render(self, message: Message) -> str:
        template = self.env.get_template(f"{message.template}.j2")
        return template.render(**message.data).strip()

    def label(self, key: str) -> str:
        """The text of a button or choice, from labels.j2."""
        return str(_labels(self).get(key, key))

    def choice(self, key: str) -> str:
        """The text of a choice: its label when there is one, else the key made readable."""
        return str(_labels(self).get(f"keuze.{key}", leesbaar(key)))

    def text(self, template: str, **data: Any) -> str:
        return self.render(Message(template, data))


@cache
def _labels_for(language: str) -> dict[str, str]:
    """All short texts: labels.j2 plus one labels_<area>.j2 per area (slack, telegram, …)."""
    folder = TEMPLATES / language
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)))
    labels: dict[str, str] = {}
    for path in sorted(folder.glob("labels*.j2")):
        labels.update(env.get_template(path.name).module.labels)  # type: ignore[attr-defined]
    return labels


def _labels(renderer: Renderer) -> dict[str, str]:
    search = renderer.env.loader.searchpath  # type: ignore[union-attr]
    return _labels_for(Path(search[0]).name)


@cache
def renderer(fmt: Format = "plain") -> Renderer:
    return Renderer(fmt)
