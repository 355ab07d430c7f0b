"""Voting on the three questions, per case, in its thread.

Q1 Kan de huisuitzetting voorkomen worden? (ja / nee / twijfel)
Q2 Welke stappen zijn hiervoor nodig? (a checklist plus a note, stored encrypted and never
   shown in the thread: the tally says only who chose what)
Q3 Is aanmelding bij Meldpunt Bijzondere Zorg nodig? (ja / nee)

One vote per member per question counts; a member can change it until the chair closes
the vote. The running tally, with who voted what, is shown in the case's thread.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from commands import events
from commands.actions import action
from commands.agenda import decision_in_force
from commands.cases import case_by_reference, dialect_of, member_name, normalise_reference
from commands.context import Services
from commands.dedupe import record_handled
from commands.organisation import Member
from commands.outbox import queue_result
from commands.permissions import may_vote, whom_to_ask
from commands.replies import CommandRefused, Message, Result, to_regieteam
from commands.toelichting import refuse_household_words
from commands.validation import FieldProblem, check_free_text
from commands.words import ActionName, Phase, Question
from store.models import AgendaItem, Case, Meeting, Vote

CHOICES: dict[str, tuple[str, ...]] = {
    Question.KAN_VOORKOMEN: ("ja", "nee", "twijfel"), Question.MELDPUNT: ("ja", "nee")}
STEPS = ("schuldhulpverlening", "budgetbeheer_bewindvoering", "betalingsregeling", "huisbezoek",
         "buurtteam", "jeugdbescherming", "crisisplek_opvang", "anders")


@dataclass
class Tally:
    """Votes per question: counts, who voted what, and the majority (None on a tie)."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    names: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    q2_voters: int = 0
    q2_notes: list[bytes] = field(default_factory=list)  # encrypted, in the order cast
    voters: set[str] = field(default_factory=set)

    def majority(self, question: str) -> str | None:
        ranked = self.counts.get(question, Counter()).most_common(2)
        if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
            return None
        return ranked[0][0]

    def majority_steps(self) -> list[str]:
        """Steps chosen by at least half of those who answered Q2."""
        counts = self.counts.get(Question.STAPPEN, Counter())
        return [s for s in STEPS if self.q2_voters and counts[s] * 2 >= self.q2_voters]

    def as_data(self) -> dict[str, Any]:
        return {"counts": {q: dict(c) for q, c in self.counts.items()}, "q2_voters": self.q2_voters,
                "voters": sorted(self.voters)}


async def tally_for(session: AsyncSession, services: Services, item: AgendaItem) -> Tally:
    tally = Tally()
    votes = (await session.scalars(select(Vote).where(Vote.agenda_item_id == item.id)
                                   .order_by(Vote.cast_at))).all()
    for vote in votes:
        tally.voters.add(vote.member_id)
        name = member_name(services, vote.member_id)
        picks = (vote.steps or []) if vote.question == Question.STAPPEN else [vote.choice or ""]
        if vote.question == Question.STAPPEN:
            tally.q2_voters += 1
            if vote.steps_text:
                tally.q2_notes.append(vote.steps_text)
        for pick in picks:
            tally.counts.setdefault(vote.question, Counter())[pick] += 1
            tally.names.setdefault(vote.question, {}).setdefault(pick, []).append(name)
    return tally


def tally_message(services: Services, case: Case, tally: Tally, closed: bool) -> Message:
    hidden = not closed and services.org.votes_hidden(case.regieteam_id)
    return Message("stemmen/telling", {
        "referentie": case.reference, "counts": tally.counts, "namen": {} if hidden else tally.names,
        "verborgen": hidden,
        "q2_stemmers": tally.q2_voters, "stappen": STEPS, "aantal": len(tally.voters),
        "quorum": services.org.quorum(case.regieteam_id), "gesloten": closed,
    })


def tally_outgoing(result: Result, services: Services, case: Case, item: AgendaItem,
                   tally: Tally, closed: bool, *, as_of_commit: bool = False) -> None:
    result.send(to_regieteam(case.regieteam_id), tally_message(services, case, tally, closed),
                thread_case=case.id, update_key=f"tally:{item.id}", as_of_commit=as_of_commit)


async def fresh_tally(services: Services, item_id: int, session: AsyncSession | None = None) -> Message:
    """The tally of an agenda item as it is now: the outbox makes it afresh just before it is
    sent, so that of several updates racing to one message the last one shows every vote.
    In `session` when the courier holds one (under its lock), else in a session of its own."""
    if session is None:
        async with services.sessions() as own:
            return await _tally_now(own, services, item_id)
    return await _tally_now(session, services, item_id)


async def _tally_now(session: AsyncSession, services: Services, item_id: int) -> Message:
    item, case, decided = (await session.execute(
        select(AgendaItem, Case, decision_in_force(AgendaItem.id))
        .join(Case, Case.id == AgendaItem.case_id).options(lazyload(Case.categories))
        .where(AgendaItem.id == item_id))).one()
    return tally_message(services, case, await tally_for(session, services, item), bool(decided))


@dataclass(frozen=True)
class VotePlace:
    """A case and the agenda item where its votes belong (its most recent one, if any)."""

    case: Case
    item: AgendaItem | None
    decided: bool

    def open_item(self) -> AgendaItem:
        """The item, when its vote is open; else a refusal that says why not."""
        if self.item is None or self.case.phase == Phase.NIEUW:
            raise CommandRefused("fout/niet_op_agenda", referentie=self.case.reference)
        if self.case.phase == Phase.GESLOTEN or self.decided:
            raise CommandRefused("fout/stemming_gesloten", referentie=self.case.reference)
        return self.item


