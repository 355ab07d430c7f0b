"""The casusformulier: its fields, their validation, and filing a melding.

The same form definition drives every adapter: the console asks it field by field, Slack
builds a modal from it and Telegram a conversation. `check_field` checks one answer;
`check_form` checks them all plus the rules between fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from commands import events, reminders
from commands.agenda import add_to_posted_agenda, next_meeting_date
from commands.cases import case_summary, dialect_of
from commands.cases import is_urgent as is_urgent
from commands.context import Services
from commands.organisation import Member, Organisation
from commands.outbox import queue_result
from commands.permissions import require_role, whom_to_ask
from commands.replies import (
    CommandRefused,
    FormInvalid,
    Message,
    Outgoing,
    Result,
    to_member,
    to_regieteam,
)
from commands.rollups import refresh_case_figures
from commands.validation import (
    FieldProblem,
    HouseholdWords,
    check_free_text,
    check_household_words,
    parse_amount_cents,
    parse_date,
    parse_postcode,
    parse_whole_number,
)
from commands.words import Phase
from store.models import Case, CaseCategory, CasePersonalData, CaseSequence

FieldKind = Literal["choice", "multichoice", "text", "longtext", "amount", "number", "date", "yesno"]
Answers = Mapping[str, Any]

REASONS = ("huurachterstand", "overlast", "hennepteelt_drugs", "woonfraude_onderhuur", "anders")
UNKNOWN_WIJK = "onbekend"
DATE_FIELDS = ("dagvaarding", "zitting", "vonnis", "ontruiming")
# Free-text answers that may not name the household typed in the same form.
HOUSEHOLD_FREE_TEXT = ("reden_anders", "voortraject", "onvoldoende")


@dataclass(frozen=True)
class FormField:
    """One question of the casusformulier. Labels and hints live in labels.j2 (veld.*, hint.*)."""

    name: str
    kind: FieldKind
    required: bool = True
    personal: bool = False
    max_length: int = 0
    min_length: int = 0
    maximum: int = 0
    choices: tuple[str, ...] = ()
    when: Callable[[Answers], bool] | None = field(default=None, compare=False)

    def applies(self, answers: Answers) -> bool:
        return self.when is None or self.when(answers)


@dataclass(frozen=True)
class MeldingForm:
    """A checked casusformulier, ready to store."""

    regieteam_id: str
    corporation_id: str
    wijk: str
    reason: str
    reason_other: str | None
    categories: tuple[str, ...]
    minor_children: int
    arrears_cents: int
    arrears_months: int
    dates: dict[str, date | None]
    voortraject: str
    insufficient_because: str
    contact_person: str
    tenant_name: str
    address: str
    postcode: str

    @property
    def urgency_date(self) -> date | None:
        known = [d for d in (self.dates["zitting"], self.dates["ontruiming"]) if d]
        return min(known) if known else None


# --- the form --------------------------------------------------------------------------------


def melding_fields(org: Organisation, member: Member) -> list[FormField]:
    """The questions, in order; `when` hides a question that does not apply."""
    wijken = (*org.all_wijken(), UNKNOWN_WIJK)
    corporations = tuple(p.id for p in org.partners_of_kind("corporatie"))
    own_corporation = org.partner(member.partner).kind == "corporatie"
    return [
        FormField("corporatie", "choice", choices=corporations, when=lambda a: not own_corporation),
        FormField("wijk", "choice", choices=wijken),
        FormField("regieteam", "choice", choices=tuple(t.id for t in org.regieteams),
                  when=lambda a: _needs_regieteam_choice(org, a)),
        FormField("reden", "choice", choices=REASONS),
        FormField("reden_anders", "text", max_length=200, min_length=3,
                  when=lambda a: a.get("reden") == "anders"),
        FormField("huishouden", "multichoice", choices=org.household_categories),
        FormField("minderjarige_kinderen", "number", maximum=20),
        FormField("achterstand_bedrag", "amount", maximum=100_000_00),
        FormField("achterstand_maanden", "number", maximum=120),
        *(FormField(name, "date", required=False) for name in DATE_FIELDS),
        FormField("voortraject", "longtext", max_length=2000, min_length=10),
        FormField("onvoldoende", "longtext", max_length=2000, min_length=10),
        FormField("huurder_geinformeerd", "yesno"),
        FormField("contactpersoon", "text", max_length=120, min_length=2),
        FormField("huurder_naam", "text", personal=True, max_length=120, min_length=2),
        FormField("adres", "text", personal=True, max_length=200, min_length=3),
        FormField("postcode", "text", personal=True, max_length=7),
    ]


def _needs_regieteam_choice(org: Organisation, answers: Answers) -> bool:
    if len(org.regieteams) == 1:
        return False
    wijk = str(answers.get("wijk") or "")
    return wijk == UNKNOWN_WIJK or len(org.regieteams_for_wijk(wijk)) != 1


def check_field(form_field: FormField, raw: Any, today: date) -> Any:
    """Check one answer; return its value or raise FieldProblem with what to fix."""
    if form_field.kind == "multichoice":
        values = [str(v) for v in (raw or [])]
        if not values:
            raise FieldProblem("kies_minstens_een")
        unknown = [v for v in values if v not in form_field.choices]
        if unknown:
            raise FieldProblem("keuze_onbekend", keuzes=list(form_field.choices))
        return tuple(dict.fromkeys(values))
    text = "" if raw is None else str(raw).strip()
    if not text:
        if form_field.required:
            raise FieldProblem("verplicht")
        return None
    return _CHECKS[form_field.kind](form_field, text, today)


def _check_choice(form_field: FormField, text: str, _today: date) -> str:
    if text not in form_field.choices:
        raise FieldProblem("keuze_onbekend", keuzes=list(form_field.choices))
    return text


def _check_text(form_field: FormField, text: str, today: date) -> str:
    if form_field.name == "postcode":
        return parse_postcode(text)
    return check_free_text(text, today, max_length=form_field.max_length,
                           min_length=form_field.min_length)


def _check_number(form_field: FormField, text: str, _today: date) -> int:
    value = parse_whole_number(text)
    if value > form_field.maximum:
        raise FieldProblem("getal_te_groot", maximum=form_field.maximum)
    return value


def _check_amount(form_field: FormField, text: str, _today: date) -> int:
    cents = parse_amount_cents(text)
    if cents > form_field.maximum:
        raise FieldProblem("bedrag_te_groot", maximum=form_field.maximum)
    return cents


def _check_date(_form_field: FormField, text: str, today: date) -> date:
    value = parse_date(text)
    if abs((value - today).days) > 5 * 366:
        raise FieldProblem("datum_buiten_bereik")
    return value


def _check_yesno(_form_field: FormField, text: str, _today: date) -> bool:
    answer = text.lower()
    if answer in ("ja", "j", "yes", "true", "1"):
        return True
    if answer in ("nee", "n", "no", "false", "0"):
        return False
    raise FieldProblem("ja_of_nee")


_CHECKS: dict[str, Callable[[FormField, str, date], Any]] = {
    "choice": _check_choice, "text": _check_text, "longtext": _check_text,
    "number": _check_number, "amount": _check_amount, "date": _check_date, "yesno": _check_yesno,
}


def field_error(form_field: FormField, problem: FieldProblem) -> Message:
    return Message(f"fout/{problem.template}", {"veld": form_field.name, **problem.data})


def check_form(org: Organisation, member: Member, answers: Answers, today: date) -> MeldingForm:
    """Check every applicable field and the rules between them; raise FormInvalid with one
    message per wrong field."""
    errors: dict[str, Message] = {}
    values: dict[str, Any] = {}
    for form_field in melding_fields(org, member):
        if not form_field.applies(answers):
            continue
        try:
            values[form_field.name] = check_field(form_field, answers.get(form_field.name), today)
        except FieldProblem as problem:
            errors[form_field.name] = field_error(form_field, problem)
    errors.update({k: v for k, v in cross_field_errors(org, values, today).items() if k not in errors})
    if errors:
        raise FormInvalid(errors)
    return _melding_form(org, member, values)


def cross_field_errors(org: Organisation, values: Mapping[str, Any], today: date) -> dict[str, Message]:
    """Rules that involve more than one answer (or today's date)."""
    errors: dict[str, Message] = {}
    if values.get("huurder_geinformeerd") is False:
        errors["huurder_geinformeerd"] = Message("fout/huurder_niet_geinformeerd")
    for name in ("zitting", "ontruiming"):
        if (day := values.get(name)) and day < today:
            errors[name] = Message("fout/datum_in_verleden", {"veld": name})
    known = [(name, values[name]) for name in DATE_FIELDS if values.get(name)]
    for (first, first_day), (later, later_day) in pairwise(known):
        if later_day < first_day:
            errors.setdefault(later, Message("fout/datum_volgorde", {"veld": later, "eerder": first}))
    categories = values.get("huishouden") or ()
    children = values.get("minderjarige_kinderen")
    if "gezin_met_minderjarige_kinderen" in categories and children == 0:
        errors["minderjarige_kinderen"] = Message("fout/gezin_zonder_kinderen")
    errors.update(household_word_errors(values))
    return errors


def household_word_errors(values: Mapping[str, Any]) -> dict[str, Message]:
    """Free-text answers that name the household typed in the same form (name, street,
    postcode): those belong in the encrypted fields only."""
    household = HouseholdWords.of(str(values.get("huurder_naam") or ""),
                                  str(values.get("adres") or ""), str(values.get("postcode") or ""))
    errors: dict[str, Message] = {}
    for name in HOUSEHOLD_FREE_TEXT:
        if not values.get(name):
            continue
        try:
            check_household_words(str(values[name]), household)
        except FieldProblem as problem:
            errors[name] = Message(f"fout/{problem.template}", {"veld": name, **problem.data})
    return errors


def _melding_form(org: Organisation, member: Member, values: Mapping[str, Any]) -> MeldingForm:
    wijk = values["wijk"]
    teams = org.regieteams_for_wijk(wijk) if wijk != UNKNOWN_WIJK else []
    if values.get("regieteam"):
        regieteam_id = values["regieteam"]
    elif len(org.regieteams) == 1:
        regieteam_id = org.regieteams[0].id
    else:
        regieteam_id = teams[0].id
    return MeldingForm(
        regieteam_id=regieteam_id,
        corporation_id=values.get("corporatie") or member.partner,
        wijk=wijk,
        reason=values["reden"],
        reason_other=values.get("reden_anders"),
        categories=values["huishouden"],
        minor_children=values["minderjarige_kinderen"],
        arrears_cents=values["achterstand_bedrag"],
        arrears_months=values["achterstand_maanden"],
        dates={name: values.get(name) for name in DATE_FIELDS},
        voortraject=values["voortraject"],
        insufficient_because=values["onvoldoende"],
        contact_person=values["contactpersoon"],
        tenant_name=values["huurder_naam"],
        address=values["adres"],
        postcode=values["postcode"],
    )


# --- filing ----------------------------------------------------------------------------------


def require_melder(org: Organisation, member: Member) -> None:
    """Only melders (and admins) file meldingen, for their own corporation."""
    require_role(org, member, "melder", "admin")
    if member.has_role("melder") and org.partner(member.partner).kind != "corporatie":
        raise CommandRefused("fout/melder_zonder_corporatie", vraag=whom_to_ask(org))


async def file_melding(
    services: Services, member: Member, answers: Answers, *, submission_key: str | None = None,
    copy_to: str | None = None,
) -> Result:
    """Validate and store a melding in one transaction; announce it to its Regieteam. With
    `copy_to` (a platform), the confirmation also goes to the melder's private chat there,
    queued with the melding (a form that closes leaves nothing to read it in).

    A repeated `submission_key` (a platform retry, a double click) returns the melding that
    was already filed and sends nothing again."""
    org = services.org
    require_melder(org, member)
    form = check_form(org, member, answers, services.today())
    async with services.transaction() as session:
        if submission_key and (existing := await _by_submission(session, submission_key)):
            return Result(value=existing.reference).reply(
                "melding/ingediend", referentie=existing.reference,
                team=org.regieteam(existing.regieteam_id).name,
                overleg=next_meeting_date(services, existing.regieteam_id),
            )
        case = await _store_case(services, session, member, form, submission_key)
        addendum = await add_to_posted_agenda(session, services, case)
        await reminders.sync_case_reminders(session, services, case)
        result = announce_filed(services, case)
        result.outgoing.extend(addendum)
        if copy_to is not None:
            result.outgoing.extend(Outgoing(to_member(member.id), reply, platform=copy_to)
                                   for reply in result.replies)
        return await queue_result(session, services, result)


async def _by_submission(session: AsyncSession, key: str) -> Case | None:
    return await session.scalar(select(Case).where(Case.submission_key == key))


async def next_reference(session: AsyncSession, year: int) -> tuple[int, str]:
    """The next number for `year`. The sequence row stays locked until the filing commits,
    so concurrent filings get distinct, gap-free numbers."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    await session.execute(
        insert(CaseSequence).values(year=year, last_value=0).on_conflict_do_nothing()
    )
    seq = await session.scalar(
        update(CaseSequence)
        .where(CaseSequence.year == year)
        .values(last_value=CaseSequence.last_value + 1)
        .returning(CaseSequence.last_value)
    )
    assert seq is not None
    return seq, f"RT-{year}-{seq:04d}"


async def _store_case(
    services: Services, session: AsyncSession, member: Member, form: MeldingForm,
    submission_key: str | None,
) -> Case:
    now = services.now()
    year = services.local(now).year
    seq, reference = await next_reference(session, year)
    cipher = services.cipher
    case = Case(
        reference=reference, year=year, seq=seq, submission_key=submission_key,
        regieteam_id=form.regieteam_id, corporation_id=form.corporation_id, filed_by=member.id,
        filed_at=now, phase=Phase.NIEUW, reason=form.reason,
        reason_other=cipher.encrypt_optional(form.reason_other),
        minor_children=form.minor_children,
        arrears_cents=form.arrears_cents, arrears_months=form.arrears_months,
        dagvaarding_date=form.dates["dagvaarding"], zitting_date=form.dates["zitting"],
        vonnis_date=form.dates["vonnis"], ontruiming_date=form.dates["ontruiming"],
        urgency_date=form.urgency_date, voortraject=cipher.encrypt(form.voortraject),
        insufficient_because=cipher.encrypt(form.insufficient_because), tenant_informed=True,
        wijk=form.wijk, contact_person=cipher.encrypt(form.contact_person),
        categories=[CaseCategory(category=c) for c in form.categories],
    )
    session.add(case)
    await session.flush()
    session.add(CasePersonalData(
        case_id=case.id, tenant_name=cipher.encrypt(form.tenant_name),
        address=cipher.encrypt(form.address), postcode=cipher.encrypt(form.postcode),
    ))
    events.record(session, case, "filed", member.id, now, regieteam=form.regieteam_id)
    await refresh_case_figures(session, services, case)
    return case


def announce_filed(services: Services, case: Case) -> Result:
    summary = case_summary(services, case)
    result = Result(value=case.reference)
    result.reply("melding/ingediend", referentie=case.reference, team=summary["team"],
                 overleg=next_meeting_date(services, case.regieteam_id))
    result.send(to_regieteam(case.regieteam_id), Message("melding/aangekondigd", summary))
    return result
