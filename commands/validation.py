"""Parsing and checking what people type: Dutch amounts and dates, and identifiers in free text.

Each check raises `FieldProblem` with a template name under `messages/templates/nl/fout/`;
the message says what to fix and never repeats a refused identifier.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

MONTHS = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "maart": 3, "mrt": 3, "mar": 3,
    "april": 4, "apr": 4, "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7,
    "augustus": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10,
    "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}


class FieldProblem(ValueError):
    """A value is wrong. `template` names the explanation in messages/templates/nl/fout/."""

    def __init__(self, template: str, **data: Any) -> None:
        super().__init__(template)
        self.template = template
        self.data = data


# --- amounts ---------------------------------------------------------------------------------

_AMOUNT = re.compile(
    r"^(?:€|eur|euro)?\s*(?P<int>\d{1,3}(?:\.\d{3})+|\d+)(?:,(?P<dec>\d{1,2}|-{1,2}))?\s*(?:€|euro)?$",
    re.IGNORECASE,
)


def parse_amount_cents(text: str) -> int:
    """'1.234,56', '€ 850', '850', '€ 850,-' → cents. Dots group thousands, a comma starts cents."""
    cleaned = text.strip().replace("\u00a0", " ")
    if cleaned.startswith("-"):
        raise FieldProblem("bedrag_negatief")
    match = _AMOUNT.match(cleaned)
    if not match:
        raise FieldProblem("bedrag_vorm")
    whole = int(match["int"].replace(".", ""))
    decimals = match["dec"] or "0"
    cents = 0 if decimals.startswith("-") else int(decimals.ljust(2, "0"))
    return whole * 100 + cents


def parse_whole_number(text: str) -> int:
    cleaned = text.strip()
    if not re.fullmatch(r"\d{1,6}", cleaned):
        raise FieldProblem("getal_vorm")
    return int(cleaned)


# --- dates -----------------------------------------------------------------------------------

_NUMERIC_DATE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WORD_DATE = re.compile(r"^(?:[a-z]+\s+)?(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})$")


def parse_date(text: str) -> date:
    """'03-12-2026', '3-12-2026', '3 december 2026', '3 dec 2026', '2026-12-03' → date."""
    cleaned = " ".join(text.strip().lower().replace(",", " ").split())
    try:
        if match := _NUMERIC_DATE.match(cleaned):
            day, month, year = (int(part) for part in match.groups())
            return date(year, month, day)
        if match := _ISO_DATE.match(cleaned):
            year, month, day = (int(part) for part in match.groups())
            return date(year, month, day)
        if (match := _WORD_DATE.match(cleaned)) and match[2] in MONTHS:
            return date(int(match[3]), MONTHS[match[2]], int(match[1]))
    except ValueError as exc:
        raise FieldProblem("datum_bestaat_niet") from exc
    raise FieldProblem("datum_vorm")


# --- identifiers in free text ----------------------------------------------------------------

_DIGIT_RUN = re.compile(r"(?<![\d])\d(?:[ .\-]?\d){7,8}(?![\d])")
_DATE_SHAPE = re.compile(r"\b(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})\b")
_WORD_DATE_ANY = re.compile(r"\b(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})\b", re.IGNORECASE)
_IBAN = re.compile(r"\b([A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30})\b", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)31[\s\-.]?(?:\(0\)[\s\-]?)?\d(?:[\s\-.]?\d){8}(?!\d)"
                    r"|(?<![\w])0\d(?:[\s\-.]?\d){8}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_BIRTH_WORDS = re.compile(r"\b(geboren|geb\.|geboortedatum|geb\s*datum|geboortedag)", re.IGNORECASE)


def passes_eleven_check(digits: str) -> bool:
    """The BSN eleven-check: 9 digits (8 get a leading zero), weights 9..2 and −1."""
    if len(digits) == 8:
        digits = "0" + digits
    if len(digits) != 9 or not digits.isdigit():
        return False
    weights = (9, 8, 7, 6, 5, 4, 3, 2, -1)
    total = sum(int(d) * w for d, w in zip(digits, weights, strict=True))
    return total != 0 and total % 11 == 0


def _valid_iban(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _looks_like_birth_date(text: str, start: int, year: int, today: date) -> bool:
    before = text[max(0, start - 30):start]
    return bool(_BIRTH_WORDS.search(before)) or year <= today.year - 16


def find_identifier(text: str, today: date) -> str | None:
    """The kind of identifier found in free text (bsn, iban, telefoon, email, geboortedatum)."""
    if _EMAIL.search(text):
        return "email"
    for match in _IBAN.finditer(text):
        if _valid_iban(match[1]):
            return "iban"
    for match in _DATE_SHAPE.finditer(text):
        if _looks_like_birth_date(text, match.start(), int(match[3]), today):
            return "geboortedatum"
    for match in _WORD_DATE_ANY.finditer(text):
        if match[2].lower() in MONTHS and _looks_like_birth_date(
            text, match.start(), int(match[3]), today
        ):
            return "geboortedatum"
    without_dates = _DATE_SHAPE.sub(" ", text)
    for match in _DIGIT_RUN.finditer(without_dates):
        if passes_eleven_check(re.sub(r"\D", "", match[0])):
            return "bsn"
    if _PHONE.search(without_dates):
        return "telefoon"
    return None


def check_free_text(text: str, today: date, *, max_length: int, min_length: int = 0) -> str:
    """Trim and check a free-text answer: length, and no identifiers."""
    cleaned = text.strip()
    if len(cleaned) < min_length:
        raise FieldProblem("tekst_te_kort", minimum=min_length)
    if len(cleaned) > max_length:
        raise FieldProblem("tekst_te_lang", maximum=max_length, lengte=len(cleaned))
    if kind := find_identifier(cleaned, today):
        raise FieldProblem(f"identificatie_{kind}")
    return cleaned


_POSTCODE = re.compile(r"^([1-9]\d{3})\s?([A-Z]{2})$")


def parse_postcode(text: str) -> str:
    match = _POSTCODE.match(text.strip().upper())
    if not match or match[2] in ("SA", "SD", "SS"):
        raise FieldProblem("postcode_vorm")
    return f"{match[1]} {match[2]}"
