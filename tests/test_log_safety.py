"""No secret and no household data in any log line, at any level.

The bot's own logging set-up (`bot.logging_setup.configure`) writes into a buffer; then the root
logger and every library logger are opened up to DEBUG, as far as a careless operator could,
so that only the filters stand between the libraries and the log. A melding with made-up,
distinctive household data is filed through Slack (signed HTTP against the fake Slack) and
through Telegram (against the fake Bot API), and no captured line may hold a token, a key, the
household's name, address or postcode, or the free text.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from cryptography.fernet import Fernet

from bot import logsafety
from bot.delivery import Deliveries
from bot.logging_setup import configure
from bot.settings import Settings, SettingsError
from bot.telegram import create_telegram
from commands.context import Services
from tests.conftest import EXAMPLE_ORG, TEST_KEY
from tests.fakeslack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackBot
from tests.faketelegram import TOKEN as TELEGRAM_TOKEN
from tests.faketelegram import FakeTelegram, telegram_settings
from tests.test_slack_melding import modal_values
from tests.test_telegram_melding import ANNA, OOST, fill_until_children, q, say, tap

NAME = "Xandrijn Quaadvliegh"
ADDRESS = "Zeepbellenhof 913"
POSTCODE = "9472 QX"
BEFORE = "Zilverreigerplan met zevenmijlslaarzen besproken"
NOT_ENOUGH = "Kwakkelwinter in de boekhouding van Pluimstaart"
SECRETS = {"Slack bot token": BOT_TOKEN, "signing secret": SIGNING_SECRET,
           "Telegram token": TELEGRAM_TOKEN, "Fernet key": TEST_KEY}
HOUSEHOLD = {"name": NAME, "first name": "Xandrijn", "surname": "Quaadvliegh",
             "address": ADDRESS, "street": "Zeepbellenhof", "postcode": POSTCODE,
             "postcode (compact)": POSTCODE.replace(" ", ""), "postcode (form)": "9472+QX",
             "voortraject": BEFORE, "voortraject (word)": "Zilverreigerplan",
             "onvoldoende": NOT_ENOUGH, "onvoldoende (word)": "Kwakkelwinter",
             "onvoldoende (name in it)": "Pluimstaart"}


@dataclass
class Capture:
    """What the configured handler wrote, and which records reached the root logger at all."""

    stream: io.StringIO
    seen: list[tuple[str, int]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def assert_clean(self) -> None:
        text = self.text
        for what, value in {**SECRETS, **HOUSEHOLD}.items():
            assert value not in text, f"{what} in the log"
            assert value.lower() not in text.lower(), f"{what} in the log"

    def library_debug_records(self) -> int:
        return sum(1 for name, level in self.seen
                   if level < logging.INFO and not logsafety.is_project_logger(name))


class _Witness(logging.Handler):
    """Counts records by logger and level, without formatting them (no filters on it)."""

    def __init__(self, seen: list[tuple[str, int]]) -> None:
        super().__init__(logging.DEBUG)
        self.seen = seen

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.name, record.levelno))


def _settings(**extra: str) -> Settings:
    values = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
              "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "REGIEBOT_SECRET_KEY": TEST_KEY,
              "REGIEBOT_LOG_LEVEL": "DEBUG", **extra}
    return Settings(_env_file=None, **values)


async def melding_modal(slack_bot: SlackBot) -> dict[str, Any]:
    """/melding, then the modal as the fake Slack opened it (it records the call once answered)."""
    status, text = await slack_bot.slash("U0ANNA", "/melding")
    assert status == 200 and text == ""
    await slack_bot.fake.wait_for("views.open")
    return slack_bot.fake.last_view("melding")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Give the logging tree back as it was (pytest's own handlers included)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = sys.excepthook, threading.excepthook
    levels = {name: logger.level for name, logger in logging.Logger.manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    logsafety.uninstall(root.handlers)
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks
    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))


@pytest.fixture
def wide_open_log(restore_logging: None) -> Capture:
    """The bot's logging at REGIEBOT_LOG_LEVEL=DEBUG, then every level cap taken away."""
    capture = Capture(io.StringIO())
    configure(_settings(), stream=capture.stream)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for logger in logging.Logger.manager.loggerDict.values():
        if isinstance(logger, logging.Logger):
            logger.setLevel(logging.NOTSET)
    root.addHandler(_Witness(capture.seen))
    return capture


