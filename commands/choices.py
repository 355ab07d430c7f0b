"""Reading a choice or a member from typed words: by visible label or by id, whatever the case
or accents, on every door.

The labels live in the templates (`messages/`), which the core may not import; a door passes
them in as a `Labels` lookup (the messages renderer has the right shape: `label(key)` gives
the text of a key, or the key itself when there is none). Without labels only ids and their
readable form (`niet_voldaan` → "niet voldaan") are recognised.

A typed word that fits no choice in full but is a whole word of exactly one choice's label
picks that choice (`huur` → "lopende huur wordt betaald"); when it fits several, the member
is told which, and asked to type one in full.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from commands.organisation import Member, Organisation
from commands.replies import CommandRefused

MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")  # a Slack mention: <@U123> or <@U123|name>


class Labels(Protocol):
    """The short texts of the templates: `label("keuze.voldaan")` → "voldaan"."""

    def label(self, key: str) -> str: ...


class IdsOnly:
    """No label texts: every key stands for itself."""

    def label(self, key: str) -> str:
        return key


def fold(text: str) -> str:
    """How typed text is compared: case- and accent-insensitive, `_`, `-` and punctuation as
    spaces. "Coördinator" and "coordinator" fold alike, and so do "niet_voldaan" and
    "Niet voldaan"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[\W_]+", " ", plain.casefold()).split())


@dataclass(frozen=True)
class Choices:
    """The choices of one field: id → how it may be typed (the id itself is always one).
    `what` names the field in a refusal (a key `veld.<what>` in the labels)."""

    what: str
    spellings: Mapping[str, tuple[str, ...]]
    shown: Mapping[str, str]  # id → the text a refusal shows

    @classmethod
    def of(cls, what: str, ids: Iterable[str], labels: Labels, prefix: str = "keuze.",
           extra: Mapping[str, Sequence[str]] | None = None) -> Choices:
        spellings: dict[str, tuple[str, ...]] = {}
        shown: dict[str, str] = {}
        for choice in ids:
            label = labels.label(f"{prefix}{choice}")
            text = label if label != f"{prefix}{choice}" else choice.replace("_", " ")
            spellings[choice] = (choice, text, *(extra or {}).get(choice, ()))
            shown[choice] = text
        return cls(what, spellings, shown)

    def exact(self, text: str) -> str | None:
        """The choice typed in full (id or label), or None."""
        wanted = fold(text)
        if not wanted:
            return None
        found = [c for c, typed in self.spellings.items() if wanted in (fold(t) for t in typed)]
        return found[0] if len(found) == 1 else None

    def pick(self, text: str) -> str:
        """The one choice `text` means; refused when it means none or more than one."""
        found = self.exact(text)
        if found is not None:
            return found
        wanted = set(fold(text).split())
        partial = [c for c, typed in self.spellings.items()
                   if wanted and any(wanted <= set(fold(t).split()) for t in typed)]
        if len(partial) == 1:
            return partial[0]
        if partial:
            raise CommandRefused("fout/keuze_meerdere", veld=self.what,
                                 keuzes=[self.shown[c] for c in partial])
        raise CommandRefused("fout/keuze_niet_gevonden", veld=self.what,
                             keuzes=list(self.shown.values()))

    def pick_many(self, text: str) -> list[str]:
        """Choices separated by commas."""
        parts = [p for p in text.split(",") if p.strip()]
        return list(dict.fromkeys(self.pick(part) for part in parts))

    def leading(self, words: Sequence[str]) -> tuple[str, list[str]] | None:
        """The choice typed in full at the start of `words` (the longest that fits), and the
        words after it; None when the words do not start with a choice."""
        for end in range(len(words), 0, -1):
            found = self.exact(" ".join(words[:end]))
            if found is not None:
                return found, list(words[end:])
        return None


# --- members ---------------------------------------------------------------------------------


def _first_name(member: Member) -> str:
    return member.name.split()[0] if member.name.split() else member.name


def _mentioned(org: Organisation, text: str) -> Member | None:
    """A Slack mention `<@U123>` or a Telegram user given as `tg:5001` by the door."""
    if match := MENTION.match(text.strip()):
        return org.member_by_slack(match[1])
    if text.strip().startswith("tg:") and text.strip()[3:].isdigit():
        return org.member_by_telegram(int(text.strip()[3:]))
    return None


def find_members(org: Organisation, text: str) -> list[Member]:
    """The members `text` may mean: by mention, full name, id or first name (an `@` in front
    is ignored, as one types a Telegram or Slack handle). A full name that fits one member
    wins; otherwise every member whose id or first name fits is a candidate."""
    mentioned = _mentioned(org, text)
    if mentioned is not None:
        return [mentioned]
    wanted = fold(text.strip().lstrip("@"))
    if not wanted:
        return []
    by_name = [m for m in org.members if fold(m.name) == wanted]
    if by_name:
        return by_name
    return [m for m in org.members if wanted in (fold(m.id), fold(_first_name(m)))]


def pick_member(org: Organisation, text: str) -> Member:
    found = find_members(org, text)
    if len(found) == 1:
        return found[0]
    if found:
        raise CommandRefused("fout/lid_meerdere", leden=[f"{m.name} ({m.id})" for m in found])
    raise CommandRefused("fout/lid_onbekend", lid=text[:32])


def leading_member(org: Organisation, words: Sequence[str]) -> tuple[Member, list[str]] | None:
    """The member named at the start of `words` (a name may be several words), and the rest;
    refused when the name fits several members; None when the words name nobody."""
    for end in range(min(len(words), 4), 0, -1):
        found = find_members(org, " ".join(words[:end]))
        if len(found) > 1:
            raise CommandRefused("fout/lid_meerdere",
                                 leden=[f"{m.name} ({m.id})" for m in found])
        if found:
            return found[0], list(words[end:])
    return None


__all__ = ["Choices", "IdsOnly", "Labels", "find_members", "fold", "leading_member",
           "pick_member"]
