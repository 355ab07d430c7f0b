"""The identifier corpus: what free text may not hold, and ordinary case notes that must pass.

A refused value is never part of the message, the problem or a log line.
"""

from __future__ import annotations

import logging
import random
from datetime import date

import pytest
from stdnum.nl import bsn

from commands import reminders
from commands.context import Services
from commands.replies import CommandRefused, Message
from commands.validation import (
    IDENTIFIER_KINDS,
    FieldProblem,
    check_free_text,
    find_identifier,
    find_identifiers,
    parse_amount_cents,
    parse_date,
    parse_postcode,
    parse_record_id,
    parse_whole_number,
)
from messages.render import renderer
from tests.conftest import member

TODAY = date(2026, 11, 24)

REFUSED = [
    # phone numbers, Dutch and foreign
    ("Bereikbaar op (024) 345 67 89 na vijven.", "telefoon", "345 67 89"),
    ("Bel 06 - 1234 5678 voor een afspraak.", "telefoon", "1234 5678"),
    ("Nummer +31 6 12345678 werkt.", "telefoon", "12345678"),
    ("Nummer +31 (0)6 12345678 werkt.", "telefoon", "12345678"),
    ("Via 0031 24 345 67 89 gebeld.", "telefoon", "345 67 89"),
    ("Huurder bereikbaar op 06-12345678 overdag.", "telefoon", "12345678"),
    ("Huurder bereikbaar op 0612345678 overdag.", "telefoon", "0612345678"),
    ("Huurder bereikbaar op 06 12 34 56 78 overdag.", "telefoon", "34 56 78"),
    ("Vaste lijn 024-3456789.", "telefoon", "3456789"),
    ("Zijn nummer is 06-00000000.", "telefoon", "00000000"),
    ("Zoon in Londen: +44 20 7946 0958.", "telefoon", "7946 0958"),
    ("Familie in Brussel: +32 2 123 45 67.", "telefoon", "123 45 67"),
    ("Familie in België: +32 470 12 34 56.", "telefoon", "12 34 56"),
    ("Familie in België: 0032 470 12 34 56.", "telefoon", "12 34 56"),
    ("Broer in Berlijn: +49 30 12345678.", "telefoon", "12345678"),
    # e-mail addresses, also written around the @
    ("Mail gestuurd naar huurder@example.nl zonder reactie.", "email", "huurder@"),
    ("Mail gestuurd naar naam(at)example.nl zonder reactie.", "email", "naam(at)"),
    ("Mail gestuurd naar naam (at) example (punt) nl.", "email", "(at) example"),
    ("Mail gestuurd naar naam [at] example [dot] nl zonder reactie.", "email", "[at] example"),
    ("Mail gestuurd naar naam at example.nl zonder reactie.", "email", "at example.nl"),
    ("Mail gestuurd naar naam apenstaartje example punt nl.", "email", "apenstaartje example"),
    ("Mail gestuurd naar naam @ example.nl zonder reactie.", "email", "@ example.nl"),
    # IBAN, with spaces and dashes, never swallowing the next word
    ("IBAN NL91ABNA0417164300 van huurder", "iban", "0417164300"),
    ("Betaalt niet, rekening NL91 ABNA 0417 1643 00.", "iban", "0417 1643"),
    ("Betaalt niet, rekening NL91-ABNA-0417-1643-00.", "iban", "0417-1643"),
    ("Rekening nl91abna0417164300 is geblokkeerd.", "iban", "0417164300"),
    ("Belgische rekening BE68 5390 0754 7034.", "iban", "0754 7034"),
    ("Duitse rekening DE89 3704 0044 0532 0130 00.", "iban", "0532 0130"),
    # BSN: passes the eleven-test, in the ways it is written
    ("Dossier 100000009 bij de gemeente.", "bsn", "100000009"),
    ("Zie BSN 111222333 voor het dossier.", "bsn", "111222333"),
    ("Zie 111-222-333 voor het dossier.", "bsn", "222-333"),
    ("Zie 111.222.333 voor het dossier.", "bsn", "222.333"),
    ("Zie 111 222 333 voor het dossier.", "bsn", "222 333"),
    ("Zie BSN 1112.22.333 voor het dossier.", "bsn", "22.333"),
    ("Oud sofinummer 12345672.", "bsn", "12345672"),
    ("BSN: 123456788 (volgens de huurder).", "bsn", "123456788"),  # fails the test, still a BSN
    ("burgerservicenummer 1234 56 788 doorgegeven", "bsn", "56 788"),
    # birth dates
    ("Huurder is geboren 03-04-1980 en woont alleen.", "geboortedatum", "1980"),
    ("Huurder is geboren op 3 april 1980.", "geboortedatum", "1980"),
    ("Geboortedatum 1980-04-03.", "geboortedatum", "1980"),
    ("Dochter geb. 12-05-2019 woont thuis.", "geboortedatum", "2019"),
    ("Sinds 01-01-2001 huurder van deze woning.", "geboortedatum", "2001"),
    # Dutch postcodes
    ("Woont op Verzonnenstraat 12, 6511 AB Nijmegen.", "postcode", "6511"),
    ("Postcode 6511AB klopt.", "postcode", "6511"),
    ("Postcode 6511 ab klopt.", "postcode", "6511"),
    ("Postcode 6511ab klopt.", "postcode", "6511"),
    ("Verhuisd naar 1000 EN, verder onbekend.", "postcode", "1000"),
]

