"""The household of a case: whether it is protected, and correcting it after filing.

A household is protected (never on the street) when it has minor children or one of the
organisation's current `protected_categories`. This is computed from the case as it is now,
so a correction, or a change of the organisation file, counts at once.

The filing corporation or the chair of the case's Regieteam can correct the categories and
the number of minor children, with a reason; the correction is an event, and the reason is
stored encrypted.
"""

from __future__ import annotations

from collections.abc import Mapping

from commands import events, reminders
from commands.cases import case_by_reference
from commands.context import Services
from commands.organisation import Member, Organisation
from commands.outbox import queue_result
from commands.permissions import is_chair_of, whom_to_ask
from commands.replies import CommandRefused, Message, Result, to_partner, to_regieteam
from commands.rollups import refresh_case_figures
from commands.validation import FieldProblem, check_free_text, parse_whole_number
from store.models import Case, CaseCategory, HouseholdCorrection

CHILDREN_CATEGORY = "gezin_met_minderjarige_kinderen"
MAX_CHILDREN = 20


def has_children(case: Case) -> bool:
    return case.minor_children > 0 or CHILDREN_CATEGORY in case.category_names


def is_protected(org: Organisation, case: Case) -> bool:
    """Minor children or a protected category, by the case's current data and the
    organisation's current rules."""
    return has_children(case) or org.is_protected(case.category_names, case.minor_children)


def care_desk(org: Organisation, case: Case) -> str | None:
    """Who must hear of a protected household that left for an unknown destination:
    Jeugdbescherming when there are children, else the Meldpunt Bijzondere Zorg."""
    if not is_protected(org, case):
        return None
    return "jeugdbescherming" if has_children(case) else "mbz"


# --- correcting ----------------------------------------------------------------------------


def _may_correct(org: Organisation, member: Member, case: Case) -> bool:
    if is_chair_of(org, member, case.regieteam_id):
        return True
    return member.has_role("melder") and member.partner == case.corporation_id


def _refuse_correction(org: Organisation, case: Case) -> CommandRefused:
    return CommandRefused("fout/geen_rol", rollen=["melder", "voorzitter"],
                          team=org.regieteam(case.regieteam_id).name, vraag=whom_to_ask(org))


async def current_household(services: Services, member: Member,
                            reference: str) -> tuple[list[str], int]:
    """The household as it is recorded, for a correction form; refused for whoever may not
    correct it."""
    async with services.sessions() as session:
        case = await case_by_reference(session, reference)
        if not _may_correct(services.org, member, case):
            raise _refuse_correction(services.org, case)
        return list(case.category_names), case.minor_children


def _categories(org: Organisation, typed: str | list[str] | None) -> tuple[str, ...] | None:
    if typed is None:
        return None
    parts = typed.split(",") if isinstance(typed, str) else typed
    values = tuple(dict.fromkeys(p.strip().lower().replace(" ", "_") for p in parts if p.strip()))
    if not values:
        raise CommandRefused("fout/kies_minstens_een", veld="huishouden")
    if any(v not in org.household_categories for v in values):
        raise CommandRefused("fout/keuze_onbekend", veld="huishouden",
                             keuzes=list(org.household_categories))
    return values


def _children(typed: str | int | None) -> int | None:
    if typed is None or (isinstance(typed, str) and not typed.strip()):
        return None
    try:
        number = typed if isinstance(typed, int) else parse_whole_number(typed)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="minderjarige_kinderen") from None
    if number < 0 or number > MAX_CHILDREN:
        raise CommandRefused("fout/getal_te_groot", veld="minderjarige_kinderen", maximum=MAX_CHILDREN)
    return number


def _reason(services: Services, typed: str | None) -> str:
    if not typed or not typed.strip():
        raise CommandRefused("fout/correctie_reden_nodig")
    try:
        return check_free_text(typed, services.today(), max_length=500, min_length=5)
    except FieldProblem as problem:
        raise CommandRefused(f"fout/{problem.template}", veld="correctie_reden", **problem.data) from None


