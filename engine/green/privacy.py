"""Who may read personal data unmasked (个人信息的知悉范围): real-name reporters'
(Art 24) and objectors' (Art 15) identity, contact and evidence, and whatever
else a form marks `"x-personal": true`.

The authority handling the case may: the city whose case it is, and the
province. A party (an applicant, an agency) may read what its own role's forms
asked of it in its own case (the contact person it gave), never a reporter's
name: the unit a report is about is often the party of that case. Everyone
else reads it masked: analysts, administrators, the consulted departments,
experts, other cities and other parties.
"""
from __future__ import annotations

from engine import personal
from engine.runtime import PARTY_ACCOUNT, Actor, may_act

from . import experts
from .roles import MUNICIPAL_ROLES, PARTY_ROLES, PERSONAL_ROLES

PROVINCIAL_AUTHORITY = frozenset({"provincial"})


def handles(actor: Actor, case) -> bool:
    """The actor belongs to the authority handling the case."""
    if actor.role in PROVINCIAL_AUTHORITY:
        return True
    return (actor.role in MUNICIPAL_ROLES and case.jurisdiction is not None
            and actor.jurisdiction == case.jurisdiction)


def is_party(actor: Actor, case) -> bool:
    data = case.data if isinstance(case.data, dict) else {}
    return actor.role in PARTY_ROLES and bool({case.started_by, data.get(PARTY_ACCOUNT)} & set(actor.accounts))


def readable(actor: Actor, case, marks: personal.Marks) -> set:
    """The marked paths this actor reads unmasked in this case."""
    if handles(actor, case):
        return set(marks)
    if is_party(actor, case):
        return {path for path, roles in marks.items() if actor.role in roles}
    return set()


def reviewer_scope(actor: Actor, case) -> dict | None:
    """What an expert reads of a case they review in: the candidates assigned to them and
    nothing else of the round (Art 15); None for everyone else."""
    if actor.role not in PERSONAL_ROLES or handles(actor, case):
        return None
    return experts.reviewer_view(actor.name, case.id)


def sees_task(actor: Actor, task) -> bool:
    """Whether a case's task is listed for this reader: an expert sees their own reviews only."""
    return actor.role not in PERSONAL_ROLES or may_act(actor, task)


def case_data(actor: Actor, case, marks: personal.Marks) -> tuple[dict, list[str]]:
    """The case's data as this actor may see it, and the personal fields it shows unmasked
    (which the caller audits)."""
    scoped = reviewer_scope(actor, case)
    if scoped is not None:
        return scoped, []
    data = case.data if isinstance(case.data, dict) else {}
    held = personal.present(data, marks)
    if not held:
        return data, []
    opened = readable(actor, case, marks)
    return (personal.masked(data, [p for p in held if p not in opened]),
            [personal.dotted(p) for p in held if p in opened])


def may_read_evidence(actor: Actor, case, attachment) -> bool:
    """A personal file: the authority handling the case, and the party that handed it in
    (a public reporter has no account: the name on their evidence is theirs, not a user's)."""
    if not attachment.personal or handles(actor, case):
        return True
    return is_party(actor, case) and attachment.uploaded_by == actor.name


def objection_view(actor: Actor, case, objection) -> dict:
    """An objection on the province's investigation task (Art 15): who lodged it, how to
    reach them and their evidence, masked for whoever does not handle the round."""
    unit = objection.notice.item(objection.credit_code) or {}
    row = {"id": objection.id, "credit_code": objection.credit_code, "unit": unit.get("name"),
           "reasons": objection.reasons, "evidence_count": len(objection.attachment_ids or [])}
    if handles(actor, case):
        return {**row, "by": objection.real_name, "organisation": objection.organisation,
                "contact": objection.contact, "evidence": list(objection.attachment_ids or []), "masked": False}
    return {**row, "by": personal.mask_text(objection.real_name),
            "organisation": personal.mask_text(objection.organisation) if objection.organisation else None,
            "contact": personal.mask_text(objection.contact), "evidence": [], "masked": True}
