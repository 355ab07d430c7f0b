"""Start-up stays light: the heavy libraries come in only when they are needed.

matplotlib (with numpy and Pillow) only when a chart is drawn, holidays only when working days
are computed, slack_bolt/slack_sdk only with Slack configured, python-telegram-bot only with
Telegram configured, aiohttp only for `run`. Each check runs in a fresh interpreter, so what
another test imported does not count. (No timings here: bench/bench_startup.py measures them.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_ORG

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("matplotlib", "numpy", "PIL", "holidays", "slack_bolt", "slack_sdk", "telegram",
         "aiohttp")
PLATFORM_LIBRARIES = {"matplotlib", "numpy", "PIL", "holidays", "slack_bolt", "slack_sdk",
                      "telegram"}

# Runs `code` in a fresh interpreter, then prints which of HEAVY are loaded (as JSON).
PROBE = """
import json, sys
{code}
print("LOADED=" + json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def loaded_after(code: str, tmp_path: Path, heavy: tuple[str, ...] = HEAVY) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "REGIEBOT_DATABASE_URL": f"sqlite:///{tmp_path}/lazy.db",
           "REGIEBOT_CONFIG": str(EXAMPLE_ORG), "REGIEBOT_SECRET_KEY": "",
           "SLACK_BOT_TOKEN": "", "SLACK_APP_TOKEN": "", "TELEGRAM_BOT_TOKEN": ""}
    result = subprocess.run([sys.executable, "-c", PROBE.format(code=code, heavy=heavy)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("LOADED="))
    return set(json.loads(line.removeprefix("LOADED=")))


def cli(*args: str) -> str:
    """Code that runs `regiebot ARGS` in the probe's interpreter; a non-zero exit fails."""
    return f"from bot.cli import main\nassert main({list(args)!r}) == 0"


def test_the_cli_module_imports_no_heavy_library(tmp_path: Path) -> None:
    assert loaded_after("import bot.cli", tmp_path) == set()


def test_run_chooses_its_platforms_before_importing_any(tmp_path: Path) -> None:
    """What `regiebot run` imports before it looks at the tokens: the web app (aiohttp), the
    services and the scheduler, and nothing of Slack, Telegram, charts or holidays."""
    code = "import bot.cli, bot.platforms, bot.runtime, bot.scheduler"
    assert loaded_after(code, tmp_path) == {"aiohttp"}


def test_run_checks_the_schema_without_alembic(tmp_path: Path) -> None:
    """`regiebot run` only reads the schema's version; Alembic (with Mako and Pygments) is for
    `regiebot db`."""
    loaded_after(cli("db", "upgrade"), tmp_path)
    code = ("import os\nfrom store.db import schema_is_current\n"
            "assert schema_is_current(os.environ['REGIEBOT_DATABASE_URL'])")
    assert loaded_after(code, tmp_path, heavy=("alembic", "mako", "pygments")) == set()


@pytest.mark.parametrize("args", [
    ("config", "check", str(EXAMPLE_ORG)),
    ("db", "upgrade"),
])
def test_offline_commands_import_no_heavy_library(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert loaded_after(cli(*args), tmp_path) == set()


@pytest.mark.parametrize("args", [("reminders", "list"), ("privacy", "due")])
def test_commands_on_the_database_import_no_heavy_library(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    code = f"{cli('db', 'upgrade')}\n{cli(*args)}"
    assert loaded_after(code, tmp_path) == set()


def test_each_door_brings_only_its_own_platform(tmp_path: Path) -> None:
    assert loaded_after("import bot.slack.adapter", tmp_path) & PLATFORM_LIBRARIES \
        == {"slack_bolt", "slack_sdk"}
    assert loaded_after("import bot.telegram.adapter", tmp_path) & PLATFORM_LIBRARIES \
        == {"telegram"}
    assert loaded_after("import bot.console.chat, messages.files", tmp_path) == set()


def test_a_chart_and_a_working_day_bring_their_library_when_used(tmp_path: Path) -> None:
    """The other half: the libraries do come in, at the moment they are needed."""
    chart = ("from messages.charts import MonthFigures, month_chart\n"
             "assert month_chart([MonthFigures('jan')]).startswith(b'\\x89PNG')")
    assert {"matplotlib", "numpy"} <= loaded_after(chart, tmp_path)
    workday = ("from datetime import date\nfrom commands.workdays import is_working_day\n"
               "assert not is_working_day(date(2026, 12, 25))")
    assert "holidays" in loaded_after(workday, tmp_path)


def test_a_sqlite_run_does_not_load_the_postgresql_driver(tmp_path: Path) -> None:
    """psycopg comes in with a PostgreSQL database (or its leader lock), not for SQLite."""
    code = ("import sys\nimport bot.cli, bot.platforms, bot.runtime, bot.scheduler, bot.slack.adapter\n"
            "assert 'psycopg' not in sys.modules, 'psycopg geladen'")
    loaded_after(code, tmp_path)


def test_phone_numbers_are_recognised_with_the_first_text_not_at_start(tmp_path: Path) -> None:
    """phonenumbers (for household details in free text) comes in with the first text that is
    checked, not when the bot starts."""
    code = ("import sys\nimport bot.cli, bot.platforms, bot.runtime, bot.slack.adapter\n"
            "assert 'phonenumbers' not in sys.modules, 'phonenumbers geladen'\n"
            "from commands.validation import check_free_text\n"
            "from datetime import date\n"
            "check_free_text('Bel even terug.', date(2026, 12, 3), max_length=500)\n"
            "assert 'phonenumbers' in sys.modules")
    loaded_after(code, tmp_path)


def test_the_collector_runs_again_once_a_command_starts_its_work(tmp_path: Path) -> None:
    """Start-up pauses the garbage collector; a command other than `run` resumes it at once
    (`run` resumes it once the bot serves, after freezing what start-up built)."""
    code = (cli("config", "check", str(EXAMPLE_ORG))
            + "\nimport gc\nassert gc.isenabled(), 'de garbage collector staat nog stil'")
    loaded_after(code, tmp_path)