async def vote_place(session: AsyncSession, reference: str) -> VotePlace:
    """The case with this reference and where its votes belong, in one query (a vote is on
    every member's click path); a refusal that says how a reference looks when it is unknown."""
    found = (await session.execute(
        select(Case, AgendaItem, decision_in_force(AgendaItem.id))
        .join(AgendaItem, AgendaItem.case_id == Case.id).join(Meeting)
        .options(lazyload(Case.categories))
        .where(Case.reference == normalise_reference(reference))
        .order_by(Meeting.meeting_date.desc()).limit(1))).first()
    if found is None:  # not on an agenda, or no such case
        return VotePlace(await case_by_reference(session, reference), None, False)
    case, item, decided = found
    return VotePlace(case, item, bool(decided))


def _checked_vote(services: Services, question: str, choice: str | None, steps: list[str] | None,
                  steps_text: str | None) -> tuple[str | None, list[str] | None, str | None]:
    if question in CHOICES:
        if choice not in CHOICES[question]:
            raise CommandRefused("fout/stem_keuze", vraag=question, keuzes=list(CHOICES[question]))
        return choice, None, None
    if question != Question.STAPPEN:
        raise CommandRefused("fout/stem_vraag")
    chosen = list(dict.fromkeys(steps or []))
    if not chosen or any(step not in STEPS for step in chosen):
        raise CommandRefused("fout/stem_stappen", stappen=list(STEPS))
    text = None
    if steps_text:
        try:
            text = check_free_text(steps_text, services.today(), max_length=500)
        except FieldProblem as problem:
            raise CommandRefused(f"fout/{problem.template}", veld="stappen_tekst", **problem.data) from None
    return None, chosen, text


async def cast_vote(services: Services, member: Member, reference: str, question: str,
                    choice: str | None = None, steps: list[str] | None = None,
                    steps_text: str | None = None) -> Result:
    """Record or change a member's vote on one question; answer with the new tally. One
    transaction: the click's delivery key, the vote, its event and the tally message."""
    choice, steps, steps_text = _checked_vote(services, question, choice, steps, steps_text)
    async with services.transaction() as session:
        place = await vote_place(session, reference)
        case = place.case
        if not may_vote(services.org, member, case.regieteam_id):
            raise CommandRefused("fout/geen_stemrecht", team=services.org.regieteam(case.regieteam_id).name,
                                 vraag=whom_to_ask(services.org))
        item = place.open_item()
        await refuse_household_words(session, services, case, {"stappen_tekst": steps_text})
        await record_handled(session, services)
        change = await _store_vote(session, services, item, case, member, question, choice, steps,
                                   steps_text)
        result = Result(value=item.id)
        if change is not VoteChange.SAME:  # a repeated click changes nothing: no event, no tally
            events.record(session, case, change.event, member.id, services.now(),
                          question=question, choice=choice, steps=steps)
            tally = await tally_for(session, services, item)  # read after the write: every vote
            tally_outgoing(result, services, case, item, tally, closed=False, as_of_commit=True)
            await queue_result(session, services, result)
    return result.reply("stemmen/ontvangen", referentie=case.reference, vraag=question,
                        stem=choice, stappen=steps or [], gewijzigd=change is VoteChange.CHANGED,
                        ongewijzigd=change is VoteChange.SAME)


class VoteChange(Enum):
    """What storing a vote did; `event` is the timeline event it gives."""

    NEW = "vote_cast"
    CHANGED = "vote_changed"
    SAME = ""

    @property
    def event(self) -> str:
        return self.value


async def _store_vote(session: AsyncSession, services: Services, item: AgendaItem, case: Case,
                      member: Member, question: str, choice: str | None, steps: list[str] | None,
                      steps_text: str | None) -> VoteChange:
    """Insert the member's vote, or change the one there is (one vote per member and question:
    a double click or a retry that races the first finds the first)."""
    insert = pg_insert if dialect_of(session) == "postgresql" else sqlite_insert
    inserted = await session.scalar(insert(Vote).values(
        agenda_item_id=item.id, case_id=case.id, member_id=member.id, question=question,
        choice=choice, steps=steps, steps_text=services.cipher.encrypt_optional(steps_text),
        cast_at=services.now(),
    ).on_conflict_do_nothing().returning(Vote.id))
    if inserted is not None:
        return VoteChange.NEW
    vote = await session.scalar(select(Vote).where(
        Vote.agenda_item_id == item.id, Vote.member_id == member.id, Vote.question == question))
    assert vote is not None
    if _same_vote(services, vote, choice, steps, steps_text):
        return VoteChange.SAME
    vote.choice, vote.steps, vote.cast_at = choice, steps, services.now()
    vote.steps_text = services.cipher.encrypt_optional(steps_text)
    return VoteChange.CHANGED


def _same_vote(services: Services, vote: Vote, choice: str | None, steps: list[str] | None,
               steps_text: str | None) -> bool:
    stored_text = services.cipher.decrypt_optional(vote.steps_text)
    return (vote.choice, vote.steps or None, stored_text) == (choice, steps or None, steps_text or None)


@action(ActionName.STEM, records_key=True)
async def vote_button(services: Services, member: Member, value: str) -> Result:
    """Button value: 'RT-2026-0001|q1|ja'."""
    reference, question, choice = [*value.split("|"), "", "", ""][:3]
    return await cast_vote(services, member, reference, question, choice=choice)
