"""The console end to end through a pipe, as `regiebot console` runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLE_ORG

MELDING_WEST = "\n".join([
    "/melding",
    "Dukenburg",            # wijk → Regieteam West
    "1",                    # reden: huurachterstand
    "1,2",                  # huishouden: gezin, multiprobleem
    "twee",                 # wrong: not a number → asked again
    "2",
    "€ 850",
    "2",
    "", "", "", "",         # no legal dates known yet
    "Betalingsregeling aangeboden, bel 06-12345678",  # refused: phone number
    "Betalingsregeling aangeboden en huisbezoek gedaan.",
    "Afspraken niet nagekomen, achterstand groeit.",
    "ja",
    "Anna de Vries",
    "Jan Fictief",
    "Verzonnenstraat 12",
    "6511 ab",
    "ja",
    "/stop",
]) + "\n"


def run_console(tmp_path: Path, script: str, member: str = "anna") -> str:
    env = {**os.environ, "REGIEBOT_DATABASE_URL": f"sqlite:///{tmp_path}/console.db",
           "REGIEBOT_CONFIG": str(EXAMPLE_ORG), "REGIEBOT_SECRET_KEY": "",
           "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": "",
           "REGIEBOT_CONSOLE_ADMIN": "1"}  # a fresh database: switching members needs this
    cli = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    done = subprocess.run([*cli, "console", "--as", member], input=script, env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_file_a_melding_through_a_pipe(tmp_path: Path) -> None:
    output = run_console(tmp_path, MELDING_WEST)
    assert "vul een heel getal in" in output
    assert "telefoonnummer" in output and "06-12345678" not in output.split("telefoonnummer")[1]
    assert "referentie RT-2026-0001" in output
    channel_post = output.split("── #C0WEST (Regieteam West) ──", 1)[1]
    assert "Nieuwe melding RT-2026-0001" in channel_post
    assert "Jan Fictief" not in channel_post and "Verzonnenstraat" not in channel_post
    assert (tmp_path / "var" / "secret.key").exists()


def test_walk_the_meeting_in_the_console(tmp_path: Path) -> None:
    script = MELDING_WEST.replace("/stop\n", "") + "\n".join([
        "/als gerrit", "/agenda plaats",
        "/stem RT-2026-0001 q1 ja", "/stem RT-2026-0001 q3 nee",
        "/als ilse", "/stem RT-2026-0001 q1 ja", "/stem RT-2026-0001 q3 nee",
        "/als hanna", "/knop stem RT-2026-0001|q1|nee", "/stem RT-2026-0001 q3 nee",
        "/stem RT-2026-0001 q2 buurtteam,huisbezoek",
        "/als bram", "/besluit RT-2026-0001",
        "/als gerrit", "/besluit RT-2026-0001",
        "/casemanager RT-2026-0001 ilse 01-03-2027 4",
        "/gegevens RT-2026-0001",
        "/stop",
    ]) + "\n"
    output = run_console(tmp_path, script)
    assert "› draad RT-2026-0001" in output
    assert "Hiervoor heb je de rol voorzitter nodig in Regieteam West" in output
    assert "Besluit RT-2026-0001" in output
    assert "privébericht aan Ilse Kok" in output
    assert "Naam: Jan Fictief" in output


def test_console_logs_go_to_a_file_not_into_the_chat(tmp_path: Path) -> None:
    env = {**os.environ, "REGIEBOT_DATABASE_URL": f"sqlite:///{tmp_path}/console.db",
           "REGIEBOT_CONFIG": str(EXAMPLE_ORG), "REGIEBOT_SECRET_KEY": "",
           "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": "", "REGIEBOT_LOG_LEVEL": "DEBUG"}
    cli = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    done = subprocess.run([*cli, "console"], input="/help\n/stop\n", env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Wat kan ik" in done.stdout
    assert " INFO " not in done.stdout + done.stderr and " DEBUG " not in done.stdout + done.stderr
    log = tmp_path / "var" / "regiebot.log"
    assert log.exists() and (log.stat().st_mode & 0o777) == 0o600
    assert " INFO " in log.read_text(encoding="utf-8")  # the scheduler started, in the file

    asked = {**env, "REGIEBOT_LOG_FILE": "-"}  # asked otherwise: on stderr as elsewhere
    done = subprocess.run([*cli, "console"], input="/stop\n", env=asked, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and " INFO " in done.stderr


def test_a_second_bot_on_the_same_sqlite_file_refuses_to_start(tmp_path: Path) -> None:
    env = {**os.environ, "REGIEBOT_DATABASE_URL": f"sqlite:///{tmp_path}/console.db",
           "REGIEBOT_CONFIG": str(EXAMPLE_ORG), "REGIEBOT_SECRET_KEY": "",
           "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": ""}
    cli = [sys.executable, "-m", "bot.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True)
    first = subprocess.Popen([*cli, "console"], env=env, cwd=tmp_path, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdin is not None and first.stdout is not None
        first.stdin.write("/help\n")
        first.stdin.flush()
        for line in first.stdout:  # the first bot is up once it answers
            if "Wat kan ik" in line:
                break
        second = subprocess.run([*cli, "console"], input="/stop\n", env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=120, check=False)
        assert second.returncode == 2
        assert "al in gebruik door een ander regiebot-proces" in second.stderr
        assert "PostgreSQL" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.communicate("/stop\n", timeout=120)
    assert first.returncode == 0
    again = subprocess.run([*cli, "console"], input="/stop\n", env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
