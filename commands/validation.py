"""Parsing and checking what people type: Dutch amounts, numbers and dates, and identifiers
in free text.

Each check raises `FieldProblem` with a template name under `messages/templates/nl/fout/`;
the message says what to fix and never repeats a refused value. Every parser checks the
length of its input before converting it, so a very long answer gets a clear message too.

Identifiers in free text
------------------------
Free text may not hold a household's identifiers. `find_identifiers` reports, by kind only:

- ``email``: an e-mail address, also written as ``naam(at)example.nl``,
  ``naam [at] example [dot] nl`` or ``naam apenstaartje example punt nl``. ``naam at
  example.nl`` counts only when a real domain follows (dots and a top-level domain).
- ``iban``: a valid IBAN (python-stdnum: country format and mod-97), with or without spaces or
  dashes. Shorter candidates are tried too, so a word right after the number is never taken
  as part of it.
- ``bsn``: nine digits (or eight, for an old number with a leading zero) that pass the
  eleven-test (stdnum.nl.bsn; so ``100000009`` counts), written together or in the groups
  123.456.789, 123-456-789, 123 456 789 or 1234.56.789. A digit run never continues over
  another separator or into a longer number, so part of an invoice number is never tested.
  After the word BSN, burgerservicenummer or sofinummer, any eight or nine digits count, also
  when they fail the test: a mistyped BSN is still a BSN.
- ``telefoon``: a phone number found by phonenumbers (region NL), Dutch or foreign, such as
  (024) 345 67 89, 06 - 1234 5678, +31 6 12345678 or +44 20 7946 0958. Besides the numbers
  phonenumbers calls valid, any possible number with an international prefix (+32 …, 0049 …)
  and any ten digits after a Dutch trunk zero count. Service numbers are allowed: 0800, 0900,
  0906, 0909 and the municipal 14 0xx numbers.
- ``geboortedatum``: a date after a birth word (geboren, geb., geboortedatum), or any date at
  least 16 years ago.
- ``postcode``: a Dutch postcode (no address data in free text). With capitals or written
  together it counts: 6511 AB, 6511AB, 6511ab (but not a unit such as 1500km). With a space
  and lower case letters (6511 ab) it counts unless the letters are a common two-letter word
  or unit that often follows a number ("in 2026 en 2027", "1500 km"). A year followed by a capitalised
  abbreviation ("sinds 2025 WW") is no postcode. The unused letter pairs SA, SD and SS are
  never a postcode.

Never refused: the bot's own references (RT-2026-0003), dates that are no birth dates,
amounts (€ 1.234,56, 850 euro), times, and invoice or dossier numbers that are not shaped
as one of the above.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from stdnum import iban as stdnum_iban
from stdnum.nl import bsn as stdnum_bsn

if TYPE_CHECKING:  # phonenumbers loads with the first text that is scanned, not at start-up
    import phonenumbers

MONTHS = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "maart": 3, "mrt": 3, "mar": 3,
    "april": 4, "apr": 4, "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7,
    "augustus": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10,
    "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}

MAX_AMOUNT_LENGTH = 24  # "€ 100.000.000,00" and some spaces
MAX_NUMBER_DIGITS = 6
MAX_DATE_LENGTH = 40  # "woensdag 30 september 2026" and some spaces
MAX_RECORD_ID = 2**31 - 1  # the largest id an INTEGER column holds on every database


class FieldProblem(ValueError):
    """A value is wrong. `template` names the explanation in messages/templates/nl/fout/."""

    def __init__(self, template: str, **data: Any) -> None:
        super().__init__(template)
        self.template = template
        self.data = data


# --- amounts and numbers ---------------------------------------------------------------------

_AMOUNT = re.compile(
    r"^(?:€|eur|euro)?\s*(?P<int>\d{1,3}(?:\.\d{3})+|\d+)(?:,(?P<dec>\d{1,2}|-{1,2}))?\s*(?:€|euro)?$",
    re.IGNORECASE,
)


def parse_amount_cents(text: str) -> int:
    """'1.234,56', '€ 850', '850', '€ 850,-' → cents. Dots group thousands, a comma starts cents."""
    if len(text) > 4 * MAX_AMOUNT_LENGTH:
        raise FieldProblem("bedrag_te_lang")
    cleaned = text.strip().replace("\u00a0", " ")
    if len(cleaned) > MAX_AMOUNT_LENGTH:
        raise FieldProblem("bedrag_te_lang")
    if cleaned.startswith("-"):
        raise FieldProblem("bedrag_negatief")
    match = _AMOUNT.match(cleaned)
    if not match:
        raise FieldProblem("bedrag_vorm")
    whole = int(match["int"].replace(".", ""))
    decimals = match["dec"] or "0"
    cents = 0 if decimals.startswith("-") else int(decimals.ljust(2, "0"))
    return whole * 100 + cents


def parse_whole_number(text: str, maximum: int | None = None) -> int:
    """'2' → 2. More than six digits is refused before conversion; with `maximum`, so is
    anything above it."""
    cleaned = text.strip()
    if len(cleaned) > MAX_NUMBER_DIGITS and cleaned.isdigit():
        raise FieldProblem("getal_te_lang")
    if not re.fullmatch(rf"\d{{1,{MAX_NUMBER_DIGITS}}}", cleaned):
        raise FieldProblem("getal_vorm")
    value = int(cleaned)
    if maximum is not None and value > maximum:
        raise FieldProblem("getal_te_groot", maximum=maximum)
    return value


def parse_record_id(text: str | int) -> int:
    """A database id typed or sent by a platform ('42', 42) → 42. Refused when it is no
    positive whole number or larger than any id a database column can hold."""
    if isinstance(text, bool):
        raise FieldProblem("id_vorm")
    if isinstance(text, int):
        if not 1 <= text <= MAX_RECORD_ID:
            raise FieldProblem("id_vorm")
        return text
    cleaned = str(text).strip()
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > len(str(MAX_RECORD_ID)):
        raise FieldProblem("id_vorm")
    value = int(cleaned)
    if not 1 <= value <= MAX_RECORD_ID:
        raise FieldProblem("id_vorm")
    return value


# --- dates -----------------------------------------------------------------------------------

_NUMERIC_DATE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_WORD_DATE = re.compile(r"^(?:[a-z]+\.?\s+)?(\d{1,2})(?:e|ste|de)?\s+([a-z]+)\.?\s+(\d{4})$")


def _plain_date_text(text: str) -> str:
    """Lower case, without accents, commas as spaces, one space between words."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(plain.strip().lower().replace(",", " ").split())


