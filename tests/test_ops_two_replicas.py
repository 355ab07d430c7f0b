"""Two `regiebot run` processes on one fresh PostgreSQL database, each with Slack over HTTP and
Telegram by webhook, against the fake Slack and the fake Bot API, as a load balancer in front
of them would drive them:

- every slash command and button click (vote) goes to one replica and is then retried to the
  other the way Slack retries (same body, `X-Slack-Retry-Num: 1`): each is handled once (one
  answer on its response_url, one vote, no vote recorded as changed);
- a Telegram update delivered to both webhooks is answered once;
- the due reminders, the agenda and the weekly digest are each sent once, by the leader;
- posts to one Slack channel from both replicas keep the shared pace;
- killing the leader (SIGKILL) hands over: the other becomes leader and sends the reminder
  that became due after the kill, once.

The processes run on the real clock. Reminders are made due now; the agenda and the digest
are due because their stored next run time lies in the past (a run missed while the bot was
down runs once when the leader starts)."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
import psycopg
import pytest
from aiohttp import web
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select

from bot.delivery import Deliveries
from bot.scheduler import BotScheduler
from bot.settings import Settings
from commands.context import Services
from commands.organisation import load_organisation
from commands.orgsync import sync_organisation
from store.crypto import PersonalDataCipher
from store.db import make_engine, make_sessionmaker, make_sync_engine, upgrade
from store.models import Event, Reminder, Vote
from tests.conftest import EXAMPLE_ORG, PG_ADMIN_URL, TEST_KEY, _pg_available
from tests.fakeslack import SIGNING_SECRET, Call, FakeSlack, all_text, button_named, sign
from tests.faketelegram import FakeTelegram, free_port
from tests.helpers import file, valid_answers

CHANNEL = "C0REGIE"  # the Slack channel of Regieteam Oost
JOOST_DM, JOOST_TELEGRAM = "DU0JOOST", 5010  # the coordinator: reminders and the digest
ANNA_TELEGRAM = 5001
WEBHOOK_SECRET = "gedeeld-geheim-voor-beide-instanties"
CASES = 4
PACE = 1.0  # Slack's pace per channel, as the bot keeps it
JITTER = 0.15  # network and scheduling jitter allowed on a gap between two posts
WAIT = 45.0  # bound on every wait for an event


# --- the fakes and the database ----------------------------------------------------------------


class AttributedSlack(FakeSlack):
    """The fake Slack that also remembers which bot token (so which replica) made each API
    call, and which response_url each answer went to."""

    def __init__(self) -> None:
        super().__init__()
        self.tag_of: dict[int, str] = {}

    def _tag_last(self, tag: str) -> None:
        # The call is recorded just before its answer returns, with no await in between.
        with self._lock:
            if self.calls and id(self.calls[-1]) not in self.tag_of:
                self.tag_of[id(self.calls[-1])] = tag

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        self._tag_last(request.headers.get("Authorization", "").removeprefix("Bearer "))
        return response

    async def _response_url(self, request: web.Request) -> web.Response:
        response = await super()._response_url(request)
        self._tag_last(request.match_info["name"])
        return response

    def by(self, call: Call) -> str:
        """The bot token of an API call, or the name of a response_url."""
        return self.tag_of.get(id(call), "")


@pytest.fixture
def slack() -> Iterator[AttributedSlack]:
    server = AttributedSlack()
    server.start_in_thread()
    yield server
    server.all_answered()
    server.stop_thread()
    assert not server.problems, server.problems


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    server = FakeTelegram()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def database_url() -> Iterator[str]:
    problem = _pg_available()
    if problem:
        pytest.skip(f"PostgreSQL is niet bereikbaar: {problem}")
    name = f"regiebot_two_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def services(database_url: str) -> AsyncIterator[Services]:
    """The test's own view on the shared database, on the real clock (as the processes run)."""
    engine = make_engine(database_url)
    svc = Services(sessions=make_sessionmaker(engine), org=load_organisation(EXAMPLE_ORG),
                   cipher=PersonalDataCipher(TEST_KEY))
    async with svc.transaction() as session:
        await sync_organisation(session, svc.org)
    yield svc
    await engine.dispose()


