"""Slack Block Kit for neutral messages: mrkdwn sections and buttons, within Slack's limits.

Slack rejects a message with more than 50 blocks, a section over 3000 characters or a button
text over 75; slack_sdk does not check the block count. Long texts are split over several
sections, and when a message still needs more blocks it is paged (several messages, each with
a note "deel 1 van 3") or cut with a note (for in-place updates, ephemeral answers, modals).
Every user value is escaped by the mrkdwn renderer, so typed ``<!channel>`` cannot notify.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from commands.replies import Action, Message
from messages.render import renderer

MAX_BLOCKS = 50
MAX_MODAL_BLOCKS = 100
SECTION_TEXT = 3000
FALLBACK_TEXT = 3000
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
BUTTONS_PER_BLOCK = 25
PLAIN_TEXT = 150  # modal option texts, headers and the like stay well within Slack's limits
ACTION_PREFIX = "regie"

Block = dict[str, Any]


@dataclass
class SlackMessage:
    """What chat.postMessage / chat.update / chat.postEphemeral need: blocks and a fallback."""

    text: str
    blocks: list[Block] = field(default_factory=list)

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def cut(text: str, limit: int) -> str:
    """Shorten text to `limit` characters, ending in an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plain(text: str, limit: int = PLAIN_TEXT) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": True}


def mrkdwn_section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, SECTION_TEXT)}}


def context_note(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, SECTION_TEXT)}]}


def split_text(text: str, limit: int = SECTION_TEXT) -> list[str]:
    """Split mrkdwn text into chunks of at most `limit` characters, at paragraph or line ends
    where possible, never inside an escape such as ``&amp;``."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        at = window.rfind("\n\n")
        if at < limit // 3:
            at = window.rfind("\n")
        if at < limit // 3:
            at = window.rfind(" ")
        if at < limit // 3:
            at = limit
            amp = window.rfind("&", limit - 6)
            if amp != -1 and ";" not in window[amp:]:
                at = amp
        chunks.append(rest[:at].rstrip())
        rest = rest[at:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks or [" "]


def action_id(action: Action, index: int) -> str:
    return f"{ACTION_PREFIX}|{action.name}|{index}"


def parse_action_id(value: str) -> str | None:
    """The Action name of a button made by `buttons`, or None for other action ids."""
    parts = value.split("|")
    if len(parts) == 3 and parts[0] == ACTION_PREFIX:
        return parts[1]
    return None


def button(action: Action, index: int) -> Block:
    label = renderer("plain").label(action.label)
    element: Block = {
        "type": "button",
        "action_id": action_id(action, index),
        "text": plain(label, BUTTON_TEXT),
        "value": action.value[:BUTTON_VALUE],
    }
    if action.style:
        element["style"] = action.style
    return element


def buttons(actions: tuple[Action, ...] | list[Action], block_id: str | None = None) -> list[Block]:
    """Actions blocks, 25 buttons each."""
    blocks: list[Block] = []
    for start in range(0, len(actions), BUTTONS_PER_BLOCK):
        elements = [button(a, start + i) for i, a in enumerate(actions[start:start + BUTTONS_PER_BLOCK])]
        block: Block = {"type": "actions", "elements": elements}
        if block_id:
            block["block_id"] = f"{block_id}-{start // BUTTONS_PER_BLOCK}"
        blocks.append(block)
    return blocks


def render_text(message: Message) -> str:
    return renderer("mrkdwn").render(message)


def fallback(text: str) -> str:
    """The notification/fallback text: the first line, without mrkdwn stars."""
    first = next((line for line in text.splitlines() if line.strip()), text)
    return cut(first.replace("*", ""), FALLBACK_TEXT) or " "


def _note(template: str, **data: Any) -> str:
    return renderer("mrkdwn").text(f"slack/{template}", **data)


def slack_pages(message: Message, max_blocks: int = MAX_BLOCKS) -> list[SlackMessage]:
    """The message as one or more Slack messages of at most `max_blocks` blocks each.

    Buttons go with the last page. Pages after the first carry a note saying which part
    they are, so that readers know more follows."""
    text = render_text(message)
    sections = [mrkdwn_section(chunk) for chunk in split_text(text)]
    actions = buttons(message.actions)
    if len(sections) + len(actions) <= max_blocks:
        return [SlackMessage(fallback(text), sections + actions)]
    room = max_blocks - 1  # one block per page for the note
    pages: list[list[Block]] = [sections[i:i + room] for i in range(0, len(sections), room)]
    if len(pages[-1]) + len(actions) > room:
        pages.append([])
    pages[-1].extend(actions)
    total = len(pages)
    result = []
    for number, blocks in enumerate(pages, start=1):
        note = context_note(_note("deel", deel=number, totaal=total))
        result.append(SlackMessage(fallback(text), [*blocks, note]))
    return result


def slack_message(message: Message, max_blocks: int = MAX_BLOCKS) -> SlackMessage:
    """The message as one Slack message; when it is too long it is cut with a note."""
    text = render_text(message)
    return fit_blocks(
        [mrkdwn_section(chunk) for chunk in split_text(text)], buttons(message.actions),
        fallback(text), max_blocks,
    )


def fit_blocks(
    content: list[Block], actions: list[Block], text: str, max_blocks: int = MAX_BLOCKS
) -> SlackMessage:
    """Keep the actions and as much content as fits, with a note when something was left out."""
    if len(content) + len(actions) <= max_blocks:
        return SlackMessage(text, content + actions)
    actions = actions[: max(0, max_blocks - 2)]
    keep = max_blocks - len(actions) - 1
    note = context_note(_note("ingekort", weggelaten=len(content) - keep))
    return SlackMessage(text, [*content[:keep], note, *actions])