def parse_date(text: str) -> date:
    """Every way the bot's hints and its own dates write a day: '03-12-2026', '3-12-2026',
    '3/12/2026', '3.12.2026', '2026-12-03', '3 december 2026', '1 maart 2027', '3 dec 2026',
    '3 dec. 2026', 'di 3 dec 2026', 'dinsdag 3 december 2026', '1e maart 2027' → date."""
    if len(text) > 4 * MAX_DATE_LENGTH:
        raise FieldProblem("datum_vorm")
    cleaned = _plain_date_text(text)
    if len(cleaned) > MAX_DATE_LENGTH:
        raise FieldProblem("datum_vorm")
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

IDENTIFIER_KINDS = ("bsn", "iban", "telefoon", "email", "geboortedatum", "postcode")
_MASK = "_"  # a word character that is neither a digit nor a letter: nothing matches across it

_MONTH_WORDS = "|".join(sorted(MONTHS, key=len, reverse=True))
_REFERENCE = re.compile(r"(?<![\w-])RT[-\s]?\d{4}-\d{1,6}(?!\w)", re.IGNORECASE)
_NUMERIC_DATE_ANY = re.compile(r"(?<![\d\-/.])(\d{1,2})([-/.])(\d{1,2})\2(\d{4})(?!\d)")
_ISO_DATE_ANY = re.compile(r"(?<![\d\-/.])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d\-])")
_WORD_DATE_ANY = re.compile(rf"\b(\d{{1,2}})\s+({_MONTH_WORDS})\.?\s+(\d{{4}})\b", re.IGNORECASE)
_AMOUNT_ANY = re.compile(
    r"(?:€|\beur(?:o)?\b)\s*\d[\d.]*(?:,(?:\d{1,2}|-{1,2}))?"
    r"|(?<![\d.,])\d[\d.]*,(?:\d{2}|-{1,2})(?![\d])"
    r"|(?<![\d.,])\d[\d.]*(?:,\d{1,2})?\s*(?:euro|eur)\b",
    re.IGNORECASE,
)
_BIRTH_WORDS = re.compile(r"\b(geboren|geb\.|geboortedatum|geb\s*datum|geboortedag)", re.IGNORECASE)

