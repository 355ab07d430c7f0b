"""The text commands, read once for every door: a table of name → parser → use case → usage.

A door (Slack `/regie` and its slash commands, a Telegram command, a console line) hands the
command's name and the typed words to `run_text`, or first to `plan_text` when it must answer
a typing mistake before it does anything else (Slack acknowledges within three seconds and
opens a form at once). The answer is a `Result`, or an `OpenForm` when the words ask for a
form: the door opens that form, with what was typed already filled in.

Choices are read by their visible label or their id, members by name, first name, id or
mention (`commands.choices`), dates in every form the hints show (`parse_date`). A word that
does not fit gets the command's usage (`gebruik/<naam>`), spelled for the door by the template.
`/help` lists the commands the member's roles may use, from the same table.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from commands import (
    agenda,
    audit,
    besluit,
    casemanager,
    gegevens,
    huishouden,
    notities,
    reminders,
    sluiten,
    stemmen,
    terugkoppeling,
    toelichting,
)
from commands.choices import Choices, IdsOnly, Labels, fold, leading_member
from commands.context import Services
from commands.forms import condition_field
from commands.melding import require_melder
from commands.organisation import Member
from commands.replies import CommandRefused, OpenForm, Result
from commands.validation import FieldProblem, parse_date
from commands.words import Outcome, Question, ReminderKind

REFERENCE = re.compile(r"^RT-\d{4}-\d{1,6}$", re.IGNORECASE)
Run = Callable[[Services], Awaitable[Result]]


@dataclass(frozen=True)
class Planned:
    """A text command read and ready to run: `run(services)` does the work. `instant`: it
    needs no database (the help), so a door may answer it at once."""

    name: str
    run: Run
    instant: bool = False


@dataclass(frozen=True)
class Reading:
    """What a parser has at hand: the acting member, the organisation and the labels."""

    services: Services
    member: Member
    labels: Labels
    name: str

    def usage(self, **data: Any) -> CommandRefused:
        return CommandRefused(f"gebruik/{self.name}", **data)

    def plan(self, run: Run, *, instant: bool = False) -> Planned:
        return Planned(self.name, run, instant)

    def choices(self, what: str, ids: Sequence[str], prefix: str = "keuze.",
                extra: Mapping[str, Sequence[str]] | None = None) -> Choices:
        return Choices.of(what, ids, self.labels, prefix, extra)


Parser = Callable[[Reading, list[str]], "Planned | OpenForm"]


@dataclass(frozen=True)
class TextCommand:
    """One text command: how its words are read, and who may use it (`roles`; empty: every
    member). The usage is the template `gebruik/<name>`, the help line the label `help.<name>`."""

    name: str
    parse: Parser
    roles: tuple[str, ...] = field(default=())

    def for_member(self, member: Member) -> bool:
        return not self.roles or member.has_role(*self.roles)


# --- reading words ---------------------------------------------------------------------------


def _reference(r: Reading, words: list[str]) -> tuple[str, list[str]]:
    if not words or not REFERENCE.match(words[0]):
        raise r.usage()
    return words[0].upper(), words[1:]


def take_date(words: Sequence[str]) -> tuple[str, list[str]] | None:
    """The date written at the start of `words` (one to five words: `01-03-2027`,
    `1 maart 2027`, `zo 1 mrt 2027`), and the words after it; None when they start otherwise."""
    for end in range(min(5, len(words)), 0, -1):
        text = " ".join(words[:end])
        try:
            parse_date(text)
        except FieldProblem as problem:
            if problem.template == "datum_bestaat_niet":
                return text, list(words[end:])  # a date in shape: the use case explains
            continue
        return text, list(words[end:])
    return None


Taker = Callable[[list[str]], tuple[str, list[str]]]


def _one_word(words: list[str]) -> tuple[str, list[str]]:
    return (words[0], words[1:]) if words else ("", [])


def _all_words(words: list[str]) -> tuple[str, list[str]]:
    return " ".join(words), []


def _date_words(words: list[str]) -> tuple[str, list[str]]:
    found = take_date(words)
    return found if found is not None else _one_word(words)


def read_options(words: Sequence[str], takers: Mapping[str, Taker],
                 other: Taker = _all_words) -> tuple[list[str], dict[str, str]]:
    """`key=value` words, where a value may run on over the next words (a label such as
    `niet voldaan`, a date such as `1 maart 2027`) up to the next `key=`; how far is up to the
    key's taker. Returns the other words, in order, and the options (keys in lower case)."""
    plain: list[str] = []
    options: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        key, sep, value = word.partition("=")
        if not sep or not key.strip():
            plain.append(word)
            index += 1
            continue
        end = index + 1
        while end < len(words) and "=" not in words[end]:
            end += 1
        run_on = [value] if value else []
        taken, rest = takers.get(fold(key), other)(run_on + list(words[index + 1:end]))
        options[key.strip().lower()] = taken
        plain.extend(rest)
        index = end
    return plain, options


