"""The migration that encrypts free text: rows typed before it are encrypted with the bot's
key; without a key it refuses and changes nothing; down again gives the plain text back.
Runs on a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import inspect, text

from store.crypto import PersonalDataCipher
from store.db import MIGRATIONS, MigrationRefused, downgrade, make_sync_engine, upgrade
from tests.conftest import EXAMPLE_ORG, PG_ADMIN_URL, _pg_available
from tests.free_text_support import LAST, NAME, note

KEY = Fernet.generate_key().decode()


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


BEFORE = str(_scripts().get_revision("0005").down_revision)  # the schema the rows were typed in
HEAD = _scripts().get_current_head()
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# (table, column, field tag) of every free-text value written before the migration
FREE_TEXT = (
    ("cases", "reason_other", "reden_anders"), ("cases", "voortraject", "voortraject"),
    ("cases", "insufficient_because", "onvoldoende"), ("cases", "contact_person", None),
    ("cases", "outcome_reason", "sluiten"), ("cases", "shelter", "opvang"),
    ("votes", "steps_text", "stappen_tekst"), ("decisions", "q2_text", "besluit_toelichting"),
    ("decisions", "deviation_reason", "afwijking"), ("decisions", "reopen_reason", "heropenen"),
    ("feedback", "text", "terugkoppeling"), ("reminders", "postpone_reason", "uitstel"),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (migrated by the test itself)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/plain.db"
        return
    if problem := _pg_available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is niet bereikbaar: {problem}")
        pytest.skip(f"PostgreSQL is niet bereikbaar: {problem}")
    name = f"regiebot_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def value_of(tag: str | None) -> str:
    return NAME if tag is None else note(tag)


def plain_rows(url: str) -> None:
    """A case with every free text filled in, as the bot stored it before (schema BEFORE)."""
    statements: list[tuple[str, dict[str, Any]]] = [
        ("INSERT INTO regieteams (id, name) VALUES ('oost', 'Oost')", {}),
        ("INSERT INTO partners (id, name, kind) VALUES ('talis', 'Talis', 'corporatie')", {}),
        ("INSERT INTO members (id, name, partner_id, roles) VALUES ('anna', 'Anna', 'talis', "
         "'[\"melder\"]')", {}),
        ("INSERT INTO cases (id, reference, year, seq, regieteam_id, corporation_id, filed_by, "
         "filed_at, phase, reason, reason_other, minor_children, PROTECTED arrears_cents, "
         "arrears_months, voortraject, insufficient_because, tenant_informed, wijk, "
         "contact_person, outcome, outcome_reason, shelter) VALUES (1, 'RT-2026-0001', 2026, 1, "
         "'oost', 'talis', 'anna', :at, 'gesloten', 'anders', :reden_anders, 0, IS_PROTECTED 0, 0, "
         ":voortraject, :onvoldoende, :yes, 'Oost', :contact, 'uitgezet_met_opvang', :sluiten, "
         ":opvang)", {"reden_anders": note("reden_anders"), "voortraject": note("voortraject"),
                      "onvoldoende": note("onvoldoende"), "contact": NAME,
                      "sluiten": note("sluiten"), "opvang": note("opvang")}),
        ("INSERT INTO case_categories (case_id, category) VALUES (1, 'multiprobleem')", {}),
        ("INSERT INTO case_personal_data (case_id, tenant_name, address, postcode) "
         "VALUES (1, :token, :token, :token)", {"token": PersonalDataCipher(KEY).encrypt("x")}),
        ("INSERT INTO meetings (id, regieteam_id, meeting_date, starts_at, cutoff_at, "
         "besluitenlijst) VALUES (1, 'oost', :day, :at, :at, :lijst)",
         {"day": date(2026, 11, 24), "lijst": json.dumps({"besluiten": [{
             "referentie": "RT-2026-0001", "q2_tekst": note("besluit_toelichting"),
             "afwijking": note("afwijking")}]})}),
        ("INSERT INTO agenda_items (id, meeting_id, case_id, section, position, addendum, "
         "added_at) VALUES (1, 1, 1, 'nieuw', 1, :no, :at)", {}),
        ("INSERT INTO votes (id, agenda_item_id, case_id, member_id, question, steps, steps_text, "
         "cast_at) VALUES (1, 1, 1, 'anna', 'q2', '[]', :note, :at)", {"note": note("stappen_tekst")}),
        ("INSERT INTO votes (id, agenda_item_id, case_id, member_id, question, choice, cast_at) "
         "VALUES (2, 1, 1, 'anna', 'q1', 'ja', :at)", {}),
        ("INSERT INTO decisions (id, case_id, agenda_item_id, q1, q2_steps, q2_text, q3, tally, "
         "voters, deviation_reason, recorded_by, recorded_at, superseded_at, reopen_reason) "
         "VALUES (1, 1, 1, 'ja', '[]', :q2, 'nee', '{}', '[]', :afwijking, 'anna', :at, :at, "
         ":heropenen)", {"q2": note("besluit_toelichting"), "afwijking": note("afwijking"),
                         "heropenen": note("heropenen")}),
        ("INSERT INTO feedback (id, case_id, member_id, given_at, text, termijn_holds, "
         "conditions) VALUES (1, 1, 'anna', :at, :tekst, :yes, '{}')",
         {"tekst": note("terugkoppeling")}),
        ("INSERT INTO reminders (id, dedupe_key, kind, case_id, due_at, payload, late, attempts, "
         "postpone_reason) VALUES (1, 'k1', 'termijn', 1, :at, '{}', :no, 0, :uitstel)",
         {"uitstel": note("uitstel")}),
    ]
    engine = make_sync_engine(url)
    with engine.begin() as connection:
        flag = "protected" in {c["name"] for c in inspect(connection).get_columns("cases")}
        for sql, params in statements:
            sql = sql.replace("IS_PROTECTED ", ":no, " if flag else "").replace(
                "PROTECTED ", "protected, " if flag else "")
            connection.execute(text(sql), {"at": AT, "yes": True, "no": False, **params})
    engine.dispose()


def read(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = make_sync_engine(url)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(text(sql))]
    engine.dispose()
    return rows


def stored_values(url: str) -> dict[tuple[str, str], Any]:
    return {(table, column): read(url, f"SELECT {column} FROM {table} WHERE id = 1")[0][0]
            for table, column, _ in FREE_TEXT}


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No REGIEBOT_SECRET_KEY and no var/secret.key where the migration looks."""
    monkeypatch.delenv("REGIEBOT_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("no_key")
def test_plain_rows_are_encrypted_with_the_bots_key(fresh_url: str) -> None:
    upgrade(fresh_url, BEFORE)
    plain_rows(fresh_url)

    with pytest.raises(MigrationRefused, match="REGIEBOT_SECRET_KEY"):
        upgrade(fresh_url)
    assert read(fresh_url, "SELECT version_num FROM alembic_version") == [(BEFORE,)]
    assert stored_values(fresh_url)[("feedback", "text")] == note("terugkoppeling")

    upgrade(fresh_url, secret_key=KEY)
    cipher = PersonalDataCipher(KEY)
    for (table, column), token in stored_values(fresh_url).items():
        assert isinstance(token, bytes | memoryview), (table, column)
        assert LAST.encode() not in bytes(token)
        tag = next(t for tb, c, t in FREE_TEXT if (tb, c) == (table, column))
        assert cipher.decrypt(bytes(token)) == value_of(tag)
    # nothing else was lost while the tables were rebuilt
    assert read(fresh_url, "SELECT category FROM case_categories") == [("multiprobleem",)]
    assert len(read(fresh_url, "SELECT case_id FROM case_personal_data")) == 1
    assert len(read(fresh_url, "SELECT id FROM votes")) == 2
    # the stored besluitenlijst keeps only that there was a note and a departure
    (lijst,) = read(fresh_url, "SELECT besluitenlijst FROM meetings")[0]
    row = (json.loads(lijst) if isinstance(lijst, str) else lijst)["besluiten"][0]
    assert row == {"referentie": "RT-2026-0001", "q2_toelichting": True, "afwijking": True}

    downgrade(fresh_url, BEFORE, secret_key=KEY)
    values = stored_values(fresh_url)
    for table, column, tag in FREE_TEXT:
        assert values[(table, column)] == value_of(tag), (table, column)


@pytest.mark.usefixtures("no_key")
def test_an_empty_database_needs_no_key(fresh_url: str) -> None:
    upgrade(fresh_url)
    downgrade(fresh_url, BEFORE)
    upgrade(fresh_url)
    assert read(fresh_url, "SELECT version_num FROM alembic_version") == [(HEAD,)]


def test_the_key_file_is_read_as_the_bot_reads_it(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/plain.db"
    upgrade(url, BEFORE)
    plain_rows(url)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret.key").write_text(KEY + "\n")
    monkeypatch.delenv("REGIEBOT_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    upgrade(url)
    token = stored_values(url)[("cases", "voortraject")]
    assert PersonalDataCipher(KEY).decrypt(bytes(token)) == note("voortraject")


def test_regiebot_db_upgrade_says_what_to_do_without_a_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/plain.db"
    upgrade(url, BEFORE)
    plain_rows(url)
    env = {**os.environ, "REGIEBOT_DATABASE_URL": url, "REGIEBOT_CONFIG": str(EXAMPLE_ORG),
           "REGIEBOT_SECRET_KEY": "", "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": ""}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "db", "upgrade"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 2
    assert "REGIEBOT_SECRET_KEY" in done.stderr and "niets veranderd" in done.stderr
    assert "Traceback" not in done.stderr
    assert read(url, "SELECT version_num FROM alembic_version") == [(BEFORE,)]
