"""The chaos test: one scripted flow against the real `regiebot run`, twice on fresh databases,
once calm and once with faults, and the outcomes compared.

The flow (`tests.chaos_support.flow`): 20 meldingen through the Slack modal (signed slash
command, views.open, view_submission), the agenda of both Regieteams (`/agenda plaats`), votes
by three members on two questions in the case threads, the chair's decision and the
casemanager for four cases per Regieteam, the first termijn and terugkoppeling reminders made
due (moved into the past in the database: time passing) and delivered to the partner channels
(Slack) and the casemanagers (Slack and, for Dirk and Eva, Telegram), and answered: in Slack,
or with a tap on Telegram.

In the chaos run, with a fixed seed:
- the fake Slack and the fake Bot API answer about one in eight message calls with a JSON 500,
  a 429 with Retry-After, a plain-text 500, a late answer (the message is posted) or a dropped
  connection (the message is posted, the bot gets no answer). The product has no setting for
  its 30 s Slack client timeout; a dropped connection after the post is what a timeout is to
  the bot (no answer, message there), and the late answers stay below the timeout;
- the bot process is killed with SIGKILL at three steps, while it handles that step's request,
  and started again; a request that got no answer is sent again (a Slack form: same body,
  X-Slack-Retry-Num; a click or a slash command: the member does it again; Telegram: same
  update).

At the end both runs wait until nothing is left to send (the outbox, when the schema has one,
and the reminders: none due unsent, none claimed), then:
- every Slack message of the calm run exists exactly once (channel, thread, final text);
- every Telegram message of the calm run arrives at least once (duplicates are reported);
- no reminder is lost or still claimed;
- the database state equals that of the calm run.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from store.db import upgrade
from tests.chaos_support import (
    FLOW_STEPS,
    Run,
    database_state,
    differences,
    drain,
    flow,
    reminders_open,
    slack_messages,
    telegram_messages,
)
from tests.conftest import PG_ADMIN_URL, _pg_available

pytestmark = pytest.mark.chaos

SEED = 11


@pytest.fixture(params=["sqlite", "postgresql"])
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two fresh, migrated databases of one kind: for the calm run and the chaos run."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        urls = []
        for name in ("kalm", "chaos"):
            path = tmp_path / f"{name}.db"
            shutil.copy(template, path)
            urls.append(f"sqlite+aiosqlite:///{path}")
        yield urls[0], urls[1]
        return
    problem = _pg_available()
    if problem:
        pytest.skip(f"PostgreSQL op {PG_ADMIN_URL} is niet bereikbaar: {problem}")
    names = [f"regiebot_chaos_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    urls = [PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}" for name in names]
    for url in urls:
        upgrade(url)
    yield urls[0], urls[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _missing_and_extra(expected: Counter, actual: Counter) -> tuple[list, list]:  # type: ignore[type-arg]
    return sorted((expected - actual).items()), sorted((actual - expected).items())


async def test_chaos_loses_nothing_and_sends_nothing_twice(
    two_databases: tuple[str, str], tmp_path: Path
) -> None:
    folders = [tmp_path / "kalm", tmp_path / "chaos"]
    for folder in folders:
        folder.mkdir()
    calm = Run("kalm", two_databases[0], folders[0], chaos=False, seed=SEED)
    chaotic = Run("chaos", two_databases[1], folders[1], chaos=True, seed=SEED)
    started: list[Run] = []
    try:
        for run in (calm, chaotic):
            await run.start(FLOW_STEPS)
            started.append(run)
        await asyncio.gather(flow(calm), flow(chaotic))
        drained = await asyncio.gather(drain(calm), drain(chaotic))
        assert drained[0], f"de kalme run raakte niet uitgepraat\n{calm.bot.tail()}"
        chaotic.slack.chaos(None, 0)
        chaotic.telegram.chaos(None, 0)
        calm.slack.all_answered()
        chaotic.slack.all_answered()
        expected_slack, got_slack = slack_messages(calm.slack), slack_messages(chaotic.slack)
        expected_tg, got_tg = telegram_messages(calm.telegram), telegram_messages(chaotic.telegram)
        expected_db, got_db = await database_state(calm), await database_state(chaotic)
        due, claimed = await reminders_open(chaotic)
    finally:
        for run in started:
            await run.close()

    report = [
        f"seed {SEED}; kills: {chaotic.kill_log}",
        f"opnieuw gestuurd: {chaotic.resent}",
        f"fouten nep-Slack: {sorted(Counter(k for _m, k in chaotic.slack.injected).items())}",
        f"fouten nep-Telegram: {sorted(Counter(k for _m, k in chaotic.telegram.injected).items())}",
    ]
    failures: list[str] = []

    missing, extra = _missing_and_extra(expected_slack, got_slack)
    if missing or extra:
        failures.append(f"Slack: {len(missing)} berichten ontbreken, {len(extra)} te veel of "
                        "anders (kanaal, draad, tekst):")
        failures += [f"  ontbreekt {n}x: {key[0]} {key[1][:60]!r} {key[2][:300]!r}"
                     for key, n in missing]
        failures += [f"  te veel {n}x: {key[0]} {key[1][:60]!r} {key[2][:300]!r}"
                     for key, n in extra]

    lost_tg = sorted(set(expected_tg) - set(got_tg))
    twice_tg = {key: n - expected_tg[key] for key, n in got_tg.items()
                if key in expected_tg and n > expected_tg[key]}
    report.append(f"Telegram: {sum(twice_tg.values())} dubbele berichten in "
                  f"{len(twice_tg)} gesprekken/teksten: "
                  f"{[(chat, body[:50], n) for (chat, body), n in twice_tg.items()]}")
    if lost_tg:
        failures.append(f"Telegram: {len(lost_tg)} berichten kwamen niet aan:")
        failures += [f"  ontbreekt: {chat} {body[:200]!r}" for chat, body in lost_tg]

    if due or claimed:
        failures.append(f"herinneringen: {due} verschuldigd en niet verstuurd, {claimed} nog "
                        "geclaimd")
    if not drained[1]:
        failures.append("de chaos-run raakte niet uitgepraat (outbox of herinneringen)")

    diff = differences(expected_db, got_db)
    if diff:
        failures.append(f"database: {len(diff)} verschillen met de kalme run:")
        failures += [f"  {line}" for line in diff]

    print("\n".join(report))
    assert not failures, "\n".join(report + failures)
