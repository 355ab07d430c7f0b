"""The chaos harness: the real `regiebot run` process (Slack over signed HTTP, Telegram by
webhook) driven through one scripted flow against the fake Slack and the fake Bot API.

A `Run` owns one bot process, one fresh database and its own fakes. With `chaos=True` the
fakes inject faults at random (`FakeSlack.chaos`, `FakeTelegram.chaos`) and the process is
killed with SIGKILL at three steps picked by the seed, then started again. A request that got
no answer because of a kill is sent again the way it happens: a form submission the same body
with `X-Slack-Retry-Num` / `X-Slack-Retry-Reason`; a button click or a slash command (which
Slack does not send again) is clicked or typed again by the member; Telegram the same update
(same update_id).

`flow(run)` is the script; `slack_messages`, `telegram_messages` and `database_state` give
what the run left behind, normalised (no ids, no timestamps), so the outcome of a chaos run
can be compared with the same flow without faults.

Waits are on conditions (a database query, a recorded call) with a deadline. In a chaos run
a message can be lost, so the flow does not stop on a missing message: `settle` returns when
the condition holds or when the fakes have seen no call for a while (the bot has nothing more
to do), and the test's assertions at the end say what is missing.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import os
import random
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import func, select, text, update
from sqlalchemy import inspect as sa_inspect

from store.db import make_engine, make_sessionmaker
from store.models import Assignment, Case, Decision, Event, OutboxMessage, Reminder, Vote
from tests.conftest import EXAMPLE_ORG, TEST_KEY
from tests.fakeslack import SIGNING_SECRET, FakeSlack, sign, state_for
from tests.faketelegram import FakeTelegram, free_port

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
WEBHOOK_SECRET = "chaos-webhook-geheim"
FORM = "application/x-www-form-urlencoded"
CASES = 20
KILLS = 3
FAULT_RATE = 0.12
LATE_SECONDS = 2.0  # the product has no setting for its 30 s client timeout (see the test doc)
QUIET = 4.0  # no call to either fake for this long: the bot has nothing left in hand
STEP_WAIT = 30.0  # bound on a wait for the effect of one step
START_WAIT = 60.0  # bound on a start of the bot process

# the Regieteams of the example organisation: channel, chair, three voters, casemanagers
TEAMS = {
    "Oost": ("C0REGIE", "U0CARLA", ("U0CARLA", "U0DIRK", "U0FATIMA"), ("U0DIRK", "U0EVA")),
    "West": ("C0WEST", "U0GERRIT", ("U0GERRIT", "U0HANNA", "U0ILSE"), ("U0ILSE", "U0EVA")),
}
DECIDED_PER_TEAM = 4  # cases per team that get votes, a decision and a casemanager
# who answers a reminder posted to a partner channel (a member of that partner)
PARTNER_MEMBER = {"buurtteam": "U0DIRK", "shv": "U0EVA", "mbz": "U0FATIMA", "jbg": "U0HANNA",
                  "talis": "U0ANNA", "portaal": "U0BRAM", "woonwaarts": "U0WENDY",
                  "gemeente": "U0CARLA"}
PARTNER_CHANNEL = {"buurtteam": "C0BUURT", "shv": "C0SHV", "mbz": "C0MBZ", "jbg": "C0JBG",
                   "talis": "C0TALIS", "portaal": "C0PORTAAL", "woonwaarts": "C0WOONW",
                   "gemeente": "C0GEM"}
SLACK_USER = {"anna": "U0ANNA", "carla": "U0CARLA", "dirk": "U0DIRK", "eva": "U0EVA",
              "fatima": "U0FATIMA", "gerrit": "U0GERRIT", "hanna": "U0HANNA", "ilse": "U0ILSE",
              "joost": "U0JOOST", "bram": "U0BRAM", "wendy": "U0WENDY"}
TELEGRAM_USER = {"dirk": 5004, "eva": 5005, "carla": 5003, "joost": 5010, "anna": 5001}


async def until(check: Callable[[], Any], within: float) -> Any:
    """Poll `check` (a condition, possibly async) until it is truthy or `within` has passed;
    returns its last value."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