async def until(what: str, check: Callable[[], Any], within: float = WAIT) -> Any:
    """Poll `check` until it gives something truthy (a condition, not a pause); `check` may
    return an awaitable."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} bleef uit")


# --- seeding -----------------------------------------------------------------------------------


async def file_cases(services: Services) -> list[str]:
    today = services.today()
    references = []
    for n in range(1, CASES + 1):
        result = await file(services, "anna", **{
            **valid_answers(), "dagvaarding": (today - timedelta(days=7)).strftime("%d-%m-%Y"),
            "zitting": (today + timedelta(days=60)).strftime("%d-%m-%Y"),
            "huurder_naam": f"Huurder Fictief {n}", "adres": f"Verzonnenstraat {n}"})
        references.append(str(result.value))
    return references


async def add_reminder(services: Services, name: str) -> None:
    """A reminder for the coordinator, due now; `name` shows in its text."""
    async with services.transaction() as session:
        session.add(Reminder(dedupe_key=f"twee:{name}", kind="bezorging_mislukt",
                             target_member_id="joost", due_at=services.now() - timedelta(minutes=1),
                             payload={"soort": "termijn", "pogingen": 6, "bestemming": name}))


async def make_agenda_and_digest_due(services: Services, url: str) -> None:
    """Store the jobs as the leader would, with the agenda and the digest overdue."""
    settings = Settings(_env_file=None, REGIEBOT_DATABASE_URL=url, REGIEBOT_SECRET_KEY=TEST_KEY)
    amsterdam = ZoneInfo(settings.timezone)
    store = AsyncIOScheduler(jobstores={"default": SQLAlchemyJobStore(engine=make_sync_engine(url))},
                             timezone=amsterdam)
    store.start(paused=True)
    BotScheduler(services, Deliveries(), settings)._install_jobs(store)
    overdue = datetime.now(amsterdam) - timedelta(minutes=5)
    store.modify_job("agenda.oost", next_run_time=overdue)
    store.modify_job("digest.weekly", next_run_time=overdue)
    store.shutdown(wait=False)


async def unsent(services: Services) -> bool:
    """True when every reminder of the test has been recorded as sent."""
    return await count(services, Reminder, Reminder.sent_at.is_(None),
                       Reminder.kind == "bezorging_mislukt") == 0


async def count(services: Services, model: Any, *where: Any) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# --- the replicas --------------------------------------------------------------------------


class Replica:
    def __init__(self, name: str, token: str, process: asyncio.subprocess.Process, port: int,
                 log: Path) -> None:
        self.name, self.token, self.process, self.port, self.log = name, token, process, port, log
        self.base = f"http://127.0.0.1:{port}"

    async def health(self) -> dict[str, Any] | None:
        try:
            async with aiohttp.ClientSession() as client, client.get(f"{self.base}/healthz") as answer:
                report: dict[str, Any] = await answer.json()
                return report
        except (aiohttp.ClientError, json.JSONDecodeError):
            return None

    async def role(self) -> str | None:
        report = await self.health()
        return None if report is None else report["checks"].get("scheduler", {}).get("role")

    async def wait_for_role(self, role: str, within: float = WAIT) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.process.returncode is None, f"{self.name} stopte:\n{self.tail()}"
            if await self.role() == role:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name} werd geen {role}: {await self.health()}\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    async def post(self, client: aiohttp.ClientSession, path: str, body: str, content_type: str,
                   headers: dict[str, str] | None = None) -> int:
        async with client.post(f"{self.base}{path}", data=body.encode(), headers={
                "Content-Type": content_type, **(headers or {})}) as answer:
            return answer.status


async def start_replica(name: str, url: str, slack: FakeSlack, telegram: FakeTelegram,
                        tmp_path: Path, port: int, webhook_port: int) -> Replica:
    token = f"xoxb-{name}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_", "REGIEBOT_"))}
    env.update(REGIEBOT_DATABASE_URL=url, REGIEBOT_CONFIG=str(EXAMPLE_ORG), REGIEBOT_SECRET_KEY=TEST_KEY,
               REGIEBOT_HTTP_HOST="127.0.0.1", REGIEBOT_HTTP_PORT=str(port),
               SLACK_BOT_TOKEN=token, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack.api_url,
               TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_URL=telegram.url,
               TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{webhook_port}/telegram/webhook",
               TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET)
    log = tmp_path / f"{name}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=sink)
    return Replica(name, token, process, port, log)


async def end(replica: Replica) -> None:
    if replica.process.returncode is None:
        replica.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(replica.process.wait(), 20)
        except TimeoutError:
            replica.process.kill()
            await replica.process.wait()


# --- Slack's requests, built once so a retry is byte for byte the same ----------------------------

_seq = itertools.count(1)


def slash_body(slack: FakeSlack, user: str, command: str, text: str, name: str) -> str:
    return urlencode({
        "token": "legacy", "team_id": "T0REGIE", "team_domain": "regie", "channel_id": f"D{user}",
        "channel_name": "directmessage", "user_id": user, "user_name": user.lower(),
        "command": command, "text": text, "api_app_id": "A0REGIE", "is_enterprise_install": "false",
        "response_url": slack.response_url(name), "trigger_id": f"{next(_seq)}.123.abcdef",
    })


def click_body(slack: FakeSlack, user: str, button: dict[str, Any], message_ts: str, name: str) -> str:
    n = next(_seq)
    action = {"action_id": button["action_id"], "block_id": "b1", "text": button["text"],
              "value": button.get("value", ""), "type": "button", "action_ts": f"1790000{n:03d}.123456"}
    user_data = {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0REGIE"}
    return urlencode({"payload": json.dumps({
        "type": "block_actions", "user": user_data, "api_app_id": "A0REGIE", "token": "legacy",
        "trigger_id": f"{n}.123.abcdef", "team": {"id": "T0REGIE", "domain": "regie"},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL,
                      "is_ephemeral": False},
        "enterprise": None, "is_enterprise_install": False,
        "channel": {"id": CHANNEL, "name": "regieteam"},
        "message": {"type": "message", "ts": message_ts, "user": "UBOT", "text": "…"},
        "state": {"values": {}}, "response_url": slack.response_url(name), "actions": [action],
    })})


FORM = "application/x-www-form-urlencoded"


async def deliver_and_retry(client: aiohttp.ClientSession, first: Replica, second: Replica,
                            body: str) -> None:
    """Slack delivers to `first`, then retries the same request at `second`."""
    assert await first.post(client, "/slack/events", body, FORM, sign(body)) == 200
    retry = {**sign(body), "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert await second.post(client, "/slack/events", body, FORM, retry) == 200


def answers_to(slack: FakeSlack, name: str) -> list[Call]:
    assert isinstance(slack, AttributedSlack)
    return [c for c in slack.of("response_url") if slack.by(c) == name]


def posts_to(slack: FakeSlack, channel: str) -> list[Call]:
    return [c for c in slack.of("chat.postMessage") if c.args.get("channel") == channel]


def containing(calls: list[Call], text: str) -> list[Call]:
    return [c for c in calls if text in all_text(c.args)]


# --- the test ----------------------------------------------------------------------------------


async def test_two_replicas_handle_everything_once_and_hand_over(
    database_url: str, services: Services, slack: AttributedSlack, telegram: FakeTelegram,
    tmp_path: Path,
) -> None:
    references = await file_cases(services)
    for name in ("kanaal-een", "kanaal-twee"):
        await add_reminder(services, name)
    await make_agenda_and_digest_due(services, database_url)

    ports = [free_port(), free_port()]
    first = await start_replica("eerste", database_url, slack, telegram, tmp_path, ports[0], ports[0])
    replicas = [first]
    try:
        await first.wait_for_role("leader")
        second = await start_replica("tweede", database_url, slack, telegram, tmp_path, ports[1],
                                     ports[0])
        replicas.append(second)
        await second.wait_for_role("standby")
        assert telegram.webhook is not None and telegram.webhook["secret_token"] == WEBHOOK_SECRET

        # 1. what the leader sends when it starts: the agenda, the digest and the due reminders
        await until("de agenda, een draad per casus, het weekoverzicht en de herinneringen",
                    lambda: len(containing(posts_to(slack, CHANNEL), "regie|stem|")) >= CASES
                    and containing(posts_to(slack, CHANNEL), "Agenda Regieteam Oost")
                    and containing(posts_to(slack, JOOST_DM), "Weekoverzicht")
                    and len(containing(posts_to(slack, JOOST_DM), "kanaal-")) >= 2)
        openers = containing(posts_to(slack, CHANNEL), "regie|stem|")
        await until("alles ook via Telegram", lambda: len(
            [t for t in telegram.texts(JOOST_TELEGRAM) if "kanaal-" in t]) >= 2
            and any("Weekoverzicht" in t for t in telegram.texts(JOOST_TELEGRAM)))

        # 2. the first votes, all at once, each retried at the other replica. Cases 1 and 2:
        # two members each, one at each replica; cases 3 and 4: one member each, case 3 at the
        # first replica and case 4 at the second. So both replicas post tallies into threads of
        # the one channel at the same time, and each case gets one tally, updated afterwards.
        opener_of = {ref: next(c for c in openers if f"{ref}|q1|ja" in all_text(c.args))
                     for ref in references}
        ts_of = {ref: _ts_of(slack, call) for ref, call in opener_of.items()}
        async with aiohttp.ClientSession() as client:
            votes: list[str] = []  # the response_url names of the votes
            bodies = []

            def vote(n: int, user: str, choice: str, at: Replica, retried_at: Replica) -> None:
                ref, name = references[n], f"stem-{n}-{user}"
                button = button_named(opener_of[ref].args["blocks"], "stem", f"{ref}|q1|{choice}")
                bodies.append((at, retried_at, click_body(slack, user, button, ts_of[ref], name)))
                votes.append(name)

            for n in (0, 1):
                vote(n, "U0CARLA", "ja", first, second)
                vote(n, "U0FATIMA", "nee", second, first)
            vote(2, "U0CARLA", "ja", first, second)
            vote(3, "U0CARLA", "ja", second, first)
            await asyncio.gather(*(deliver_and_retry(client, a, b, body) for a, b, body in bodies))
            await until("een telling per casus en een antwoord op elke stem", lambda: len(
                containing(posts_to(slack, CHANNEL), "Stemmen")) >= CASES
                and all(answers_to(slack, name) for name in votes))

            # 3. more votes and slash commands, alternately to each replica, each retried at
            # the other; one after the other, each answered before the next
            steps: list[tuple[str, str]] = []
            for n, user in enumerate(("U0DIRK", "U0EVA")):
                ref = references[n]
                name = f"klik-{n}"
                button = button_named(opener_of[ref].args["blocks"], "stem", f"{ref}|q3|nee")
                steps.append((name, click_body(slack, user, button, ts_of[ref], name)))
                name = f"commando-{n}"
                steps.append((name, slash_body(slack, user, "/regie", f"stem {ref} q1 nee", name)))
            name = "status"
            steps.append((name, slash_body(slack, "U0CARLA", "/status", "", name)))
            for n, (name, body) in enumerate(steps):
                await deliver_and_retry(client, replicas[n % 2], replicas[(n + 1) % 2], body)
                await until(f"het antwoord op {name}", partial(answers_to, slack, name))
            votes += [name for name, _ in steps if name != "status"]

            # 4. a Telegram update delivered to both webhooks
            update = telegram.message_update(ANNA_TELEGRAM, "/help")
            for replica in replicas:
                assert await replica.post(client, "/telegram/webhook", json.dumps(update),
                                          "application/json",
                                          {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) == 200
            # Updates are handled one after the other: once the next one is answered, the
            # repeated one has been handled (and skipped) before it, in both replicas.
            for replica in replicas:
                later = telegram.message_update(ANNA_TELEGRAM, "/start")
                mark = telegram.mark()
                assert await replica.post(client, "/telegram/webhook", json.dumps(later),
                                          "application/json",
                                          {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}) == 200
                await telegram.next_call("sendMessage", ANNA_TELEGRAM, after=mark,
                                         contains="Regieteam-bot", wait=WAIT)

        async def assert_handled_once() -> None:
            for name in [*votes, "status"]:
                assert len(answers_to(slack, name)) == 1, name
            assert await count(services, Vote) == len(votes)
            assert await count(services, Event, Event.kind == "vote_cast") == len(votes)
            assert await count(services, Event, Event.kind == "vote_changed") == 0
            assert len(containing(posts_to(slack, CHANNEL), "Stemmen")) == CASES  # one tally each
            assert len([t for t in telegram.texts(ANNA_TELEGRAM) if "Wat kan ik" in t]) == 1

        await assert_handled_once()
        assert len(containing(posts_to(slack, CHANNEL), "Agenda Regieteam Oost")) == 1
        assert len(containing(posts_to(slack, CHANNEL), "regie|stem|")) == CASES
        assert len(containing(posts_to(slack, JOOST_DM), "Weekoverzicht")) == 1
        assert len([t for t in telegram.texts(JOOST_TELEGRAM) if "Weekoverzicht" in t]) == 1
        for name in ("kanaal-een", "kanaal-twee"):
            assert len(containing(posts_to(slack, JOOST_DM), name)) == 1, name
            assert len([t for t in telegram.texts(JOOST_TELEGRAM) if name in t]) == 1, name
        await until("de herinneringen als verstuurd vastgelegd", lambda: unsent(services))
        assert not containing(slack.of("chat.postMessage"), "Er ging iets mis")

        # the pace of the one channel, over both replicas
        channel_posts = sorted(posts_to(slack, CHANNEL), key=lambda c: c.at)
        # which replica wins each vote's race is up to the machine; both usually post here,
        # and whoever posts keeps the one shared pace
        assert {slack.by(c) for c in channel_posts} <= {first.token, second.token}
        gaps = [round(b.at - a.at, 3) for a, b in itertools.pairwise(channel_posts)]
        # one shared pace puts the posts in a row; the span from first to last is what a
        # loaded machine cannot shorten (a single late arrival only moves one gap)
        span = channel_posts[-1].at - channel_posts[0].at
        assert span >= (len(channel_posts) - 1) * PACE - JITTER, gaps

        # 5. kill the leader: the other takes over and sends what becomes due afterwards
        first.process.kill()
        await first.process.wait()
        await add_reminder(services, "kanaal-drie")
        await second.wait_for_role("leader", within=60)
        await until("de herinnering na de overname", lambda: containing(
            posts_to(slack, JOOST_DM), "kanaal-drie"), within=60)
        await until("de herinnering na de overname via Telegram", lambda: [
            t for t in telegram.texts(JOOST_TELEGRAM) if "kanaal-drie" in t], within=WAIT)
        [sent] = containing(posts_to(slack, JOOST_DM), "kanaal-drie")
        assert slack.by(sent) == second.token
        assert len([t for t in telegram.texts(JOOST_TELEGRAM) if "kanaal-drie" in t]) == 1
        await until("de herinnering als verstuurd vastgelegd", lambda: unsent(services))
        await assert_handled_once()  # also nothing handled a second time later on
    finally:
        for replica in replicas:
            await end(replica)


def _ts_of(slack: FakeSlack, post: Call) -> str:
    """The ts the fake gave the posted message."""
    for messages in slack.posted.values():
        for message in messages:
            if message.get("text") == post.args.get("text"):
                return str(message["ts"])
    raise AssertionError("bericht niet gevonden in de kanaalgeschiedenis")
