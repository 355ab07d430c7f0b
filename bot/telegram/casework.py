"""The short conversations for casework buttons and commands, wired to the commands.

Each flow names its questions (labels "vraag.<flow>.<step>" in labels_telegram.j2) and
ends in one command call; the commands do the checking and the recording.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from bot.telegram.flows import Answers, Flow, Step
from commands.besluit import record_decision
from commands.casemanager import CONDITION_STATES, SCENARIO_CONDITIONS, appoint, parse_termijn
from commands.cases import case_by_reference
from commands.context import Services
from commands.huishouden import MAX_CHILDREN, care_desk, correct_household, current_household
from commands.organisation import Member
from commands.permissions import (
    may_vote,
    require_case_access,
    require_chair,
    whom_to_ask,
)
from commands.reminders import postpone_reminder
from commands.replies import Action, CommandRefused, Message, Result
from commands.sluiten import CARE_DESKS, LEFT_UNKNOWN, OUTCOMES, SHELTERS, WITH_SHELTER, Closing, close_with
from commands.stemmen import STEPS, cast_vote
from commands.terugkoppeling import give_feedback
from messages import telegram as tg
from messages.render import renderer
from store.models import PlanCondition


def _keys(keys: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(key, renderer("plain").choice(key)) for key in keys]


def _yes_no(_s: Services, _m: Member, _a: Answers) -> list[tuple[str, str]]:
    return _keys(("ja", "nee"))


def _steps(_s: Services, _m: Member, _a: Answers) -> list[tuple[str, str]]:
    return _keys(STEPS)


def _how(_s: Services, _m: Member, _a: Answers) -> list[tuple[str, str]]:
    return [("meerderheid", tg.label("telegram.volgens_meerderheid")),
            ("anders", tg.label("telegram.anders_besluiten"))]


def _casemanagers(services: Services, _m: Member, _a: Answers) -> list[tuple[str, str]]:
    org = services.org
    return [(m.id, f"{m.name} ({org.partner(m.partner).name})") for m in org.with_role("casemanager")]


def _outcomes(_s: Services, _m: Member, _a: Answers) -> list[tuple[str, str]]:
    return _keys(OUTCOMES)


def _shelters(_s: Services, _m: Member, _a: Answers) -> list[tuple[str, str]]:
    return [(key, renderer("plain").label(f"opvang.{key}")) for key in SHELTERS]


def _care_desks(_s: Services, _m: Member, _a: Answers) -> list[tuple[str, str]]:
    return [(key, renderer("plain").label(f"meldpunt.{key}")) for key in CARE_DESKS]


# The care desk a protected household must be reported to, read when the conversation starts.
CARE_DESK = "_meldpunt"


def _with_shelter(answers: Answers) -> bool:
    return answers.get("uitkomst") == WITH_SHELTER


def _report_needed(answers: Answers) -> bool:
    return answers.get("uitkomst") == LEFT_UNKNOWN and bool(answers.get(CARE_DESK))


def _deviates(answers: Answers) -> bool:
    return answers.get("wijze") == "anders"


# --- checks before a conversation starts -----------------------------------------------------


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


# --- the commands at the end -----------------------------------------------------------------


async def _vote_steps(services: Services, member: Member, reference: str, answers: Answers,
                      _key: str) -> Result:
    return await cast_vote(services, member, reference, "q2", steps=list(answers["stappen"]),
                           steps_text=answers.get("toelichting") or None)


async def _decide(services: Services, member: Member, reference: str, answers: Answers,
                  _key: str) -> Result:
    if _deviates(answers):
        result = await record_decision(
            services, member, reference, q1=answers.get("q1"),
            q2_steps=list(answers.get("q2") or []), q3=answers.get("q3"),
            reason=answers.get("reden") or None)
    else:
        result = await record_decision(services, member, reference)
    result.replies.append(Message("telegram/volgende_stap", {"referentie": reference}, (
        Action("casemanager_aanwijzen", reference, "telegram.casemanager_aanwijzen", "primary"),
    )))
    return result


def _weeks(_services: Services, text: str) -> None:
    if not text.isdigit() or not 1 <= int(text) <= 26:
        raise CommandRefused("fout/interval_vorm")


_APPOINT_FIELDS = {"fout/termijn_verleden": "termijn", "fout/termijn_te_ver": "termijn",
                   "fout/interval_vorm": "weken", "fout/lid_onbekend": "casemanager"}


async def _appoint(services: Services, member: Member, reference: str, answers: Answers,
                   _key: str) -> Result:
    try:
        return await appoint(services, member, reference, answers["casemanager"],
                             answers["termijn"], answers.get("weken") or None)
    except CommandRefused as refused:
        field = _APPOINT_FIELDS.get(refused.message.template)
        if field is None:
            raise
        raise CommandRefused(refused.message.template,
                             **{**refused.message.data, "veld": field}) from None


# --- terugkoppeling: one question per condition of the plan ---------------------------------

# The plan's conditions with their state when the conversation started: [[key, state], ...].
CONDITIONS = "_voorwaarden"
MAX_CONDITIONS = max(len(keys) for keys in SCENARIO_CONDITIONS.values())
KEEP, KEEP_REST = "zo_laten", "rest_zo_laten"


def _condition_step(index: int) -> str:
    return f"voorwaarde_{index}"


async def _feedback_prepare(services: Services, _m: Member, reference: str) -> Answers:
    """Read the plan's conditions once; the questions show the state they had then."""
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
        if case.phase != "in_uitvoering":
            raise CommandRefused("fout/niet_in_uitvoering", referentie=case.reference)
        rows = (await session.scalars(select(PlanCondition).where(
            PlanCondition.case_id == case.id).order_by(PlanCondition.id))).all()
    return {CONDITIONS: [[row.key, row.state] for row in rows[:MAX_CONDITIONS]]}


