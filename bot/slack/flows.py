"""Modal flows: buttons and commands that need a form before a command can run.

Each flow opens its modal at once with what needs no database (the trigger_id dies after
three seconds), optionally completes it with `views.update`, and on submission calls one
command. Wrong fields come back inline (`response_action: errors`); other refusals replace
the modal with the explanation.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from sqlalchemy import select

from bot.slack import forms
from bot.slack.dedupe import claim, request_key
from bot.slack.home import home_view
from commands.agenda import post_agenda
from commands.besluit import record_decision
from commands.casemanager import CONDITION_STATES, appoint
from commands.cases import case_by_reference
from commands.context import Services
from commands.huishouden import MAX_CHILDREN, correct_household, current_household
from commands.organisation import Member
from commands.permissions import whom_to_ask
from commands.reminders import postpone_reminder
from commands.replies import Action, CommandRefused, FormInvalid, Message, Result
from commands.sluiten import CARE_DESKS, OUTCOMES, SHELTERS, Closing, close_with
from commands.stemmen import STEPS, cast_vote
from commands.terugkoppeling import give_feedback
from messages.render import renderer
from messages.slack import Block, context_note, mrkdwn_section
from store.models import PlanCondition

if TYPE_CHECKING:
    from bot.slack.adapter import SlackAdapter

log = logging.getLogger(__name__)
Answers = dict[str, Any]
MAJORITY = "meerderheid"


@dataclass(frozen=True)
class Flow:
    name: str
    title: str
    done_title: str
    build: Callable[[Services, Member, str], list[Block]]
    submit: Callable[[Services, Member, str, Answers, str], Awaitable[Result]]
    refine: Callable[[Services, Member, str], Awaitable[list[Block]]] | None = None
    chair_only: bool = False
    fields: dict[str, str] = field(default_factory=dict)  # refusal template or `veld` → block_id
    submit_label: str = "slack.knop.versturen"
    refresh_home: bool = False  # publish the member's App Home again after a submission


def _choice(key: str) -> tuple[str, str]:
    return key, renderer("plain").choice(key)


def _intro(template: str, **data: Any) -> Block:
    return mrkdwn_section(forms.text(template, **data))


def _label(key: str) -> str:
    return forms.label(key)


def _text(answers: Answers, name: str) -> str | None:
    value = answers.get(name)
    return str(value).strip() if value not in (None, "") else None


# --- Q2: the steps checklist -----------------------------------------------------------------


def _steps_blocks(services: Services, member: Member, reference: str) -> list[Block]:
    return [
        _intro("stappen_uitleg", referentie=reference),
        forms.input_block("stappen", _label("slack.veld.stappen"),
                          forms.checkboxes([_choice(s) for s in STEPS])),
        forms.input_block("stappen_tekst", _label("veld.stappen_tekst"),
                          forms.text_input(500, multiline=True), optional=True,
                          hint=_label("slack.hint.geen_namen")),
    ]


async def _steps_submit(services: Services, member: Member, reference: str, answers: Answers,
                        _key: str) -> Result:
    return await cast_vote(services, member, reference, "q2", steps=answers.get("stappen") or [],
                           steps_text=_text(answers, "stappen_tekst"))


# --- the decision ------------------------------------------------------------------------------


def _outcome_choices() -> list[tuple[str, str]]:
    return [(MAJORITY, _label("slack.meerderheid")), _choice("ja"), _choice("nee")]


def _decision_blocks(services: Services, member: Member, reference: str) -> list[Block]:
    return [
        _intro("besluit_uitleg", referentie=reference),
        forms.input_block("q1", _label("slack.veld.q1"), forms.radio(_outcome_choices(), MAJORITY)),
        forms.input_block("q2", _label("slack.veld.q2"),
                          forms.checkboxes([_choice(s) for s in STEPS]), optional=True,
                          hint=_label("slack.hint.q2_meerderheid")),
        forms.input_block("q2_tekst", _label("veld.stappen_tekst"),
                          forms.text_input(1000, multiline=True), optional=True),
        forms.input_block("q3", _label("slack.veld.q3"), forms.radio(_outcome_choices(), MAJORITY)),
        forms.input_block("reden", _label("slack.veld.reden_afwijking"),
                          forms.text_input(1000, multiline=True), optional=True,
                          hint=_label("slack.hint.reden_afwijking")),
    ]


def _given(answers: Answers, name: str) -> str | None:
    value = answers.get(name)
    return None if value in (None, "", MAJORITY) else str(value)


async def _decision_submit(services: Services, member: Member, reference: str, answers: Answers,
                           _key: str) -> Result:
    steps = answers.get("q2") or None
    result = await record_decision(
        services, member, reference, q1=_given(answers, "q1"), q2_steps=steps,
        q2_text=_text(answers, "q2_tekst"), q3=_given(answers, "q3"),
        reason=_text(answers, "reden"),
    )
    if result.outgoing:  # a new decision: offer the next step, appointing the casemanager
        result.replies.append(Message("slack/volgende_stap_casemanager", {"referentie": reference},
                                      (Action("casemanager_aanwijzen", reference,
                                              "slack.knop.casemanager", "primary"),)))
    return result


# --- the casemanager ---------------------------------------------------------------------------


def _casemanager_blocks(services: Services, member: Member, reference: str) -> list[Block]:
    weeks = services.org.rules.terugkoppeling_weeks
    interval = {**forms.number_input(26, minimum=1), "initial_value": str(weeks)}
    return [
        _intro("casemanager_uitleg", referentie=reference),
        forms.input_block("casemanager", _label("slack.veld.casemanager"), forms.users_select()),
        forms.input_block("termijn", _label("slack.veld.termijn"), forms.datepicker(),
                          hint=_label("slack.hint.termijn")),
        forms.input_block("weken", _label("slack.veld.weken"), interval, optional=True,
                          hint=_label("slack.hint.weken")),
    ]


async def _casemanager_submit(services: Services, member: Member, reference: str,
                              answers: Answers, _key: str) -> Result:
    chosen = services.org.member_by_slack(str(answers.get("casemanager") or ""))
    if chosen is None:
        raise FormInvalid({"casemanager": Message("slack/geen_lid", {
            "vraag": whom_to_ask(services.org)})})
    return await appoint(services, member, reference, chosen.id, str(answers.get("termijn") or ""),
                         _text(answers, "weken"))


# --- terugkoppeling ----------------------------------------------------------------------------


def _feedback_blocks(services: Services, member: Member, reference: str) -> list[Block]:
    return [
        _intro("terugkoppeling_uitleg", referentie=reference),
        forms.input_block("tekst", _label("slack.veld.terugkoppeling"),
                          forms.text_input(2000, multiline=True), hint=_label("slack.hint.geen_namen")),
        forms.input_block("termijn_houdt", _label("slack.veld.termijn_houdt"),
                          forms.radio([_choice("ja"), _choice("nee")], "ja")),
        forms.input_block("nieuwe_termijn", _label("slack.veld.nieuwe_termijn"), forms.datepicker(),
                          optional=True, hint=_label("slack.hint.nieuwe_termijn")),
    ]


async def _feedback_conditions(services: Services, member: Member, reference: str) -> list[Block]:
    """The plan's conditions with their current state, read after the modal is open."""
    async with services.sessions() as session:
        case = await case_by_reference(session, reference)
        if case.phase != "in_uitvoering":
            raise CommandRefused("fout/niet_in_uitvoering", referentie=case.reference)
        rows = (await session.scalars(select(PlanCondition).where(
            PlanCondition.case_id == case.id).order_by(PlanCondition.id))).all()
    blocks = _feedback_blocks(services, member, case.reference)
    if rows:
        blocks.append(context_note(forms.text("voorwaarden_uitleg")))
    states = [_choice(s) for s in CONDITION_STATES]
    for row in rows[:40]:
        blocks.append(forms.input_block(f"vw_{row.key}", renderer("plain").choice(row.key),
                                        forms.static_select(states, row.state), optional=True))
    return blocks


