"""The case-work forms, each defined once: besluit, stappen (vote on question 2), casemanager,
terugkoppeling, sluiten, uitstellen and huishouden.

A form is a list of `FormField`s (the same shape as `melding_fields()`), a check before it
starts, what its questions need from the database, and the use case it ends in. Slack shows
all fields at once in a modal (`modal=True`); the console and Telegram ask them one at a time
with `commands.walker`. Answers are plain strings and lists of strings, as a modal returns
them (dates as `YYYY-MM-DD`); the use cases do the final checking and the recording.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from commands.besluit import record_decision
from commands.casemanager import CONDITION_STATES, appoint, parse_termijn
from commands.cases import case_by_reference
from commands.context import Services
from commands.huishouden import MAX_CHILDREN, care_desk, correct_household, current_household
from commands.melding import (
    FormField,
    check_form,
    cross_field_errors,
    file_melding,
    melding_fields,
    require_melder,
)
from commands.organisation import Member, Organisation
from commands.permissions import may_vote, require_case_access, require_chair, whom_to_ask
from commands.reminders import check_postpone, postpone_reminder
from commands.replies import Action, CommandRefused, Message, Result
from commands.sluiten import CARE_DESKS, LEFT_UNKNOWN, OUTCOMES, SHELTERS, WITH_SHELTER, Closing, close_with
from commands.stemmen import STEPS, cast_vote
from commands.terugkoppeling import give_feedback
from commands.words import ActionName, Phase, Question
from store.models import PlanCondition

Answers = dict[str, Any]
Context = dict[str, Any]  # what the questions need, read once when the form opens (JSON-safe)

MAJORITY = "meerderheid"   # a choice on q1/q3: follow the vote
DEVIATE = "anders"         # besluit asked one at a time: decide otherwise, with a reason
KEEP, KEEP_REST = "zo_laten", "rest_zo_laten"  # a plan condition asked one at a time
CONDITION_PREFIX = "vw_"
MAX_CONDITIONS = 40

Fields = Callable[[Services, Member, Context, bool], list[FormField]]
Submit = Callable[[Services, Member, str, Answers, str], Awaitable[Result]]
Check = Callable[[Services, Member, str], Awaitable[None]]
Prepare = Callable[[Services, Member, str], Awaitable[Context]]
EarlyCheck = Callable[[Services, str, str], None]  # (services, field, value): raises


@dataclass(frozen=True)
class CaseForm:
    """One form. `value` is what it is opened for: a case reference, or a reminder id."""

    name: str
    button: ActionName | None
    fields: Fields
    submit: Submit
    check: Check | None = None          # may this member start it? (raises CommandRefused)
    prepare: Prepare | None = None      # what the questions need (conditions, care desk, …)
    initial: Callable[[Services, Context, bool], Answers] | None = None
    early: EarlyCheck | None = None     # a field check beyond its kind (a termijn in the past)
    chair_only: bool = False            # known without the database: refused before opening
    final_check: Callable[[Services, Member, Answers], object] | None = None  # FormInvalid
    summary: bool = False               # one at a time: show the answers before submitting
    # rules between answers, checked as soon as the answers they need are known:
    # (services, member, checked values so far) → field → what to fix
    between: Callable[[Services, Member, Mapping[str, Any]], Mapping[str, Message]] | None = None
    refusals: Mapping[str, str] = field(default_factory=dict)  # refusal template/veld → field

    def field_list(self, services: Services, member: Member, context: Context,
                   modal: bool) -> list[FormField]:
        return self.fields(services, member, context, modal)

    def initial_answers(self, services: Services, context: Context, modal: bool) -> Answers:
        return dict(self.initial(services, context, modal)) if self.initial else {}

    def field_for(self, message: Message, names: list[str]) -> str | None:
        """The field a refusal of the use case is about, when it is one of `names`."""
        for key in (message.template, str(message.data.get("veld", "")),
                    str(message.data.get("vraag", ""))):
            name = self.refusals.get(key, key if key in names else None)
            if name in names:
                return name
        return None


# Refusals after which asking again does not help: the form stops.
STOPPING = frozenset({
    "fout/geen_rol", "fout/casus_onbekend", "fout/stemming_gesloten", "fout/niet_op_agenda",
    "fout/geen_stemrecht", "fout/al_gesloten", "fout/niet_in_uitvoering", "fout/eerst_besluit",
    "fout/geen_quorum", "fout/geen_terugkoppeling_recht", "fout/geen_toegang_casus",
    "herinnering/al_afgehandeld",
})


def _text(answers: Mapping[str, Any], name: str) -> str | None:
    value = answers.get(name)
    return str(value).strip() if value not in (None, "") else None


def _given(answers: Mapping[str, Any], name: str) -> str | None:
    value = answers.get(name)
    return None if value in (None, "", MAJORITY) else str(value)


# --- checks before a form starts ------------------------------------------------------------


async def _chair_of_case(services: Services, member: Member, reference: str) -> None:
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
    require_chair(services.org, member, case.regieteam_id)


async def _voter(services: Services, member: Member, reference: str) -> None:
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
    if not may_vote(services.org, member, case.regieteam_id):
        raise CommandRefused("fout/geen_stemrecht",
                             team=services.org.regieteam(case.regieteam_id).name,
                             vraag=whom_to_ask(services.org))


async def _sees_case(services: Services, member: Member, reference: str) -> None:
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
    require_case_access(services.org, member, case)


# --- stappen: the vote on question 2 ---------------------------------------------------------


def _steps_fields(_s: Services, _m: Member, _c: Context, _modal: bool) -> list[FormField]:
    return [FormField("stappen", "multichoice", choices=STEPS),
            FormField("stappen_tekst", "longtext", required=False, max_length=500)]


async def _steps_submit(services: Services, member: Member, reference: str, answers: Answers,
                        _key: str) -> Result:
    return await cast_vote(services, member, reference, Question.STAPPEN,
                           steps=list(answers.get("stappen") or []),
                           steps_text=_text(answers, "stappen_tekst"))


# --- besluit -----------------------------------------------------------------------------------


def _deviates(answers: Mapping[str, Any]) -> bool:
    return answers.get("wijze") == DEVIATE


def _decision_fields(_s: Services, _m: Member, _c: Context, modal: bool) -> list[FormField]:
    if modal:  # every question at once: "follow the majority" is a choice per question
        return [
            FormField("q1", "choice", choices=(MAJORITY, "ja", "nee")),
            FormField("q2", "multichoice", required=False, choices=STEPS),
            FormField("q2_tekst", "longtext", required=False, max_length=1000),
            FormField("q3", "choice", choices=(MAJORITY, "ja", "nee")),
            FormField("reden", "longtext", required=False, max_length=1000),
        ]
    return [  # one at a time: first whether to follow the majority at all
        FormField("wijze", "choice", choices=(MAJORITY, DEVIATE)),
        FormField("q1", "choice", choices=("ja", "nee"), when=_deviates),
        FormField("q2", "multichoice", choices=STEPS, when=_deviates),
        FormField("q3", "choice", choices=("ja", "nee"), when=_deviates),
        FormField("reden", "longtext", max_length=1000, when=_deviates),
    ]


def _decision_initial(_s: Services, _c: Context, modal: bool) -> Answers:
    return {"q1": MAJORITY, "q3": MAJORITY} if modal else {}


async def _decision_submit(services: Services, member: Member, reference: str, answers: Answers,
                           _key: str) -> Result:
    if answers.get("wijze") == MAJORITY:
        result = await record_decision(services, member, reference)
    else:
        result = await record_decision(
            services, member, reference, q1=_given(answers, "q1"),
            q2_steps=list(answers.get("q2") or []) or None, q2_text=_text(answers, "q2_tekst"),
            q3=_given(answers, "q3"), reason=_text(answers, "reden"))
    return offer_casemanager(result, reference)


def offer_casemanager(result: Result, reference: str) -> Result:
    """After a new decision, the next step: appointing the casemanager (every door)."""
    if result.outgoing:  # a decision recorded just now, not one that was already there
        result.replies.append(Message("besluit/volgende_stap", {"referentie": reference}, (
            Action(ActionName.CASEMANAGER_AANWIJZEN, reference, "actie.casemanager_aanwijzen",
                   "primary"),)))
    return result


# --- casemanager -------------------------------------------------------------------------------


def _casemanager_fields(services: Services, _m: Member, _c: Context,
                        _modal: bool) -> list[FormField]:
    members = tuple(m.id for m in services.org.with_role("casemanager"))
    return [FormField("casemanager", "choice", choices=members),
            FormField("termijn", "date"),
            FormField("weken", "number", required=False, maximum=26)]


def _casemanager_initial(services: Services, _c: Context, modal: bool) -> Answers:
    return {"weken": str(services.org.rules.terugkoppeling_weeks)} if modal else {}


def _casemanager_early(services: Services, name: str, value: str) -> None:
    if name == "termijn":
        parse_termijn(services, value)
    elif name == "weken" and value and not 1 <= int(value) <= 26:
        raise CommandRefused("fout/interval_vorm")


async def _casemanager_submit(services: Services, member: Member, reference: str,
                              answers: Answers, _key: str) -> Result:
    return await appoint(services, member, reference, str(answers.get("casemanager") or ""),
                         str(answers.get("termijn") or ""), _text(answers, "weken"))


# --- terugkoppeling ------------------------------------------------------------------------------


async def _feedback_prepare(services: Services, _m: Member, reference: str) -> Context:
    """The plan's conditions with their state now; the questions show the state they had."""
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
        if case.phase != Phase.IN_UITVOERING:
            raise CommandRefused("fout/niet_in_uitvoering", referentie=case.reference)
        rows = (await session.scalars(select(PlanCondition).where(
            PlanCondition.case_id == case.id).order_by(PlanCondition.id))).all()
    return {"referentie": case.reference,
            "voorwaarden": [[row.key, row.state] for row in rows[:MAX_CONDITIONS]]}


