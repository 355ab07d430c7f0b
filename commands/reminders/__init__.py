"""Reminders: rows in the database that say who must be reminded of what, and when.

The package, one job per module:

- `rules`: which reminders a case should have (kinds, series, working days, cancel reasons).
- `sync`: bringing the Reminder rows of a case in line with its state.
- `message`: what a reminder says (the neutral Message/Outgoing, its buttons, late marking).
- `answers`: the buttons and forms that answer a reminder (Ontvangen, Gedaan, Uitstellen,
  terugkoppeling, nazorg).
- `dispatch`: sending due reminders (claims, delivery through a Courier, recording,
  escalation, failure reports, releasing claims). The scheduler's jobs call it.
- `listing`: the lines of `regiebot reminders list`.

Kinds (`commands.words.ReminderKind`; rules in `rules.reminders` of the organisation file):

- termijn: casemanager + the casemanager's partner channel, N days before, on the day, then
  every N days while overdue; from the Nth overdue one also the chair(s).
- terugkoppeling: casemanager, on `next_terugkoppeling`, repeated while it is not given.
- mbz: the Meldpunt's channel when Q3 = ja, at once and every N working days until done.
- jeugdbescherming: scenario 2 with minor children, at once and every N working days.
- spoed: a hearing or eviction within the urgent window before a decision: the chair(s).
- ontruiming_nabij: an eviction date coming near while the plan runs: casemanager + chair(s).
- escalatie: a partner channel did not answer within N working days: the coordinator(s).
- nazorg: 3, 6, 12 months after closure with the tenant staying: the filing corporation.
- bezorging_mislukt: a reminder could not be delivered after repeated attempts: coordinator(s).

A series is one chain of reminders about one thing (one termijn date, one decision, ...);
"Gedaan" on any reminder of a series ends it. Messages never hold personal data.
"""

from __future__ import annotations

from commands.reminders.answers import (
    MAX_NAZORG_MONTHS,
    acknowledge,
    answer_nazorg,
    ask_postpone,
    check_postpone,
    feedback_button,
    mark_done,
    nazorg_button,
    postpone_reminder,
    reminder_of_case,
)
from commands.reminders.dispatch import (
    BATCH,
    CLAIM_TIMEOUT,
    MAX_ATTEMPTS,
    SUPERSEDED,
    backoff,
    dispatch_due,
    escalation_for,
    failure_report,
    release_claims,
    release_claims_of_others,
)
from commands.reminders.listing import reminder_list
from commands.reminders.message import (
    LATE_AFTER,
    TEMPLATES,
    destination,
    is_late,
    reminder_message,
    reminder_outgoing,
)
from commands.reminders.rows import insert_reminders, is_aftercare, new_reminder
from commands.reminders.rules import (
    ACKNOWLEDGED,
    ANSWERED,
    CHANGED,
    CLOSED,
    CONFIRM_ONCE,
    DECIDED,
    DONE,
    ESCALATING,
    KINDS,
    MAX_POSTPONE_DAYS,
    NAZORG_REPEATS,
    POSTPONE_MARK,
    POSTPONED,
    SERIES_KINDS,
    SYNCED_KINDS,
    Spec,
    add_months,
    send_moment,
    tenant_stays,
)
from commands.reminders.sync import sync_case_reminders, sync_open_cases

__all__ = [
    "ACKNOWLEDGED", "ANSWERED", "BATCH", "CHANGED", "CLAIM_TIMEOUT", "CLOSED", "CONFIRM_ONCE",
    "DECIDED", "DONE", "ESCALATING", "KINDS", "LATE_AFTER", "MAX_ATTEMPTS", "MAX_NAZORG_MONTHS",
    "MAX_POSTPONE_DAYS", "NAZORG_REPEATS", "POSTPONED", "POSTPONE_MARK", "SERIES_KINDS",
    "SUPERSEDED", "SYNCED_KINDS", "TEMPLATES", "Spec", "acknowledge", "add_months",
    "answer_nazorg", "ask_postpone", "backoff", "check_postpone", "destination", "dispatch_due",
    "escalation_for", "failure_report", "feedback_button", "insert_reminders", "is_aftercare",
    "is_late", "mark_done", "nazorg_button", "new_reminder", "postpone_reminder",
    "release_claims", "release_claims_of_others", "reminder_list", "reminder_message",
    "reminder_of_case", "reminder_outgoing", "send_moment", "sync_case_reminders",
    "sync_open_cases", "tenant_stays",
]