ACCEPTED = [
    # amounts
    "Achterstand € 1.234,56 over 12 maanden.",
    "Achterstand 850 euro, € 850,- per maand.",
    "Regeling van € 150 per maand vanaf 01-01-2027, totaal 2.450,00.",
    "Het bedrag van € 100.000,00 is de vordering inclusief kosten.",
    "De kosten waren 1.234.567 euro voor het hele complex.",
    # dates and times of the procedure
    "Zitting 03-12-2026 om 10:30, vonnis verwacht 17-12-2026.",
    "Dagvaarding 3 december 2026, zitting wo 16 dec 2026 om 10.30 uur.",
    "Ontruiming gepland op 2027-01-15.",
    # the bot's own references
    "Eerdere melding RT-2025-0042 is gesloten.",
    "Zie RT-2026-0003 en RT-2026-0040 (ook rt-2026-0909).",
    # case and invoice numbers
    "Zaaknummer C/05/123456 HA ZA 26-123 bij de kantonrechter.",
    "Factuur F2026123456 en 2026/0042 staan open.",
    "Factuur 2026-0003 staat open.",
    "Rolnummer 8765432 bij de rechtbank.",
    # service numbers
    "De huurder kan gratis bellen met 0800 1234.",
    "Het Juridisch Loket: 0800-8020.",
    "Betaalde lijn 0900 1234567 en 0906 123456 en 0909 1234567.",
    "De gemeente is bereikbaar op 14 024.",
    "De gemeente is bereikbaar op 14024.",
    # ordinary words after numbers, and other harmless text
    "In 2026 en 2027 komt er een regeling.",
    "Sinds 2025 WW-uitkering, vanaf 2026 ZW aangevraagd.",
    "Woont 1500 km van familie.",
    "Hij at bij zijn zus en belde niet terug.",
    "Zie optie (a) hieronder. Het punt is dat zij niet betaalt.",
    "Overleg met <@U123ABC> en @anna, zie https://www.nijmegen.nl/regieteam.",
    "Huur 850 p/m sinds 2024, 3 kinderen van 4, 7 en 12 jaar.",
]


def _problem(text: str) -> FieldProblem:
    with pytest.raises(FieldProblem) as caught:
        check_free_text(text, TODAY, max_length=2000)
    return caught.value


