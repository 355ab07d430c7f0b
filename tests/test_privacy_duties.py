"""The AVG duties end to end on SQLite and PostgreSQL: inzage, correction, erasure and
retention. After erasure the household's name and free text are nowhere in the database (file
bytes, dump, or any decrypted value) and the evaluation figures are unchanged."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from commands import agenda, besluit, casemanager, privacy, rapport, sluiten, stemmen, terugkoppeling
from commands.context import Services
from commands.replies import CommandRefused, FormInvalid
from messages.files import attachments
from messages.inzage import inzage_html
from messages.render import renderer
from store.crypto import PersonalDataCipher
from store.models import (
    Base,
    Case,
    CasePersonalData,
    Decision,
    Event,
    Feedback,
    FormDraft,
    Meeting,
    NazorgCheck,
    Vote,
)
from store.sensitive import FREE_TEXT, NOT_FREE_TEXT, encrypted_columns, is_encrypted, raw_column
from tests.conftest import Clock, Database, member
from tests.helpers import file

NAME = "Zwaantje Kwispelstaart"
ADDRESS = "Ooievaarsnest 77"
POSTCODE = "6543 XY"
MARK = "Vlinderbosch"  # a distinctive word in every free text
OPERATOR = privacy.Operator(door="cli", user="beheer")


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in Amsterdam winter time (UTC+1), as UTC."""
    return datetime(year, month, day, hour - 1, minute, tzinfo=UTC)


async def closed_case(services: Services, clock: Clock) -> str:
    """A case through the whole process with the marker in every free text, closed 1 Feb 2027."""
    org = services.org
    clock.set(at(2026, 11, 19, 10))
    ref = (await file(services, "anna", huurder_naam=NAME, adres=ADDRESS, postcode=POSTCODE,
                      voortraject=f"Twee huisbezoeken in {MARK}, regeling aangeboden.",
                      onvoldoende=f"Regeling niet nagekomen, zegt {MARK}.",
                      contactpersoon=f"Anna {MARK}")).value
    carla, dirk, eva = (member(org, m) for m in ("carla", "dirk", "eva"))
    await agenda.post_agenda(services, carla, "oost")
    for voter in (carla, dirk, eva):
        await stemmen.cast_vote(services, voter, ref, "q1", "ja")
        await stemmen.cast_vote(services, voter, ref, "q2", steps=["huisbezoek"],
                                steps_text=f"Langs bij {MARK}")
        await stemmen.cast_vote(services, voter, ref, "q3", "nee")
    clock.set(at(2026, 11, 24, 10, 30))
    await besluit.record_decision(services, carla, ref)
    await besluit.reopen_decision(services, carla, ref, f"Nieuwe feiten over {MARK}")
    await besluit.record_decision(services, carla, ref, q3="ja", reason=f"Zorg om {MARK}")
    await besluit.publish_besluitenlijst(services, carla, "oost")
    await casemanager.appoint(services, carla, ref, "dirk", "24-02-2027", 4)
    clock.set(at(2026, 12, 22, 9))
    await terugkoppeling.give_feedback(services, dirk, ref, f"Huur betaald door {MARK}.",
                                       {"lopende_huur_betaald": "voldaan"})
    async with services.transaction() as session:  # a conversation left open on Telegram
        session.add(FormDraft(key="telegram:gesprek:5004", updated_at=services.now(),
                              data=services.cipher.encrypt_json({"referentie": ref, "tekst": MARK})))
        session.add(FormDraft(key="telegram:melding:5001", updated_at=services.now(),
                              data=services.cipher.encrypt_json({"huurder_naam": NAME})))
        session.add(FormDraft(key="telegram:melding:5099", updated_at=services.now(),
                              data=services.cipher.encrypt_json({"huurder_naam": "Iemand Anders"})))
    clock.set(at(2027, 2, 1, 9))
    await sluiten.close_case(services, carla, ref, "blijft_betalingsregeling",
                             f"Regeling loopt, {MARK} lost af.")
    return str(ref)