def _option(options: Mapping[str, str], *names: str) -> str | None:
    folded = {fold(k): v for k, v in options.items()}
    return next((folded[fold(n)] for n in names if fold(n) in folded), None)


def _team(r: Reading, words: list[str]) -> str | None:
    if not words:
        return None
    teams = r.services.org.regieteams
    found = r.choices("regieteam", [t.id for t in teams],
                      extra={t.id: (t.name,) for t in teams}).pick(" ".join(words))
    return found


# --- the commands ----------------------------------------------------------------------------


def _help(r: Reading, words: list[str]) -> Planned:
    if words and (wanted := COMMANDS.get(words[0].lstrip("/").lower())) is not None:
        raise CommandRefused(f"gebruik/{wanted.name}")
    names = [c.name for c in COMMANDS.values() if c.for_member(r.member)]
    member = r.member

    async def run(_services: Services) -> Result:
        return Result().reply("algemeen/help", opdrachten=names, rollen=list(member.roles))

    return r.plan(run, instant=True)


def _melding(r: Reading, _words: list[str]) -> OpenForm:
    require_melder(r.services.org, r.member)
    return OpenForm("melding")


def _agenda(r: Reading, words: list[str]) -> Planned:
    member = r.member
    first = fold(words[0]) if words else ""
    if first in ("plaats", "plaatsen", "post"):
        team = _team(r, words[1:])
        return r.plan(lambda s: agenda.post_agenda(s, member, team))
    if first == "spoed":
        reference, rest = _reference(r, words[1:])
        if rest:
            raise r.usage()
        return r.plan(lambda s: agenda.add_urgent(s, member, reference))
    if first == "besluitenlijst":
        team = _team(r, words[1:])
        return r.plan(lambda s: besluit.publish_besluitenlijst(s, member, team))
    team = _team(r, words)
    return r.plan(lambda s: agenda.show_agenda(s, member, team))


def _question(text: str) -> Question | None:
    wanted = fold(text).replace("vraag ", "q")
    for question in Question:
        if wanted in (question.value, question.value[1:]):
            return question
    return None


def leading_list(choices: Choices, words: Sequence[str]) -> tuple[list[str], list[str]]:
    """`schuldhulpverlening,budgetbeheer of bewindvoering [meer woorden…]`: choices by label
    or id, separated by commas; the words after the last choice are returned as the rest."""
    parts = " ".join(words).split(",")
    chosen: list[str] = []
    for index, part in enumerate(parts):
        if not part.strip():
            continue
        found = choices.exact(part)
        if found is None and (leading := choices.leading(part.split())) is not None:
            chosen.append(leading[0])
            rest = " ".join(leading[1]) + "".join("," + p for p in parts[index + 1:])
            return list(dict.fromkeys(chosen)), rest.split()
        chosen.append(found if found is not None else choices.pick(part))
    return list(dict.fromkeys(chosen)), []