async def _feedback_submit(services: Services, member: Member, reference: str, answers: Answers,
                           key: str) -> Result:
    conditions = {name[3:]: str(value) for name, value in answers.items()
                  if name.startswith("vw_") and value}
    return await give_feedback(
        services, member, reference, str(answers.get("tekst") or ""), conditions or None,
        termijn_holds=answers.get("termijn_houdt") != "nee",
        new_termijn=_text(answers, "nieuwe_termijn"), submission_key=key,
    )


# --- postponing a reminder -----------------------------------------------------------------------


def _postpone_blocks(services: Services, member: Member, reminder_id: str) -> list[Block]:
    return [
        _intro("uitstellen_uitleg"),
        forms.input_block("datum", _label("slack.veld.uitstel_datum"), forms.datepicker()),
        forms.input_block("reden", _label("slack.veld.uitstel_reden"), forms.text_input(300),
                          hint=_label("slack.hint.geen_namen")),
    ]


async def _postpone_submit(services: Services, member: Member, reminder_id: str, answers: Answers,
                           _key: str) -> Result:
    return await postpone_reminder(services, member, reminder_id, str(answers.get("datum") or ""),
                                   str(answers.get("reden") or ""))


# --- closing a case --------------------------------------------------------------------------------


def _close_blocks(services: Services, member: Member, reference: str) -> list[Block]:
    return [
        _intro("sluiten_uitleg", referentie=reference),
        forms.input_block("uitkomst", _label("slack.veld.uitkomst"),
                          forms.static_select([_choice(o) for o in OUTCOMES])),
        forms.input_block("reden", _label("slack.veld.reden_sluiten"),
                          forms.text_input(1000, multiline=True), hint=_label("slack.hint.geen_namen")),
        forms.input_block("opvang", _label("slack.veld.opvang"),
                          forms.static_select([(s, _label(f"opvang.{s}")) for s in SHELTERS]),
                          optional=True, hint=_label("slack.hint.opvang")),
        forms.input_block("opvang_toelichting", _label("slack.veld.opvang_toelichting"),
                          forms.text_input(200), optional=True,
                          hint=_label("slack.hint.opvang_toelichting")),
        forms.input_block("gemeld_bij", _label("slack.veld.gemeld_bij"),
                          forms.static_select([(d, _label(f"meldpunt.{d}")) for d in CARE_DESKS]),
                          optional=True, hint=_label("slack.hint.gemeld_bij")),
        forms.input_block("gemeld_op", _label("slack.veld.gemeld_op"), forms.datepicker(),
                          optional=True),
    ]