def today() -> date:
    return datetime.now(AMSTERDAM).date()


# --- the bot process ---------------------------------------------------------------------------


class BotProcess:
    """`python -m bot.cli run` with Slack over HTTP and Telegram by webhook."""

    def __init__(self, name: str, url: str, slack: FakeSlack, telegram: FakeTelegram,
                 folder: Path) -> None:
        self.name, self.url, self.folder = name, url, folder
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"{name}.log"
        self.starts = 0
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLACK_", "TELEGRAM_", "REGIEBOT_"))}
        env.update(REGIEBOT_DATABASE_URL=url, REGIEBOT_CONFIG=str(EXAMPLE_ORG),
                   REGIEBOT_SECRET_KEY=TEST_KEY, REGIEBOT_HTTP_HOST="127.0.0.1",
                   REGIEBOT_HTTP_PORT=str(self.port), SLACK_BOT_TOKEN="xoxb-chaos",
                   SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack.api_url,
                   TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_URL=telegram.url,
                   TELEGRAM_WEBHOOK_URL=f"{self.base}/telegram/webhook",
                   TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET)
        self.env = env
        self.process: asyncio.subprocess.Process | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as sink:
            sink.write(f"\n--- start {self.starts} ---\n".encode())
            sink.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", cwd=self.folder, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=sink)
        if not await until(self._answers, START_WAIT):
            raise AssertionError(f"{self.name} kwam niet op:\n{self.tail()}")

    async def _answers(self) -> bool:
        assert self.process is not None
        if self.process.returncode is not None:
            raise AssertionError(f"{self.name} stopte bij het starten:\n{self.tail()}")
        try:
            async with aiohttp.ClientSession() as client, client.get(f"{self.base}/healthz") as r:
                await r.read()
                return True
        except aiohttp.ClientError:
            return False

    async def kill(self) -> None:
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> None:
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                await self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


# --- one run of the flow ---------------------------------------------------------------------


