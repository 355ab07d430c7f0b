"""What a reminder says: the neutral Message and Outgoing of a Reminder row, its buttons, and
whether it goes out late. Messages name the case by reference and never hold personal data."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from commands.context import Services, aware
from commands.reminders.rules import chairs
from commands.replies import Action, Destination, Message, Outgoing, to_member, to_partner
from commands.words import ActionName, ReminderKind
from commands.workdays import add_working_days
from store.models import Case, Reminder

Kind = ReminderKind

TEMPLATES: dict[str, str] = {  # keyed by ReminderKind (a str)
    Kind.TERMIJN: "herinnering/termijn",
    Kind.TERUGKOPPELING: "herinnering/terugkoppeling",
    Kind.MBZ: "herinnering/mbz",
    Kind.JEUGDBESCHERMING: "herinnering/jeugdbescherming",
    Kind.SPOED: "herinnering/spoed",
    Kind.ONTRUIMING_NABIJ: "herinnering/ontruiming_nadert",
    Kind.ESCALATIE: "herinnering/escalatie",
    Kind.NAZORG: "herinnering/nazorg",
    Kind.BEZORGING_MISLUKT: "herinnering/bezorging_mislukt",
}
LATE_AFTER = timedelta(hours=1)  # sent more than this after due_at: late, and the text says so


def is_late(reminder: Reminder, moment: datetime) -> bool:
    """Sent (or shown) at `moment`, more than LATE_AFTER after it was due."""
    return moment - aware(reminder.due_at) > LATE_AFTER


def destination(reminder: Reminder) -> Destination:
    if reminder.target_partner_id:
        return to_partner(reminder.target_partner_id)
    return to_member(str(reminder.target_member_id))


def _actions(reminder: Reminder, case: Case | None) -> tuple[Action, ...]:
    rid = str(reminder.id)
    ontvangen = Action(ActionName.HERINNERING_ONTVANGEN, rid, "herinnering.ontvangen")
    gedaan = Action(ActionName.HERINNERING_GEDAAN, rid, "herinnering.gedaan", "primary")
    uitstellen = Action(ActionName.HERINNERING_UITSTELLEN, rid, "herinnering.uitstellen")
    kind, to_partner_channel = reminder.kind, bool(reminder.target_partner_id)
    if kind in (Kind.ESCALATIE, Kind.BEZORGING_MISLUKT):
        return ()
    if kind == Kind.SPOED:
        return (ontvangen,)
    if kind == Kind.NAZORG and case is not None:
        months = reminder.payload.get("maanden")
        answers = tuple(
            Action(ActionName.NAZORG_BEANTWOORDEN, f"{case.reference}:{months}:{answer}",
                   f"herinnering.nazorg_{answer.replace(':', '_')}")
            for answer in ("ja:ja", "ja:nee", "nee:nee")
        )
        return (*answers, uitstellen)
    first: tuple[Action, ...] = (ontvangen,) if to_partner_channel else ()
    if kind == Kind.TERUGKOPPELING and case is not None:
        first += (Action(ActionName.TERUGKOPPELING_GEVEN, case.reference,
                         "herinnering.terugkoppeling_geven", "primary"),)
        return (*first, uitstellen)
    return (*first, gedaan, uitstellen)


def _day(payload: dict[str, Any], key: str, fallback: date | None = None) -> date | None:
    try:
        return date.fromisoformat(str(payload[key]))
    except (KeyError, ValueError):
        return fallback


def reminder_message(services: Services, reminder: Reminder, case: Case | None) -> Message:
    """The neutral message for a reminder: reference, what is expected and by when.
    Rows written by hand (without the usual payload) still render, with what the case says."""
    org, payload, today = services.org, reminder.payload or {}, services.today()
    kind = reminder.kind
    data: dict[str, Any] = {
        "keer": int(payload.get("n", 0)) + 1, "kanaal": bool(reminder.target_partner_id),
        "referentie": None, "corporatie": None, "team": None, "partner": None,
        "laat": is_late(reminder, services.now()), "bedoeld": aware(reminder.due_at),
    }
    if case is not None:
        data.update(referentie=case.reference, corporatie=org.partner(case.corporation_id).name,
                    team=org.regieteam(case.regieteam_id).name)
    if reminder.target_partner_id:
        data["partner"] = org.partner(reminder.target_partner_id).name
    case_days: dict[str, date | None] = {
        Kind.TERUGKOPPELING: case.next_terugkoppeling if case else None,
        Kind.SPOED: case.urgency_date if case else None,
        Kind.ONTRUIMING_NABIJ: case.ontruiming_date if case else None,
    }
    case_day = case_days.get(kind)
    day = _day(payload, "datum", case_day)
    data.update(datum=day, dagen=(day - today).days if day else 0)
    if kind == Kind.TERMIJN:
        termijn = _day(payload, "termijn", case.termijn if case else None) or today
        data.update(termijn=termijn, dagen=(termijn - today).days,
                    te_laat=int(payload.get("te_laat", 0)),
                    voorzitter=reminder.target_member_id in chairs(services, case) if case else False)
    elif kind == Kind.TERUGKOPPELING:
        data["weken"] = payload.get("weken")
    elif kind in (Kind.MBZ, Kind.JEUGDBESCHERMING):
        every = (org.rules.reminders.mbz_every_working_days if kind == Kind.MBZ
                 else org.rules.reminders.jeugdbescherming_every_working_days)
        data.update(sinds=_day(payload, "sinds", today),
                    uiterlijk=add_working_days(today, every, services.org.rules.working_days),
                    kinderen=case.minor_children if case else 0)
    elif kind == Kind.SPOED:
        default = "zitting" if case and case.urgency_date == case.zitting_date else "ontruiming"
        data["soort"] = payload.get("soort") or default
    elif kind == Kind.NAZORG:
        data.update(maanden=payload.get("maanden"), uiterlijk=today + timedelta(days=14))
    elif kind in (Kind.ESCALATIE, Kind.BEZORGING_MISLUKT):
        data.update(soort=payload.get("soort"), werkdagen=payload.get("werkdagen"),
                    pogingen=payload.get("pogingen"), bestemming=payload.get("bestemming"),
                    verstuurd=_day(payload, "verstuurd"))
    return Message(TEMPLATES[kind], data, _actions(reminder, case))


def reminder_outgoing(services: Services, reminder: Reminder, case: Case | None) -> Outgoing:
    """A retry after a partial failure updates the message in place instead of posting twice
    (for couriers that keep `update_key` references)."""
    return Outgoing(destination(reminder), reminder_message(services, reminder, case),
                    update_key=f"reminder:{reminder.id}", retry=reminder.attempts > 0)
