"""Case-work forms (commands/forms.py) as Slack modals.

Each form opens its modal at once with what needs no database (the trigger_id dies after
three seconds), optionally completes it with `views.update` (the plan's conditions, the
household as recorded), and on submission calls the form's use case. Wrong fields come back
inline (`response_action: errors`); other refusals replace the modal with the explanation.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.slack import forms
from bot.slack.dedupe import request_key
from bot.slack.home import home_view
from commands.context import Services
from commands.forms import CONDITION_PREFIX, FORM_BUTTONS, FORMS, CaseForm, Context, choice_names
from commands.melding import FormField, require_melder
from commands.organisation import Member
from commands.permissions import whom_to_ask
from commands.replies import CommandRefused, FormInvalid, Message, Result
from messages.form_texts import CONDITIONS_NOTE, FORM_TEXTS
from messages.labels import choice_labels
from messages.render import renderer
from messages.slack import Block, context_note, mrkdwn_section

if TYPE_CHECKING:
    from bot.slack.adapter import SlackAdapter

log = logging.getLogger(__name__)
Answers = dict[str, Any]
REFINED = frozenset({"terugkoppeling", "huishouden"})  # completed from the database once open
REFRESHES_HOME = frozenset({"sluiten"})  # publish the member's App Home again after submitting


@dataclass(frozen=True)
class Modal:
    """How Slack shows one form: the shared wording, and Slack's own two switches."""

    title: str
    intro: str  # the template of the explanation at the top
    labels: Mapping[str, tuple[str, str | None]]
    submit_label: str
    refine: bool = False        # complete the modal from the database after it opened
    refresh_home: bool = False  # publish the member's App Home again after a submission


MODALS: dict[str, Modal] = {
    name: Modal(texts.title, texts.intro, texts.labels, texts.submit, refine=name in REFINED,
                refresh_home=name in REFRESHES_HOME)
    for name, texts in FORM_TEXTS.items() if name != "melding"  # melding: bot/slack/forms.py
}
DONE_TITLE = "slack.titel.klaar"


# --- building the modal ----------------------------------------------------------------------


def _element(services: Services, form: CaseForm, form_field: FormField, initial: Any) -> Block:
    if form.name == "casemanager" and form_field.name == "casemanager":
        return forms.users_select()  # a Slack member; mapped to the organisation on submission
    names = choice_names(services, form.name, form_field.name)
    labels = choice_labels(form.name, form_field.name, form_field.choices, names)
    condition = form_field.name.startswith(CONDITION_PREFIX)
    return forms.field_element(form_field, labels, initial, radio_upto=0 if condition else 3,
                               checkboxes_upto=10)


def modal_blocks(services: Services, member: Member, form_name: str, value: str,
                 context: Context | None = None,
                 values: Mapping[str, Any] | None = None) -> list[Block]:
    """The modal's blocks for form `form_name`: every field at once, `values` filled in."""
    form, modal = FORMS[form_name], MODALS[form_name]
    context = context or {}
    initial = {**form.initial_answers(services, context, True), **(values or {})}
    plain = renderer("plain")
    blocks: list[Block] = [mrkdwn_section(renderer("mrkdwn").text(modal.intro, referentie=value))]
    if form_name == "huishouden" and "huishouden" in context:
        blocks.append(context_note(forms.text("huishouden_nu", huishouden=context["huishouden"],
                                              kinderen=context.get("kinderen"))))
    for form_field in form.field_list(services, member, context, True):
        condition = form_field.name.startswith(CONDITION_PREFIX)
        if condition and not any(b.get("block_id", "").startswith(CONDITION_PREFIX)
                                 for b in blocks):
            blocks.append(context_note(renderer("mrkdwn").text(CONDITIONS_NOTE)))
        label_key, hint_key = modal.labels.get(form_field.name, (f"veld.{form_field.name}", None))
        label = plain.choice(form_field.name[len(CONDITION_PREFIX):]) if condition \
            else forms.label(label_key)
        blocks.append(forms.input_block(
            form_field.name, label, _element(services, form, form_field,
                                             initial.get(form_field.name)),
            optional=not form_field.required or form_field.when is not None,
            hint=forms.label(hint_key) if hint_key else None))
    return blocks


def flow_view(form_name: str, blocks: list[Block], value: str) -> dict[str, Any]:
    modal = MODALS[form_name]
    return forms.modal(form_name, modal.title, blocks, submit_key=modal.submit_label,
                       metadata={"form": form_name, "v": value[:200]})