@dataclass
class Run:
    name: str
    url: str
    folder: Path
    chaos: bool
    seed: int
    slack: FakeSlack = field(init=False)
    telegram: FakeTelegram = field(init=False)
    bot: BotProcess = field(init=False)
    step: int = 0
    kills_at: dict[int, int] = field(default_factory=dict)  # step → platform calls before it
    kill_log: list[str] = field(default_factory=list)
    resent: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    plan: random.Random = field(init=False)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(900_000))

    async def start(self, total_steps: int) -> None:
        self.plan = random.Random(self.seed)
        self.slack = FakeSlack().start_in_thread()
        self.telegram = FakeTelegram()
        await self.telegram.start()
        if self.chaos:
            # one kill while filing, one around the votes and decisions, one while answering
            # the reminders
            # the request: at once once it is sent (it gets no answer), or after a few more
            # calls to the platforms (after the acknowledgement, in the work that follows)
            steps = [self.plan.randrange(2, FILING_STEPS),
                     self.plan.randrange(FILING_STEPS + 2, DECIDING_STEPS),
                     self.plan.randrange(DECIDING_STEPS + 1, total_steps)]
            afters = [0, self.plan.choice((0, 1, 2, 3)), self.plan.choice((0, 1, 2, 3))]
            self.plan.shuffle(afters)
            self.kills_at = dict(zip(steps, afters, strict=True))
            self.slack.chaos(random.Random(self.seed + 1), FAULT_RATE, late_seconds=LATE_SECONDS)
            self.telegram.chaos(random.Random(self.seed + 2), FAULT_RATE,
                                late_seconds=LATE_SECONDS)
        self.bot = BotProcess(self.name, self.url, self.slack, self.telegram, self.folder)
        await self.bot.start()

    async def close(self) -> None:
        await self.bot.stop()
        self.slack.chaos(None, 0)
        self.telegram.chaos(None, 0)
        await self.telegram.stop()
        self.slack.all_answered()
        self.slack.stop_thread()

    # --- quiet and settled
    def _last_call(self) -> float:
        slack = self.slack.calls[-1].at if self.slack.calls else 0.0
        telegram = self.telegram.calls[-1].at if self.telegram.calls else 0.0
        return max(slack, telegram)

    async def settle(self, check: Callable[[], Any], within: float = STEP_WAIT) -> bool:
        """Until `check` holds, or (in a chaos run) the fakes have been quiet for QUIET s:
        whatever is still missing then was lost, and the flow goes on."""
        started = time.monotonic()

        async def done() -> bool:
            value = check()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return True
            now = time.monotonic()
            return self.chaos and now - started > QUIET and now - self._last_call() > QUIET

        await until(done, within)
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if not value and not self.chaos:
            raise AssertionError(f"{self.name}: stap {self.step} kwam niet rond\n{self.bot.tail()}")
        return bool(value)

    # --- requests as the platforms send them
    async def _post(self, path: str, body: str, headers: dict[str, str],
                    sent: asyncio.Event | None = None) -> tuple[int, str] | None:
        """POST to the bot; None when no answer came (connection refused or dropped). `sent`
        is set once the whole request has gone out."""
        trace = aiohttp.TraceConfig()

        async def on_sent(*_args: Any) -> None:
            if sent is not None:
                sent.set()

        trace.on_request_chunk_sent.append(on_sent)
        try:
            async with aiohttp.ClientSession(trace_configs=[trace]) as client, client.post(
                    f"{self.bot.base}{path}", data=body.encode(), headers=headers,
                    timeout=aiohttp.ClientTimeout(total=20)) as answer:
                return answer.status, await answer.text()
        except (aiohttp.ClientError, TimeoutError):
            return None

    async def _deliver(self, path: str, body: str | Callable[[int], str],
                       headers: Callable[[int], dict[str, str]], what: str) -> tuple[int, str]:
        """Send one request. At a kill step the bot is killed while it handles the request
        (as soon as the request is sent, or after a few more platform calls: the seed picks),
        and started again. What got no answer (or a 5xx) is sent again: `body(attempt)` says
        how (a click is clicked again)."""
        if isinstance(body, str):
            body = partial(lambda same, _attempt: same, body)
        self.step += 1
        attempt = 0
        if self.step in self.kills_at:
            calls_before = len(self.slack.calls) + len(self.telegram.calls)
            after = self.kills_at[self.step]
            sent = asyncio.Event()
            sending = asyncio.create_task(self._post(path, body(attempt), headers(attempt), sent))
            waiting = asyncio.create_task(sent.wait())
            await asyncio.wait({sending, waiting}, timeout=STEP_WAIT,
                               return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if after:
                await until(lambda: sending.done() or len(self.slack.calls)
                            + len(self.telegram.calls) >= calls_before + after, STEP_WAIT)
            await self.bot.kill()
            result = await sending
            self.kill_log.append(f"stap {self.step} ({what}) na {after} platform-aanroepen, "
                                 f"{'met' if result else 'zonder'} antwoord")
            await self.bot.start()
        else:
            result = await self._post(path, body(attempt), headers(attempt))
        while result is None or result[0] >= 500:
            attempt += 1
            self.resent.append(f"stap {self.step} ({what}) poging {attempt + 1}"
                               f"{'' if result is None else f' na {result[0]}'}")
            if not self.bot.alive:
                await self.bot.start()
            result = await self._post(path, body(attempt), headers(attempt))
            if attempt > 5:
                raise AssertionError(f"{what}: geen antwoord na {attempt} pogingen")
        return result

    async def slack_request(self, body: str | Callable[[int], str], what: str, *,
                            retried_by_slack: bool = True) -> tuple[int, str]:
        """A request from Slack. Slack itself sends a request again with X-Slack-Retry-Num;
        a button click it does not: the member clicks again (`retried_by_slack=False`)."""
        def headers(attempt: int) -> dict[str, str]:
            extra = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"} \
                if attempt and retried_by_slack else {}
            signed = body if isinstance(body, str) else body(attempt)
            return {"Content-Type": FORM, **sign(signed), **extra}

        return await self._deliver("/slack/events", body, headers, what)

    async def telegram_update(self, update: dict[str, Any], what: str) -> tuple[int, str]:
        def headers(_attempt: int) -> dict[str, str]:
            return {"Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}

        return await self._deliver("/telegram/webhook", json.dumps(update), headers, what)

    # --- Slack's shapes
    def _user(self, user: str) -> dict[str, Any]:
        return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0REGIE"}

    def _trigger(self) -> str:
        return f"{next(self._seq)}.1234567890.abcdef0123456789"

    async def slash(self, user: str, command: str, words: str = "", channel: str | None = None
                    ) -> tuple[int, str]:
        """Type a slash command; one that got no answer (Slack shows an error) is typed again."""
        n = next(self._seq)
        typed: dict[int, str] = {}

        def command_body(attempt: int) -> str:
            if attempt not in typed:
                typed[attempt] = urlencode({
                    "token": "legacy", "team_id": "T0REGIE", "team_domain": "regie",
                    "channel_id": channel or f"D{user}", "channel_name": "regie",
                    "user_id": user, "user_name": user.lower(), "command": command,
                    "text": words, "api_app_id": "A0REGIE", "is_enterprise_install": "false",
                    "response_url": self.slack.response_url(f"cmd{n}"),
                    "trigger_id": self._trigger()})
            return typed[attempt]

        return await self.slack_request(command_body, f"{command} {words}".strip(),
                                        retried_by_slack=False)

    async def click(self, user: str, name: str, value: str, channel: str,
                    message_ts: str = "1790000000.000001") -> str:
        """Press a button; returns the name of the click's response_url. A click that got no
        answer (Slack shows an error) is clicked again: a new click, the same response_url."""
        n = next(self._seq)
        clicks: dict[int, str] = {}

        def click_body(attempt: int) -> str:
            if attempt not in clicks:
                clicks[attempt] = urlencode({"payload": json.dumps(
                    self._click_payload(user, name, value, channel, message_ts, n, attempt))})
            return clicks[attempt]

        await self.slack_request(click_body, f"knop {name} {value}", retried_by_slack=False)
        return f"act{n}"

    def _click_payload(self, user: str, name: str, value: str, channel: str, message_ts: str,
                       n: int, attempt: int) -> dict[str, Any]:
        action = {"action_id": f"regie|{name}|0", "block_id": "b1", "value": value,
                  "text": {"type": "plain_text", "text": name}, "type": "button",
                  "action_ts": f"1790000{n:03d}.12345{attempt}"}
        return {
            "type": "block_actions", "user": self._user(user), "api_app_id": "A0REGIE",
            "token": "legacy", "trigger_id": self._trigger(),
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                          "is_ephemeral": False},
            "team": {"id": "T0REGIE", "domain": "regie"}, "enterprise": None,
            "is_enterprise_install": False, "channel": {"id": channel, "name": "kanaal"},
            "message": {"type": "message", "ts": message_ts, "user": "UBOT", "text": "…"},
            "state": {"values": {}}, "response_url": self.slack.response_url(f"act{n}"),
            "actions": [action]}

    async def submit(self, user: str, view: dict[str, Any], values: dict[str, Any]) -> Any:
        submitted = {**view, "state": state_for(view, values), "team_id": "T0REGIE",
                     "app_id": "A0REGIE", "bot_id": "B0BOT", "hash": "1790000000.abc"}
        payload = {
            "type": "view_submission", "team": {"id": "T0REGIE", "domain": "regie"},
            "user": self._user(user), "api_app_id": "A0REGIE", "token": "legacy",
            "trigger_id": self._trigger(), "view": submitted, "response_urls": [],
            "is_enterprise_install": False, "enterprise": None}
        _status, answer = await self.slack_request(urlencode({"payload": json.dumps(payload)}),
                                                   f"formulier {view.get('callback_id')}")
        return json.loads(answer) if answer.startswith("{") else answer

    async def modal(self, callback_id: str, open_it: Callable[[], Any]) -> dict[str, Any]:
        """Open a modal (a slash command or a button) and return it as the fake has it. When
        it does not open (the bot was killed before views.open), the member tries again."""
        def views() -> int:
            return len([v for v in self.slack.view_log if v.get("callback_id") == callback_id])

        for _ in range(3):
            before = views()
            await open_it()
            if await until(lambda: views() > before, STEP_WAIT / 2):  # noqa: B023
                return self.slack.last_view(callback_id)
            self.resent.append(f"stap {self.step}: venster {callback_id} opnieuw geopend")
        raise AssertionError(f"venster {callback_id} ging niet open\n{self.bot.tail()}")

    # --- the database
    async def db(self, work: Callable[[Any], Any]) -> Any:
        engine = make_engine(self.url)
        try:
            async with make_sessionmaker(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    async def count(self, model: Any, *where: Any) -> int:
        async def work(session: Any) -> int:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where))
                       or 0)
        return int(await self.db(work))

    async def case_id(self, reference: str) -> int:
        async def work(session: Any) -> int:
            return int(await session.scalar(select(Case.id).where(Case.reference == reference)))
        return int(await self.db(work))

    def opener_ts(self, channel: str, reference: str) -> str | None:
        for (where, ts), message in list(self.slack.final.items()):
            if where == channel and not message["thread_ts"] and \
                    f"{reference}|q1|ja" in json.dumps(message["blocks"] or []):
                return ts
        return None