_EMAIL_LOCAL = r"(?<![\w.+-])[\w.+-]*\w"
_EMAIL_LABEL = r"[A-Za-z0-9](?:[\w-]*[A-Za-z0-9])?"
_EMAIL_TLD = r"[A-Za-z]{2,13}\b"
_EMAIL_PLAIN = re.compile(rf"{_EMAIL_LOCAL}\s?@\s?{_EMAIL_LABEL}(?:\.{_EMAIL_LABEL})*\.{_EMAIL_TLD}")
_EMAIL_OBFUSCATED = re.compile(
    rf"{_EMAIL_LOCAL}\s*(?:[(\[{{<]\s*(?:at|@)\s*[)\]}}>]|\s(?:apenstaartje)\s)\s*"
    rf"{_EMAIL_LABEL}(?:(?:\.|\s*[(\[{{<]\s*(?:dot|punt)\s*[)\]}}>]\s*|\s(?:dot|punt)\s){_EMAIL_LABEL})+\b",
    re.IGNORECASE,
)
_EMAIL_WORD_AT = re.compile(
    rf"{_EMAIL_LOCAL}\s+at\s+{_EMAIL_LABEL}(?:\.{_EMAIL_LABEL})*\.{_EMAIL_TLD}", re.IGNORECASE
)

_IBAN_START = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z]{2}\d{2})")
_IBAN_BODY = re.compile(r"[A-Za-z]{2}\d{2}(?:[ \-]?[A-Za-z0-9]){11,30}")
_IBAN_MIN, _IBAN_MAX = 15, 34

_BSN_WORDS = re.compile(
    r"\b(?:bsn|burgerservice(?:nummer|nr)|sofi(?:nummer|nr)?)\b[\s:.#-]*(?:nr\.?|nummer)?[\s:.#-]*"
    r"(?P<number>\d(?:[ .\-]?\d){7,8})(?!\d)",
    re.IGNORECASE,
)
_BSN_SHAPE = re.compile(
    r"(?<!\d)(?<!\d[.,\-])\d{8,9}(?!\d|[.,\-]\d)"
    r"|(?<!\d)(?<!\d[.,\- ])(?:\d{3}([ .\-])\d{3}\1\d{3}|\d{4}([ .\-])\d{2}\2\d{3})(?!\d|[.,\- ]\d)"
)

_NL_SERVICE_PREFIXES = ("800", "900", "906", "909", "14")
_PHONE_INTERNATIONAL = re.compile(r"^(?:\+\s*|00)[1-9]")
_PHONE_NATIONAL = re.compile(r"^\(?0[1-9]")

_POSTCODE_ANY = re.compile(r"(?<![\w])([1-9]\d{3})(\s?)([A-Za-z]{2})(?![\w])")
_POSTCODE_UNUSED = frozenset({"SA", "SD", "SS"})
# Two-letter words and abbreviations that often follow a number in Dutch case notes.
_POSTCODE_WORDS = frozenset({
    "al", "af", "as", "at", "be", "bv", "by", "ca", "cl", "cm", "ct", "da", "de", "dl", "do", "en",
    "er", "ex", "ga", "gb", "ge", "ha", "he", "ie", "ik", "in", "is", "it", "ja", "je", "jr", "kg",
    "km", "kw", "la", "ma", "mb", "me", "mg", "mi", "ml", "mm", "mn", "mw", "na", "ne", "nl", "no",
    "nr", "nu", "oa", "of", "oh", "ok", "om", "on", "op", "or", "os", "pa", "pm", "pp", "so", "st",
    "te", "to", "tv", "up", "us", "uw", "vd", "vr", "vs", "wc", "we", "wk", "wo", "ww", "za", "ze",
    "zo", "zn", "zw",
})
_POSTCODE_UNITS = frozenset({"km", "cm", "mm", "kg", "mg", "ml", "cl", "dl", "gb", "mb", "kw"})
_POSTCODE_ABBREVIATIONS = frozenset({"WW", "BW", "ZW", "BV", "NV", "EU", "NL", "OK", "TV", "WC"})


