"""The organisation file: Regieteams, partners, members and the process rules.

The file is YAML. It is validated on load; an error names the file, the line and the
key, and says what is wrong, so that an admin can fix it without reading code.
"""

from __future__ import annotations

from datetime import date
from datetime import time as Time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

WEEKDAYS = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")
PartnerKind = Literal[
    "corporatie", "buurtteam", "schuldhulpverlening", "meldpunt", "jeugdbescherming", "gemeente",
    "zorg", "anders",
]
Role = Literal["melder", "lid", "voorzitter", "casemanager", "coordinator", "admin"]
TEAM_ROLES = ("lid", "voorzitter")


class OrganisationError(ValueError):
    """The organisation file is wrong; the message names the place and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _parse_time(value: Any) -> Time:
    if isinstance(value, Time):
        return value
    if isinstance(value, int):  # YAML 1.1 reads 10:00 as sexagesimal 600
        return Time(value // 60, value % 60)
    try:
        hours, minutes = str(value).split(":")
        return Time(int(hours), int(minutes))
    except ValueError as exc:
        raise ValueError(f"tijd '{value}' is geen geldige tijd; schrijf bijvoorbeeld \"10:00\"") from exc


ClockTime = Annotated[Time, BeforeValidator(_parse_time)]


def _parse_weekday(value: Any) -> int:
    name = str(value).strip().lower()
    if name not in WEEKDAYS:
        raise ValueError(f"'{value}' is geen weekdag; kies uit {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(name)


class WeeklyMoment(_Strict):
    """A day of the week and a time, e.g. dinsdag 10:00 (Europe/Amsterdam)."""

    weekday: int
    time: ClockTime

    @field_validator("weekday", mode="before")
    @classmethod
    def _weekday(cls, value: Any) -> int:
        return value if isinstance(value, int) and 0 <= value <= 6 else _parse_weekday(value)

    @property
    def weekday_name(self) -> str:
        return WEEKDAYS[self.weekday]


class AgendaCutoff(_Strict):
    """How long before the meeting the regular agenda closes (default: the day before, 12:00)."""

    days_before: int = Field(default=1, ge=0, le=6)
    time: ClockTime = Time(12, 0)


class TeamsChannel(_Strict):
    """A channel in Microsoft Teams: the team's id and the channel's id (both from Teams)."""

    team: str = Field(min_length=1, max_length=200)
    channel: str = Field(min_length=1, max_length=200)


class Regieteam(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    name: str
    wijken: tuple[str, ...] = ()
    meeting: WeeklyMoment
    agenda_cutoff: AgendaCutoff | None = None
    quorum: int | None = Field(default=None, ge=1, le=50)
    hide_votes_until_decision: bool | None = None
    slack_channel: str | None = None
    telegram_chat: int | None = None
    teams_channel: TeamsChannel | None = None


class Partner(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_-]{1,32}$")
    name: str
    kind: PartnerKind
    slack_channel: str | None = None
    telegram_chat: int | None = None
    teams_channel: TeamsChannel | None = None


class Member(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_.-]{1,32}$")
    name: str
    partner: str
    roles: tuple[Role, ...] = Field(min_length=1)
    regieteams: tuple[str, ...] = ()
    slack_user: str | None = None
    telegram_user: int | None = None
    # the Teams user id ("29:…") or the member's Entra object id
    teams_user: str | None = Field(default=None, min_length=1, max_length=200)

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def acts_in(self, regieteam_id: str, *roles: str) -> bool:
        """True when the member has one of `roles` within this Regieteam."""
        return self.has_role(*roles) and regieteam_id in self.regieteams


class ReminderRules(_Strict):
    """Defaults for reminders; each can be changed in the organisation file."""

    termijn_days_before: int = Field(default=7, ge=0, le=60)
    termijn_overdue_every_days: int = Field(default=7, ge=1, le=60)
    termijn_chair_from_overdue: int = Field(default=2, ge=1, le=10)
    mbz_every_working_days: int = Field(default=3, ge=1, le=20)
    jeugdbescherming_every_working_days: int = Field(default=3, ge=1, le=20)
    acknowledge_within_working_days: int = Field(default=2, ge=1, le=20)
    urgent_within_days: int = Field(default=14, ge=1, le=60)
    nazorg_months: tuple[int, ...] = (3, 6, 12)
    send_time: ClockTime = Time(9, 0)
    # members who have not voted on a case of the posted agenda hear so privately, this many
    # hours before the meeting starts (0: never)
    vote_reminder_hours_before: int = Field(default=2, ge=0, le=72)


class WorkingDays(_Strict):
    """Which days count as working days (for reminders "within n working days").

    Dutch public holidays from the `holidays` package, and these explicit choices."""

    goede_vrijdag: Literal["werkdag", "vrij"] = "werkdag"
    bevrijdingsdag: Literal["werkdag", "vrij", "lustrum"] = "lustrum"
    extra_days_off: tuple[date, ...] = ()


class Rules(_Strict):
    quorum: int = Field(default=3, ge=1, le=50)
    # who voted what stays hidden until the chair records the decision (counts stay visible),
    # so later voters are not anchored by earlier ones
    hide_votes_until_decision: bool = False
    terugkoppeling_weeks: int = Field(default=4, ge=1, le=26)
    urgent_within_days: int = Field(default=14, ge=1, le=60)
    agenda_cutoff: AgendaCutoff = AgendaCutoff()
    protected_categories: tuple[str, ...] = ("gezin_met_minderjarige_kinderen", "kwetsbaar")
    reminders: ReminderRules = ReminderRules()
    working_days: WorkingDays = WorkingDays()
    # household data and free text of a closed case are erased this many months after the
    # last nazorg check (or after closing when there was no nazorg)
    retention_months: int = Field(default=24, ge=1, le=240)


class Organisation(_Strict):
    regieteams: tuple[Regieteam, ...] = Field(min_length=1)
    partners: tuple[Partner, ...] = Field(min_length=1)
    members: tuple[Member, ...] = Field(min_length=1)
    household_categories: tuple[str, ...] = Field(min_length=1)
    rules: Rules = Rules()

    @model_validator(mode="after")
    def _references(self) -> Organisation:
        _unique("regieteams", [team.id for team in self.regieteams])
        _unique("partners", [partner.id for partner in self.partners])
        _unique("members", [member.id for member in self.members])
        _unique("members", [m.slack_user for m in self.members if m.slack_user], key="slack_user")
        _unique(
            "members", [m.telegram_user for m in self.members if m.telegram_user],
            key="telegram_user",
        )
        _unique("members", [m.teams_user for m in self.members if m.teams_user], key="teams_user")
        team_ids = {team.id for team in self.regieteams}
        partner_ids = {partner.id for partner in self.partners}
        for index, member in enumerate(self.members):
            if member.partner not in partner_ids:
                raise _located(f"members[{index}].partner",
                               f"partner '{member.partner}' staat niet onder partners")
            for team in member.regieteams:
                if team not in team_ids:
                    raise _located(f"members[{index}].regieteams",
                                   f"Regieteam '{team}' staat niet onder regieteams")
            if member.has_role(*TEAM_ROLES) and not member.regieteams and len(team_ids) > 1:
                raise _located(f"members[{index}].regieteams",
                               "een lid of voorzitter moet bij een of meer Regieteams horen")
        for category in self.rules.protected_categories:
            if category not in self.household_categories:
                raise _located("rules.protected_categories",
                               f"'{category}' staat niet onder household_categories")
        return self

    # --- look-ups -------------------------------------------------------------------------
    def regieteam(self, regieteam_id: str) -> Regieteam:
        return next(team for team in self.regieteams if team.id == regieteam_id)

    def partner(self, partner_id: str) -> Partner:
        return next(partner for partner in self.partners if partner.id == partner_id)

    def member(self, member_id: str) -> Member | None:
        return next((member for member in self.members if member.id == member_id), None)

    def member_by_slack(self, slack_user: str) -> Member | None:
        return next((m for m in self.members if m.slack_user == slack_user), None)

    def member_by_telegram(self, telegram_user: int) -> Member | None:
        return next((m for m in self.members if m.telegram_user == telegram_user), None)

    def member_by_teams(self, *teams_ids: str | None) -> Member | None:
        """The member whose `teams_user` is one of the ids (Teams user id, Entra object id)."""
        wanted = {i for i in teams_ids if i}
        return next((m for m in self.members if m.teams_user in wanted), None)

    def partners_of_kind(self, kind: str) -> list[Partner]:
        return [partner for partner in self.partners if partner.kind == kind]

    def team_members(self, regieteam_id: str) -> list[Member]:
        """Members who belong to the Regieteam (with a single Regieteam: everyone with a team role)."""
        return [m for m in self.members if m.has_role(*TEAM_ROLES) and self.belongs_to(m, regieteam_id)]

    def belongs_to(self, member: Member, regieteam_id: str) -> bool:
        return regieteam_id in member.regieteams or (
            not member.regieteams and len(self.regieteams) == 1
        )

    def chairs(self, regieteam_id: str) -> list[Member]:
        return [m for m in self.team_members(regieteam_id) if m.has_role("voorzitter")]

    def with_role(self, role: str) -> list[Member]:
        return [m for m in self.members if m.has_role(role)]

    def quorum(self, regieteam_id: str) -> int:
        return self.regieteam(regieteam_id).quorum or self.rules.quorum

    def votes_hidden(self, regieteam_id: str) -> bool:
        """Whether this Regieteam shows who voted what only after the decision."""
        own = self.regieteam(regieteam_id).hide_votes_until_decision
        return self.rules.hide_votes_until_decision if own is None else own

    def agenda_cutoff(self, regieteam_id: str) -> AgendaCutoff:
        return self.regieteam(regieteam_id).agenda_cutoff or self.rules.agenda_cutoff

    def all_wijken(self) -> list[str]:
        seen: dict[str, None] = {}
        for team in self.regieteams:
            for wijk in team.wijken:
                seen.setdefault(wijk, None)
        return list(seen)

    def regieteams_for_wijk(self, wijk: str) -> list[Regieteam]:
        """The Regieteams that cover a wijk (case-insensitive); empty when none does."""
        wanted = wijk.strip().casefold()
        return [t for t in self.regieteams if any(w.casefold() == wanted for w in t.wijken)]

    def is_protected(self, categories: list[str] | tuple[str, ...], minor_children: int) -> bool:
        """Families with minor children and vulnerable households are never put on the street."""
        return minor_children > 0 or any(c in self.rules.protected_categories for c in categories)


def _unique(section: str, values: list[Any], key: str = "id") -> None:
    seen: set[Any] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise _located(f"{section}[{index}].{key}", f"'{value}' komt twee keer voor")
        seen.add(value)


class _LocatedError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _located(path: str, message: str) -> _LocatedError:
    return _LocatedError(path, message)


# --- loading with line numbers -------------------------------------------------------------


def load_organisation(path: Path | str) -> Organisation:
    """Read and validate an organisation file; raise OrganisationError with file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OrganisationError(f"{path}: kan het bestand niet lezen ({exc.strerror})") from exc
    return parse_organisation(text, str(path))