# --- the flow ------------------------------------------------------------------------------------


def melding_values(n: int) -> dict[str, Any]:
    from tests.helpers import valid_answers

    day = today()
    return valid_answers(
        wijk="Oost" if n % 2 == 0 else "West",
        dagvaarding=(day - timedelta(days=7)).isoformat(),
        zitting=(day + timedelta(days=60 + n)).isoformat(),
        vonnis=None, ontruiming=None, huurder_naam=f"Huurder Fictief {n}",
        adres=f"Verzonnenstraat {n + 1}")


FILING_STEPS = CASES * 2  # a slash command and a submission per melding
DECIDING_STEPS = FILING_STEPS + 2 + 2 * DECIDED_PER_TEAM * (6 + 2 + 2)  # + agendas, votes, forms
FLOW_STEPS = DECIDING_STEPS + 4 * DECIDED_PER_TEAM  # + answers to the reminders


async def flow(run: Run) -> None:
    """The script: 20 meldingen through the modal, the agendas, three votes on two questions
    per decided case, the chair's decisions, the casemanagers, reminders made due (moved into
    the past: time passing) and delivered, and their answers on Slack and Telegram."""
    # 1. twenty meldingen, filed by Anna (Talis) through the modal
    for n in range(CASES):
        view = await run.modal("melding", lambda: run.slash("U0ANNA", "/melding"))
        answer = await run.submit("U0ANNA", view, melding_values(n))
        if not (isinstance(answer, dict) and answer.get("response_action") == "update"):
            assert run.chaos, answer
            run.resent.append(f"stap {run.step}: melding {n + 1} kreeg als antwoord {answer}")
    run.references = [f"RT-{today().year}-{n + 1:04d}" for n in range(CASES)]
    await run.settle(lambda: _count_is(run, Case, CASES))
    by_team = {"Oost": run.references[0::2], "West": run.references[1::2]}

    # 2. each chair posts the agenda; every case gets a thread
    for channel, chair, _voters, _managers in TEAMS.values():
        await run.slash(chair, "/agenda", "plaats", channel=channel)
    for team, (channel, *_rest) in TEAMS.items():
        await run.settle(partial(_threads_started, run, channel, by_team[team]), 60)

    # 3. votes, the decision and the casemanager for the first cases of each team
    for team, (channel, chair, voters, managers) in TEAMS.items():
        for index, ref in enumerate(by_team[team][:DECIDED_PER_TEAM]):
            ts = run.opener_ts(channel, ref) or "1790000000.000001"
            case_id = await run.case_id(ref)
            votes = 0
            for voter in voters:  # one after the other, as people do: each vote is in first
                for question, choice in (("q1", "ja"), ("q3", "nee")):
                    await run.click(voter, "stem", f"{ref}|{question}|{choice}", channel, ts)
                    votes += 1
                    await run.settle(partial(_count_is, run, Vote, votes, Vote.case_id == case_id))
            view = await run.modal("besluit", partial(
                run.click, chair, "besluit_vastleggen", ref, channel, ts))
            await run.submit(chair, view, {"q1": "meerderheid", "q3": "meerderheid"})
            await run.settle(partial(_count_is, run, Decision, 1, Decision.case_id == case_id))
            view = await run.modal("casemanager", partial(
                run.click, chair, "casemanager_aanwijzen", ref, f"D{chair}"))
            manager = managers[index % len(managers)]
            await run.submit(chair, view, {
                "casemanager": manager, "termijn": (today() + timedelta(days=35)).isoformat(),
                "weken": "4"})
            await run.settle(partial(_count_is, run, Assignment, 1,
                                     Assignment.case_id == case_id))

    # 4. time passes: the first termijn and terugkoppeling reminders become due; the bot is
    # started again (its dispatch runs at once at start-up) and sends them
    await make_first_reminders_due(run)
    await run.bot.stop()
    await run.bot.start()
    await drain(run)

    # 5. the reminders are answered: "Ontvangen" in the partner channel (Slack), "Gedaan" by
    # the casemanager (on Telegram where the casemanager has it, else in Slack)
    for reminder in await sent_reminders(run):
        if reminder["partner"]:
            member = PARTNER_MEMBER[reminder["partner"]]
            channel = PARTNER_CHANNEL[reminder["partner"]]
            clicked = await run.click(member, "herinnering_ontvangen", str(reminder["id"]),
                                      channel)
            await run.settle(partial(_answered, run, clicked))
        elif reminder["member"] in TELEGRAM_USER:
            await tap_on_telegram(run, reminder)
        else:
            user = SLACK_USER[reminder["member"]]
            clicked = await run.click(user, "herinnering_gedaan", str(reminder["id"]), f"D{user}")
            await run.settle(partial(_answered, run, clicked))


