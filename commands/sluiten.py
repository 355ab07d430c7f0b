"""Closing a case with an outcome that compares with national figures.

Families with minor children and vulnerable households are never put on the street. Every
door (console, Slack, Telegram, a close after reopening) ends in `close_case`, and
`check_closing` holds the rule:
- "uitgezet zonder opvang" is refused for a protected household;
- "uitgezet met opvang" needs a shelter chosen from `SHELTERS` (a free word such as "nvt",
  "geen" or "-" is never shelter), with an optional short note without an address;
- "vertrokken met onbekende bestemming" needs, for a protected household, a recorded report
  to Jeugdbescherming (children) or the Meldpunt Bijzondere Zorg (kwetsbaar), and the
  coordinator hears of it at once.
Whether a household is protected is computed from its current data (`commands.huishouden`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from commands import events, reminders
from commands.cases import case_by_reference, case_summary
from commands.context import Services
from commands.huishouden import care_desk, is_protected
from commands.organisation import Member
from commands.outbox import queue_result
from commands.permissions import is_chair_of, whom_to_ask
from commands.replies import CommandRefused, Message, Result, to_member, to_partner, to_regieteam
from commands.rollups import refresh_case_figures
from commands.toelichting import refuse_household_words, show_action
from commands.validation import FieldProblem, check_free_text, parse_date
from commands.words import TENANT_STAYS, Outcome, Phase
from store.models import Assignment, Case

OUTCOMES: tuple[Outcome, ...] = tuple(Outcome)
# Where a household evicted with shelter can go (labels "opvang.<id>" in labels_sluiten.j2).
SHELTERS = (
    "eigen_netwerk", "familie_vrienden", "crisisopvang", "maatschappelijke_opvang",
    "andere_woonruimte", "zorginstelling",
)
# Where a protected household that left for an unknown destination is reported
# (labels "meldpunt.<id>").
CARE_DESKS = ("jeugdbescherming", "mbz")
WITH_SHELTER, WITHOUT_SHELTER, LEFT_UNKNOWN = (
    Outcome.UITGEZET_MET_OPVANG, Outcome.UITGEZET_ZONDER_OPVANG, Outcome.VERTROKKEN_ONBEKEND)
# Names the closing form's fields have on every door (console/Slack options, Telegram steps).
FIELDS = ("uitkomst", "reden", "opvang", "opvang_toelichting", "gemeld_bij", "gemeld_op")


@dataclass(frozen=True)
class Closing:
    """What was typed in the closing form, before checking."""

    outcome: str
    reason: str
    shelter: str | None = None
    shelter_note: str | None = None
    reported_to: str | None = None
    reported_on: str | None = None


@dataclass(frozen=True)
class CareReport:
    desk: str
    on: date


@dataclass(frozen=True)
class CheckedClosing:
    outcome: str
    reason: str
    shelter: str | None
    shelter_note: str | None
    report: CareReport | None


# --- reading what was typed ----------------------------------------------------------------


def _key(text: str) -> str:
    return " ".join(text.strip().casefold().replace("_", " ").replace("-", " ").split())


# Typed forms of each shelter besides its id: the Dutch label and a few short words.
_SHELTER_WORDS: dict[str, tuple[str, ...]] = {
    "eigen_netwerk": ("eigen netwerk", "netwerk"),
    "familie_vrienden": ("familie of vrienden", "familie", "vrienden", "familie vrienden"),
    "crisisopvang": ("crisisopvang", "crisisplek", "crisis opvang"),
    "maatschappelijke_opvang": ("maatschappelijke opvang", "mo"),
    "andere_woonruimte": ("andere woonruimte", "woonruimte", "tijdelijke woonruimte"),
    "zorginstelling": ("zorginstelling", "zorg instelling"),
}
_DESK_WORDS: dict[str, tuple[str, ...]] = {
    "jeugdbescherming": ("jeugdbescherming", "jeugdbescherming gelderland", "jb"),
    "mbz": ("mbz", "meldpunt", "meldpunt bijzondere zorg", "meldpunt zorg en overlast"),
}


def _lookup(text: str, words: Mapping[str, tuple[str, ...]]) -> str | None:
    wanted = _key(text)
    for choice, typed in words.items():
        if wanted == _key(choice) or wanted in (_key(t) for t in typed):
            return choice
    return None


def parse_shelter(text: str | None) -> str | None:
    """A shelter id from its id, its label or a short word; None when nothing was typed.
    Anything else ("nvt", "geen", "-", a place's name) is refused: it is not a shelter."""
    if text is None or not text.strip():
        return None
    if text.strip().isdigit() and 1 <= int(text.strip()) <= len(SHELTERS):
        return SHELTERS[int(text.strip()) - 1]
    found = _lookup(text, _SHELTER_WORDS)
    if found is None:
        raise CommandRefused("fout/opvang_keuze", veld="opvang", keuzes=list(SHELTERS))
    return found


def parse_care_desk(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    found = _lookup(text, _DESK_WORDS)
    if found is None:
        raise CommandRefused("fout/meldpunt_keuze", veld="gemeld_bij", keuzes=list(CARE_DESKS))
    return found


def closing_from_words(words: list[str]) -> Closing:
    """`<uitkomst> reden… [opvang=…] [opvang_toelichting="…"] [gemeld_bij=…] [gemeld_op=…]`:
    the words after the reference, as the console, Slack and Telegram text commands pass them.
    `opvang:` (the older Slack form) is read as `opvang=`."""
    if not words:
        raise CommandRefused("fout/uitkomst_onbekend", uitkomsten=list(OUTCOMES))
    options: dict[str, str] = {}
    reason: list[str] = []
    shelter_words: list[str] | None = None  # after "opvang:", the words up to the next option
    for word in words[1:]:
        name, sep, value = word.partition("=")
        if sep and name.lower() in FIELDS:
            options[name.lower()] = value
            shelter_words = None
        elif word.lower().startswith("opvang:"):
            shelter_words = [word[len("opvang:"):]]
        elif shelter_words is not None:
            shelter_words.append(word)
        else:
            reason.append(word)
        if shelter_words is not None:
            options["opvang"] = " ".join(w for w in shelter_words if w)
    return Closing(outcome=words[0].strip().lower(), reason=options.get("reden") or " ".join(reason),
                   shelter=options.get("opvang"), shelter_note=options.get("opvang_toelichting"),
                   reported_to=options.get("gemeld_bij"), reported_on=options.get("gemeld_op"))


def split_words(text: str) -> list[str]:
    """Words as typed, with parts in double quotes kept together (`reden="twee woorden"`).
    Apostrophes stay as typed ("zo'n"); an unclosed quote is read as a letter."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split, lexer.quotes, lexer.escape = True, '"', ""
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:
        return text.split()


# --- the rule ------------------------------------------------------------------------------


def _text(services: Services, text: str | None, field: str, minimum: int,
          maximum: int = 1000) -> str | None:
    if not text or not text.strip():
        return None
    try:
        return check_free_text(text, services.today(), max_length=maximum, min_length=minimum)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld=field, **problem.data) from None


def _report_date(services: Services, case: Case, text: str | None) -> date | None:
    if text is None or not text.strip():
        return None
    try:
        day = parse_date(text)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="gemeld_op", **problem.data) from None
    filed = services.local(case.filed_at).date()
    if day > services.today() or day < filed:
        raise CommandRefused("fout/gemeld_op_bereik", veld="gemeld_op", vanaf=filed,
                             tot=services.today())
    return day


def check_closing(services: Services, case: Case, closing: Closing) -> CheckedClosing:
    """The never-on-the-street rule, the same for every door. Raises CommandRefused with
    `veld` naming the field to fix."""
    outcome = closing.outcome.strip().lower()
    if outcome not in OUTCOMES:
        raise CommandRefused("fout/uitkomst_onbekend", veld="uitkomst", uitkomsten=list(OUTCOMES))
    reason = _text(services, closing.reason, "uitleg", 5)
    if reason is None:
        raise CommandRefused("fout/sluiten_reden_nodig", veld="reden")
    protected = is_protected(services.org, case)
    if outcome == WITHOUT_SHELTER and protected:
        raise CommandRefused("fout/nooit_op_straat", veld="uitkomst", referentie=case.reference)
    shelter = note = None
    if outcome == WITH_SHELTER:
        shelter = parse_shelter(closing.shelter)
        if shelter is None:
            raise CommandRefused("fout/opvang_nodig", veld="opvang", referentie=case.reference,
                                 keuzes=list(SHELTERS))
        note = _text(services, closing.shelter_note, "opvang_toelichting", 0, maximum=200)
    report = None
    if outcome == LEFT_UNKNOWN and protected:
        report = _care_report(services, case, closing)
    return CheckedClosing(outcome, reason, shelter, note, report)


def _care_report(services: Services, case: Case, closing: Closing) -> CareReport:
    needed = care_desk(services.org, case)
    assert needed is not None
    desk = parse_care_desk(closing.reported_to)
    on = _report_date(services, case, closing.reported_on)
    if desk is None or on is None:
        raise CommandRefused("fout/melding_zorg_nodig", veld="gemeld_bij" if desk is None else "gemeld_op",
                             referentie=case.reference, meldpunt=needed)
    if desk != needed:
        raise CommandRefused("fout/melding_zorg_verkeerd", veld="gemeld_bij",
                             referentie=case.reference, meldpunt=needed)
    return CareReport(desk, on)


# --- closing -------------------------------------------------------------------------------


def _may_close(services: Services, member: Member, case: Case, outcome: str) -> bool:
    """The chair of the case's Regieteam and the coordinator close cases; the filing
    corporation may withdraw its own melding."""
    if member.has_role("coordinator") or is_chair_of(services.org, member, case.regieteam_id):
        return True
    return outcome == "ingetrokken" and member.has_role("melder") and member.partner == case.corporation_id


async def close_case(services: Services, member: Member, reference: str, outcome: str,
                     reason: str, shelter: str | None = None, *, shelter_note: str | None = None,
                     reported_to: str | None = None, reported_on: str | None = None) -> Result:
    """Close the case; its reminders stop, the corporation and casemanager hear the outcome."""
    return await close_with(services, member, reference, Closing(
        outcome, reason, shelter, shelter_note, reported_to, reported_on))


async def close_with(services: Services, member: Member, reference: str, closing: Closing) -> Result:
    async with services.transaction() as session:
        case = await case_by_reference(session, reference, lock=True)
        outcome = closing.outcome.strip().lower()
        if not _may_close(services, member, case, outcome):
            raise CommandRefused("fout/geen_rol", rollen=["voorzitter", "coordinator"],
                                 team=services.org.regieteam(case.regieteam_id).name,
                                 vraag=whom_to_ask(services.org))
        if case.phase == Phase.GESLOTEN:
            if case.outcome == outcome:
                return Result(value=case.reference).reply("sluiten/al_gesloten", referentie=case.reference,
                                                          uitkomst=case.outcome)
            raise CommandRefused("fout/al_gesloten", referentie=case.reference, uitkomst=case.outcome)
        checked = check_closing(services, case, closing)
        await refuse_household_words(session, services, case,
                                     {"uitleg": checked.reason, "opvang_toelichting": checked.shelter_note})
        now = services.now()
        case.phase, case.closed_at, case.outcome = Phase.GESLOTEN, now, checked.outcome
        case.outcome_reason = services.cipher.encrypt(checked.reason)
        case.shelter_kind = checked.shelter
        case.shelter = services.cipher.encrypt_optional(checked.shelter_note)
        if checked.report is not None:
            case.reported_to, case.reported_on = checked.report.desk, checked.report.on
            events.record(session, case, "care_reported", member.id, now,
                          meldpunt=checked.report.desk, op=checked.report.on.isoformat())
        current = await session.scalar(select(Assignment).where(
            Assignment.case_id == case.id, Assignment.ended_at.is_(None)))
        if current is not None:
            current.ended_at = now
        events.record(session, case, "case_closed", member.id, now, uitkomst=checked.outcome,
                      **({"opvang": checked.shelter} if checked.shelter else {}))
        await refresh_case_figures(session, services, case)
        await reminders.sync_case_reminders(session, services, case)
        return await queue_result(session, services, _closed(services, member, case, checked))


def _closed(services: Services, member: Member, case: Case, checked: CheckedClosing) -> Result:
    data = {**case_summary(services, case), "uitkomst": case.outcome, "door": member.name,
            "blijft": case.outcome in TENANT_STAYS, "opvang": checked.shelter}
    result = Result(value=case.reference)
    result.send(to_partner(case.corporation_id), Message("sluiten/corporatie", data))
    result.send(to_regieteam(case.regieteam_id),
                Message("sluiten/gesloten", data, (show_action(case.reference),)),
                thread_case=case.id)
    if case.casemanager_id and case.casemanager_id != member.id:
        result.send(to_member(case.casemanager_id), Message("sluiten/gesloten", data))
    if checked.report is not None:
        _tell_coordinators(services, member, case, checked.report, result)
    return result.reply("sluiten/gesloten", **data)


def _tell_coordinators(services: Services, member: Member, case: Case, report: CareReport,
                       result: Result) -> None:
    """A protected household left for an unknown destination: the coordinator hears it at
    once, with the reference and the facts only."""
    facts = {"referentie": case.reference, "team": services.org.regieteam(case.regieteam_id).name,
             "meldpunt": report.desk, "gemeld_op": report.on, "door": member.name}
    for coordinator in services.org.with_role("coordinator"):
        if coordinator.id != member.id:
            result.send(to_member(coordinator.id), Message("sluiten/vertrokken_coordinator", facts))