async def test_slack_melding_at_debug_leaves_no_trace(
    wide_open_log: Capture, fake_slack: FakeSlack, services: Services
) -> None:
    slack_bot = await SlackBot(fake_slack, services).start()
    try:
        view = await melding_modal(slack_bot)
        values = modal_values(huurder_naam=NAME, adres=ADDRESS, postcode=POSTCODE,
                              voortraject=BEFORE, onvoldoende=NOT_ENOUGH)
        status, answer = await slack_bot.submit("U0ANNA", view, values)
        assert status == 200 and answer["response_action"] == "update", answer
        await fake_slack.wait_for("chat.postMessage", 2)

        # a signed submission that arrives too late (clock skew): refused, its body not logged
        stale = int(time.time()) - 6 * 60
        status, _ = await slack_bot.submit("U0ANNA", view, values, timestamp=stale)
        assert status == 401
    finally:
        await slack_bot.stop()

    wide_open_log.assert_clean()
    refused = [line for line in wide_open_log.text.splitlines() if "verzoek geweigerd" in line]
    assert len(refused) == 1
    assert "tijdstempel 36" in refused[0]  # about six minutes off: the operator sees why
    assert "body" not in refused[0] and "view_submission" not in refused[0]
    assert wide_open_log.library_debug_records() > 0  # the libraries did talk at DEBUG


async def test_telegram_melding_at_debug_leaves_no_trace(
    wide_open_log: Capture, services: Services
) -> None:
    fake = FakeTelegram()
    await fake.start()
    adapter = create_telegram(services, telegram_settings(fake), Deliveries())
    await adapter.start()
    try:
        question = await fill_until_children(fake)
        question = await say(fake, ANNA, "2", q("achterstand_bedrag"))
        question = await say(fake, ANNA, "1.234,56", q("achterstand_maanden"))
        question = await say(fake, ANNA, "3", q("dagvaarding"))
        question = await say(fake, ANNA, "01-12-2026", q("zitting"))
        question = await say(fake, ANNA, "15-12-2026", q("vonnis"))
        question = await tap(fake, ANNA, question, "Overslaan", q("ontruiming"))
        question = await tap(fake, ANNA, question, "Overslaan", q("voortraject"))
        question = await say(fake, ANNA, BEFORE, q("onvoldoende"))
        question = await say(fake, ANNA, NOT_ENOUGH, q("huurder_geinformeerd"))
        question = await tap(fake, ANNA, question, "ja", q("contactpersoon"))
        question = await say(fake, ANNA, "Anna de Vries", q("huurder_naam"))
        question = await say(fake, ANNA, NAME, q("adres"))
        question = await say(fake, ANNA, ADDRESS, q("postcode"))
        summary = await say(fake, ANNA, POSTCODE, "Controleer je melding")
        assert NAME in summary.text  # the private summary shows it; the log does not
        filed = await tap(fake, ANNA, summary, "Indienen", "RT-2026-0001")
        assert "ingediend" in filed.text
        await fake.next_call("sendMessage", OOST, contains="RT-2026-0001")
    finally:
        await adapter.stop()
        await fake.stop()

    wide_open_log.assert_clean()
    assert "Telegram gestart" in wide_open_log.text
    assert "/bot<verborgen>/" in wide_open_log.text  # httpx's request lines, token hidden
    assert wide_open_log.library_debug_records() > 0