@pytest.mark.parametrize(("text", "kind", "part"), REFUSED, ids=[t for t, _, _ in REFUSED])
def test_identifier_is_refused_with_its_own_explanation(text: str, kind: str, part: str) -> None:
    assert find_identifiers(text, TODAY) == [kind]
    problem = _problem(text)
    assert problem.template == f"identificatie_{kind}"
    shown = renderer("plain").render(Message(f"fout/{problem.template}", {"veld": "voortraject", **problem.data}))
    assert part not in shown
    assert part not in repr(problem) and part not in repr(problem.data)


@pytest.mark.parametrize("text", ACCEPTED)
def test_ordinary_case_notes_pass(text: str) -> None:
    assert find_identifiers(text, TODAY) == []
    assert check_free_text(text, TODAY, max_length=2000) == text


def test_every_reference_of_a_year_passes() -> None:
    refused = [n for n in range(1, 10_000)
               if find_identifier(f"Zie RT-2026-{n:04d} voor de vorige melding.", TODAY)]
    assert refused == []


def test_invoice_numbers_that_fail_the_eleven_test_pass() -> None:
    chance = random.Random(20261124)
    numbers: list[str] = []
    while len(numbers) < 300:
        digits = str(chance.randrange(10_000_000, 1_000_000_000))
        if not bsn.is_valid(digits):
            numbers.append(digits)
    grouped = [f"{n[:3]}.{n[3:6]}.{n[6:]}" for n in numbers if len(n) == 9][:50]
    for number in numbers + grouped:
        assert find_identifiers(f"Factuur {number} staat nog open.", TODAY) == [], number


def test_a_digit_run_does_not_cross_into_a_longer_number() -> None:
    # 111222333 passes the eleven-test, but here it is part of longer numbers
    for text in ("Kenmerk 1111222333 staat open.", "Kenmerk 111222333-4 staat open.",
                 "Kenmerk 2.111.222.333 staat open.", "Kenmerk 12 111 222 333 staat open."):
        assert "bsn" not in find_identifiers(text, TODAY), text


def test_a_birth_date_needs_a_birth_word_or_an_old_year() -> None:
    assert find_identifiers("Vonnis van 03-04-2024 is betekend.", TODAY) == []
    assert find_identifiers("Dochter geboren 03-04-2024.", TODAY) == ["geboortedatum"]


def test_two_kinds_are_named_together() -> None:
    text = "Bel 06-12345678 of maak over naar NL91ABNA0417164300."
    assert find_identifiers(text, TODAY) == ["telefoon", "iban"]
    problem = _problem(text)
    assert problem.template == "identificatie_meerdere"
    assert problem.data == {"soorten": ["telefoon", "iban"]}
    shown = renderer("plain").render(Message("fout/identificatie_meerdere", {"veld": "voortraject", **problem.data}))
    assert "een telefoonnummer en een rekeningnummer (IBAN)" in shown
    assert "12345678" not in shown and "ABNA" not in shown


def test_three_kinds_in_the_order_they_appear() -> None:
    text = "Mail naam@example.nl, BSN 111222333, woont in 6511 AB."
    assert find_identifiers(text, TODAY) == ["email", "bsn", "postcode"]
    problem = _problem(text)
    shown = renderer("plain").render(Message("fout/identificatie_meerdere", {"veld": "uitleg", **problem.data}))
    assert "een e-mailadres, een nummer dat een BSN kan zijn en een postcode" in shown


def test_every_kind_has_its_message_and_its_name_in_a_list() -> None:
    assert {kind for _, kind, _ in REFUSED} == set(IDENTIFIER_KINDS)
    plain = renderer("plain")
    for kind in IDENTIFIER_KINDS:
        single = plain.render(Message(f"fout/identificatie_{kind}", {"veld": "voortraject"}))
        assert single.startswith("Wat is al geprobeerd (voortraject)?: hier staat")
        assert plain.label(f"identificatie.{kind}").startswith("een ")


def test_postcode_in_the_address_field_points_to_the_postcode_field() -> None:
    shown = renderer("plain").render(Message("fout/identificatie_postcode", {"veld": "adres"}))
    assert "Postcode" in shown and "apart" in shown