def _list_taker(choices: Choices) -> Taker:
    def take(words: list[str]) -> tuple[str, list[str]]:
        chosen, rest = leading_list(choices, words)
        return ",".join(chosen), rest

    return take


def _choice_taker(choices: Choices) -> Taker:
    def take(words: list[str]) -> tuple[str, list[str]]:
        leading = choices.leading(words)
        if leading is None:
            return choices.pick(" ".join(words)), []
        return leading[0], leading[1]

    return take


def _stem(r: Reading, words: list[str]) -> Planned | OpenForm:
    reference, rest = _reference(r, words)
    question = _question(rest[0]) if rest else None
    if question is None:
        raise r.usage()
    member = r.member
    if question is Question.STAPPEN:
        if len(rest) < 2:
            return OpenForm("stappen", reference)
        chosen, after = leading_list(r.choices("stappen", stemmen.STEPS), rest[1:])
        text = " ".join(after) or None
        return r.plan(lambda s: stemmen.cast_vote(s, member, reference, question.value,
                                                  steps=chosen, steps_text=text))
    if len(rest) < 2:
        raise r.usage()
    choice = r.choices(f"stem_{question.value}", stemmen.CHOICES[question.value]).pick(
        " ".join(rest[1:]))
    return r.plan(lambda s: stemmen.cast_vote(s, member, reference, question.value, choice))


def _besluit(r: Reading, words: list[str]) -> Planned | OpenForm:
    reference, rest = _reference(r, words)
    yes_no = _choice_taker(r.choices("besluit", ("ja", "nee")))
    steps_taker = _list_taker(r.choices("stappen", stemmen.STEPS))
    plain, options = read_options(rest, {"q1": yes_no, "q3": yes_no, "stappen": steps_taker})
    if not plain and not options:
        return OpenForm("besluit", reference)
    q1, q3 = (_option(options, q) or None for q in ("q1", "q3"))
    typed_steps = _option(options, "stappen")
    steps = [s for s in typed_steps.split(",") if s] if typed_steps is not None else None
    reason = _option(options, "reden") or " ".join(plain) or None
    text = _option(options, "toelichting")
    member = r.member
    return r.plan(lambda s: besluit.record_decision(s, member, reference, q1=q1, q3=q3,
                                                    q2_steps=steps, q2_text=text, reason=reason))


CaseUseCase = Callable[[Services, Member, str], Awaitable[Result]]
CaseTextUseCase = Callable[[Services, Member, str, str], Awaitable[Result]]


def _reference_only(use_case: CaseUseCase) -> Parser:
    """`RT-…` and nothing more."""
    def parse(r: Reading, words: list[str]) -> Planned:
        reference, rest = _reference(r, words)
        if rest:
            raise r.usage()
        member = r.member
        return r.plan(lambda s: use_case(s, member, reference))
    return parse


def _reference_and_text(use_case: CaseTextUseCase) -> Parser:
    """`RT-… tekst…`: the reference, then words that may not be left out."""
    def parse(r: Reading, words: list[str]) -> Planned:
        reference, rest = _reference(r, words)
        if not rest:
            raise r.usage()
        member, text = r.member, " ".join(rest)
        return r.plan(lambda s: use_case(s, member, reference, text))
    return parse


def _besluitenlijst(r: Reading, words: list[str]) -> Planned:
    member, team = r.member, _team(r, words)
    return r.plan(lambda s: besluit.publish_besluitenlijst(s, member, team))


