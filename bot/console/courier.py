"""The console as a platform: every channel post is printed, labelled with its channel."""

from __future__ import annotations

from typing import TextIO

from commands.context import Services
from commands.replies import Action, Message, Outgoing
from messages.render import renderer


class ButtonBoard:
    """The buttons the console has shown, each with a number to type (`/knop 3`), so nobody
    has to type what a button carries inside. A button shown again (a tally edited in place)
    keeps its number."""

    def __init__(self) -> None:
        self._shown: list[Action] = []
        self._numbers: dict[tuple[str, str], int] = {}

    def number(self, action: Action) -> int:
        key = (action.name, action.value)
        if key not in self._numbers:
            self._shown.append(action)
            self._numbers[key] = len(self._shown)
        return self._numbers[key]

    def pressed(self, number: int) -> Action | None:
        return self._shown[number - 1] if 1 <= number <= len(self._shown) else None

    def show(self, message: Message) -> str:
        """A message as console text, with its buttons as numbers one can type."""
        text = renderer("plain")
        body = text.render(message)
        if not message.actions:
            return body
        buttons = [{"label": text.label(a.label), "opdracht": f"/knop {self.number(a)}"}
                   for a in message.actions]
        return body + "\n" + text.text("console/knoppen", knoppen=buttons)


class ConsoleCourier:
    """Prints what the bot posts: to a Regieteam or partner channel, in a case thread, or
    privately to a member. Messages edited in place are marked as updates."""

    platform = "console"

    def __init__(self, services: Services, out: TextIO, board: ButtonBoard | None = None) -> None:
        self.services = services
        self.out = out
        self.board = board or ButtonBoard()
        self.posted: set[str] = set()

    def can_reach(self, item: Outgoing) -> bool:
        return True

    async def deliver(self, item: Outgoing) -> None:
        updated = item.update_key is not None and item.update_key in self.posted
        if item.update_key:
            self.posted.add(item.update_key)
        self.out.write(self.heading(item, updated) + "\n")
        self.out.write(indent(self.board.show(item.message)) + "\n\n")
        self.out.flush()

    def heading(self, item: Outgoing, updated: bool) -> str:
        text = renderer("plain")
        org = self.services.org
        thread = None
        if item.thread_case is not None or (item.update_key or "").startswith("case_thread:"):
            thread = item.message.data.get("referentie")
        if item.to.kind == "member":
            found = org.member(item.to.id)
            name = found.name if found else item.to.id
            return text.text("console/kop_bericht", naam=name, bijgewerkt=updated)
        channel = org.regieteam(item.to.id) if item.to.kind == "regieteam" else org.partner(item.to.id)
        return text.text("console/kop_kanaal", kanaal=channel.slack_channel or channel.id,
                         naam=channel.name, draad=thread, bijgewerkt=updated)


def indent(text: str) -> str:
    return "\n".join("  " + line if line else "" for line in text.splitlines())