# libyaml's parser when PyYAML was built with it (about 20× faster on a large organisation);
# the same safe constructor either way.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree (for the line of an error) and the data built from it, in one parse."""
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        return root, loader.construct_document(root) if root is not None else None
    finally:
        loader.dispose()


def parse_organisation(text: str, source: str = "<organisatie>") -> Organisation:
    try:
        root, data = _read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", regel {mark.line + 1}" if mark is not None else ""
        raise OrganisationError(f"{source}{where}: dit is geen geldige YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise OrganisationError(f"{source}: het bestand moet de onderdelen regieteams, partners, "
                                "members en household_categories bevatten")
    try:
        return Organisation.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        inner = error.get("ctx", {}).get("error")
        if isinstance(inner, _LocatedError):
            raise _error_at(root, source, _split_path(inner.path), inner.message) from None
        loc = [part for part in error["loc"] if not str(part).startswith("function-")]
        raise _error_at(root, source, loc, _explain(error)) from None


def _explain(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "dit veld ontbreekt"
    if kind == "extra_forbidden":
        return "dit veld is onbekend (tikfout?)"
    if kind == "literal_error":
        choices = str(error["msg"]).replace("Input should be", "kies uit").replace(" or ", " of ")
        return "waarde niet toegestaan; " + choices
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in path.split("."):
        name, _, rest = piece.partition("[")
        parts.append(name)
        if rest:
            parts.append(int(rest.rstrip("]")))
    return parts


def _error_at(root: yaml.Node | None, source: str, loc: list[Any], message: str) -> OrganisationError:
    node, line = root, None
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    key = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in loc).replace(".[", "[")
    where = f", regel {line}" if line else ""
    return OrganisationError(f"{source}{where}, {key}: {message}")


def _child(node: yaml.Node | None, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == str(part):
                found: yaml.Node = value_node
                return found
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None
