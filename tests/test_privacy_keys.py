"""Keys and files: the check row, refusing a lost or wrong key at every entry point, key
rotation, and owner-only files."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bot.cli import main
from bot.runtime import build_services, close_services
from bot.settings import Settings, SettingsError
from commands import privacy
from commands.context import Services
from store.crypto import PersonalDataCipher
from store.models import Case, CasePersonalData, Event, FormDraft, KeyCheck
from tests.conftest import EXAMPLE_ORG, TEST_KEY, Database
from tests.helpers import file

OPERATOR = privacy.Operator(door="cli", user="beheer")


def settings_for(database: Database, key: str | None) -> Settings:
    return Settings(_env_file=None, REGIEBOT_DATABASE_URL=database.url,
                    REGIEBOT_CONFIG=str(EXAMPLE_ORG), REGIEBOT_SECRET_KEY=key)


async def test_check_row_refuses_a_wrong_key(services: Services, database: Database) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    started = await build_services(settings_for(database, old))
    await file(started, "anna")
    async with started.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(KeyCheck)) == 1
    await close_services(started)

    with pytest.raises(SettingsError) as wrong:
        await build_services(settings_for(database, new))
    assert "de sleutel past niet bij de database" in str(wrong.value)
    assert "REGIEBOT_SECRET_KEY=nieuw,oud" in str(wrong.value)
    with pytest.raises(SettingsError) as invalid:
        await build_services(settings_for(database, "geen-sleutel"))
    assert "geen geldige sleutel" in str(invalid.value)

    both = await build_services(settings_for(database, f"{new},{old}"))  # old key second: fine
    await close_services(both)


async def test_a_database_from_before_the_check_row_is_checked_on_its_data(
        services: Services, database: Database) -> None:
    await file(services, "anna")  # encrypted with the test key, no check row yet
    with pytest.raises(SettingsError):
        await build_services(settings_for(database, Fernet.generate_key().decode()))
    async with services.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(KeyCheck)) == 0


async def test_key_rotation_retires_the_old_key(services: Services, database: Database) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    first = await build_services(settings_for(database, old))
    for _ in range(3):
        await file(first, "anna", huurder_naam="Roos Rotatie")
    ref = (await file(first, "anna")).value
    async with first.transaction() as session:
        session.add(FormDraft(key="telegram:melding:1", data=first.cipher.encrypt_json({"a": 1}),
                              updated_at=first.now()))
    await privacy.correct_personal_data(first, ref, OPERATOR, {"adres": "Nieuwe Straat 1"},
                                        "verzoek betrokkene per brief")
    await close_services(first)

    both = await build_services(settings_for(database, f"{new},{old}"))
    report = await privacy.rotate_key(both, OPERATOR)
    assert report.rotated["case_personal_data"] == 4 * 3
    assert report.rotated["form_drafts"] == 1 and report.rotated["key_check"] == 1
    assert report.rotated["events"] == 1
    again = await privacy.rotate_key(both, OPERATOR)  # interrupted or not: running again is safe
    assert again.total == 0 and again.current == report.total
    await close_services(both)

    only_new = await build_services(settings_for(database, new))
    async with only_new.transaction() as session:
        rows = (await session.scalars(select(CasePersonalData))).all()
        names = [privacy.household_fields(only_new.cipher, row)["naam"] for row in rows]
        draft = await session.scalar(select(FormDraft))
        note = await session.scalar(select(Event.note).where(Event.kind == "personal_data_corrected"))
        rotated = await session.scalar(select(Event).where(Event.kind == "key_rotated"))
    assert names.count("Roos Rotatie") == 3
    assert draft is not None and only_new.cipher.decrypt_json(draft.data) == {"a": 1}
    assert note is not None and only_new.cipher.decrypt(note) == "verzoek betrokkene per brief"
    assert rotated is not None and rotated.data["opnieuw_versleuteld"] == report.total
    await close_services(only_new)
    with pytest.raises(SettingsError):
        await build_services(settings_for(database, old))


async def test_rotation_in_small_batches(services: Services) -> None:
    from store.rotation import rotate_keys

    for _ in range(5):
        await file(services, "anna")
    new = Fernet.generate_key().decode()
    cipher = PersonalDataCipher(f"{new},{TEST_KEY}")
    report = await rotate_keys(services.sessions, cipher, batch=2)
    assert report.rotated["case_personal_data"] == 15
    only_new = PersonalDataCipher(new)
    async with services.transaction() as session:
        for row in (await session.scalars(select(CasePersonalData))).all():
            privacy.household_fields(only_new, row)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_command_line_keys_files_and_duties(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The whole life of a local key, through the `regiebot` command."""
    monkeypatch.chdir(tmp_path)
    for name in ("REGIEBOT_SECRET_KEY", "REGIEBOT_DATABASE_URL", "SLACK_BOT_TOKEN",
                 "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REGIEBOT_CONFIG", str(EXAMPLE_ORG))
    var = tmp_path / "var"

    assert main(["db", "upgrade"]) == 0
    assert main(["demo"]) == 0
    key_file = var / "secret.key"
    assert mode(var) == 0o700 and mode(key_file) == 0o600
    assert mode(var / "regiebot.db") == 0o600
    assert all(mode(p) == 0o600 for p in var.glob("regiebot.db-*"))

    key = key_file.read_text().strip()
    key_file.unlink()
    capsys.readouterr()
    for command in (["demo"], ["run"], ["console"], ["reminders", "list"], ["privacy", "due"]):
        with monkeypatch.context() as platform:
            if command == ["run"]:  # `run` needs a platform (without one and a terminal it stops)
                platform.setenv("SLACK_BOT_TOKEN", "xoxb-test")
                platform.setenv("SLACK_SIGNING_SECRET", "geheim")
                platform.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")
            assert main(command) == 2, command
        err = capsys.readouterr().err
        assert "geen sleutel" in err and "REGIEBOT_SECRET_KEY" in err and "Traceback" not in err
        assert not key_file.exists()  # never a new key next to encrypted data

    monkeypatch.setenv("REGIEBOT_SECRET_KEY", Fernet.generate_key().decode())
    assert main(["reminders", "list"]) == 2
    assert "past niet" in capsys.readouterr().err

    new = Fernet.generate_key().decode()
    monkeypatch.setenv("REGIEBOT_SECRET_KEY", f"{new},{key}")
    assert main(["key", "rotate"]) == 0
    assert "oude sleutel nu weghalen" in capsys.readouterr().out
    monkeypatch.setenv("REGIEBOT_SECRET_KEY", new)

    import asyncio

    async def references() -> tuple[str, str]:
        started = await build_services(Settings(_env_file=None))
        async with started.transaction() as session:
            closed = await session.scalar(select(Case.reference).where(Case.phase == "gesloten"))
            open_ = await session.scalar(select(Case.reference).where(Case.phase != "gesloten"))
        await close_services(started)
        assert closed and open_
        return closed, open_

    closed, open_ = asyncio.run(references())
    out_dir = tmp_path / "uit"
    assert main(["inzage", closed, "--uit", str(out_dir)]) == 0
    assert "geschreven" in capsys.readouterr().out
    written = sorted(out_dir.iterdir())
    assert [p.suffix for p in written] == [".html", ".json"]
    assert mode(out_dir) == 0o700 and all(mode(p) == 0o600 for p in written)
    document = json.loads(written[1].read_text())
    assert document["referentie"] == closed and document["onderdelen"]["persoonsgegevens"]
    assert main(["inzage", "RT-1999-0001"]) == 1
    assert "Ik ken geen casus" in capsys.readouterr().err

    assert main(["corrigeer", closed, "--postcode", "12345", "--reden", "verzoek betrokkene"]) == 1
    assert "6511 AB" in capsys.readouterr().err
    assert main(["corrigeer", closed, "--adres", "Andere Straat 2", "--reden", "verzoek betrokkene"]) == 0
    assert "adres gecorrigeerd" in capsys.readouterr().out

    assert main(["vergeet", open_, "--reden", "verzoek betrokkene"]) == 1
    assert "nog niet gesloten" in capsys.readouterr().err
    assert main(["vergeet", closed]) == 1
    assert "Geef een reden" in capsys.readouterr().err
    assert main(["vergeet", closed, "--reden", "verzoek betrokkene per brief"]) == 0
    assert "gewist" in capsys.readouterr().out
    assert main(["privacy", "due"]) == 0
    assert "geen gesloten casussen" in capsys.readouterr().out
