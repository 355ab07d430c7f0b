"""The App Home tab: each member sees their own work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from commands.home import home_sections
from commands.organisation import Member
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

if TYPE_CHECKING:
    from bot.slack.adapter import SlackAdapter

TEMPLATES = {  # section of commands.home → its template
    "casemanager": "slack/home_casemanager", "team": "slack/home_team",
    "coordinator": "slack/home_coordinator", "melder": "slack/home_melder",
}


async def home_view(adapter: SlackAdapter, member: Member | None) -> dict[str, Any]:
    """The Home tab for this member (or a polite note for someone not in the organisation)."""
    if member is None:
        return _view([mrkdwn_section(adapter.mrkdwn(adapter.unknown_user()))])
    parts: list[Message | list[Block]] = [Message("slack/home_welkom", {"naam": member.name})]
    for section in await home_sections(adapter.services, member):
        if section.name == "sluiten":
            parts.append(_closing_blocks(section.cases))
        else:
            parts.append(Message(TEMPLATES[section.name],
                                 {**section.data, "casussen": list(section.cases)}))
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


def _closing_blocks(cases: Sequence[dict[str, Any]]) -> list[Block]:
    """Cases in uitvoering for whoever may close them, each with a "Casus sluiten" button."""
    blocks = _sections(Message("slack/home_sluiten", {"casussen": list(cases)}))
    for index, case in enumerate(cases):
        row = render_text(Message("slack/home_sluiten_rij", {"c": case}))
        action = Action(ActionName.SLUITEN, case["referentie"], "slack.knop.casus_sluiten")
        blocks.append({**mrkdwn_section(row), "accessory": button(action, index)})
    return blocks


def _view(blocks: list[Block]) -> dict[str, Any]:
    fitted = fit_blocks(blocks, [], "", max_blocks=MAX_MODAL_BLOCKS)
    return {"type": "home", "blocks": fitted.blocks}