class _Scan:
    """Free text being searched. Each finding blanks its span, so a later check never sees
    (or joins digits across) something that was already recognised: a reference, a date,
    an amount, or an identifier of another kind."""

    def __init__(self, text: str) -> None:
        self.text = text.replace("\u00a0", " ")
        self.found: list[tuple[int, str]] = []

    def take(self, start: int, end: int, kind: str | None = None) -> None:
        self.text = self.text[:start] + _MASK * (end - start) + self.text[end:]
        if kind is not None:
            self.found.append((start, kind))

    def take_all(self, pattern: re.Pattern[str], kind: str | None = None) -> None:
        for match in list(pattern.finditer(self.text)):
            self.take(match.start(), match.end(), kind)

    def kinds(self) -> list[str]:
        """The kinds found, once each, in the order they appear in the text."""
        return list(dict.fromkeys(kind for _, kind in sorted(self.found)))


def passes_eleven_check(digits: str) -> bool:
    """The BSN eleven-check (stdnum.nl.bsn): 9 digits, or 8 that get a leading zero."""
    return len(digits) in (8, 9) and digits.isdigit() and bool(stdnum_bsn.is_valid(digits))


def _iban_digits(ch: str) -> str:
    """A character of an IBAN as the digits of its mod-97 check: 'A' → '10', '7' → '7'."""
    return str(int(ch, 36))


def _iban_length(text: str, start: int) -> int:
    """The length of the longest valid IBAN that starts at `start`, or 0. Every shorter
    candidate is tried too, so a word after the number ('NL91ABNA0417164300 van') is never
    swallowed. The mod-97 remainder is kept while reading, so each start costs one pass."""
    match = _IBAN_BODY.match(text, start)
    if not match:
        return 0
    head = "".join(_iban_digits(ch) for ch in text[start:start + 4])
    head_value, head_scale = int(head), 10 ** len(head)
    remainder, count, longest = 0, 4, 0
    for end in range(start + 5, match.end() + 1):
        ch = text[end - 1]
        if not ch.isalnum():
            continue
        digits = _iban_digits(ch)
        remainder = (remainder * 10 ** len(digits) + int(digits)) % 97
        count += 1
        if count < _IBAN_MIN or (remainder * head_scale + head_value) % 97 != 1:
            continue
        compact = re.sub(r"[ \-]", "", text[start:end]).upper()
        if stdnum_iban.is_valid(compact, check_country=False):
            longest = end - start  # stdnum also checks the country's length and format
    return longest


def _take_emails(scan: _Scan) -> None:
    for pattern in (_EMAIL_PLAIN, _EMAIL_OBFUSCATED, _EMAIL_WORD_AT):
        scan.take_all(pattern, "email")


def _take_ibans(scan: _Scan) -> None:
    for start_match in list(_IBAN_START.finditer(scan.text)):
        start = start_match.start()
        if length := _iban_length(scan.text, start):
            scan.take(start, start + length, "iban")


def _looks_like_birth_date(text: str, start: int, year: int, today: date) -> bool:
    before = text[max(0, start - 30):start]
    return bool(_BIRTH_WORDS.search(before)) or year <= today.year - 16