async def figures(services: Services) -> tuple[Any, bytes]:
    result = await rapport.rapport(services, member(services.org, "joost"), "01-11-2026", "31-03-2027",
                                   export=True)
    value = dict(result.value)
    return value, (await attachments(result.files))[1].content


async def decrypted_values(services: Services) -> list[str]:
    """Every encrypted value in the database, decrypted."""
    found = []
    async with services.transaction() as session:
        for entry in encrypted_columns():
            for name in entry.columns:
                column = entry.table.c[name]
                for token in (await session.scalars(select(raw_column(column)))).all():
                    if token:
                        found.append(services.cipher.decrypt(token))
    return found


async def database_bytes(services: Services, database: Database) -> bytes:
    """The database as stored: the SQLite files, or a PostgreSQL dump (or, without pg_dump,
    every value of every table)."""
    if database.kind == "sqlite":
        path = Path(str(make_url(database.url).database))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    if shutil.which("pg_dump"):
        url = make_url(database.url).set(drivername="postgresql").render_as_string(hide_password=False)
        dump = await asyncio.create_subprocess_exec("pg_dump", "--data-only", url,
                                                    stdout=asyncio.subprocess.PIPE)
        out, _ = await dump.communicate()
        assert dump.returncode == 0
        return out
    chunks = []
    async with services.transaction() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                chunks.append(repr(tuple(row)).encode())
    return b"\n".join(chunks)


def test_every_text_column_is_classified() -> None:
    free = {f"{entry.table.name}.{name}" for entry in FREE_TEXT for name in entry.columns}
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            name = f"{table.name}.{column.name}"
            if is_encrypted(column) or column.type.python_type is str:
                assert name in free or name in NOT_FREE_TEXT, f"{name}: vrije tekst of niet?"


async def test_inzage_has_everything_and_is_recorded(services: Services, clock: Clock,
                                                     tmp_path: Path) -> None:
    ref = await closed_case(services, clock)
    carla = member(services.org, "carla")
    from commands.audit import record_delivered
    from commands.gegevens import show_personal_data
    shown = await show_personal_data(services, carla, ref)
    await record_delivered(services, shown.replies[0])  # as an adapter does, once delivered

    found = await privacy.inzage(services, ref)
    document = found.document()
    sections = document["onderdelen"]
    assert sections["persoonsgegevens"] == [{"naam": NAME, "adres": ADDRESS, "postcode": POSTCODE}]
    assert sections["casus"][0]["voortraject"].endswith("regeling aangeboden.")
    assert sections["huishouden"][0]["category"] == "gezin_met_minderjarige_kinderen"
    assert len(sections["stemmen"]) == 9 and len(sections["besluiten"]) == 2
    assert any(MARK in (row["steps_text"] or "") for row in sections["stemmen"])
    assert [row["kind"] for row in sections["inzages"]] == ["personal_data_viewed"]
    assert "case_closed" in [row["kind"] for row in sections["gebeurtenissen"]]
    assert MARK in sections["terugkoppelingen"][0]["text"]
    assert document["deelnemers"]["carla"]["naam"] == "Carla Smit"
    json.dumps(document)  # machine-readable as it is

    html = inzage_html(found)
    assert NAME in html and "Stemmen van de leden" in html and f"Inzage {ref}" in html

    await privacy.record_inzage(services, ref, OPERATOR, ["inzage.html", "inzage.json"])
    async with services.transaction() as session:
        event = await session.scalar(select(Event).where(Event.kind == "inzage_exported"))
    assert event is not None and event.data["door"] == "cli" and event.data["gebruiker"] == "beheer"


