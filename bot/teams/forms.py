"""The forms of `commands.forms` (and the casusformulier) as Adaptive Cards in Teams.

A form opens as one card in the member's 1:1 chat, every field at once (`modal=True`, as the
Slack modal), filled in with the form's initial answers and what the text command typed. Its
submit goes to the form's own use case (`CaseForm.submit`); wrong fields come back on the same
card, updated in place, with everything typed kept; other refusals and success replace the
card with a short text. The card, its answers and their errors are never logged.

Questions that only apply after a certain answer to another question (the `when` of the one
form definition, as the console and Telegram skip them) stay on the card: an Adaptive Card
cannot show or hide an input when another input changes (`Action.ToggleVisibility` is a
button, and `valueChangedAction` only resets inputs). Their label says when to fill them in
("(alleen invullen als …)"), and what was typed in them is ignored on submit unless the
answer they depend on was given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Dependency:
    """A card field that only applies after certain answers to another field (`on`)."""

    on: str
    values: tuple[str, ...]  # the answers of `on` for which it applies, in choice order
    applies: Callable[[Mapping[str, Any]], bool]


def _choice_keys(form_field: FormField) -> tuple[str, ...]:
    return ("ja", "nee") if form_field.kind == "yesno" else form_field.choices


def dependencies(services: Services, member: Member, form: CaseForm,
                 context: Context) -> dict[str, Dependency]:
    """field name → what it depends on, for the card's fields whose `when` (in the form asked
    all at once, or else one question at a time) turns on the answer to another card field.
    A `when` that no card field's answer changes (the besluit's "follow the majority?",
    asked only one at a time) makes no dependency: the field always applies on the card."""
    asked = fields(services, member, form, context)
    one_by_one = {f.name: f.when for f in form.field_list(services, member, context, False)}
    base = form.initial_answers(services, context, True)
    found: dict[str, Dependency] = {}
    for form_field in asked:
        # the form asked all at once may show a question always ("modal or …"); asked one
        # at a time, its `when` says after which answer it applies
        for when in (form_field.when, one_by_one.get(form_field.name)):
            dependency = _dependency(form_field.name, when, asked, base) if when else None
            if dependency is not None:
                found[form_field.name] = dependency
                break
    return found


def _dependency(name: str, when: Callable[[Mapping[str, Any]], bool], asked: list[FormField],
                base: Mapping[str, Any]) -> Dependency | None:
    """The first other card field whose answer decides `when`, tried one choice at a time."""
    for other in asked:
        keys = _choice_keys(other) if other.name != name else ()
        applying = tuple(key for key in keys if when({**base, other.name: key}))
        if applying and len(applying) < len(keys):
            return Dependency(other.name, applying, when)
    return None


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
    depends = dependencies(services, member, form, context)
    shown_label = {f.name: _label(f, shown.labels.get(f.name)) for f in asked}
    problems: dict[str, list[str]] = {}
    for name, message in (errors or {}).items():
        at = name if name in names else (names[0] if names else name)
        problems.setdefault(at, []).append(plain.render(message))
    items = []
    for form_field in asked:
        _key, hint_key = shown.labels.get(
            form_field.name, (f"veld.{form_field.name}",
                              f"hint.{form_field.name}" if form.name == "melding" else None))
        keys = _choice_keys(form_field)
        labels = choice_labels(form.name, form_field.name, keys,
                               choice_names(services, form.name, form_field.name))
        hint = plain.label(hint_key) if hint_key else None
        dependency = depends.get(form_field.name)
        items.append(render.CardField(
            form_field.name, form_field.kind, shown_label[form_field.name],
            hint if hint != hint_key else None,
            tuple((key, labels.get(key, key)) for key in keys),
            initial.get(form_field.name),
            " ".join(problems[form_field.name]) if form_field.name in problems else None,
            optional=not form_field.required or form_field.when is not None
            or dependency is not None,
            max_length=form_field.max_length, maximum=form_field.maximum,
            only_if=_only_if(services, form, asked, dependency, shown_label)))
    notes = {}
    if form.name == "melding":
        notes["huurder_naam"] = plain.text(PERSONAL_DATA_NOTE)
    elif any(n.startswith(CONDITION_PREFIX) for n in names):
        first = next(n for n in names if n.startswith(CONDITION_PREFIX))
        notes[first] = plain.text(CONDITIONS_NOTE)
    return render.form_card(plain.label(shown.title), plain.text(shown.intro, referentie=value),
                            items, plain.label(shown.submit), render.form_data(form.name, value),
                            notes)


def _label(form_field: FormField, keys: tuple[str, str | None] | None) -> str:
    plain = renderer("plain")
    if form_field.name.startswith(CONDITION_PREFIX):
        return plain.choice(form_field.name[len(CONDITION_PREFIX):])
    return plain.label(keys[0] if keys else f"veld.{form_field.name}")


def _only_if(services: Services, form: CaseForm, asked: list[FormField],
             dependency: Dependency | None, shown_label: Mapping[str, str]) -> str | None:
    """"(alleen invullen als je bij '…' kiest voor …)", from its template."""
    if dependency is None:
        return None
    on = next(f for f in asked if f.name == dependency.on)
    labels = choice_labels(form.name, on.name, _choice_keys(on),
                           choice_names(services, form.name, on.name))
    return renderer("plain").text("teams/alleen_als", veld=shown_label[on.name],
                                  keuzes=[labels.get(key, key) for key in dependency.values])


def answers(services: Services, member: Member, form: CaseForm, context: Context,
            typed: Mapping[str, str], *, applying_only: bool = True) -> dict[str, Any]:
    """What the card sent, in the shape of the form's answers (with its context). An answer
    to a field that does not apply after the answer it depends on is left out, unless
    `applying_only` is false (the card shown again keeps everything typed)."""
    given = render.form_answers({f.name: f.kind for f in fields(services, member, form, context)},
                                typed)
    if applying_only:
        for name, dependency in dependencies(services, member, form, context).items():
            if name in given and not dependency.applies(given):
                del given[name]
    return {**given, CONTEXT: context} if form.prepare else given


def form_named(name: str) -> CaseForm | None:
    return FORMS.get(name) if name in CARDS else None