def _threads_started(run: Run, channel: str, references: list[str]) -> bool:
    return all(run.opener_ts(channel, ref) for ref in references)


def _answered(run: Run, response_url: str) -> bool:
    return response_url in run.slack.answered


def _callback_answered(run: Run, query_id: str) -> bool:
    return any(c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query_id
               for c in run.telegram.calls)


async def _count_is(run: Run, model: Any, n: int, *where: Any) -> bool:
    return await run.count(model, *where) >= n


ANSWERED_KINDS = ("termijn", "terugkoppeling")


async def make_first_reminders_due(run: Run) -> None:
    """Move the first pending termijn and terugkoppeling reminder of each case and target into
    the past: the time the bot waits for has passed."""
    now = datetime.now(UTC)

    async def work(session: Any) -> None:
        rows = (await session.scalars(select(Reminder).where(
            Reminder.kind.in_(ANSWERED_KINDS), Reminder.sent_at.is_(None),
            Reminder.cancelled_at.is_(None)).order_by(Reminder.due_at, Reminder.id))).all()
        first: dict[tuple[Any, ...], Reminder] = {}
        for row in rows:
            first.setdefault((row.kind, row.case_id, row.target_partner_id, row.target_member_id),
                             row)
        for row in first.values():
            row.due_at = now - timedelta(minutes=1)

    await run.db(work)


