"""Building blocks for tests: a valid casusformulier and quick filing."""

from __future__ import annotations

from typing import Any

from commands.context import Services
from commands.melding import file_melding
from commands.replies import Result


def valid_answers(**changes: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "wijk": "Oost",
        "reden": "huurachterstand",
        "huishouden": ["gezin_met_minderjarige_kinderen"],
        "minderjarige_kinderen": "2",
        "achterstand_bedrag": "1.234,56",
        "achterstand_maanden": "3",
        "dagvaarding": "01-12-2026",
        "zitting": "15 december 2026",
        "vonnis": "",
        "ontruiming": "",
        "voortraject": "Betalingsregeling aangeboden, twee keer huisbezoek, Buurtteam gevraagd.",
        "onvoldoende": "De regeling is niet nagekomen en de achterstand groeit.",
        "huurder_geinformeerd": "ja",
        "contactpersoon": "Anna de Vries",
        "huurder_naam": "Jan Fictief",
        "adres": "Verzonnenstraat 12",
        "postcode": "6511 AB",
    }
    answers.update(changes)
    return answers


async def file(services: Services, member_id: str = "anna", **changes: Any) -> Result:
    member = services.org.member(member_id)
    assert member is not None
    return await file_melding(services, member, valid_answers(**changes))