def test_secret_shapes_are_hidden_without_being_configured() -> None:
    key = Fernet.generate_key().decode()
    lines = {
        "POST https://api.telegram.org/bot987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage":
            "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "GET http://127.0.0.1:8081/file/bot42:zz-top-SECRET/photos/1.jpg": "zz-top-SECRET",
        "bot xoxb-1111-2222-abcdefABCDEF answered": "1111-2222-abcdefABCDEF",
        "socket xapp-1-A0REGIE-333-feedbeef opened": "A0REGIE-333-feedbeef",
        "user xoxp-9-8-7-deadbeef": "9-8-7-deadbeef",
        "headers {'Authorization': 'Bearer sesame-open-123'}": "sesame-open-123",
        "[(b'authorization', b'Basic dXNlcjpwYXNzd29yZA==')]": "dXNlcjpwYXNzd29yZA",
        "X-Telegram-Bot-Api-Secret-Token: hook-secret-77": "hook-secret-77",
        "signing_secret=8f742231b10e8888abcd99yyyzzz85a5": "8f742231b10e8888abcd99yyyzzz85a5",
        f"key {key} loaded": key,
        "postgresql+psycopg://regie:hunter2pass@db:5432/regiebot": "hunter2pass",
        "wss://wss-primary.slack.com/link/?ticket=abc-123-ticket&app_id=A0": "abc-123-ticket",
    }
    for line, secret in lines.items():
        hidden = logsafety.redact(line)
        assert secret not in hidden, line
        assert "<verborgen>" in hidden
        assert logsafety.redact(hidden) == hidden  # hiding twice changes nothing


def test_library_lines_lose_their_bodies(restore_logging: None) -> None:
    stream = io.StringIO()
    configure(_settings(), stream=stream)
    logging.getLogger("bot.test").debug("project detail %s", "stays")
    logging.getLogger("slack_sdk.web.async_base_client").setLevel(logging.DEBUG)
    logging.getLogger("slack_sdk.web.async_base_client").debug(
        "Sending a request - url: x, body_params: {'text': '%s'}", NAME)
    logging.getLogger("telegram.ext.ExtBot").warning(
        "Calling Bot API endpoint `sendMessage` with parameters `{'text': '%s'}`", NAME)
    logging.getLogger("bot.slack.bolt").warning(
        "A global middleware (x) skipped calling either `next()` or `next_()` without providing "
        "a response for the request ({'user': '%s'})", NAME)
    logging.getLogger("bot.test").error("not %s %s", "enough")
    text = stream.getvalue()
    assert "project detail stays" in text
    assert "Sending a request" not in text
    assert "with parameters <inhoud verborgen>" in text
    assert "for the request (<inhoud verborgen>)" in text
    assert "argumenten verborgen" in text
    assert NAME not in text and "enough" not in text


def test_levels_follow_the_setting_and_libraries_stay_at_info(restore_logging: None) -> None:
    configure(_settings(REGIEBOT_LOG_LEVEL="debug"), stream=io.StringIO())
    assert logging.getLogger("bot.telegram.adapter").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("commands.melding").isEnabledFor(logging.DEBUG)
    for library in ("telegram.ext", "slack_sdk", "slack_bolt", "bot.slack.bolt", "apscheduler",
                    "aiohttp.access"):
        assert not logging.getLogger(library).isEnabledFor(logging.DEBUG), library
        assert logging.getLogger(library).isEnabledFor(logging.INFO), library
    for quiet in ("httpx", "httpcore.http11", "sqlalchemy.engine", "aiosqlite"):
        assert not logging.getLogger(quiet).isEnabledFor(logging.INFO), quiet
    configure(_settings(REGIEBOT_LOG_LEVEL="WARNING"), stream=io.StringIO())
    assert not logging.getLogger("bot").isEnabledFor(logging.INFO)
    assert len([h for h in logging.getLogger().handlers if h.get_name() == "regiebot"]) == 1


