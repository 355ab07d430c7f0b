"""`regiebot demo` and `make demo-reset`: a case at every stage, spread over both Regieteams and
the three corporations, made on working days only; the list of stages at the end; on a used
database a hint how to start clean, and a reset that removes only the local SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.demo import DemoCase, demo_cases, fill_demo, reset_database
from bot.demo import main as demo_main
from bot.runtime import hold_sqlite_file
from bot.settings import Settings
from commands.context import Services
from commands.words import Phase
from commands.workdays import is_working_day
from store.models import Assignment, Case, Decision, Event, Meeting, Vote
from tests.conftest import EXAMPLE_ORG, Clock


def by_phase(cases: list[DemoCase]) -> dict[str, list[DemoCase]]:
    found: dict[str, list[DemoCase]] = {}
    for case in cases:
        found.setdefault(case.phase, []).append(case)
    return found


async def test_the_demo_has_a_case_at_every_stage_spread_over_teams_and_corporations(
    services: Services,
) -> None:
    cases = await fill_demo(services)
    assert [c.reference for c in cases] == [f"RT-2026-{n:04d}" for n in range(1, 8)]
    assert cases == await demo_cases(services, [c.reference for c in cases],
                                      voted=[c.reference for c in cases
                                             if c.voted_without_decision])
    phases = by_phase(cases)
    assert set(phases) == set(Phase)
    assert {c.scenario for c in phases[Phase.IN_UITVOERING]} == {1, 2}
    assert [c.termijn_passed for c in phases[Phase.IN_UITVOERING]].count(True) == 1
    assert [c.voted_without_decision for c in phases[Phase.OP_AGENDA]] == [True]
    assert [c.outcome for c in phases[Phase.GESLOTEN]] == ["blijft_betalingsregeling"]
    assert {c.regieteam for c in cases} == {"Regieteam Oost", "Regieteam West"}
    assert {c.corporation for c in cases} == {"Talis", "Portaal", "Woonwaarts"}
    # both teams have open work, and each corporation has an open case
    open_cases = [c for c in cases if c.phase != Phase.GESLOTEN]
    assert {c.regieteam for c in open_cases} == {"Regieteam Oost", "Regieteam West"}
    assert {c.corporation for c in open_cases} == {"Talis", "Portaal", "Woonwaarts"}
    async with services.sessions() as session:
        stored = {c.reference: c for c in (await session.scalars(select(Case))).all()}
    for case in cases:
        row = stored[case.reference]
        assert services.org.regieteam(row.regieteam_id).name == case.regieteam
        assert services.org.partner(row.corporation_id).name == case.corporation
        assert row.phase == case.phase


@pytest.mark.parametrize("today", [
    datetime(2026, 11, 24, 7, 0, tzinfo=UTC),   # the tests' usual Tuesday
    datetime(2026, 5, 27, 7, 0, tzinfo=UTC),    # after Pasen, Koningsdag, Hemelvaart, Pinksteren
    datetime(2027, 1, 4, 7, 0, tzinfo=UTC),     # after Kerst and Nieuwjaarsdag
])
async def test_every_date_the_demo_makes_is_a_working_day(
    services: Services, clock: Clock, today: datetime
) -> None:
    clock.set(today)
    await fill_demo(services)
    rules = services.org.rules.working_days
    async with services.sessions() as session:
        moments = [
            *(await session.scalars(select(Case.filed_at))).all(),
            *(await session.scalars(select(Case.closed_at).where(Case.closed_at.is_not(None)))).all(),
            *(await session.scalars(select(Event.at))).all(),
            *(await session.scalars(select(Vote.cast_at))).all(),
            *(await session.scalars(select(Decision.recorded_at))).all(),
            *(await session.scalars(select(Assignment.appointed_at))).all(),
            *(await session.scalars(select(Meeting.agenda_posted_at).where(
                Meeting.agenda_posted_at.is_not(None)))).all(),
        ]
        days = [
            *(await session.scalars(select(Case.zitting_date))).all(),
            *(await session.scalars(select(Case.termijn).where(Case.termijn.is_not(None)))).all(),
            *(await session.scalars(select(Meeting.meeting_date))).all(),
        ]
    assert len(days) >= 7 + 3 and len(moments) > 30
    local_days = [services.local(moment.replace(tzinfo=moment.tzinfo or UTC)).date()
                  for moment in moments if moment is not None]
    wrong = sorted({day for day in [*local_days, *days] if day is not None
                    and not is_working_day(day, rules)})
    assert wrong == []
    assert all(day <= services.today() for day in local_days)


def test_the_command_line_lists_the_stages_and_says_how_to_start_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    for name in ("REGIEBOT_SECRET_KEY", "REGIEBOT_DATABASE_URL", "SLACK_BOT_TOKEN",
                 "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REGIEBOT_CONFIG", str(EXAMPLE_ORG))
    database = tmp_path / "var" / "regiebot.db"

    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "7 voorbeeldcasussen gemaakt" in out
    lines = [line for line in out.splitlines() if line.startswith("• RT-")]
    assert len(lines) == 7
    assert any("Regieteam West · Portaal · in uitvoering, scenario 1" in line
               and "termijn verlopen" in line for line in lines)
    assert any("Regieteam Oost · Talis · gesloten: blijft wonen met betalingsregeling" in line
               for line in lines)
    assert any("besloten, nog zonder casemanager" in line for line in lines)
    assert any("op de agenda, er is gestemd maar nog geen besluit" in line for line in lines)
    assert sum(line.endswith("· nieuw") for line in lines) == 2
    assert "Demo Huishouden" not in out and "Voorbeeldstraat" not in out

    assert main(["demo"]) == 1  # a used database: nothing done, and how to start clean
    err = capsys.readouterr().err
    assert "niets gedaan" in err and "make demo-reset" in err and "make demo" in err
    assert "var/regiebot.db" in err

    (tmp_path / "var" / "regiebot.db-wal").write_bytes(b"")
    key = (tmp_path / "var" / "secret.key").read_text()
    other = tmp_path / "var" / "bewaren.txt"
    other.write_text("blijft staan")
    assert demo_main(["reset"]) == 0
    assert "is gewist" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["bewaren.txt", "secret.key"]
    assert (tmp_path / "var" / "secret.key").read_text() == key and other.exists()

    assert main(["db", "upgrade"]) == 0 and main(["demo"]) == 0  # clean again
    assert "7 voorbeeldcasussen gemaakt" in capsys.readouterr().out
    assert database.exists()


def test_demo_reset_refuses_postgresql_a_file_elsewhere_and_a_database_in_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    database = tmp_path / "var" / "regiebot.db"
    database.write_bytes(b"demo")

    postgres = Settings(REGIEBOT_DATABASE_URL="postgresql://regiebot@127.0.0.1:5432/regiebot")
    assert reset_database(postgres) == 2
    err = capsys.readouterr().err
    assert "niets gewist" in err and "PostgreSQL" in err

    elsewhere = tmp_path / "elders.db"
    elsewhere.write_bytes(b"echt")
    assert reset_database(Settings(REGIEBOT_DATABASE_URL=f"sqlite+aiosqlite:///{elsewhere}")) == 2
    assert "niets gewist" in capsys.readouterr().err and elsewhere.exists()

    local = Settings(REGIEBOT_DATABASE_URL="sqlite+aiosqlite:///var/regiebot.db")
    held = hold_sqlite_file(local.database_url)  # a running bot holds the file
    assert held is not None
    try:
        assert reset_database(local) == 2
        assert "al in gebruik" in capsys.readouterr().err and database.exists()
    finally:
        held.close()
    assert reset_database(local) == 0
    assert not database.exists()
    assert reset_database(local) == 0  # nothing left: says so, still fine
    assert "niets gewist" in capsys.readouterr().out