def _real_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _take_dates(scan: _Scan, today: date) -> None:
    """Dates are harmless, unless they look like a birth date (a birth word before them,
    or a year at least 16 years ago)."""
    found: list[tuple[int, int, int]] = []  # start, end, year
    for match in _NUMERIC_DATE_ANY.finditer(scan.text):
        day, month, year = int(match[1]), int(match[3]), int(match[4])
        if _real_date(year, month, day):
            found.append((match.start(), match.end(), year))
    for match in _ISO_DATE_ANY.finditer(scan.text):
        year, month, day = int(match[1]), int(match[2]), int(match[3])
        if _real_date(year, month, day):
            found.append((match.start(), match.end(), year))
    for match in _WORD_DATE_ANY.finditer(scan.text):
        found.append((match.start(), match.end(), int(match[3])))
    text = scan.text
    for start, end, year in found:
        birth = _looks_like_birth_date(text, start, year, today)
        scan.take(start, end, "geboortedatum" if birth else None)


def _take_bsns(scan: _Scan) -> None:
    for match in list(_BSN_WORDS.finditer(scan.text)):
        scan.take(match.start("number"), match.end("number"), "bsn")
    for match in list(_BSN_SHAPE.finditer(scan.text)):
        if passes_eleven_check(re.sub(r"\D", "", match[0])):
            scan.take(match.start(), match.end(), "bsn")


def _is_service_number(number: phonenumbers.PhoneNumber) -> bool:
    import phonenumbers

    if number.country_code == 31:
        return phonenumbers.national_significant_number(number).startswith(_NL_SERVICE_PREFIXES)
    kind = phonenumbers.PhoneNumberType
    return phonenumbers.number_type(number) in (kind.TOLL_FREE, kind.PREMIUM_RATE,
                                                 kind.SHARED_COST)


def _is_phone_shape(match: phonenumbers.PhoneNumberMatch) -> bool:
    """A possible number that is clearly written as a phone number: with an international
    prefix (+44 …, 0032 …), or as ten digits after a Dutch trunk zero (06-00000000)."""
    raw = match.raw_string
    if _PHONE_INTERNATIONAL.match(raw):
        return True
    return bool(_PHONE_NATIONAL.match(raw)) and sum(ch.isdigit() for ch in raw) == 10


def _glued(text: str, start: int) -> bool:
    """The number continues a word or code, as in the digits of 'NL91ABNA0417164301'."""
    return start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_")


def _take_phones(scan: _Scan) -> None:
    import phonenumbers

    text = scan.text
    valid = phonenumbers.PhoneNumberMatcher(text, "NL", leniency=phonenumbers.Leniency.VALID)
    possible = phonenumbers.PhoneNumberMatcher(text, "NL", leniency=phonenumbers.Leniency.POSSIBLE)
    spans: dict[int, int] = {}
    for match in valid:
        if not _is_service_number(match.number):
            spans[match.start] = match.end
    for match in possible:
        if match.start in spans or _glued(text, match.start) or not _is_phone_shape(match):
            continue
        if not _is_service_number(match.number):
            spans[match.start] = match.end
    for start, end in spans.items():
        scan.take(start, end, "telefoon")


def _is_postcode(number: str, space: str, letters: str) -> bool:
    upper = letters.upper()
    if upper in _POSTCODE_UNUSED:
        return False
    if not space:
        return letters.lower() not in _POSTCODE_UNITS
    if letters.isupper():
        year_like = 1900 <= int(number) <= 2099
        return not (year_like and upper in _POSTCODE_ABBREVIATIONS)
    return letters.lower() not in _POSTCODE_WORDS


def _take_postcodes(scan: _Scan) -> None:
    for match in list(_POSTCODE_ANY.finditer(scan.text)):
        if _is_postcode(match[1], match[2], match[3]):
            scan.take(match.start(), match.end(), "postcode")


def find_identifiers(text: str, today: date) -> list[str]:
    """The kinds of identifier in free text (see IDENTIFIER_KINDS), in the order they appear.
    Only the kinds are returned: a caller never needs, and must never show, the value."""
    scan = _Scan(text)
    _take_emails(scan)
    _take_ibans(scan)
    scan.take_all(_REFERENCE)
    _take_dates(scan, today)
    scan.take_all(_AMOUNT_ANY)
    _take_bsns(scan)
    _take_phones(scan)
    _take_postcodes(scan)
    return scan.kinds()