async def sent_reminders(run: Run) -> list[dict[str, Any]]:
    """The reminders sent so far that a person can answer (termijn and terugkoppeling), in a
    fixed order."""
    async def work(session: Any) -> list[dict[str, Any]]:
        rows = (await session.execute(select(
            Reminder.id, Reminder.kind, Case.reference, Reminder.target_partner_id,
            Reminder.target_member_id).join(Case, Case.id == Reminder.case_id).where(
                Reminder.sent_at.is_not(None), Reminder.kind.in_(ANSWERED_KINDS)))).all()
        return sorted(({"id": r[0], "kind": r[1], "case": r[2], "partner": r[3],
                        "member": r[4]} for r in rows),
                      key=lambda r: (r["case"], r["kind"], r["partner"] or "", r["member"] or ""))
    return list(await run.db(work))


async def tap_on_telegram(run: Run, reminder: dict[str, Any]) -> None:
    """The casemanager taps "Gedaan" on the reminder in their Telegram chat; when that
    message never arrived, they press the button in Slack instead."""
    chat = TELEGRAM_USER[reminder["member"]]
    for message in list(run.telegram.messages.values()):
        if message["chat"]["id"] != chat:
            continue
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                data = str(button.get("callback_data", ""))
                if data.endswith(f"|{reminder['id']}") and "gedaan" in data:
                    update = run.telegram.callback_update(chat, message, data)
                    update["update_id"] = next(run._update_ids)
                    await run.telegram_update(update, f"tik gedaan {reminder['id']}")
                    await run.settle(partial(_callback_answered, run,
                                             update["callback_query"]["id"]))
                    return
    user = SLACK_USER[reminder["member"]]
    clicked = await run.click(user, "herinnering_gedaan", str(reminder["id"]), f"D{user}")
    await run.settle(partial(_answered, run, clicked))