def _casemanager(r: Reading, words: list[str]) -> Planned | OpenForm:
    """`RT-… <naam> [termijn] [weken]`: without a termijn the form opens with the casemanager
    filled in."""
    reference, rest = _reference(r, words)
    if not rest:
        return OpenForm("casemanager", reference)
    found = leading_member(r.services.org, rest)
    if found is None:
        raise CommandRefused("fout/lid_onbekend", lid=rest[0][:32])
    chosen, rest = found
    if not rest:
        return OpenForm("casemanager", reference, {"casemanager": chosen.id})
    termijn, rest = take_date(rest) or (" ".join(rest), [])
    weeks = rest[0] if rest else None
    if len(rest) > 1 and fold(" ".join(rest[1:])) not in ("week", "weken"):
        raise r.usage()
    member = r.member
    return r.plan(lambda s: casemanager.appoint(s, member, reference, chosen.id, termijn, weeks))


_FEEDBACK_KEYS = ("termijn", "nieuwe_termijn")


def _terugkoppeling(r: Reading, words: list[str]) -> Planned | OpenForm:
    """`RT-… "tekst" [voorwaarde=stand …] [termijn=houdt|houdt niet] [nieuwe_termijn=datum]`,
    a condition and its state by label or id."""
    reference, rest = _reference(r, words)
    conditions = r.choices("voorwaarde", sorted({c for keys in casemanager.SCENARIO_CONDITIONS
                                                .values() for c in keys}))
    states = r.choices("voorwaarde_stand", casemanager.CONDITION_STATES)
    holds_choice = r.choices("termijn", ("houdt", "houdt_niet"),
                             extra={"houdt": ("ja",), "houdt_niet": ("nee", "houdt niet")})
    plain, options = read_options(rest, {"nieuwe termijn": _date_words,
                                         "termijn": _choice_taker(holds_choice)},
                                  other=_choice_taker(states))
    holds = _option(options, "termijn") != "houdt_niet"
    new_termijn = _option(options, "nieuwe_termijn")
    updates = {conditions.pick(key): value for key, value in options.items()
               if fold(key) not in (fold(k) for k in _FEEDBACK_KEYS)}
    text = " ".join(plain)
    if not text:
        typed: dict[str, Any] = {condition_field(key): state for key, state in updates.items()}
        if _option(options, "termijn") is not None:
            typed["termijn_houdt"] = "ja" if holds else "nee"
        if new_termijn:
            typed["nieuwe_termijn"] = new_termijn
        return OpenForm("terugkoppeling", reference, typed)
    member = r.member
    return r.plan(lambda s: terugkoppeling.give_feedback(
        s, member, reference, text, updates, termijn_holds=holds, new_termijn=new_termijn))


def _glue_date_option(words: list[str], key: str) -> list[str]:
    """`gemeld_op=1 maart 2027` read as one word, as `gemeld_op=01-03-2027` is."""
    out: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        name, sep, value = word.partition("=")
        if sep and fold(name) == fold(key):
            found = take_date([value, *words[index + 1:]] if value else words[index + 1:])
            if found is not None:
                text, rest = found
                out.append(f"{name}={text}")
                index = len(words) - len(rest)
                continue
        out.append(word)
        index += 1
    return out


def _sluit(r: Reading, words: list[str]) -> Planned | OpenForm:
    """`RT-… <uitkomst> reden… [opvang=…] …`, the outcome by label (`uitgezet zonder
    opvang`) or id; only the reference opens the closing form."""
    reference, rest = _reference(r, words)
    if not rest:
        return OpenForm("sluiten", reference)
    leading = r.choices("uitkomst", [o.value for o in Outcome]).leading(rest)
    if leading is None:
        raise r.usage(uitkomsten=[o.value for o in Outcome])
    outcome, rest = leading
    closing = sluiten.closing_from_words([outcome, *_glue_date_option(rest, "gemeld_op")])
    member = r.member
    return r.plan(lambda s: sluiten.close_with(s, member, reference, closing))