async def _close_submit(services: Services, member: Member, reference: str, answers: Answers,
                        _key: str) -> Result:
    return await close_with(services, member, reference, Closing(
        outcome=_text(answers, "uitkomst") or "", reason=str(answers.get("reden") or ""),
        shelter=_text(answers, "opvang"), shelter_note=_text(answers, "opvang_toelichting"),
        reported_to=_text(answers, "gemeld_bij"), reported_on=_text(answers, "gemeld_op")))


# --- correcting the household ---------------------------------------------------------------------


def _household_blocks(services: Services, member: Member, reference: str) -> list[Block]:
    return [
        _intro("huishouden_uitleg", referentie=reference),
        forms.input_block("huishouden", _label("veld.huishouden"),
                          forms.checkboxes([_choice(c) for c in services.org.household_categories]),
                          optional=True, hint=_label("slack.hint.huishouden")),
        forms.input_block("kinderen", _label("veld.minderjarige_kinderen"),
                          forms.number_input(MAX_CHILDREN), optional=True),
        forms.input_block("reden", _label("veld.correctie_reden"), forms.text_input(500),
                          hint=_label("slack.hint.geen_namen")),
    ]


async def _household_refine(services: Services, member: Member, reference: str) -> list[Block]:
    """The household as recorded, shown above the fields (and refused for whoever may not
    correct it), read after the modal is open."""
    categories, children = await current_household(services, member, reference)
    blocks = _household_blocks(services, member, reference)
    blocks.insert(1, context_note(forms.text("huishouden_nu", huishouden=categories,
                                             kinderen=children)))
    return blocks