def test_json_lines_parse_one_by_one(restore_logging: None) -> None:
    stream = io.StringIO()
    configure(_settings(REGIEBOT_LOG_FORMAT="json", REGIEBOT_LOG_LEVEL="INFO"), stream=stream)
    log = logging.getLogger("bot.test")
    log.info("twee\nregels met token %s", TELEGRAM_TOKEN)
    try:
        raise RuntimeError(f"kapot bij https://api.telegram.org/bot{TELEGRAM_TOKEN}/getMe")
    except RuntimeError:
        log.exception("mislukt")
    logging.getLogger("httpx").warning("HTTP Request: POST https://x/bot%s/getMe", TELEGRAM_TOKEN)
    lines = stream.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]
    assert len(entries) == 3
    assert {tuple(sorted(e)) for e in entries[:1]} == {("level", "logger", "message", "time")}
    assert entries[0]["level"] == "INFO" and entries[0]["logger"] == "bot.test"
    assert entries[0]["message"].startswith("twee\nregels")
    assert entries[1]["message"] == "mislukt" and "RuntimeError" in entries[1]["exception"]
    assert entries[2]["logger"] == "httpx"
    assert TELEGRAM_TOKEN not in stream.getvalue()


@pytest.mark.parametrize(("setting", "value"), [("REGIEBOT_LOG_LEVEL", "LUID"),
                                                ("REGIEBOT_LOG_FORMAT", "xml")])
def test_a_wrong_log_setting_says_what_to_choose(restore_logging: None, setting: str,
                                                 value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        configure(_settings(**{setting: value}), stream=io.StringIO())
    assert setting in str(raised.value) and value in str(raised.value)
    assert "Kies een van" in str(raised.value)


async def test_a_rejected_telegram_token_stays_out_of_the_log(tmp_path: Path,
                                                              sqlite_template: Path) -> None:
    """`regiebot run` whose token the Bot API refuses: the error is logged, the token is not."""
    shutil.copy(sqlite_template, tmp_path / "run.db")
    fake = FakeTelegram()
    await fake.start()
    wrong = "987654321:AAWrongTokenButShapedLikeARealOne_xyz"
    env = {**os.environ, "REGIEBOT_DATABASE_URL": f"sqlite:///{tmp_path}/run.db",
           "REGIEBOT_CONFIG": str(EXAMPLE_ORG), "REGIEBOT_SECRET_KEY": TEST_KEY,
           "REGIEBOT_LOG_LEVEL": "DEBUG", "REGIEBOT_HTTP_PORT": "0",
           "SLACK_BOT_TOKEN": "", "TELEGRAM_BOT_TOKEN": wrong, "TELEGRAM_API_URL": fake.url}
    cli = [sys.executable, "-m", "bot.cli"]
    try:
        run = await asyncio.create_subprocess_exec(*cli, "run", env=env, cwd=tmp_path,
                                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(run.communicate(), 120)
    finally:
        await fake.stop()
    log = err.decode() + out.decode()
    assert run.returncode != 0
    assert "InvalidToken" in log and "gestopt door een onverwachte fout" in log
    assert wrong not in log and wrong.split(":")[1] not in log
    assert TEST_KEY not in log


def test_configured_secrets_are_hidden_as_they_are(restore_logging: None) -> None:
    stream = io.StringIO()
    settings = _settings(REGIEBOT_DATABASE_URL="postgresql://regie:pw-Kanarie-8841@db/regiebot",
                         SLACK_APP_TOKEN="xapp-1-A0REGIE-4455-cafe", TELEGRAM_WEBHOOK_SECRET="hook_Sesam_9901")
    configure(settings, stream=stream)
    log = logging.getLogger("bot.test")
    for value in (BOT_TOKEN, SIGNING_SECRET, TELEGRAM_TOKEN, TEST_KEY, "pw-Kanarie-8841",
                  "xapp-1-A0REGIE-4455-cafe", "hook_Sesam_9901"):
        log.info("waarde %s, in een formulier %s", value, quote_plus(value))
    text = stream.getvalue()
    assert text.count("waarde <verborgen>, in een formulier <verborgen>") == 7