def _huishouden(r: Reading, words: list[str]) -> Planned | OpenForm:
    """`RT-… [categorieen=a,b] [kinderen=N] reden…`, categories by label or id."""
    reference, rest = _reference(r, words)
    if not rest:
        return OpenForm("huishouden", reference)
    kinds = _list_taker(r.choices("huishouden", r.services.org.household_categories))
    plain, options = read_options(rest, {"kinderen": _one_word, "reden": _all_words,
                                         "categorieen": kinds, "huishouden": kinds})
    categories = _option(options, "categorieen", "huishouden")
    correction = {"categories": categories, "children": _option(options, "kinderen"),
                  "reason": _option(options, "reden") or " ".join(plain) or None}
    member = r.member
    return r.plan(lambda s: huishouden.correct_household(s, member, reference, **correction))


def _uitstellen(r: Reading, words: list[str]) -> Planned | OpenForm:
    """`RT-… [soort] [datum reden…]`, or the reminder's number instead of the case (a button
    gives that); without a date the form opens. The use case finds the case's reminder."""
    if words and REFERENCE.match(words[0]):
        reminder, rest = _reminder_by_case(r, words[0].upper(), words[1:])
    elif words and words[0].isdigit():
        reminder, rest = words[0], words[1:]
    else:
        raise r.usage()
    if not rest:
        return OpenForm("uitstellen", reminder)
    until, rest = take_date(rest) or (rest[0], rest[1:])
    if not rest:
        raise r.usage()
    member, reason = r.member, " ".join(rest)
    return r.plan(lambda s: reminders.postpone_reminder(s, member, reminder, until, reason))


def _reminder_by_case(r: Reading, reference: str, words: list[str]) -> tuple[str, list[str]]:
    """The case and, when a kind (`termijn`, `Jeugdbescherming`, …) follows, that kind."""
    kinds = r.choices("soort", [str(k) for k in ReminderKind], prefix="herinnering.soort.",
                      extra={ReminderKind.MBZ: ("meldpunt",)})
    found = kinds.leading(words)
    if found is None:
        return reference, words
    kind, rest = found
    return f"{reference} {kind}", rest


def _nazorg(r: Reading, words: list[str]) -> Planned:
    reference, rest = _reference(r, words)
    if len(rest) != 3 or not rest[0].isdigit():
        raise r.usage()
    yes_no = r.choices("nazorg", ("ja", "nee"), extra={"ja": ("j",), "nee": ("n",)})
    housed, paying = (yes_no.pick(word) == "ja" for word in rest[1:])
    member, months = r.member, int(rest[0])
    return r.plan(lambda s: reminders.answer_nazorg(s, member, reference, months, housed, paying))


def _status(r: Reading, words: list[str]) -> Planned:
    from commands import status

    member = r.member
    if not words:
        return r.plan(lambda s: status.status_overview(s, member))
    if len(words) == 1 and fold(words[0]) == "volledig":
        return r.plan(lambda s: status.status_overview(s, member, full=True))
    if len(words) == 1 and REFERENCE.match(words[0]):
        reference = words[0].upper()
        return r.plan(lambda s: status.case_timeline(s, member, reference))
    raise r.usage()


def _period(r: Reading, words: list[str]) -> tuple[str | None, str | None]:
    """Up to two dates, each in any form the hints show."""
    bounds: list[str] = []
    rest = list(words)
    while rest and len(bounds) < 2:
        found = take_date(rest)
        if found is None:
            bounds.append(rest[0])  # not a date: the use case names which bound is wrong
            rest = rest[1:]
            continue
        bounds.append(found[0])
        rest = found[1]
    if rest:
        raise r.usage()
    return (bounds[0] if bounds else None), (bounds[1] if len(bounds) > 1 else None)


def _rapport(r: Reading, words: list[str]) -> Planned:
    from commands import rapport

    export = bool(words) and fold(words[-1]) == "csv"  # the case rows only when asked
    van, tot = _period(r, words[:-1] if export else words)
    member = r.member
    return r.plan(lambda s: rapport.rapport(s, member, van, tot, export=export))