def _conditions(answers: Answers) -> list[tuple[str, str]]:
    return [(str(key), str(state)) for key, state in answers.get(CONDITIONS) or []]


def _condition_asked(index: int) -> Callable[[Answers], bool]:
    """Asked when the case has this condition and no earlier answer was "de rest zo laten"."""
    def applies(answers: Answers) -> bool:
        return index < len(_conditions(answers)) and all(
            answers.get(_condition_step(i)) != KEEP_REST for i in range(index))
    return applies


def _condition_choices(index: int) -> Callable[[Services, Member, Answers], list[tuple[str, str]]]:
    def choices(_s: Services, _m: Member, answers: Answers) -> list[tuple[str, str]]:
        conditions = _conditions(answers)
        current = conditions[index][1] if index < len(conditions) else ""
        options = [(state, renderer("plain").choice(state))
                   for state in CONDITION_STATES if state != current]
        options.append((KEEP, tg.label("telegram.voorwaarde_zo_laten")))
        if index + 1 < len(conditions):
            options.append((KEEP_REST, tg.label("telegram.voorwaarden_rest_zo_laten")))
        return options
    return choices


def _condition_question(index: int) -> Callable[[Answers], Message]:
    def question(answers: Answers) -> Message:
        conditions = _conditions(answers)
        key, state = conditions[index]
        html = renderer("html")
        return Message("telegram/voorwaarde_vraag", {
            "nummer": index + 1, "totaal": len(conditions), "naam": html.choice(key),
            "stand": html.choice(state), "eerste": index == 0,
        })
    return question


def _chosen_conditions(answers: Answers) -> dict[str, str]:
    """The new states picked; conditions left as they were are not sent."""
    chosen: dict[str, str] = {}
    for index, (key, state) in enumerate(_conditions(answers)):
        answer = answers.get(_condition_step(index))
        if answer == KEEP_REST:
            break
        if answer in CONDITION_STATES and answer != state:
            chosen[key] = str(answer)
    return chosen


CONDITION_STEPS = tuple(
    Step(_condition_step(i), "choice", _condition_choices(i), when=_condition_asked(i),
         question=_condition_question(i))
    for i in range(MAX_CONDITIONS))


async def _feedback(services: Services, member: Member, reference: str, answers: Answers,
                    key: str) -> Result:
    return await give_feedback(services, member, reference, answers["tekst"],
                               _chosen_conditions(answers) or None,
                               termijn_holds=answers.get("termijn_houdt") != "nee",
                               submission_key=key)


async def _close_prepare(services: Services, member: Member, reference: str) -> Answers:
    async with services.transaction() as session:
        case = await case_by_reference(session, reference)
        return {CARE_DESK: care_desk(services.org, case) or ""}


