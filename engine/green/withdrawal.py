"""Withdrawing an application and ending a stalled case (撤回申请、终止办理).

An applicant may withdraw its own application, with its reason, until its city has
decided on it. The city's decision ends the case (listed, or not approved); a return
for correction gives the application back to the applicant: so an application that is
still running or waiting has not been decided, and one in error (its listing failed
after the approval) is the administrators' to mend, not the applicant's to withdraw. An official of the case's city, or the province, may end a case
that has stalled, with the reason. Both go through `Runtime.cancel`, so the case, its
inbox and its audit event change in one step; the audit event (`withdraw`, `end`)
carries who and why, and the case page shows it.
"""
from __future__ import annotations

from datetime import timedelta

from engine import clock
from engine.actors import Actor
from engine.errors import Conflict, Forbidden, FormInvalid, NotFound

from .roles import MUNICIPAL_ROLES

# A case nothing has moved for this long (no task done, no timer fired), or one in error,
# is stalled: the rules set no such period, so it is the system's, and it is long enough
# that no statutory working-day limit of Arts 14-24 runs out unnoticed inside it.
STALLED_DAYS = 30
MIN_REASON = 4  # characters: a reason says something ("不再申报"), not "无"
MOVING = ("running", "waiting")


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if len(text) < MIN_REASON:
        raise FormInvalid({"reason": [f"请说明理由（至少{MIN_REASON}个字） (give the reason, {MIN_REASON} characters "
                                      f"at least)"]})
    return text


def may_withdraw(actor: Actor, case) -> bool:
    """Whether the case page offers the applicant to withdraw (the step checks again)."""
    return actor.role == "applicant" and case.started_by in actor.accounts and case.status in MOVING


def may_end(actor: Actor, case) -> bool:
    """Whether the case page offers an official to end the case (the step checks again)."""
    official = actor.role == "provincial" or (actor.role in MUNICIPAL_ROLES and case.jurisdiction is not None
                                              and actor.jurisdiction == case.jurisdiction)
    return official and case.status in (*MOVING, "error")


def stalled(case) -> bool:
    return case.status == "error" or case.updated_at <= clock.now() - timedelta(days=STALLED_DAYS)


def withdraw(runtime, instance_id: int, actor: Actor, reason: str | None):
    """The applicant withdraws its application before the city has decided on it."""
    if not runtime.may_see(actor, instance_id):
        raise NotFound(f"没有办件 {instance_id} (no case {instance_id})")
    why = _reason(reason)

    def allowed(case, workflow):
        if not (actor.role == "applicant" and case.started_by in actor.accounts):
            raise Forbidden("只有申报单位可以撤回本单位的申请 (only the applicant withdraws its own application)")
        if case.status not in MOVING:
            raise Conflict("本案出错待处理，申请不能撤回 (the case is in error: it cannot be withdrawn now)")

    return runtime.cancel(instance_id, actor, why, action="withdraw", allowed=allowed)


def end(runtime, instance_id: int, actor: Actor, reason: str | None):
    """An official of the case's city, or the province, ends a stalled case."""
    if not runtime.may_see(actor, instance_id):
        raise NotFound(f"没有办件 {instance_id} (no case {instance_id})")
    why = _reason(reason)

    def allowed(case, workflow):
        if not may_end(actor, case):
            raise Forbidden("只有本案所属市州或省工信厅可以终止办理 (only the case's city or the province ends a case)")
        if not stalled(case):
            raise Conflict(f"本案最近{STALLED_DAYS}日内仍有办理，未停滞，不能终止 (the case moved within the last "
                           f"{STALLED_DAYS} days: it has not stalled)")

    return runtime.cancel(instance_id, actor, why, action="end", allowed=allowed)