def _audit(r: Reading, words: list[str]) -> Planned:
    reference = words[0].upper() if words and words[0].upper().startswith("RT-") else None
    van, tot = _period(r, words[1:] if reference else words)
    member = r.member
    return r.plan(lambda s: audit.export_audit(s, member, reference, van, tot))


# Who may use which command; the use case checks again, per case.
TEAM = ("lid", "voorzitter")
_TABLE: tuple[TextCommand, ...] = (
    TextCommand("melding", _melding, ("melder", "admin")),
    TextCommand("agenda", _agenda, (*TEAM, "coordinator", "admin")),
    TextCommand("stem", _stem, (*TEAM, "coordinator")),
    TextCommand("besluit", _besluit, ("voorzitter",)),
    TextCommand("heropen", _reference_and_text(besluit.reopen_decision), ("voorzitter",)),
    TextCommand("besluitenlijst", _besluitenlijst, ("voorzitter",)),
    TextCommand("casemanager", _casemanager, ("voorzitter",)),
    TextCommand("spoed", _reference_only(agenda.add_urgent), ("voorzitter",)),
    TextCommand("terugkoppeling", _terugkoppeling,
                ("melder", *TEAM, "casemanager", "coordinator")),
    TextCommand("sluit", _sluit, ("voorzitter", "coordinator", "melder")),
    TextCommand("huishouden", _huishouden, ("melder", "voorzitter")),
    TextCommand("uitstellen", _uitstellen),
    TextCommand("nazorg", _nazorg, ("melder", "coordinator", "admin")),
    TextCommand("status", _status, ("coordinator", "admin", "voorzitter", "melder",
                                    "casemanager")),
    TextCommand("gegevens", _reference_only(gegevens.show_personal_data),
                ("melder", "voorzitter", "casemanager", "coordinator")),
    TextCommand("toelichting", _reference_only(toelichting.show_free_text),
                ("melder", *TEAM, "casemanager", "coordinator")),
    TextCommand("notitie", _reference_and_text(notities.add_note),
                ("melder", *TEAM, "casemanager", "coordinator")),
    TextCommand("rapport", _rapport, ("coordinator", "admin", "voorzitter")),
    TextCommand("audit", _audit, ("coordinator",)),
    TextCommand("help", _help),
)
COMMANDS: dict[str, TextCommand] = {command.name: command for command in _TABLE}
ALIASES = {"regie": "help", "hulp": "help", "stemmen": "stem", "sluiten": "sluit"}


def commands_for(member: Member) -> list[str]:
    """The names of the text commands `member`'s roles may use, in help order."""
    return [c.name for c in _TABLE if c.for_member(member)]


def command_named(name: str) -> TextCommand | None:
    key = name.strip().lstrip("/").split("@")[0].lower()
    return COMMANDS.get(ALIASES.get(key, key))


def plan_text(services: Services, member: Member, name: str, words: Sequence[str],
              labels: Labels | None = None) -> Planned | OpenForm:
    """Read a text command without touching the database: a plan to run, or the form to
    open. A typing mistake is refused with the command's usage (`CommandRefused`)."""
    command = command_named(name)
    if command is None:
        raise CommandRefused("fout/onbekend_commando")
    reading = Reading(services, member, labels or IdsOnly(), command.name)
    return command.parse(reading, [w for w in words if w])


async def run_text(services: Services, member: Member, name: str, words: Sequence[str],
                   labels: Labels | None = None) -> Result | OpenForm:
    """The one entry point for text commands on every door."""
    plan = plan_text(services, member, name, words, labels)
    if isinstance(plan, OpenForm):
        return plan
    return await plan.run(services)


def split_words(text: str) -> list[str]:
    """Words as typed, with parts in double quotes kept together (`reden="twee woorden"`)."""
    return sluiten.split_words(text)


__all__ = ["COMMANDS", "Planned", "TextCommand", "command_named", "commands_for", "plan_text",
           "run_text", "split_words", "take_date"]