async def _close(services: Services, member: Member, reference: str, answers: Answers,
                 _key: str) -> Result:
    try:
        return await close_with(services, member, reference, Closing(
            outcome=answers["uitkomst"], reason=answers.get("reden") or "",
            shelter=answers.get("opvang") or None,
            shelter_note=answers.get("opvang_toelichting") or None,
            reported_to=answers.get("gemeld_bij") or None,
            reported_on=answers.get("gemeld_op") or None))
    except CommandRefused as refused:
        if refused.message.data.get("veld") != "uitleg":
            raise
        raise CommandRefused(refused.message.template,
                             **{**refused.message.data, "veld": "reden"}) from None


async def _household_prepare(services: Services, member: Member, reference: str) -> Answers:
    categories, _children = await current_household(services, member, reference)
    return {"huishouden": categories}


def _categories(services: Services, _m: Member, _a: Answers) -> list[tuple[str, str]]:
    return _keys(services.org.household_categories)


def _children(_services: Services, text: str) -> None:
    if not text.isdigit() or int(text) > MAX_CHILDREN:
        raise CommandRefused("fout/getal_vorm", veld="minderjarige_kinderen")


async def _correct(services: Services, member: Member, reference: str, answers: Answers,
                   _key: str) -> Result:
    try:
        return await correct_household(services, member, reference,
                                       categories=list(answers.get("huishouden") or []),
                                       children=answers.get("kinderen"),
                                       reason=answers.get("reden"))
    except CommandRefused as refused:
        field = {"minderjarige_kinderen": "kinderen", "correctie_reden": "reden"}.get(
            str(refused.message.data.get("veld")), refused.message.data.get("veld"))
        if refused.message.template == "fout/correctie_reden_nodig":
            field = "reden"
        raise CommandRefused(refused.message.template,
                             **{**refused.message.data, "veld": field}) from None


async def _postpone(services: Services, member: Member, reminder_id: str, answers: Answers,
                    _key: str) -> Result:
    try:
        return await postpone_reminder(services, member, reminder_id, answers["datum"],
                                       answers["reden"])
    except CommandRefused as refused:
        data = refused.message.data
        field = {"uitstel_datum": "datum", "uitstel_reden": "reden"}.get(str(data.get("veld")))
        if refused.message.template == "herinnering/uitstel_datum":
            field = "datum"
        if field is None:
            raise
        raise CommandRefused(refused.message.template, **{**data, "veld": field}) from None


FLOWS: dict[str, Flow] = {flow.name: flow for flow in (
    Flow("stappen_kiezen", "s", (
        Step("stappen", "multichoice", _steps),
        Step("toelichting", "text", required=False, max_length=500),
    ), _vote_steps, _voter),
    Flow("besluit_vastleggen", "b", (
        Step("wijze", "choice", _how),
        Step("q1", "choice", _yes_no, when=_deviates),
        Step("q2", "multichoice", _steps, when=_deviates),
        Step("q3", "choice", _yes_no, when=_deviates),
        Step("reden", "text", when=_deviates),
    ), _decide, _chair_of_case),
    Flow("casemanager_aanwijzen", "c", (
        Step("casemanager", "choice", _casemanagers),
        Step("termijn", "date", validate=parse_termijn),
        Step("weken", "text", required=False, max_length=3, validate=_weeks),
    ), _appoint, _chair_of_case),
    Flow("terugkoppeling_geven", "t", (
        Step("tekst", "text", max_length=2000),
        *CONDITION_STEPS,
        Step("termijn_houdt", "choice", _yes_no),
    ), _feedback, _sees_case, _feedback_prepare),
    Flow("sluiten", "z", (
        Step("uitkomst", "choice", _outcomes),
        Step("opvang", "choice", _shelters, when=_with_shelter),
        Step("opvang_toelichting", "text", required=False, when=_with_shelter, max_length=200),
        Step("gemeld_bij", "choice", _care_desks, when=_report_needed),
        Step("gemeld_op", "date", when=_report_needed),
        Step("reden", "text"),
    ), _close, _sees_case, _close_prepare),
    Flow("huishouden", "k", (
        Step("huishouden", "multichoice", _categories),
        Step("kinderen", "text", max_length=2, validate=_children),
        Step("reden", "text", max_length=500),
    ), _correct, prepare=_household_prepare),
    Flow("herinnering_uitstellen", "u", (
        Step("datum", "date"),
        Step("reden", "text", max_length=300),
    ), _postpone),
)}

__all__ = ["FLOWS"]
