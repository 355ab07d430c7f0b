"""Who may do what. Every command asks here before it reads or changes a case."""

from __future__ import annotations

from commands.organisation import Member, Organisation
from commands.replies import CommandRefused
from store.models import Case


def whom_to_ask(org: Organisation) -> list[str]:
    """The people who can change roles: the admins, else the coordinators."""
    return [m.name for m in org.with_role("admin")] or [m.name for m in org.with_role("coordinator")]


def require_role(org: Organisation, member: Member, *roles: str) -> None:
    if not member.has_role(*roles):
        raise CommandRefused("fout/geen_rol", rollen=list(roles), vraag=whom_to_ask(org))


def is_chair_of(org: Organisation, member: Member, regieteam_id: str) -> bool:
    return member.has_role("voorzitter") and org.belongs_to(member, regieteam_id)


def require_chair(org: Organisation, member: Member, regieteam_id: str) -> None:
    if not is_chair_of(org, member, regieteam_id):
        raise CommandRefused(
            "fout/geen_rol", rollen=["voorzitter"], team=org.regieteam(regieteam_id).name,
            vraag=whom_to_ask(org),
        )


def may_vote(org: Organisation, member: Member, regieteam_id: str) -> bool:
    if member.has_role("coordinator"):
        return True
    return member.has_role("lid", "voorzitter") and org.belongs_to(member, regieteam_id)


def sees_all(member: Member) -> bool:
    return member.has_role("coordinator", "admin")


def can_see_case(org: Organisation, member: Member, case: Case) -> bool:
    """Coordinator and admin: all; team members: their Regieteam's cases; a melder: their
    corporation's; a casemanager: their own."""
    if sees_all(member):
        return True
    if member.has_role("lid", "voorzitter") and org.belongs_to(member, case.regieteam_id):
        return True
    if member.has_role("melder") and case.corporation_id == member.partner:
        return True
    return case.casemanager_id == member.id


def require_case_access(org: Organisation, member: Member, case: Case) -> None:
    if not can_see_case(org, member, case):
        raise CommandRefused("fout/geen_toegang_casus", referentie=case.reference,
                             vraag=whom_to_ask(org))


def entitled_to_personal_data(org: Organisation, member: Member, case: Case) -> bool:
    """The filing corporation, the casemanager, the chair of the case's Regieteam, the coordinator."""
    if member.has_role("coordinator"):
        return True
    if case.casemanager_id == member.id:
        return True
    if is_chair_of(org, member, case.regieteam_id):
        return True
    return member.has_role("melder") and member.partner == case.corporation_id


def entitled_to_free_text(org: Organisation, member: Member, case: Case) -> bool:
    """Who needs the case's content (voortraject, notes, reasons, feedback): the members of
    the case's Regieteam, who decide on it, the filing corporation's people, the casemanager,
    the chair and the coordinator. Name and address stay with `entitled_to_personal_data`."""
    if member.has_role("coordinator") or case.casemanager_id == member.id:
        return True
    if member.has_role("lid", "voorzitter") and org.belongs_to(member, case.regieteam_id):
        return True
    return member.partner == case.corporation_id