# --- opening ---------------------------------------------------------------------------------


async def open_flow(adapter: SlackAdapter, flow_name: str, member: Member, value: str,
                    trigger_id: str, respond: AsyncRespond | None = None,
                    values: Mapping[str, Any] | None = None) -> None:
    """Open form `flow_name` for `value` (a reference, a reminder id) as a modal at once,
    with `values` filled in; complete it afterwards when it needs the database."""
    services = adapter.services
    if flow_name == forms.MELDING:  # the casusformulier has its own modal and listener
        try:
            require_melder(services.org, member)
        except CommandRefused as refused:
            await adapter.say_privately(member, [refused.message], respond)
            return
        await adapter.client.views_open(trigger_id=trigger_id,
                                        view=forms.melding_modal(services.org, member))
        return
    form, modal = FORMS[flow_name], MODALS[flow_name]
    if form.chair_only and not member.has_role("voorzitter"):
        refusal = Message("fout/geen_rol", {"rollen": ["voorzitter"], "vraag": whom_to_ask(services.org)})
        await adapter.say_privately(member, [refusal], respond)
        return
    view = flow_view(flow_name, modal_blocks(services, member, flow_name, value, None, values),
                     value)
    opened = await adapter.client.views_open(trigger_id=trigger_id, view=view)
    if not modal.refine or form.prepare is None:
        return
    view_id = str(opened["view"]["id"])
    try:
        context = await form.prepare(services, member, value)
    except CommandRefused as refused:
        await adapter.client.views_update(
            view_id=view_id, view=forms.message_modal("slack.titel.niet_gelukt", refused.message))
        return
    blocks = modal_blocks(services, member, flow_name, value, context, values)
    await adapter.client.views_update(view_id=view_id, view=flow_view(flow_name, blocks, value))


# --- submitting ------------------------------------------------------------------------------


def _answers(services: Services, form: CaseForm, view: dict[str, Any]) -> Answers:
    answers = forms.read_values(view)
    if form.name == "casemanager":
        slack_user = str(answers.get("casemanager") or "")
        chosen = services.org.member_by_slack(slack_user)
        if chosen is None:
            raise FormInvalid({"casemanager": Message("slack/geen_lid", {
                "vraag": whom_to_ask(services.org)})})
        answers["casemanager"] = chosen.id
    return answers


def _refusal_block(form: CaseForm, refused: CommandRefused, view: dict[str, Any]) -> str | None:
    present = [str(b.get("block_id")) for b in view.get("blocks", []) if b.get("type") == "input"]
    return form.field_for(refused.message, present)


def register(adapter: SlackAdapter) -> None:
    for name in MODALS:  # the melding has its own modal (bot/slack/listeners.py)
        adapter.app.view(name)(adapter.inflight.tracked(_submission_listener(adapter, name)))


def _submission_listener(
    adapter: SlackAdapter, form_name: str
) -> Callable[[AsyncAck, dict[str, Any]], Awaitable[None]]:
    services = adapter.services
    form, modal = FORMS[form_name], MODALS[form_name]

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
            result = await form.submit(services, member, value, _answers(services, form, view), key)
        except FormInvalid as invalid:
            await ack(response_action="errors", errors=forms.field_errors(invalid.errors, view))
            return
        except CommandRefused as refused:
            block = _refusal_block(form, refused, view)
            if block is not None:
                await ack(response_action="errors",
                          errors=forms.field_errors({block: refused.message}, view))
            else:
                await ack(response_action="update",
                          view=forms.message_modal("slack.titel.niet_gelukt", refused.message))
            return
        shown = next((r for r in result.replies if not r.personal and not r.actions), None)
        done = shown or Message("slack/al_verwerkt")
        await ack(response_action="update", view=forms.message_modal(DONE_TITLE, done))
        rest = Result(replies=[r for r in result.replies if r is not shown],
                      outgoing=result.outgoing, files=result.files,
                      confirmation=result.confirmation)
        answered = await adapter.answer_after_form(member, rest, key + ":klaar")
        if answered and modal.refresh_home and member.slack_user:
            await adapter.client.views_publish(user_id=member.slack_user,
                                               view=await home_view(adapter, member))

    return submitted


__all__ = ["FORM_BUTTONS", "MODALS", "flow_view", "modal_blocks", "open_flow", "register"]