def test_a_refused_value_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for text, _, part in REFUSED:
        with pytest.raises(FieldProblem):
            check_free_text(text, TODAY, max_length=2000)
        assert part not in caplog.text


def test_long_hostile_text_is_checked_quickly_enough() -> None:
    # within the 2000 characters of the longest field; this must not hang the bot
    for text in ("a" * 1999 + "@", "a." * 1000, "NL91 " * 400, "1234567890 " * 181, "1-" * 1000):
        assert find_identifiers(text, TODAY) == []


# --- bounded input -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1" * 5000, "€ " + "9" * 30, "9" * 25, "1.000" * 1000])
def test_a_huge_amount_is_a_clear_problem(text: str) -> None:
    with pytest.raises(FieldProblem) as caught:
        parse_amount_cents(text)
    assert caught.value.template == "bedrag_te_lang"
    shown = renderer("plain").render(Message("fout/bedrag_te_lang", {"veld": "achterstand_bedrag"}))
    assert "te lang" in shown and "1.234,56" in shown


def test_an_amount_of_normal_length_still_parses() -> None:
    assert parse_amount_cents("€ 100.000.000,00") == 100_000_000_00
    assert parse_amount_cents("  1.234,56  ") == 123456


def test_a_huge_number_is_a_clear_problem() -> None:
    for text in ("9" * 30, "9" * 5000, "1234567"):
        with pytest.raises(FieldProblem) as caught:
            parse_whole_number(text)
        assert caught.value.template == "getal_te_lang"
    with pytest.raises(FieldProblem) as caught:
        parse_whole_number("21", maximum=20)
    assert caught.value.template == "getal_te_groot" and caught.value.data == {"maximum": 20}
    assert parse_whole_number(" 20 ", maximum=20) == 20
    assert parse_whole_number("999999") == 999_999


@pytest.mark.parametrize("value", ["9" * 30, "0", "-1", "abc", "", "4.2", "٣", "2147483648", 0, -5,
                                   2**31, 10**30, True])
def test_a_record_id_out_of_range_is_refused(value: str | int) -> None:
    with pytest.raises(FieldProblem) as caught:
        parse_record_id(value)
    assert caught.value.template == "id_vorm"


def test_a_record_id_in_range_is_taken() -> None:
    assert parse_record_id("42") == 42
    assert parse_record_id(" 7 ") == 7
    assert parse_record_id(2**31 - 1) == 2**31 - 1
    assert renderer("plain").render(Message("fout/id_vorm", {})).startswith("Dit nummer bestaat niet")


@pytest.mark.parametrize("text", ["1" * 5000, "3 december " + "2" * 100, " " * 10_000 + "3-12-2026x"])
def test_a_huge_date_is_a_clear_problem(text: str) -> None:
    with pytest.raises(FieldProblem) as caught:
        parse_date(text)
    assert caught.value.template == "datum_vorm"


def test_a_date_of_normal_length_still_parses() -> None:
    assert parse_date("  woensdag 30 september 2026 ") == date(2026, 9, 30)


def test_a_huge_postcode_is_a_clear_problem() -> None:
    with pytest.raises(FieldProblem) as caught:
        parse_postcode("6511 AB" * 1000)
    assert caught.value.template == "postcode_vorm"
    assert parse_postcode("6511ab") == "6511 AB"


@pytest.mark.parametrize("value", ["9" * 30, "9" * 5000, "0", "-3", "abc"])
async def test_a_huge_reminder_id_or_nazorg_value_from_a_button_is_refused(
    services: Services, value: str
) -> None:
    anna = member(services.org, "anna")
    for action in (reminders.acknowledge, reminders.mark_done, reminders.ask_postpone):
        with pytest.raises(CommandRefused) as caught:
            await action(services, anna, value)
        assert caught.value.message.template == "herinnering/niet_gevonden"
    with pytest.raises(CommandRefused) as caught:
        await reminders.nazorg_button(services, anna, f"RT-2026-0001:{value}:ja:ja")
    assert caught.value.message.template == "herinnering/niet_gevonden"
