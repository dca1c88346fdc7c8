"""Who acts (行为人), and the server-side rules for which human tasks are theirs.

Its own module, not the runtime's, because more than the runtime asks who is
acting: the start-request outbox starts cases as the system, case migration
and the domain check an actor too, and none of them should have to import the
runtime (which imports them) to learn who `SYSTEM` is.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user, or the system itself (timers)."""

    name: str | None
    role: str | None = None
    jurisdiction: str | None = None
    # Other accounts of the same organisation: their cases and their party tasks are this
    # actor's too (an enterprise has several users; who started its application does not matter).
    colleagues: tuple[str, ...] = ()
    # Colleagues of the same role and city who named this actor their substitute (代办) for
    # today: their assigned tasks are his to act on too, recorded as done on their behalf.
    principals: tuple[str, ...] = ()
    # An administrator marked the account a head (负责人): it supervises its role's tasks (see
    # the domain's `supervises`), assigning them to named colleagues.
    head: bool = False

    @property
    def accounts(self) -> tuple[str | None, ...]:
        """The account names this actor acts as: its own and its colleagues'."""
        return (self.name, *self.colleagues)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def acting_for(self, assignee: str | None) -> str | None:
        """The principal a task of `assignee` is done on behalf of, when it is a
        principal's and not this actor's own (None otherwise)."""
        if assignee is not None and assignee in self.principals and assignee not in self.accounts:
            return assignee
        return None


SYSTEM = Actor("system", "admin")


def may_act(actor: Actor, task) -> bool:
    """Server-side rule for acting on a human task: an assigned task is its
    assignee's; otherwise the task's role, within the actor's jurisdiction
    when the actor has one (municipal users do; provincial users do not). A
    substitute acts on his principals' assigned tasks as on his own."""
    if actor.is_admin:
        return True
    if task.assignee is not None:
        return task.assignee in actor.accounts or task.assignee in actor.principals
    if task.role is None or task.role != actor.role:
        return False
    return actor.jurisdiction is None or actor.jurisdiction == task.jurisdiction


def role_queue(actor: Actor, model):
    """SQL: the unassigned items of the actor's role, within their jurisdiction."""
    by_role = and_(model.assignee.is_(None), model.role == actor.role)
    if actor.jurisdiction is not None:
        by_role = and_(by_role, model.jurisdiction == actor.jurisdiction)
    return by_role


def addressed_to(actor: Actor, model):
    """SQL form of `may_act` over a table of tasks or notices: the actor's own
    items (and those of whoever he substitutes for today), and their role's unassigned ones."""
    return or_(model.assignee.in_((*actor.accounts, *actor.principals)), role_queue(actor, model))
