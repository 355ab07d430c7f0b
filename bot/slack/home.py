"""The App Home tab: each member sees their own work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from commands.organisation import Member
from commands.permissions import is_chair_of
from commands.replies import Action, Message
from commands.words import ActionName
from messages.slack import (
    MAX_MODAL_BLOCKS,
    Block,
    button,
    fit_blocks,
    mrkdwn_section,
    render_text,
    split_text,
)
from store.models import Case

if TYPE_CHECKING:
    from bot.slack.adapter import SlackAdapter

OPEN_PHASES = ("nieuw", "op_agenda", "besloten", "in_uitvoering")
LIST_LIMIT = 30
CLOSE_LIMIT = 20  # cases in uitvoering with a "Casus sluiten" button (one block each)


def _row(case: Case) -> dict[str, Any]:
    return {
        "referentie": case.reference, "fase": case.phase, "termijn": case.termijn,
        "terugkoppeling": case.next_terugkoppeling, "team": case.regieteam_id,
        "ingediend": case.filed_at, "spoed_datum": case.urgency_date,
    }


async def home_view(adapter: SlackAdapter, member: Member | None) -> dict[str, Any]:
    """The Home tab for this member (or a polite note for someone not in the organisation)."""
    if member is None:
        return _view([mrkdwn_section(adapter.mrkdwn(adapter.unknown_user()))])
    services = adapter.services
    org = services.org
    parts: list[Message | list[Block]] = [Message("slack/home_welkom", {"naam": member.name})]
    async with services.sessions() as session:
        if member.has_role("casemanager"):
            cases = (await session.scalars(
                select(Case).where(Case.casemanager_id == member.id, Case.phase != "gesloten")
                .order_by(Case.termijn).limit(LIST_LIMIT)
            )).all()
            parts.append(Message("slack/home_casemanager", {"casussen": [_row(c) for c in cases]}))
        if member.has_role("voorzitter", "lid"):
            teams = [t.id for t in org.regieteams if org.belongs_to(member, t.id)]
            cases = (await session.scalars(
                select(Case).where(Case.regieteam_id.in_(teams),
                                   Case.phase.in_(("nieuw", "op_agenda")))
                .order_by(Case.urgency_date, Case.filed_at).limit(LIST_LIMIT)
            )).all()
            parts.append(Message("slack/home_team", {
                "teams": [org.regieteam(t).name for t in teams],
                "voorzitter": member.has_role("voorzitter"),
                "casussen": [_row(c) for c in cases],
                "overleg": [
                    {"team": org.regieteam(t).name, "dag": org.regieteam(t).meeting.weekday_name,
                     "tijd": org.regieteam(t).meeting.time.strftime("%H:%M")} for t in teams
                ],
            }))
        closing = [t.id for t in org.regieteams
                   if member.has_role("coordinator") or is_chair_of(org, member, t.id)]
        if closing:
            cases = (await session.scalars(
                select(Case).where(Case.regieteam_id.in_(closing), Case.phase == "in_uitvoering")
                .order_by(Case.termijn, Case.id).limit(CLOSE_LIMIT)
            )).all()
            parts.append(_closing_blocks(cases))
        if member.has_role("coordinator", "admin"):
            counts = (await session.execute(
                select(Case.regieteam_id, Case.phase, func.count()).group_by(
                    Case.regieteam_id, Case.phase)
            )).all()
            table: dict[str, dict[str, int]] = {}
            for team_id, phase, count in counts:
                table.setdefault(team_id, {})[phase] = count
            parts.append(Message("slack/home_coordinator", {"overzicht": [
                {"team": t.name, "fasen": table.get(t.id, {})} for t in org.regieteams
            ]}))
        if member.has_role("melder"):
            cases = (await session.scalars(
                select(Case).where(Case.corporation_id == member.partner,
                                   Case.phase.in_(OPEN_PHASES))
                .order_by(Case.filed_at.desc()).limit(LIST_LIMIT)
            )).all()
            parts.append(Message("slack/home_melder", {
                "corporatie": org.partner(member.partner).name,
                "casussen": [_row(c) for c in cases],
            }))
    blocks: list[Block] = []
    for part in parts:
        if isinstance(part, Message):
            blocks.extend(_sections(part))
        else:
            blocks.extend(part)
        blocks.append({"type": "divider"})
    return _view(blocks[:-1])


def _sections(message: Message) -> list[Block]:
    return [mrkdwn_section(chunk) for chunk in split_text(render_text(message))]


def _closing_blocks(cases: Sequence[Case]) -> list[Block]:
    """Cases in uitvoering for whoever may close them, each with a "Casus sluiten" button."""
    blocks = _sections(Message("slack/home_sluiten", {"casussen": [_row(c) for c in cases]}))
    for index, case in enumerate(cases):
        row = render_text(Message("slack/home_sluiten_rij", {"c": _row(case)}))
        action = Action(ActionName.SLUITEN, case.reference, "slack.knop.casus_sluiten")
        blocks.append({**mrkdwn_section(row), "accessory": button(action, index)})
    return blocks


def _view(blocks: list[Block]) -> dict[str, Any]:
    fitted = fit_blocks(blocks, [], "", max_blocks=MAX_MODAL_BLOCKS)
    return {"type": "home", "blocks": fitted.blocks}
