"""The forms of `commands.forms` (and the casusformulier) as Adaptive Cards in Teams.

A form opens as one card in the member's 1:1 chat, every field at once (`modal=True`, as the
Slack modal), filled in with the form's initial answers and what the text command typed. Its
submit goes to the form's own use case (`CaseForm.submit`); wrong fields come back on the same
card, updated in place, with everything typed kept; other refusals and success replace the
card with a short text. The card, its answers and their errors are never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from commands.context import Services
from commands.forms import CONDITION_PREFIX, CONTEXT, FORMS, CaseForm, Context, choice_names
from commands.melding import UNKNOWN_WIJK, FormField
from commands.organisation import Member
from commands.permissions import whom_to_ask
from commands.replies import CommandRefused, Message
from messages import teams as render
from messages.form_texts import CONDITIONS_NOTE, FORM_TEXTS, PERSONAL_DATA_NOTE
from messages.labels import choice_labels
from messages.render import renderer

CARDS = FORM_TEXTS  # the same wording as the Slack modal

# answers that show every field a form may ask, all at once (the casusformulier's questions
# that depend on another answer show too, optional)
_PROBES: tuple[dict[str, Any], ...] = ({}, {"reden": "anders", "wijk": UNKNOWN_WIJK})


def _shown(form_field: FormField) -> bool:
    return form_field.when is None or any(form_field.applies(p) for p in _PROBES)


def fields(services: Services, member: Member, form: CaseForm,
           context: Context) -> list[FormField]:
    return [f for f in form.field_list(services, member, context, True) if _shown(f)]


async def prepare(services: Services, member: Member, form: CaseForm, value: str) -> Context:
    """Check that the member may use the form, and read what its questions need. Raises
    CommandRefused."""
    if form.chair_only and not member.has_role("voorzitter"):
        raise CommandRefused("fout/geen_rol", rollen=["voorzitter"], vraag=whom_to_ask(services.org))
    if form.check is not None:
        await form.check(services, member, value)
    return await form.prepare(services, member, value) if form.prepare else {}


def card(services: Services, member: Member, form: CaseForm, value: str, context: Context,
         values: Mapping[str, Any] | None = None,
         errors: Mapping[str, Message] | None = None) -> dict[str, Any]:
    """The form's card: `values` (typed, or from the text command) over the initial answers,
    and each error at its field."""
    shown = CARDS[form.name]
    plain = renderer("plain")
    initial = {**form.initial_answers(services, context, True), **(values or {})}
    asked = fields(services, member, form, context)
    names = [f.name for f in asked]
    problems: dict[str, list[str]] = {}
    for name, message in (errors or {}).items():
        at = name if name in names else (names[0] if names else name)
        problems.setdefault(at, []).append(plain.render(message))
    items = []
    for form_field in asked:
        condition = form_field.name.startswith(CONDITION_PREFIX)
        label_key, hint_key = shown.labels.get(
            form_field.name, (f"veld.{form_field.name}",
                              f"hint.{form_field.name}" if form.name == "melding" else None))
        keys = ("ja", "nee") if form_field.kind == "yesno" else form_field.choices
        labels = choice_labels(form.name, form_field.name, keys,
                               choice_names(services, form.name, form_field.name))
        hint = plain.label(hint_key) if hint_key else None
        items.append(render.CardField(
            form_field.name, form_field.kind,
            plain.choice(form_field.name[len(CONDITION_PREFIX):]) if condition
            else plain.label(label_key),
            hint if hint != hint_key else None,
            tuple((key, labels.get(key, key)) for key in keys),
            initial.get(form_field.name),
            " ".join(problems[form_field.name]) if form_field.name in problems else None,
            optional=not form_field.required or form_field.when is not None,
            max_length=form_field.max_length, maximum=form_field.maximum))
    notes = {}
    if form.name == "melding":
        notes["huurder_naam"] = plain.text(PERSONAL_DATA_NOTE)
    elif any(n.startswith(CONDITION_PREFIX) for n in names):
        first = next(n for n in names if n.startswith(CONDITION_PREFIX))
        notes[first] = plain.text(CONDITIONS_NOTE)
    return render.form_card(plain.label(shown.title), plain.text(shown.intro, referentie=value),
                            items, plain.label(shown.submit), render.form_data(form.name, value),
                            notes)


def answers(services: Services, member: Member, form: CaseForm, context: Context,
            typed: Mapping[str, str]) -> dict[str, Any]:
    """What the card sent, in the shape of the form's answers (with its context)."""
    given = render.form_answers({f.name: f.kind for f in fields(services, member, form, context)},
                                typed)
    return {**given, CONTEXT: context} if form.prepare else given


def form_named(name: str) -> CaseForm | None:
    return FORMS.get(name) if name in CARDS else None