async def outbox_open(run: Run) -> int | None:
    """Rows of the outbox not yet sent, cancelled or failed; None without an outbox table."""
    async def work(session: Any) -> int | None:
        names = await session.run_sync(lambda s: sa_inspect(s.get_bind()).get_table_names())
        if "outbox" not in names:
            return None
        return int(await session.scalar(text(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND cancelled_at IS NULL "
            "AND failed_at IS NULL")) or 0)
    result = await run.db(work)
    return None if result is None else int(result)


async def reminders_open(run: Run) -> tuple[int, int]:
    """(due but not sent, still claimed) reminders."""
    now = datetime.now(UTC)
    due = await run.count(Reminder, Reminder.due_at <= now, Reminder.sent_at.is_(None),
                          Reminder.cancelled_at.is_(None), Reminder.failed_at.is_(None))
    claimed = await run.count(Reminder, Reminder.claimed_at.is_not(None))
    return due, claimed


async def nothing_left(run: Run) -> bool:
    outbox = await outbox_open(run)
    due, claimed = await reminders_open(run)
    return not outbox and due == 0 and claimed == 0


async def retry_now(run: Run) -> None:
    """Time passes: a reminder or an outbox message waiting for its next attempt (backoff)
    may go now."""
    now = datetime.now(UTC)

    async def work(session: Any) -> None:
        for model in (Reminder, OutboxMessage):
            await session.execute(update(model).where(
                model.sent_at.is_(None), model.next_attempt_at.is_not(None),
                model.next_attempt_at > now).values(next_attempt_at=now - timedelta(seconds=1)))

    await run.db(work)


async def drain(run: Run, rounds: int = 4) -> bool:
    """Wait until nothing is left to send. A reminder that waits for its backoff is made due
    (time passing) and the bot started again, so its dispatch runs at once."""
    for _ in range(rounds):
        if await until(lambda: nothing_left(run), 20):
            return True
        await retry_now(run)
        await run.bot.stop()
        await run.bot.start()
    return bool(await until(lambda: nothing_left(run), 20))


# --- what a run left behind ------------------------------------------------------------------

_TIME = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
_NUMBER_VALUE = re.compile(r'"value": "\d+"')


def normalise(value: Any) -> str:
    """Text without what differs between two runs of the same flow: times of day and the
    database ids in button values."""
    textual = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                               sort_keys=True)
    return _NUMBER_VALUE.sub('"value": "#"', _TIME.sub("HH:MM", textual))


def _slack_text(message: dict[str, Any]) -> str:
    blocks = [{k: v for k, v in b.items() if k != "block_id"} for b in message["blocks"] or []]
    return normalise(blocks) + " | " + normalise(str(message["text"] or ""))