async def test_correction_of_personal_fields(services: Services, clock: Clock) -> None:
    ref = await closed_case(services, clock)
    with pytest.raises(FormInvalid) as wrong:
        await privacy.correct_personal_data(services, ref, OPERATOR, {"postcode": "65432"},
                                            "verzoek betrokkene")
    text = renderer("plain").render(wrong.value.errors["postcode"])
    assert "6511 AB" in text
    with pytest.raises(CommandRefused) as no_reason:
        await privacy.correct_personal_data(services, ref, OPERATOR, {"naam": "Zwaantje Kwispel"}, "")
    assert no_reason.value.message.template == "privacy/reden_nodig"
    with pytest.raises(CommandRefused) as named:
        await privacy.correct_personal_data(services, ref, OPERATOR, {"naam": "Zwaantje Kwispel"},
                                            f"verzoek van {NAME}")
    assert named.value.message.template == "privacy/reden_noemt_huishouden"

    changed = await privacy.correct_personal_data(
        services, ref, OPERATOR, {"naam": "Zwaantje Kwispel", "postcode": "6543xy", "adres": None},
        "verzoek betrokkene van 2 februari")
    assert changed == ["naam"]  # the postcode was already so, only written differently
    async with services.transaction() as session:
        row = await session.scalar(select(CasePersonalData))
        assert row is not None
        assert privacy.household_fields(services.cipher, row)["naam"] == "Zwaantje Kwispel"
        event = await session.scalar(select(Event).where(Event.kind == "personal_data_corrected"))
    assert event is not None and event.data["velden"] == ["naam"]
    assert "Zwaantje" not in json.dumps(event.data)
    assert event.note is not None and services.cipher.decrypt(event.note).startswith("verzoek")


async def test_erasure_leaves_no_trace_and_keeps_the_figures(services: Services, clock: Clock,
                                                             database: Database) -> None:
    ref = await closed_case(services, clock)
    other = (await file(services, "anna", huurder_naam="Iemand Anders", dagvaarding="", zitting="")).value
    before = await figures(services)
    with pytest.raises(CommandRefused) as open_case:
        await privacy.forget_household(services, other, OPERATOR, "verzoek betrokkene")
    assert open_case.value.message.template == "privacy/eerst_sluiten"
    assert NAME in await decrypted_values(services)

    assert await privacy.forget_household(services, ref, OPERATOR, "verzoek betrokkene per brief") == ref

    assert await figures(services) == before
    stored = await database_bytes(services, database)
    for secret in (NAME, "Kwispelstaart", ADDRESS, MARK):
        assert secret.encode() not in stored, secret
    values = "\n".join(await decrypted_values(services))
    assert NAME not in values and MARK not in values
    assert "Iemand Anders" in values  # the other household and its draft are untouched
    async with services.transaction() as session:
        case = await session.scalar(select(Case).where(Case.reference == ref))
        assert case is not None and case.erased_at is not None
        assert (case.outcome, case.phase, case.minor_children) == ("blijft_betalingsregeling", "gesloten", 2)
        assert services.cipher.decrypt(case.voortraject) == "[gewist]" and case.outcome_reason is None
        assert await session.scalar(select(func.count()).select_from(Vote)) == 9
        assert await session.scalar(select(func.count()).select_from(Decision)) == 2
        texts = [services.cipher.decrypt_optional(t)
                 for t in (await session.scalars(select(Feedback.text))).all()]
        assert texts in ([None], ["[gewist]"])
        assert await session.scalar(select(func.count()).select_from(FormDraft)) == 1
        meeting = await session.scalar(select(Meeting).where(Meeting.besluitenlijst.is_not(None)))
        assert meeting is not None and MARK not in json.dumps(meeting.besluitenlijst)
        event = await session.scalar(select(Event).where(Event.kind == "case_erased"))
        assert event is not None and event.data["grond"] == "verzoek"

    found = await privacy.inzage(services, ref)
    assert found.document()["onderdelen"]["persoonsgegevens"] == []
    with pytest.raises(CommandRefused) as again:
        await privacy.forget_household(services, ref, OPERATOR, "verzoek betrokkene")
    assert again.value.message.template == "privacy/al_gewist"
    from commands.gegevens import show_personal_data
    with pytest.raises(CommandRefused) as view:
        await show_personal_data(services, member(services.org, "carla"), ref)
    assert view.value.message.template == "privacy/al_gewist"


