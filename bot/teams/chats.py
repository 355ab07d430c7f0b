"""Members' 1:1 chats with the bot, kept in the database so every process and every restart
can send a reminder or a private answer there without asking Teams to open the chat again.

A chat is captured when a member writes to the bot in a 1:1 conversation, or when the app is
installed in their personal scope; a new serviceUrl or conversation id replaces the old one.
It is kept with the door's neutral drafts (`commands.drafts`, encrypted, door "teams", key
"privechat:<member id>"; the conversation id is in the encrypted data, which has no length
limit). Why that kind:
- the daily clean-up of abandoned forms (`forget_abandoned_drafts`) names the kinds it drops,
  and no door names "privechat" (Telegram's conversations in progress are "gesprek");
- erasing a household drops only drafts holding the case's reference or the household's name,
  address or postcode; a chat holds nothing but the connector's address and Teams' id of the
  conversation. Were one ever dropped, the courier opens the chat again with the member's
  `teams_user` and keeps that.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands import drafts
from commands.context import Services

DOOR = "teams"
KIND = "privechat"


@dataclass(frozen=True)
class Conversation:
    """Where a message can be posted: the connector service and the conversation there."""

    service_url: str
    id: str


def _key(member_id: str) -> str:
    return f"{KIND}:{member_id}"


async def load_chat(services: Services, member_id: str) -> Conversation | None:
    """The member's 1:1 chat as stored, if any."""
    data = await drafts.load_draft(services, DOOR, _key(member_id))
    if data is None:
        return None
    service_url, conversation = data.get("serviceUrl"), data.get("conversation")
    if not isinstance(service_url, str) or not isinstance(conversation, str):
        return None
    return Conversation(service_url, conversation)


async def save_chat(services: Services, member_id: str, chat: Conversation) -> None:
    await drafts.save_draft(services, DOOR, _key(member_id),
                            {"serviceUrl": chat.service_url, "conversation": chat.id})


async def forget_chat(services: Services, member_id: str) -> None:
    await drafts.delete_draft(services, DOOR, _key(member_id))
