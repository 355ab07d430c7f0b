"""Each bad answer in the casusformulier gives its field's message, and nothing is stored."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from commands.context import Services
from commands.melding import file_melding
from commands.replies import CommandRefused, FormInvalid
from commands.validation import find_identifier, parse_amount_cents, parse_date, passes_eleven_check
from messages.render import renderer
from store.models import Case, CasePersonalData
from tests.conftest import member
from tests.helpers import valid_answers

BAD_ANSWERS = [
    ("achterstand_bedrag", "12.5", "fout/bedrag_vorm", "1.234,56"),
    ("achterstand_bedrag", "-50", "fout/bedrag_negatief", "negatief"),
    ("achterstand_bedrag", "250.000", "fout/bedrag_te_groot", "hoger dan"),
    ("achterstand_bedrag", "9" * 5000, "fout/bedrag_te_lang", "te lang voor een bedrag"),
    ("achterstand_maanden", "drie", "fout/getal_vorm", "heel getal"),
    ("achterstand_maanden", "9" * 30, "fout/getal_te_lang", "veel te groot"),
    ("minderjarige_kinderen", "40", "fout/getal_te_groot", "hoger dan 20"),
    ("zitting", "31-02-2027", "fout/datum_bestaat_niet", "bestaat niet"),
    ("zitting", "morgen", "fout/datum_vorm", "dd-mm-jjjj"),
    ("zitting", "3" * 5000, "fout/datum_vorm", "dd-mm-jjjj"),
    ("zitting", "01-11-2026", "fout/datum_in_verleden", "verleden"),
    ("ontruiming", "10-12-2026", "fout/datum_volgorde", "vóór"),
    ("dagvaarding", "01-01-2040", "fout/datum_buiten_bereik", "vijf jaar"),
    ("voortraject", "Zie BSN 111222333 voor het dossier.", "fout/identificatie_bsn", "BSN mag hier niet"),
    ("voortraject", "Zie BSN 1112.22.333 voor het dossier.", "fout/identificatie_bsn", "BSN mag hier niet"),
    ("onvoldoende", "Betaalt niet, rekening NL91 ABNA 0417 1643 00.", "fout/identificatie_iban", "IBAN"),
    ("onvoldoende", "Huurder bereikbaar op 06-12345678 overdag.", "fout/identificatie_telefoon", "telefoonnummer"),
    ("voortraject", "Mail gestuurd naar huurder@example.nl zonder reactie.", "fout/identificatie_email", "e-mailadres"),
    ("voortraject", "Huurder is geboren 03-04-1980 en woont alleen.", "fout/identificatie_geboortedatum", "geboortedatum"),
    ("voortraject", "Huisbezoek gedaan op 6511 AB, niemand thuis.", "fout/identificatie_postcode", "Adresgegevens"),
    ("onvoldoende", "Bel 06-12345678 of stort op NL91ABNA0417164300.", "fout/identificatie_meerdere",
     "een telefoonnummer en een rekeningnummer (IBAN)"),
    ("adres", "Verzonnenstraat 12, 6511 AB", "fout/identificatie_postcode", "apart in bij 'Postcode'"),
    ("voortraject", "kort", "fout/tekst_te_kort", "minstens 10"),
    ("voortraject", "x" * 2001, "fout/tekst_te_lang", "hoogstens 2000"),
    ("huurder_geinformeerd", "nee", "fout/huurder_niet_geinformeerd", "eerst weten"),
    ("huurder_geinformeerd", "misschien", "fout/ja_of_nee", "ja of nee"),
    ("postcode", "651 AB", "fout/postcode_vorm", "6511 AB"),
    ("wijk", "Atlantis", "fout/keuze_onbekend", "kies een van"),
    ("huishouden", [], "fout/kies_minstens_een", "minstens één"),
    ("huurder_naam", "", "fout/verplicht", "verplicht"),
    ("minderjarige_kinderen", "0", "fout/gezin_zonder_kinderen", "0 kinderen"),
]


@pytest.mark.parametrize(("field", "value", "template", "words"), BAD_ANSWERS,
                         ids=[f"{f}-{t.split('/')[1]}" for f, _, t, _ in BAD_ANSWERS])
async def test_bad_answer_is_refused_with_its_message(
    services: Services, field: str, value: object, template: str, words: str
) -> None:
    with pytest.raises(FormInvalid) as caught:
        await file_melding(services, member(services.org, "anna"), valid_answers(**{field: value}))
    assert template == caught.value.errors[field].template
    text = renderer("plain").render(caught.value.errors[field])
    assert words in text
    assert "111222333" not in text and "ABNA" not in text and "06-12345678" not in text
    assert "99999" not in text and "33333" not in text
    if "identificatie" in template:
        assert "6511" not in text
    async with services.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == 0
        assert await session.scalar(select(func.count()).select_from(CasePersonalData)) == 0


async def test_only_melders_file_and_for_their_own_corporation(services: Services) -> None:
    with pytest.raises(CommandRefused) as caught:
        await file_melding(services, member(services.org, "dirk"), valid_answers())
    text = renderer("plain").render(caught.value.message)
    assert "melder" in text and "Joost van Dam" in text


async def test_ambiguous_wijk_needs_a_regieteam_choice(services: Services) -> None:
    anna = member(services.org, "anna")
    with pytest.raises(FormInvalid) as caught:
        await file_melding(services, anna, valid_answers(wijk="Centrum"))
    assert set(caught.value.errors) == {"regieteam"}
    result = await file_melding(services, anna, valid_answers(wijk="Centrum", regieteam="west"))
    assert result.outgoing[0].to.id == "west"


def test_dutch_notation() -> None:
    assert parse_amount_cents("1.234,56") == 123456
    assert parse_amount_cents("€ 850") == 85000
    assert parse_amount_cents("850") == 85000
    assert parse_amount_cents("€ 850,-") == 85000
    assert parse_date("03-12-2026") == date(2026, 12, 3)
    assert parse_date("3 december 2026") == date(2026, 12, 3)
    assert parse_date("3 dec. 2026") == date(2026, 12, 3)


def test_eleven_check() -> None:
    assert passes_eleven_check("111222333")
    assert passes_eleven_check("12345672")  # eight digits: a leading zero is added
    assert not passes_eleven_check("111222334")
    assert not passes_eleven_check("000000000")  # sum zero is not a BSN
    today = date(2026, 11, 24)
    assert find_identifier("dossier 111-222-333", today) == "bsn"
    assert find_identifier("zitting op 03-12-2026, huur € 850", today) is None
    assert find_identifier("Verzonnenstraat 12, 6511 AB", today) == "postcode"