async def _household_submit(services: Services, member: Member, reference: str, answers: Answers,
                            _key: str) -> Result:
    return await correct_household(services, member, reference,
                                   categories=answers.get("huishouden") or None,
                                   children=_text(answers, "kinderen"),
                                   reason=_text(answers, "reden"))


FLOWS: dict[str, Flow] = {flow.name: flow for flow in (
    Flow("stappen", "slack.titel.stappen", "slack.titel.klaar", _steps_blocks, _steps_submit,
         fields={"fout/stem_stappen": "stappen", "stappen_tekst": "stappen_tekst"}),
    Flow("besluit", "slack.titel.besluit", "slack.titel.klaar", _decision_blocks, _decision_submit,
         chair_only=True, submit_label="slack.knop.vastleggen",
         fields={"fout/besluit_reden_nodig": "reden", "reden": "reden", "fout/stem_stappen": "q2",
                 "stappen_tekst": "q2_tekst", "uitleg": "reden", "q1": "q1", "q3": "q3"}),
    Flow("casemanager", "slack.titel.casemanager", "slack.titel.klaar", _casemanager_blocks,
         _casemanager_submit, chair_only=True, submit_label="slack.knop.vastleggen",
         fields={"fout/lid_onbekend": "casemanager", "termijn": "termijn",
                 "fout/termijn_verleden": "termijn", "fout/termijn_te_ver": "termijn",
                 "fout/interval_vorm": "weken"}),
    Flow("terugkoppeling", "slack.titel.terugkoppeling", "slack.titel.klaar", _feedback_blocks,
         _feedback_submit, refine=_feedback_conditions,
         fields={"terugkoppeling": "tekst", "termijn": "nieuwe_termijn",
                 "fout/nieuwe_termijn_voorzitter": "nieuwe_termijn",
                 "fout/termijn_verleden": "nieuwe_termijn", "fout/termijn_te_ver": "nieuwe_termijn"}),
    Flow("uitstellen", "slack.titel.uitstellen", "slack.titel.klaar", _postpone_blocks,
         _postpone_submit, fields={"uitstel_datum": "datum", "herinnering/uitstel_datum": "datum",
                                   "uitstel_reden": "reden"}),
    Flow("huishouden", "slack.titel.huishouden", "slack.titel.klaar", _household_blocks,
         _household_submit, refine=_household_refine, submit_label="slack.knop.vastleggen",
         fields={"huishouden": "huishouden", "minderjarige_kinderen": "kinderen",
                 "correctie_reden": "reden", "fout/correctie_reden_nodig": "reden",
                 "fout/correctie_leeg": "huishouden", "fout/gezin_zonder_kinderen": "kinderen"}),
    Flow("sluiten", "slack.titel.sluiten", "slack.titel.klaar", _close_blocks, _close_submit,
         submit_label="slack.knop.afsluiten", refresh_home=True,
         fields={"uitkomst": "uitkomst", "uitleg": "reden", "reden": "reden", "opvang": "opvang",
                 "opvang_toelichting": "opvang_toelichting", "gemeld_bij": "gemeld_bij",
                 "gemeld_op": "gemeld_op"}),
)}

# Buttons (Action names from commands/) that open a flow instead of running a command.
FORM_BUTTONS: dict[str, str] = {
    "stappen_kiezen": "stappen",
    "besluit_vastleggen": "besluit",
    "casemanager_aanwijzen": "casemanager",
    "terugkoppeling_geven": "terugkoppeling",
    "herinnering_uitstellen": "uitstellen",
    "casus_sluiten": "sluiten",
}


