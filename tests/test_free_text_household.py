"""The household's own words in free text: name parts of three letters or more (not the
tussenvoegsels), the street and the postcode; whole words, capitals and accents ignored."""

from __future__ import annotations

from datetime import date

import pytest

from commands.melding import check_form
from commands.organisation import Organisation
from commands.replies import FormInvalid
from commands.validation import FieldProblem, HouseholdWords, check_household_words
from messages.render import renderer
from tests.conftest import member
from tests.helpers import valid_answers

HOUSEHOLD = HouseholdWords.of("Jan van der Berg-Özdemir", "Sint Annastraat 12a, Nijmegen", "6511 ab")


@pytest.mark.parametrize(("text", "kind"), [
    ("Jan kwam niet opdagen", "naam"),
    ("mevrouw ozdemir belde terug", "naam"),
    ("familie BERG", "naam"),
    ("huisbezoek aan de sint  annastraat", "adres"),
    ("Sint-Annastraat was afgesloten", "adres"),
    ("postcode 6511AB", "postcode"),
    ("in 6511-ab gezien", "postcode"),
])
def test_refused(text: str, kind: str) -> None:
    with pytest.raises(FieldProblem) as caught:
        check_household_words(text, HOUSEHOLD)
    assert caught.value.template == "identificatie_huishouden"
    assert caught.value.data == {"soort": kind}


@pytest.mark.parametrize("text", [
    "In januari een regeling van de corporatie",  # 'van', 'der': tussenvoegsels
    "De bergen werk zijn groot",                   # not the whole word
    "Nijmegen, wijk Oost",                          # the city is not the street
    "Zitting op 6511 dagen",                        # a number alone is not the postcode
    "Afspraak om 12 uur",
])
def test_accepted(text: str) -> None:
    check_household_words(text, HOUSEHOLD)


def test_the_message_says_why_and_not_the_word() -> None:
    with pytest.raises(FieldProblem) as caught:
        check_household_words("Jan belde", HOUSEHOLD)
    text = renderer("plain").text(f"fout/{caught.value.template}", veld="voortraject",
                                  **caught.value.data)
    assert "de naam van het huishouden" in text and "Jan" not in text


def test_the_melding_form_checks_against_the_name_typed_in_it(org: Organisation) -> None:
    answers = valid_answers(voortraject="Gesprek met Jan over een regeling gehad.",
                            onvoldoende="Bij Verzonnenstraat 12 deed niemand open.",
                            huurder_naam="Jan Fictief")
    with pytest.raises(FormInvalid) as caught:
        check_form(org, member(org, "anna"), answers, date(2026, 11, 24))
    assert set(caught.value.errors) == {"voortraject", "onvoldoende"}
    assert caught.value.errors["onvoldoende"].data["soort"] == "adres"