def conditions(context: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The plan's conditions as (key, state) when the form opened."""
    return [(str(key), str(state)) for key, state in context.get("voorwaarden") or []]


def condition_field(key: str) -> str:
    return f"{CONDITION_PREFIX}{key}"


def _condition_asked(names: list[str]) -> Callable[[Mapping[str, Any]], bool]:
    """Asked unless an earlier condition was answered with "de rest zo laten"."""
    return lambda answers: all(answers.get(name) != KEEP_REST for name in names)


def _feedback_fields(_s: Services, _m: Member, context: Context, modal: bool) -> list[FormField]:
    rows = conditions(context)
    if modal:
        return [
            FormField("tekst", "longtext", max_length=2000),
            FormField("termijn_houdt", "choice", choices=("ja", "nee")),
            FormField("nieuwe_termijn", "date", required=False),
            *(FormField(condition_field(key), "choice", required=False, choices=CONDITION_STATES)
              for key, _state in rows),
        ]
    asked: list[FormField] = []
    for index, (key, state) in enumerate(rows):
        keep_rest = (KEEP_REST,) if index + 1 < len(rows) else ()
        asked.append(FormField(
            condition_field(key), "choice",
            choices=(*(s for s in CONDITION_STATES if s != state), KEEP, *keep_rest),
            when=_condition_asked([condition_field(k) for k, _ in rows[:index]])))
    return [
        FormField("tekst", "longtext", max_length=2000),
        *asked,
        FormField("termijn_houdt", "choice", choices=("ja", "nee")),
        FormField("nieuwe_termijn", "date", required=False,
                  when=lambda answers: answers.get("termijn_houdt") == "nee"),
    ]


def _feedback_initial(_s: Services, context: Context, modal: bool) -> Answers:
    if not modal:
        return {}
    return {"termijn_houdt": "ja",
            **{condition_field(key): state for key, state in conditions(context)}}


def chosen_conditions(context: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, str]:
    """The new states picked; conditions left as they were are not sent."""
    chosen: dict[str, str] = {}
    rows = conditions(context) or [(name[len(CONDITION_PREFIX):], "") for name in answers
                                   if name.startswith(CONDITION_PREFIX)]
    for key, state in rows:
        answer = answers.get(condition_field(key))
        if answer == KEEP_REST:
            break
        if answer in CONDITION_STATES and answer != state:
            chosen[key] = str(answer)
    return chosen


async def _feedback_submit(services: Services, member: Member, reference: str, answers: Answers,
                           key: str) -> Result:
    context = answers.get(CONTEXT) or {}
    return await give_feedback(
        services, member, reference, str(answers.get("tekst") or ""),
        chosen_conditions(context, answers) or None,
        termijn_holds=answers.get("termijn_houdt") != "nee",
        new_termijn=_text(answers, "nieuwe_termijn"), submission_key=key)


# --- uitstellen: a reminder ----------------------------------------------------------------------


def _postpone_fields(_s: Services, _m: Member, _c: Context, _modal: bool) -> list[FormField]:
    return [FormField("datum", "date"), FormField("reden", "text", max_length=300)]


async def _postpone_submit(services: Services, member: Member, reminder_id: str,
                           answers: Answers, _key: str) -> Result:
    return await postpone_reminder(services, member, reminder_id, str(answers.get("datum") or ""),
                                   str(answers.get("reden") or ""))


# --- sluiten -------------------------------------------------------------------------------------


async def _close_prepare(services: Services, _m: Member, reference: str) -> Context:
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
        return {"referentie": case.reference, "meldpunt": care_desk(services.org, case) or ""}


def _close_fields(_s: Services, _m: Member, context: Context, modal: bool) -> list[FormField]:
    def with_shelter(answers: Mapping[str, Any]) -> bool:
        return modal or answers.get("uitkomst") == WITH_SHELTER

    def report(answers: Mapping[str, Any]) -> bool:
        return modal or (answers.get("uitkomst") == LEFT_UNKNOWN and bool(context.get("meldpunt")))

    outcome = FormField("uitkomst", "choice", choices=OUTCOMES)
    reason = FormField("reden", "longtext", max_length=1000)
    details = [
        FormField("opvang", "choice", choices=SHELTERS, required=not modal, when=with_shelter),
        FormField("opvang_toelichting", "text", required=False, max_length=200, when=with_shelter),
        FormField("gemeld_bij", "choice", choices=CARE_DESKS, required=not modal, when=report),
        FormField("gemeld_op", "date", required=not modal, when=report),
    ]
    # all at once the reason follows the outcome; one at a time it comes last, after the
    # questions the outcome brings
    return [outcome, reason, *details] if modal else [outcome, *details, reason]


async def _close_submit(services: Services, member: Member, reference: str, answers: Answers,
                        _key: str) -> Result:
    return await close_with(services, member, reference, Closing(
        outcome=_text(answers, "uitkomst") or "", reason=str(answers.get("reden") or ""),
        shelter=_text(answers, "opvang"), shelter_note=_text(answers, "opvang_toelichting"),
        reported_to=_text(answers, "gemeld_bij"), reported_on=_text(answers, "gemeld_op")))


# --- huishouden: a correction --------------------------------------------------------------------


async def _household_prepare(services: Services, member: Member, reference: str) -> Context:
    """The household as recorded (refused for whoever may not correct it)."""
    categories, children = await current_household(services, member, reference)
    return {"huishouden": list(categories), "kinderen": children}


def _household_fields(services: Services, _m: Member, _c: Context,
                      modal: bool) -> list[FormField]:
    return [
        FormField("huishouden", "multichoice", required=not modal,
                  choices=tuple(services.org.household_categories)),
        FormField("kinderen", "number", required=not modal, maximum=MAX_CHILDREN),
        FormField("reden", "text", max_length=500),
    ]


def _household_initial(_s: Services, context: Context, modal: bool) -> Answers:
    return {} if modal else {"huishouden": list(context.get("huishouden") or [])}


async def _household_submit(services: Services, member: Member, reference: str,
                            answers: Answers, _key: str) -> Result:
    return await correct_household(services, member, reference,
                                   categories=list(answers.get("huishouden") or []) or None,
                                   children=_text(answers, "kinderen"),
                                   reason=_text(answers, "reden"))


# --- melding: the casusformulier (commands/melding.py) ---------------------------------------------


async def _melder(services: Services, member: Member, _value: str) -> None:
    require_melder(services.org, member)


def _melding_fields(services: Services, member: Member, _c: Context,
                    _modal: bool) -> list[FormField]:
    return melding_fields(services.org, member)


def _melding_check(services: Services, member: Member, answers: Answers) -> object:
    return check_form(services.org, member, answers, services.today())


async def _melding_submit(services: Services, member: Member, _value: str, answers: Answers,
                          key: str) -> Result:
    given = {name: value for name, value in answers.items() if name != CONTEXT}
    return await file_melding(services, member, given, submission_key=key)


# --- the forms -----------------------------------------------------------------------------------

# The context a form was opened with travels with its answers under this key (a walker keeps
# it in its draft; Slack re-reads it on submission).
CONTEXT = "__context__"

def _melding_between(services: Services, _member: Member,
                     values: Mapping[str, Any]) -> Mapping[str, Message]:
    return cross_field_errors(services.org, values, services.today())


FORMS: dict[str, CaseForm] = {form.name: form for form in (
    CaseForm("melding", None, _melding_fields, _melding_submit, check=_melder,
             final_check=_melding_check, summary=True, between=_melding_between),
    CaseForm("stappen", ActionName.STAPPEN_KIEZEN, _steps_fields, _steps_submit, check=_voter,
             refusals={"fout/stem_stappen": "stappen", "stappen_tekst": "stappen_tekst"}),
    CaseForm("besluit", ActionName.BESLUIT_VASTLEGGEN, _decision_fields, _decision_submit,
             check=_chair_of_case, initial=_decision_initial, chair_only=True,
             refusals={"fout/besluit_reden_nodig": "reden", "fout/stem_stappen": "q2",
                       "stappen_tekst": "q2_tekst", "uitleg": "reden"}),
    CaseForm("casemanager", ActionName.CASEMANAGER_AANWIJZEN, _casemanager_fields,
             _casemanager_submit, check=_chair_of_case, initial=_casemanager_initial,
             early=_casemanager_early, chair_only=True,
             refusals={"fout/lid_onbekend": "casemanager", "fout/termijn_verleden": "termijn",
                       "fout/termijn_te_ver": "termijn", "fout/interval_vorm": "weken"}),
    CaseForm("terugkoppeling", ActionName.TERUGKOPPELING_GEVEN, _feedback_fields,
             _feedback_submit, check=_sees_case, prepare=_feedback_prepare,
             initial=_feedback_initial,
             refusals={"terugkoppeling": "tekst", "termijn": "nieuwe_termijn",
                       "fout/nieuwe_termijn_voorzitter": "nieuwe_termijn",
                       "fout/termijn_verleden": "nieuwe_termijn",
                       "fout/termijn_te_ver": "nieuwe_termijn"}),
    CaseForm("uitstellen", ActionName.HERINNERING_UITSTELLEN, _postpone_fields, _postpone_submit,
             check=check_postpone,
             refusals={"uitstel_datum": "datum", "herinnering/uitstel_datum": "datum",
                       "uitstel_reden": "reden"}),
    CaseForm("sluiten", ActionName.SLUITEN, _close_fields, _close_submit, check=_sees_case,
             prepare=_close_prepare, refusals={"uitleg": "reden"}),
    CaseForm("huishouden", None, _household_fields, _household_submit,
             prepare=_household_prepare, initial=_household_initial,
             refusals={"minderjarige_kinderen": "kinderen", "correctie_reden": "reden",
                       "fout/correctie_reden_nodig": "reden", "fout/correctie_leeg": "huishouden",
                       "fout/gezin_zonder_kinderen": "kinderen"}),
)}

# Buttons (action names) that open a form instead of running a command, on every door.
FORM_BUTTONS: dict[str, str] = {form.button: form.name for form in FORMS.values() if form.button}


def form_for_button(name: str) -> CaseForm | None:
    form = FORM_BUTTONS.get(name)
    return FORMS[form] if form else None


def choice_names(services: Services, form: str, name: str) -> dict[str, str]:
    """Choices shown by a name from the organisation (a member, a corporation, a Regieteam,
    a wijk), not by a label."""
    org = services.org
    if form == "casemanager" and name == "casemanager":
        return {m.id: f"{m.name} ({org.partner(m.partner).name})"
                for m in org.with_role("casemanager")}
    if form == "melding":
        return melding_choice_names(org, name)
    return {}


def melding_choice_names(org: Organisation, name: str) -> dict[str, str]:
    if name == "corporatie":
        return {p.id: p.name for p in org.partners_of_kind("corporatie")}
    if name == "regieteam":
        return {t.id: t.name for t in org.regieteams}
    if name == "wijk":
        return {w: w for w in org.all_wijken()}
    return {}


def check_early(form: CaseForm, services: Services, name: str, value: str) -> None:
    """The form's own check of one answer (beyond its kind); raises FieldProblem or
    CommandRefused."""
    if form.early is not None and value:
        form.early(services, name, value)


__all__ = [
    "CONTEXT",
    "FORMS",
    "FORM_BUTTONS",
    "STOPPING",
    "CaseForm",
    "choice_names",
    "chosen_conditions",
    "conditions",
    "form_for_button",
    "offer_casemanager",
]
