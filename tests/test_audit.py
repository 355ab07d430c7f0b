"""The audit holds up: a view is recorded only when the data was decrypted and delivered, with
member, door, purpose and time; /als and --as only on the demo database or as beheerder; the
coordinator exports every privacy event as CSV, and the export is itself recorded."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from bot.console.chat import ConsoleChat, operating_system_user
from bot.console.courier import ConsoleCourier
from bot.delivery import Deliveries
from commands import audit, besluit, gegevens, sluiten, stemmen
from commands.agenda import post_agenda
from commands.context import Services
from commands.replies import CommandRefused
from commands.status import case_timeline
from store.crypto import PersonalDataCipher
from store.models import Event
from tests.conftest import EXAMPLE_ORG, member
from tests.helpers import file

TENANT = "Jan Fictief"  # the household name in tests.helpers.valid_answers


async def events_of(services: Services, kind: str) -> list[Event]:
    async with services.sessions() as session:
        return list((await session.scalars(
            select(Event).where(Event.kind == kind).order_by(Event.id))).all())


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def csv_files(folder: Path) -> list[Path]:
    return list(folder.glob("*.csv"))


class Console:
    """The console chat with scripted lines; what it printed is in `out`."""

    def __init__(self, services: Services, member_id: str, tmp_path: Path, *,
                 admin: bool = False, out: io.StringIO | None = None) -> None:
        self.out = out or io.StringIO()
        deliveries = Deliveries([ConsoleCourier(services, self.out)])
        self.chat = ConsoleChat(services, member(services.org, member_id), deliveries,
                                io.StringIO(), self.out, files_dir=tmp_path, admin=admin)

    async def type(self, line: str) -> str:
        start = self.out.tell()
        await self.chat.handle_line(line)
        return self.out.getvalue()[start:]


# --- recording a view ---------------------------------------------------------------------------


async def test_a_view_is_recorded_only_after_delivery(services: Services) -> None:
    ref = (await file(services)).value
    asked = services.asked("slack", "/regie gegevens")
    result = await gegevens.show_personal_data(asked, member(services.org, "anna"), ref)
    message = result.replies[0]
    assert message.personal and message.view is not None
    assert await events_of(services, audit.VIEWED) == []  # decrypted, not yet delivered

    await audit.record_delivered(services, message)
    (view,) = await events_of(services, audit.VIEWED)
    assert view.actor_id == "anna" and services.local(view.at) == services.local(services.now())
    assert view.data == {"deur": "slack", "doel": "/regie gegevens", "wat": "naam_adres"}


async def test_a_failed_decryption_records_no_view(services: Services) -> None:
    ref = (await file(services)).value
    wrong_key = replace(services, cipher=PersonalDataCipher(Fernet.generate_key().decode()))
    chair = member(services.org, "carla")
    with pytest.raises(CommandRefused) as refused:
        await gegevens.show_personal_data(wrong_key.asked("console", "/gegevens"), chair, ref)
    assert refused.value.message.template == "privacy/ontsleutelen_mislukt"
    timeline = await case_timeline(wrong_key.asked("console", "/status"), chair, ref)
    assert [m.template for m in timeline.replies] == [  # the timeline, and why no details
        "status/tijdlijn", "privacy/ontsleutelen_mislukt"]
    assert not any(m.personal for m in timeline.replies)
    assert all(m.view is None for m in timeline.replies)
    assert await events_of(services, audit.VIEWED) == []


async def test_a_failed_console_delivery_records_no_view(services: Services, tmp_path: Path) -> None:
    class BrokenTerminal(io.StringIO):
        def write(self, text: str) -> int:
            if TENANT in text:
                raise BrokenPipeError("terminal is weg")
            return super().write(text)

    ref = (await file(services)).value
    console = Console(services, "anna", tmp_path, out=BrokenTerminal())
    with pytest.raises(BrokenPipeError):
        await console.type(f"/gegevens {ref}")
    assert await events_of(services, audit.VIEWED) == []


async def test_a_refusal_is_recorded_with_door_and_purpose(services: Services, tmp_path: Path) -> None:
    ref = (await file(services)).value
    text = await Console(services, "dirk", tmp_path).type(f"/gegevens {ref}")
    assert "niet zien" in text and TENANT not in text
    (refusal,) = await events_of(services, audit.REFUSED)
    assert refusal.actor_id == "dirk"
    assert refusal.data["deur"] == "console" and refusal.data["doel"] == "/gegevens"
    assert refusal.data["bediener"] == operating_system_user()


# --- the console: views, /als and /audit ------------------------------------------------------


async def test_console_views_appear_in_the_export_with_door_and_purpose(
    services: Services, tmp_path: Path
) -> None:
    ref = (await file(services)).value
    console = Console(services, "joost", tmp_path)
    assert TENANT in await console.type(f"/gegevens {ref}")
    assert TENANT in await console.type(f"/status {ref}")
    assert TENANT in await console.type(f"/knop toon_gegevens {ref}")
    text = await console.type(f"/audit {ref}")
    path = tmp_path / f"audit_{ref}.csv"
    assert str(path) in text and TENANT not in text

    rows = csv_rows(path.read_bytes())
    views = [r for r in rows if r["gebeurtenis"] == audit.VIEWED]
    assert [(r["deur"], r["doel"], r["lid"]) for r in views] == [
        ("console", "/gegevens", "joost"), ("console", "/status", "joost"),
        ("console", "knop toon_gegevens", "joost")]
    assert all(r["referentie"] == ref and r["bediener"] == operating_system_user() for r in views)
    assert all(r["wat"] == "naam_adres" and r["tijdstip"].startswith("2026-11-24T08:00")
               for r in views)
    assert TENANT not in path.read_text()
    (exported,) = await events_of(services, audit.EXPORTED)
    assert exported.actor_id == "joost" and exported.data["doel"] == "/audit"
    assert exported.data["regels"] == len(rows)


async def test_als_is_refused_on_a_database_that_is_not_the_demo(
    services: Services, tmp_path: Path
) -> None:
    await file(services)
    console = Console(services, "anna", tmp_path)
    text = await console.type("/als carla")
    assert "voorbeelddatabase" in text and "--beheerder" in text
    assert console.chat.member.id == "anna"
    assert await events_of(services, audit.ROLE_SWITCHED) == []


async def test_als_as_beheerder_names_the_console_and_the_os_user(
    services: Services, tmp_path: Path
) -> None:
    console = Console(services, "anna", tmp_path, admin=True)
    text = await console.type("/als carla")
    assert "Carla Smit" in text and operating_system_user() in text
    assert console.chat.member.id == "carla"
    (switch,) = await events_of(services, audit.ROLE_SWITCHED)
    assert switch.actor_id == "carla"
    assert switch.data == {"deur": "console", "doel": "/als", "bediener": operating_system_user(),
                           "van": "anna", "grond": "beheerder"}


async def test_als_works_on_the_demo_database_until_a_real_case_is_added(
    services: Services, tmp_path: Path
) -> None:
    from bot.demo import fill_demo

    await fill_demo(services)
    assert await audit.is_demo_database(services)
    console = Console(services, "anna", tmp_path)
    assert "Carla Smit" in await console.type("/als carla")
    (switch,) = await events_of(services, audit.ROLE_SWITCHED)
    assert switch.data["grond"] == "demo"

    await file(services)  # a case the demo did not make: no longer the demo database
    assert not await audit.is_demo_database(services)
    assert "voorbeelddatabase" in await console.type("/als anna")
    assert console.chat.member.id == "carla"


# --- the export -------------------------------------------------------------------------------


async def decided_and_closed(services: Services) -> str:
    """A case filed, on the agenda, decided, reopened, decided again and closed."""
    org = services.org
    ref = str((await file(services)).value)
    chair = member(org, "carla")
    await post_agenda(services, chair, "oost")
    for voter in ("carla", "dirk", "eva"):
        for question, choice in (("q1", "ja"), ("q3", "nee")):
            await stemmen.cast_vote(services, member(org, voter), ref, question, choice)
    await besluit.record_decision(services, chair, ref)
    await besluit.reopen_decision(services, chair, ref, "Nieuwe informatie van de corporatie.")
    await besluit.record_decision(services, chair, ref)
    await sluiten.close_case(services, chair, ref, "ingetrokken", "De melding is ingetrokken.")
    return ref


async def test_export_lists_changes_but_not_process_steps_and_no_free_text(
    services: Services,
) -> None:
    ref = await decided_and_closed(services)
    coordinator = member(services.org, "joost")
    result = await audit.export_audit(services.asked("slack", "/regie audit"), coordinator, ref)
    (attachment,) = result.files
    assert attachment.mime == "text/csv" and attachment.filename == f"audit_{ref}.csv"
    rows = csv_rows(attachment.content)
    kinds = [r["gebeurtenis"] for r in rows]
    assert kinds == ["filed", "decision_recorded", "decision_reopened", "decision_recorded",
                     "case_closed"]
    assert rows[-1]["details"] == "uitkomst=ingetrokken"
    assert rows[1]["lid"] == "carla" and rows[1]["naam_lid"] == "Carla Smit"
    text = attachment.content.decode()
    assert "Nieuwe informatie" not in text and "ingetrokken." not in text and TENANT not in text

    again = csv_rows((await audit.export_audit(services, coordinator, ref)).files[0].content)
    assert again[-1]["gebeurtenis"] == audit.EXPORTED  # the first export is in the second
    assert again[-1]["deur"] == "slack" and again[-1]["doel"] == "/regie audit"


async def test_export_for_a_period(services: Services, clock: Any) -> None:
    first = (await file(services)).value  # Tuesday 24 November 2026
    clock.advance(days=10)
    second = (await file(services)).value  # Friday 4 December 2026
    coordinator = member(services.org, "joost")
    rows = csv_rows((await audit.export_audit(services, coordinator, None, "30-11-2026",
                                              "04-12-2026")).files[0].content)
    assert [r["referentie"] for r in rows] == [second]
    rows = csv_rows((await audit.export_audit(services, coordinator, None, None,
                                              "24-11-2026")).files[0].content)
    assert [r["referentie"] for r in rows] == [first]


async def test_only_the_coordinator_exports(services: Services, tmp_path: Path) -> None:
    ref = (await file(services)).value
    for member_id in ("carla", "anna", "dirk"):
        text = await Console(services, member_id, tmp_path).type(f"/audit {ref}")
        assert "coordinator" in text or "coördinator" in text, text
    assert await events_of(services, audit.EXPORTED) == []
    assert not csv_files(tmp_path)


@pytest.mark.parametrize(("line", "expected"), [
    ("/audit RT-2026", "RT-2026-0001"),
    ("/audit 31-02-2026", "geen datum die ik ken"),
    ("/audit 01-06-2026 01-01-2026", "ligt na de einddatum"),
    ("/audit RT-2026-0999", "RT-2026-0999"),
])
async def test_bad_export_input_gets_a_dutch_answer(
    services: Services, tmp_path: Path, line: str, expected: str
) -> None:
    text = await Console(services, "joost", tmp_path).type(line)
    assert expected in text and "Traceback" not in text


# --- the command line -----------------------------------------------------------------------------


def cli(tmp_path: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items()
                   if key != "REGIEBOT_CONSOLE_ADMIN"}
    environment.update({"REGIEBOT_DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
                        "REGIEBOT_CONFIG": str(EXAMPLE_ORG), "REGIEBOT_SECRET_KEY": "",
                        "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": "", **env})
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, env=environment,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)


def test_console_as_is_refused_on_a_real_database_and_the_export_names_the_os_user(
    tmp_path: Path,
) -> None:
    assert cli(tmp_path, "db", "upgrade").returncode == 0
    refused = cli(tmp_path, "console", "--as", "carla", stdin="/stop\n")
    assert refused.returncode == 2
    assert "console --as carla werkt alleen op de voorbeelddatabase" in refused.stderr
    assert "Traceback" not in refused.stderr

    allowed = cli(tmp_path, "console", "--beheerder", "--as", "carla", stdin="/stop\n")
    assert allowed.returncode == 0, allowed.stderr
    by_env = cli(tmp_path, "console", "--as", "joost", stdin="/stop\n", REGIEBOT_CONSOLE_ADMIN="1")
    assert by_env.returncode == 0, by_env.stderr

    out = tmp_path / "export" / "audit.csv"
    done = cli(tmp_path, "audit", "export", "--van", "01-01-2026", "--uit", str(out))
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stderr and operating_system_user() in done.stderr
    rows = csv_rows(out.read_bytes())
    switches = [r for r in rows if r["gebeurtenis"] == audit.ROLE_SWITCHED]
    assert [(r["lid"], r["deur"], r["doel"], r["bediener"]) for r in switches] == [
        ("carla", "console", "--as", operating_system_user()),
        ("joost", "console", "--as", operating_system_user())]
    assert oct(out.stat().st_mode & 0o777) == "0o600"

    second = cli(tmp_path, "audit", "export")  # to stdout; the first export is in it
    assert second.returncode == 0
    exported = [r for r in csv_rows(second.stdout.encode()) if r["gebeurtenis"] == audit.EXPORTED]
    assert [(r["deur"], r["doel"], r["bediener"]) for r in exported] == [
        ("cli", "audit export", operating_system_user())]
    wrong = cli(tmp_path, "audit", "export", "--tot", "gisteren")
    assert wrong.returncode == 2 and "einddatum" in wrong.stderr