def find_identifier(text: str, today: date) -> str | None:
    """The first kind of identifier found in free text, or None."""
    kinds = find_identifiers(text, today)
    return kinds[0] if kinds else None


def check_free_text(text: str, today: date, *, max_length: int, min_length: int = 0) -> str:
    """Trim and check a free-text answer: length, and no identifiers."""
    cleaned = text.strip()
    if len(cleaned) < min_length:
        raise FieldProblem("tekst_te_kort", minimum=min_length)
    if len(cleaned) > max_length:
        raise FieldProblem("tekst_te_lang", maximum=max_length, lengte=len(cleaned))
    kinds = find_identifiers(cleaned, today)
    if len(kinds) == 1:
        raise FieldProblem(f"identificatie_{kinds[0]}")
    if kinds:
        raise FieldProblem("identificatie_meerdere", soorten=kinds)
    return cleaned


_POSTCODE = re.compile(r"^([1-9]\d{3})\s?([A-Z]{2})$")


def parse_postcode(text: str) -> str:
    if len(text) > 40:
        raise FieldProblem("postcode_vorm")
    match = _POSTCODE.match(text.strip().upper())
    if not match or match[2] in _POSTCODE_UNUSED:
        raise FieldProblem("postcode_vorm")
    return f"{match[1]} {match[2]}"


# --- the household's own words in free text ----------------------------------------------------

# Name parts that are ordinary Dutch words (tussenvoegsels): never a reason to refuse a text.
_NAME_PARTICLES = frozenset({
    "van", "der", "den", "de", "het", "ter", "ten", "te", "op", "in", "aan", "bij", "uit",
    "voor", "onder", "over", "tot", "del", "della", "da", "dos", "das", "di", "du", "la", "le",
    "el", "al", "bin", "ben", "ibn", "von", "zu", "und", "les", "des", "lo",
})
_HOUSE_NUMBER = re.compile(r"\s+\d.*$")


def _folded(text: str) -> str:
    """Lower case without accents: 'Özdemir' and 'ozdemir' are the same word."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _whole_words(phrase: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in phrase.split()]
    return re.compile(r"(?<!\w)" + r"[\s\-]+".join(words) + r"(?!\w)")


@dataclass(frozen=True)
class HouseholdWords:
    """What identifies one household in free text: its name parts (3+ letters, no
    tussenvoegsels), its street name and its postcode; all folded (lower case, no accents)."""

    name_parts: tuple[str, ...] = ()
    street: str = ""
    postcode: str = ""

    @classmethod
    def of(cls, name: str, address: str, postcode: str) -> HouseholdWords:
        parts = [part for part in re.split(r"[^\w]+", _folded(name)) if part]
        names = tuple(dict.fromkeys(
            p for p in parts if len(p) >= 3 and not p.isdigit() and p not in _NAME_PARTICLES))
        street_part = _folded(address).split(",")[0].strip()
        street = " ".join(_HOUSE_NUMBER.sub("", street_part).split())
        if len(street) < 3 or street.isdigit():
            street = ""
        code = re.sub(r"[\s\-]", "", _folded(postcode))
        return cls(names, street, code if len(code) == 6 else "")

    def found_in(self, text: str) -> str | None:
        """'naam', 'adres' or 'postcode' when the text holds one of them, else None."""
        folded = _folded(text)
        if any(_whole_words(part).search(folded) for part in self.name_parts):
            return "naam"
        if self.street and _whole_words(self.street).search(folded):
            return "adres"
        if self.postcode and re.search(
                rf"(?<!\w){re.escape(self.postcode[:4])}[\s\-]*{re.escape(self.postcode[4:])}(?!\w)",
                folded):
            return "postcode"
        return None


def check_household_words(text: str, household: HouseholdWords) -> None:
    """Refuse free text that names the household (name, street or postcode). The message
    says what kind of word it was, never the word itself."""
    if kind := household.found_in(text):
        raise FieldProblem("identificatie_huishouden", soort=kind)