async def correct_household(
    services: Services, member: Member, reference: str, *,
    categories: str | list[str] | None = None, children: str | int | None = None,
    reason: str | None = None,
) -> Result:
    """Correct the household's categories and/or number of minor children."""
    org = services.org
    new_categories = _categories(org, categories)
    new_children = _children(children)
    if new_categories is None and new_children is None:
        raise CommandRefused("fout/correctie_leeg")
    reason_text = _reason(services, reason)
    async with services.transaction() as session:
        case = await case_by_reference(session, reference, lock=True)
        if not _may_correct(org, member, case):
            raise _refuse_correction(org, case)
        before_categories, before_children = list(case.category_names), case.minor_children
        after_categories = list(new_categories) if new_categories is not None else before_categories
        after_children = new_children if new_children is not None else before_children
        if CHILDREN_CATEGORY in after_categories and after_children == 0:
            raise CommandRefused("fout/gezin_zonder_kinderen", veld="minderjarige_kinderen")
        if (sorted(after_categories), after_children) == (sorted(before_categories), before_children):
            return Result(value=case.reference).reply("huishouden/ongewijzigd", referentie=case.reference)
        was_protected = is_protected(org, case)
        now = services.now()
        _replace_categories(case, after_categories)
        case.minor_children = after_children
        await refresh_case_figures(session, services, case)
        session.add(HouseholdCorrection(
            case_id=case.id, corrected_by=member.id, corrected_at=now,
            categories_before=before_categories, categories_after=after_categories,
            children_before=before_children, children_after=after_children,
            reason=services.cipher.encrypt(reason_text)))
        protected = is_protected(org, case)
        events.record(session, case, "household_corrected", member.id, now,
                      categorieen_voor=before_categories, categorieen=after_categories,
                      kinderen_voor=before_children, kinderen=after_children, beschermd=protected)
        await reminders.sync_case_reminders(session, services, case)
        facts = {"referentie": case.reference, "huishouden": after_categories,
                 "kinderen": after_children, "beschermd": protected,
                 "nu_beschermd": protected and not was_protected, "door": member.name}
        result = Result(value=case.reference)
        result.send(to_regieteam(case.regieteam_id), Message("huishouden/gecorrigeerd", facts),
                    thread_case=case.id)
        if not (member.has_role("melder") and member.partner == case.corporation_id):
            result.send(to_partner(case.corporation_id), Message("huishouden/gecorrigeerd", facts))
        await queue_result(session, services, result)
    return result.reply("huishouden/gecorrigeerd", **facts)


def _replace_categories(case: Case, categories: list[str]) -> None:
    for row in [r for r in case.categories if r.category not in categories]:
        case.categories.remove(row)
    present = set(case.category_names)
    case.categories.extend(CaseCategory(category=c) for c in categories if c not in present)


def correction_from_options(options: Mapping[str, str]) -> dict[str, str | None]:
    """`categorieen=a,b kinderen=N reden="…"` as typed on a text command."""
    typed = options.get("categorieen") or options.get("categorieën") or options.get("huishouden")
    return {"categories": typed,
            "children": options.get("kinderen"), "reason": options.get("reden")}


def options_from_words(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """key=value words, and the other words."""
    options: dict[str, str] = {}
    rest: list[str] = []
    for word in words:
        name, sep, value = word.partition("=")
        if sep:
            options[name.strip().lower()] = value
        else:
            rest.append(word)
    return options, rest


async def correct_from_words(services: Services, member: Member, words: list[str]) -> Result:
    """`/huishouden RT-… categorieen=a,b kinderen=N reden="…"` on every door."""
    if not words:
        raise CommandRefused("huishouden/gebruik")
    options, rest = options_from_words(words[1:])
    if "reden" not in options and rest:
        options["reden"] = " ".join(rest)
    return await correct_household(services, member, words[0], **correction_from_options(options))
