"""Slash commands besides /melding: /regie (help and subcommands), /agenda, /status and
/terugkoppeling. Each acknowledges at once; a form opens straight away, other work runs
after the acknowledgement and answers privately (ephemeral) through the response_url."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.slack import flows
from bot.slack.dedupe import claim, request_key
from commands.agenda import add_urgent, post_agenda, show_agenda
from commands.audit import export_audit
from commands.besluit import publish_besluitenlijst, reopen_decision
from commands.context import Services
from commands.gegevens import show_personal_data
from commands.huishouden import correct_from_words
from commands.organisation import Member
from commands.rapport import rapport
from commands.replies import CommandRefused, Message, Result
from commands.sluiten import OUTCOMES, close_with, closing_from_words, split_words
from commands.status import case_timeline, status_overview
from commands.stemmen import cast_vote
from commands.toelichting import show_free_text

if TYPE_CHECKING:
    from bot.slack.adapter import SlackAdapter

Body = dict[str, Any]
REFERENCE = re.compile(r"^RT-\d{4}-\d{1,6}$", re.IGNORECASE)
Run = Callable[[Services, Member, list[str]], Awaitable[Result]]


class Usage(Exception):
    """The command was typed wrongly; `message` explains how it goes."""

    def __init__(self, template: str, **data: Any) -> None:
        super().__init__(template)
        self.message = Message(f"slack/{template}", data)


def _reference(words: list[str], usage: str) -> str:
    if not words or not REFERENCE.match(words[0]):
        raise Usage(usage)
    return words[0].upper()


# --- subcommands that run a command -----------------------------------------------------------


async def _vote(services: Services, member: Member, words: list[str]) -> Result:
    reference = _reference(words, "gebruik_stem")
    if len(words) < 3 or words[1].lower() not in ("q1", "q3"):
        raise Usage("gebruik_stem")
    return await cast_vote(services, member, reference, words[1].lower(), choice=words[2].lower())


async def _close(services: Services, member: Member, words: list[str]) -> Result:
    reference = _reference(words, "gebruik_sluit")
    if len(words) < 3 or words[1] not in OUTCOMES:
        raise Usage("gebruik_sluit", uitkomsten=list(OUTCOMES))
    return await close_with(services, member, reference,
                            closing_from_words(split_words(" ".join(words[1:]))))


async def _household(services: Services, member: Member, words: list[str]) -> Result:
    reference = _reference(words, "gebruik_huishouden")
    return await correct_from_words(services, member, [reference, *split_words(" ".join(words[1:]))])


async def _reopen(services: Services, member: Member, words: list[str]) -> Result:
    reference = _reference(words, "gebruik_heropen")
    return await reopen_decision(services, member, reference, " ".join(words[1:]))


async def _personal(services: Services, member: Member, words: list[str]) -> Result:
    return await show_personal_data(services, member, _reference(words, "gebruik_gegevens"))


async def _free_text(services: Services, member: Member, words: list[str]) -> Result:
    return await show_free_text(services, member, _reference(words, "gebruik_toelichting"))


async def _urgent(services: Services, member: Member, words: list[str]) -> Result:
    return await add_urgent(services, member, _reference(words, "gebruik_spoed"))


async def _report(services: Services, member: Member, words: list[str]) -> Result:
    return await rapport(services, member, *(words[:2]))


async def _agenda(services: Services, member: Member, words: list[str]) -> Result:
    if words and words[0].lower() in ("plaats", "plaatsen", "post"):
        return await post_agenda(services, member, words[1] if len(words) > 1 else None)
    if words and words[0].lower() == "besluitenlijst":
        return await publish_besluitenlijst(services, member, words[1] if len(words) > 1 else None)
    return await show_agenda(services, member, words[0] if words else None)


async def _status(services: Services, member: Member, words: list[str]) -> Result:
    if words and REFERENCE.match(words[0]):
        return await case_timeline(services, member, words[0])
    return await status_overview(services, member, full=bool(words and words[0] == "volledig"))


async def _audit(services: Services, member: Member, words: list[str]) -> Result:
    reference = words[0] if words and words[0].upper().startswith("RT-") else None
    dates = words[1:] if reference else words
    return await export_audit(services, member, reference, *(dates[:2]))


async def _besluitenlijst(services: Services, member: Member, words: list[str]) -> Result:
    return await publish_besluitenlijst(services, member, words[0] if words else None)


def check_syntax(name: str, words: list[str]) -> None:
    """Check how a subcommand is typed, before anything else happens (no database), so that a
    typing mistake is answered at once; raise Usage."""
    if name in ("gegevens", "toelichting", "spoed", "heropen", "huishouden"):
        _reference(words, f"gebruik_{name}")
    elif name == "stem":
        _reference(words, "gebruik_stem")
        if len(words) < 3 or words[1].lower() not in ("q1", "q3"):
            raise Usage("gebruik_stem")
    elif name == "sluit":
        _reference(words, "gebruik_sluit")
        if len(words) < 3 or words[1] not in OUTCOMES:
            raise Usage("gebruik_sluit", uitkomsten=list(OUTCOMES))


RUNS: dict[str, Run] = {
    "stem": _vote, "sluit": _close, "heropen": _reopen, "huishouden": _household,
    "gegevens": _personal, "spoed": _urgent,
    "toelichting": _free_text,
    "rapport": _report, "agenda": _agenda, "status": _status, "besluitenlijst": _besluitenlijst,
    "audit": _audit,
}
# Subcommands that open a form: name → (flow, usage template)
FORMS: dict[str, tuple[str, str]] = {
    "besluit": ("besluit", "gebruik_besluit"),
    "casemanager": ("casemanager", "gebruik_casemanager"),
    "terugkoppeling": ("terugkoppeling", "gebruik_terugkoppeling"),
}


def _form_for(name: str, words: list[str]) -> tuple[str, str] | None:
    """The form (flow, usage template) a subcommand opens, or None when it runs at once:
    `/regie stem RT-… q2` opens the steps checklist, and `/regie sluit RT-…` without an
    outcome opens the closing form (typed in full, it closes at once)."""
    if name in FORMS:
        return FORMS[name]
    if name == "stem" and len(words) >= 2 and words[1].lower() == "q2":
        return "stappen", "gebruik_stem"
    if name == "sluit" and len(words) == 1 and REFERENCE.match(words[0]):
        return "sluiten", "gebruik_sluit"
    if name == "huishouden" and len(words) == 1 and REFERENCE.match(words[0]):
        return "huishouden", "gebruik_huishouden"
    return None


def _direct_message(body: Body) -> bool:
    return str(body.get("channel_id") or "").startswith("D")


def register(adapter: SlackAdapter) -> None:
    app = adapter.app
    services = adapter.services

    async def run(body: Body, respond: AsyncRespond, member: Member, run: Run, name: str,
                  words: list[str]) -> None:
        key = request_key("cmd", member.id, str(body.get("trigger_id")))
        if not await claim(services, key):
            return
        command = str(body.get("command") or "/regie")
        purpose = f"{command} {name}" if command == "/regie" else command
        try:
            result = await run(services.asked("slack", purpose), member, words)
        except (CommandRefused, Usage) as refused:
            await adapter.say_privately(member, [refused.message], respond)
            return
        if result.files and not _direct_message(body):
            # need-to-know: files (CSV, chart) go to the member's direct messages, never to
            # the channel they were asked in; the ephemeral answer says where they went
            result.replies.append(Message("algemeen/prive_gestuurd"))
        await adapter.answer(member, result, respond)

    async def dispatch(ack: AsyncAck, body: Body, respond: AsyncRespond, name: str,
                       words: list[str]) -> None:
        member = adapter.member(body.get("user_id"))
        if member is None:
            await ack(text=adapter.mrkdwn(adapter.unknown_user()))
            return
        form = _form_for(name, words)
        if form is not None:
            flow, usage = form
            if not words or not REFERENCE.match(words[0]):
                await ack(text=adapter.mrkdwn(Message(f"slack/{usage}")))
                return
            await ack()
            await flows.open_flow(adapter, flow, member, words[0].upper(), body["trigger_id"],
                                  respond)
            return
        handler = RUNS.get(name)
        if handler is None:
            await ack(text=adapter.mrkdwn(Message("slack/help")))
            return
        try:
            check_syntax(name, words)
        except Usage as usage:
            await ack(text=adapter.mrkdwn(usage.message))
            return
        await ack()
        await run(body, respond, member, handler, name, words)

    @app.command("/regie")
    @adapter.inflight.tracked
    async def regie(ack: AsyncAck, body: Body, respond: AsyncRespond) -> None:
        words = str(body.get("text") or "").split()
        name = words[0].lower() if words else "help"
        await dispatch(ack, body, respond, name, words[1:])

    @app.command("/agenda")
    @adapter.inflight.tracked
    async def agenda(ack: AsyncAck, body: Body, respond: AsyncRespond) -> None:
        await dispatch(ack, body, respond, "agenda", str(body.get("text") or "").split())

    @app.command("/status")
    @adapter.inflight.tracked
    async def status(ack: AsyncAck, body: Body, respond: AsyncRespond) -> None:
        await dispatch(ack, body, respond, "status", str(body.get("text") or "").split())

    @app.command("/terugkoppeling")
    @adapter.inflight.tracked
    async def terugkoppeling(ack: AsyncAck, body: Body, respond: AsyncRespond) -> None:
        await dispatch(ack, body, respond, "terugkoppeling", str(body.get("text") or "").split())