async def _agenda_button(services: Services, member: Member, value: str) -> Result:
    return await post_agenda(services, member, value or None)


# Buttons handled here because no command registers them with commands.actions.
LOCAL_BUTTONS: dict[str, Callable[[Services, Member, str], Awaitable[Result]]] = {
    "agenda_plaatsen": _agenda_button,
}


# --- running a flow ------------------------------------------------------------------------------


def flow_view(flow: Flow, blocks: list[Block], value: str) -> dict[str, Any]:
    return forms.modal(flow.name, flow.title, blocks, submit_key=flow.submit_label,
                       metadata={"form": flow.name, "v": value[:200]})


async def open_flow(adapter: SlackAdapter, flow_name: str, member: Member, value: str,
                    trigger_id: str, respond: AsyncRespond | None = None) -> None:
    """Open the flow's modal at once; complete it afterwards when it needs the database."""
    flow = FLOWS[flow_name]
    services = adapter.services
    if flow.chair_only and not member.has_role("voorzitter"):
        refusal = Message("fout/geen_rol", {"rollen": ["voorzitter"], "vraag": whom_to_ask(services.org)})
        await adapter.say_privately(member, [refusal], respond)
        return
    view = flow_view(flow, flow.build(services, member, value), value)
    opened = await adapter.client.views_open(trigger_id=trigger_id, view=view)
    if flow.refine is None:
        return
    view_id = str(opened["view"]["id"])
    try:
        blocks = await flow.refine(services, member, value)
    except CommandRefused as refused:
        await adapter.client.views_update(
            view_id=view_id, view=forms.message_modal("slack.titel.niet_gelukt", refused.message))
        return
    await adapter.client.views_update(view_id=view_id, view=flow_view(flow, blocks, value))


def _refusal_block(flow: Flow, refused: CommandRefused, view: dict[str, Any]) -> str | None:
    present = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
    message = refused.message
    for key in (message.template, str(message.data.get("veld", "")), str(message.data.get("vraag", ""))):
        block = flow.fields.get(key)
        if block in present:
            return block
    return None


def register(adapter: SlackAdapter) -> None:
    for flow in FLOWS.values():
        adapter.app.view(flow.name)(adapter.inflight.tracked(_submission_listener(adapter, flow)))


def _submission_listener(
    adapter: SlackAdapter, flow: Flow
) -> Callable[[AsyncAck, dict[str, Any]], Awaitable[None]]:
    services = adapter.services

    async def submitted(ack: AsyncAck, body: dict[str, Any]) -> None:
        view = body["view"]
        member = adapter.member(body.get("user", {}).get("id"))
        if member is None:
            await ack(response_action="update",
                      view=forms.message_modal("slack.titel.niet_gelukt", adapter.unknown_user()))
            return
        value = str(forms.metadata(view).get("v") or "")
        key = request_key("view", str(view.get("id")))
        try:
            result = await flow.submit(services, member, value, forms.read_values(view), key)
        except FormInvalid as invalid:
            await ack(response_action="errors", errors=forms.field_errors(invalid.errors, view))
            return
        except CommandRefused as refused:
            block = _refusal_block(flow, refused, view)
            if block is not None:
                await ack(response_action="errors",
                          errors=forms.field_errors({block: refused.message}, view))
            else:
                await ack(response_action="update",
                          view=forms.message_modal("slack.titel.niet_gelukt", refused.message))
            return
        shown = next((r for r in result.replies if not r.personal and not r.actions), None)
        done = shown or Message("slack/al_verwerkt")
        await ack(response_action="update", view=forms.message_modal(flow.done_title, done))
        if await claim(services, key + ":klaar"):
            rest = [r for r in result.replies if r is not shown]
            await adapter.answer(member, Result(replies=rest, outgoing=result.outgoing,
                                                files=result.files), None)
            if flow.refresh_home and member.slack_user:
                await adapter.client.views_publish(user_id=member.slack_user,
                                                   view=await home_view(adapter, member))

    return submitted