def slack_messages(fake: FakeSlack) -> Counter[tuple[str, str, str]]:
    """(channel, thread, final text) of every message in the fake Slack, after edits; the
    thread is named by its first message's text."""
    final = dict(fake.final)
    counted: Counter[tuple[str, str, str]] = Counter()
    for (channel, _ts), message in final.items():
        thread = ""
        if message["thread_ts"]:
            parent = final.get((channel, str(message["thread_ts"])))
            thread = normalise(str(parent["first_text"])) if parent else "?"
        counted[(channel, thread, _slack_text(message))] += 1
    return counted


def telegram_messages(fake: FakeTelegram) -> Counter[tuple[int, str]]:
    """(chat, final text) of every message the fake Bot API sent, after edits."""
    counted: Counter[tuple[int, str]] = Counter()
    for (chat, _id), message in list(fake.messages.items()):
        if message.get("from", {}).get("is_bot"):
            body = message.get("text") or message.get("caption") or ""
            counted[(chat, normalise(str(body)))] += 1
    return counted


async def database_state(run: Run) -> dict[str, Any]:
    """The domain tables without ids and timestamps: cases by reference with phase and
    outcome, votes, decisions, assignments, reminders by kind/case/target/state, and the
    event kinds per case."""
    async def work(session: Any) -> dict[str, Any]:
        refs = dict((await session.execute(select(Case.id, Case.reference))).all())
        cases = sorted((r, p, o, c) for r, p, o, c in (await session.execute(
            select(Case.reference, Case.phase, Case.outcome, Case.casemanager_id))).all())
        votes = sorted((refs[c], m, q, ch or "", json.dumps(s)) for c, m, q, ch, s in (
            await session.execute(select(Vote.case_id, Vote.member_id, Vote.question,
                                         Vote.choice, Vote.steps))).all())
        decisions = sorted((refs[c], q1, q3, b, s is not None) for c, q1, q3, b, s in (
            await session.execute(select(Decision.case_id, Decision.q1, Decision.q3,
                                         Decision.recorded_by, Decision.superseded_at))).all())
        assignments = sorted((refs[c], m, s, str(t), w, e is not None) for c, m, s, t, w, e in (
            await session.execute(select(
                Assignment.case_id, Assignment.member_id, Assignment.scenario,
                Assignment.termijn, Assignment.terugkoppeling_weeks,
                Assignment.ended_at))).all())
        reminders = Counter(
            (k, refs.get(c, ""), p or "", m or "", s is not None, x is not None,
             f is not None, a is not None, d is not None)
            for k, c, p, m, s, x, f, a, d in (await session.execute(select(
                Reminder.kind, Reminder.case_id, Reminder.target_partner_id,
                Reminder.target_member_id, Reminder.sent_at, Reminder.cancelled_at,
                Reminder.failed_at, Reminder.acknowledged_at, Reminder.done_at))).all())
        events: dict[str, Counter[str]] = {}
        for c, kind in (await session.execute(select(Event.case_id, Event.kind))).all():
            events.setdefault(refs.get(c, "-"), Counter())[kind] += 1
        return {"cases": cases, "votes": votes, "decisions": decisions,
                "assignments": assignments,
                "reminders": sorted(reminders.items()),
                "events": {ref: sorted(kinds.items()) for ref, kinds in sorted(events.items())}}
    result: dict[str, Any] = await run.db(work)
    return result


def differences(expected: Any, actual: Any) -> list[str]:
    """What differs between two normalised database states, one line per difference."""
    lines = []
    for key in expected:
        if expected[key] == actual.get(key):
            continue
        if isinstance(expected[key], dict):
            for ref in sorted(set(expected[key]) | set(actual.get(key, {}))):
                if expected[key].get(ref) != actual.get(key, {}).get(ref):
                    lines.append(f"{key} {ref}: verwacht {expected[key].get(ref)}, "
                                 f"kreeg {actual.get(key, {}).get(ref)}")
        else:
            want, got = Counter(map(repr, expected[key])), Counter(map(repr, actual.get(key, [])))
            lines += [f"{key} ontbreekt: {row}" for row in (want - got)]
            lines += [f"{key} extra: {row}" for row in (got - want)]
    return lines