async def test_retention_erases_after_the_period(services: Services, clock: Clock,
                                                 database: Database) -> None:
    ref = await closed_case(services, clock)  # closed 1 Feb 2027; nazorg 3, 6, 12 months
    withdrawn = (await file(services, "anna", huurder_naam="Iemand Anders", dagvaarding="", zitting="")).value
    await sluiten.close_case(services, member(services.org, "carla"), withdrawn, "ingetrokken",
                             "Melding ingetrokken door de corporatie.")
    async with services.transaction() as session:
        last = await session.scalar(select(func.max(NazorgCheck.due_date)))
    assert last is not None and (last.year, last.month) == (2028, 2)
    before = await figures(services)

    clock.set(at(2029, 2, 1, 12))  # 24 months after closing: only the withdrawn melding
    assert [d.reference for d in await privacy.due_for_erasure(services)] == [withdrawn]
    clock.set(at(2030, 1, 31, 12))
    assert [d.reference for d in await privacy.due_for_erasure(services)] == [withdrawn]
    clock.set(at(2030, 2, 1, 12))  # 24 months after the last nazorg check
    due = await privacy.due_for_erasure(services)
    assert [d.reference for d in due] == [ref, withdrawn]
    line = renderer("plain").text("privacy/bewaartermijn_regel", referentie=due[0].reference,
                                  gesloten=due[0].closed_on, nazorg=due[0].last_nazorg,
                                  wissen=due[0].erase_on)
    assert line.startswith(f"{ref} gesloten ma 1 feb 2027 · laatste nazorg")

    assert await privacy.apply_retention(services) == [ref, withdrawn]
    assert await privacy.due_for_erasure(services) == []
    assert await privacy.apply_retention(services) == []
    assert await figures(services) == before
    stored = await database_bytes(services, database)
    assert NAME.encode() not in stored and MARK.encode() not in stored
    async with services.transaction() as session:
        grounds = (await session.scalars(select(Event.data).where(Event.kind == "case_erased"))).all()
    assert [g["grond"] for g in grounds] == ["bewaartermijn", "bewaartermijn"]


async def test_retention_period_comes_from_the_organisation_file(services: Services, clock: Clock) -> None:
    ref = (await file(services, "anna")).value
    await sluiten.close_case(services, member(services.org, "carla"), ref, "ingetrokken",
                             "Melding ingetrokken door de corporatie.")
    services.org = services.org.model_copy(update={"rules": services.org.rules.model_copy(
        update={"retention_months": 6})})
    clock.advance(days=190)
    assert [d.reference for d in await privacy.due_for_erasure(services)] == [ref]


async def test_failed_decryption_is_a_message_and_records_no_view(services: Services) -> None:
    ref = (await file(services, "anna", huurder_naam=NAME)).value
    from cryptography.fernet import Fernet

    from commands.gegevens import show_personal_data
    from commands.status import case_timeline

    services.cipher = PersonalDataCipher(Fernet.generate_key().decode())
    with pytest.raises(CommandRefused) as refused:
        await show_personal_data(services, member(services.org, "anna"), ref)
    assert refused.value.message.template == "privacy/ontsleutelen_mislukt"
    assert "REGIEBOT_SECRET_KEY" in renderer("plain").render(refused.value.message)
    timeline = await case_timeline(services, member(services.org, "joost"), ref)
    unreadable = timeline.replies[-1]
    assert unreadable.template == "privacy/ontsleutelen_mislukt" and not unreadable.personal
    async with services.transaction() as session:
        views = await session.scalar(select(func.count()).select_from(Event).where(
            Event.kind == "personal_data_viewed"))
        assert views == 0


async def test_the_daily_job_applies_retention(services: Services, clock: Clock,
                                               database: Database) -> None:
    from bot.delivery import Deliveries
    from bot.scheduler import BotScheduler
    from bot.settings import Settings

    ref = (await file(services, "anna")).value
    await sluiten.close_case(services, member(services.org, "carla"), ref, "ingetrokken",
                             "Melding ingetrokken door de corporatie.")
    clock.advance(days=2 * 366)
    settings = Settings(_env_file=None, REGIEBOT_DATABASE_URL=database.url)
    await BotScheduler(services, Deliveries(), settings).retention()
    async with services.transaction() as session:
        case = await session.scalar(select(Case).where(Case.reference == ref))
        assert case is not None and case.erased_at is not None
        assert await session.scalar(select(func.count()).select_from(CasePersonalData)) == 0
