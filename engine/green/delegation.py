"""Delegation (委托代办) and supervision (督办指派): who else may act on an official's tasks.

An official going on leave names a substitute of her own role and city for a range of days;
during it her assigned tasks are his to act on too (`Actor.principals`), and the runtime records
what he does as done on her behalf. Her role's queue he sees anyway: it is his role's and city's.
Delegation is not passed on: a substitute's own substitute does not act for her.

A head (负责人), marked by an administrator, supervises tasks of his role within his
jurisdiction (a city's head his city's, a provincial head the province's), and a provincial
head also every city's municipal tasks: he assigns them to named colleagues of the task's role
and city, although they are not his (`supervises`, handed to the runtime).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Date, Index, Integer, String, and_, or_
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.actors import Actor
from engine.audit import append as audit
from engine.db import db
from engine.errors import Forbidden, FormInvalid, NotFound
from engine.models import Aware

from .models import User

# The officials who hold tasks of their own and may name a substitute or be made a head; an
# enterprise's accounts share their tasks anyway, and an expert's review is addressed to him alone.
DELEGATING_ROLES = frozenset({"municipal", "provincial", "ecology", "emergency", "market"})
# A delegation covers leave, not a standing transfer of office: at most this long.
LONGEST = timedelta(days=366)


class Delegation(db.Model):
    """A substitute (代办人) named by an official (委托人) for the days from `starts_on` to
    `ends_on`, both included; ended early when `revoked_at` is set."""

    __tablename__ = "delegation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    principal: Mapped[str] = mapped_column(String(80))
    substitute: Mapped[str] = mapped_column(String(80))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(Aware())
    revoked_at: Mapped[datetime | None] = mapped_column(Aware())

    __table_args__ = (Index("ix_delegation_substitute_ends_on", "substitute", "ends_on"),
                      Index("ix_delegation_principal", "principal"))


def today() -> date:
    return clock.now().date()


def in_force(on: date | None = None):
    """SQL: the delegations that hold on the day (today by default)."""
    on = on or today()
    return and_(Delegation.revoked_at.is_(None), Delegation.starts_on <= on, Delegation.ends_on >= on)


def principals_of(user: User) -> tuple[str, ...]:
    """Whom the user substitutes for today: those whose delegation to him holds and who are still
    of his role and city, and active (a transfer or a departure ends what she delegated)."""
    if user.role not in DELEGATING_ROLES:
        return ()
    same_city = User.jurisdiction.is_(None) if user.jurisdiction is None else User.jurisdiction == user.jurisdiction
    return tuple(db.session.scalars(
        db.select(Delegation.principal).join(User, User.name == Delegation.principal)
        .where(Delegation.substitute == user.name, in_force(), User.role == user.role, same_city,
               User.deactivated_at.is_(None)).order_by(Delegation.principal).distinct()).all())


def substitutes_for(user: User) -> list[User]:
    """Whom the user may name: the other active accounts of her role and city."""
    same_city = User.jurisdiction.is_(None) if user.jurisdiction is None else User.jurisdiction == user.jurisdiction
    return db.session.scalars(db.select(User).where(
        User.role == user.role, same_city, User.name != user.name, User.deactivated_at.is_(None))
        .order_by(User.name)).all()


def name_substitute(principal: User, substitute: str, starts_on: date | None, ends_on: date | None) -> Delegation:
    """The principal names her substitute for a range of days (the caller commits). Field errors
    (FormInvalid) for a substitute not of her role and city, herself, or a range that is empty,
    past, too long or overlapping one she named already."""
    problems: dict[str, list[str]] = {}
    if principal.role not in DELEGATING_ROLES:
        raise Forbidden("只有办理事项的工作人员可以指定代办人 (only an official who holds tasks may name a substitute)")
    other = db.session.scalar(db.select(User).where(User.name == substitute)) if substitute else None
    if not substitute:
        problems["substitute"] = ["name the substitute"]
    elif substitute == principal.name:
        problems["substitute"] = ["a substitute is someone else"]
    elif other is None or other.deactivated_at is not None or other.role != principal.role \
            or other.jurisdiction != principal.jurisdiction:
        problems["substitute"] = ["the substitute must be an active colleague of the same role and city"]
    if starts_on is None:
        problems["starts_on"] = ["give the first day"]
    if ends_on is None:
        problems["ends_on"] = ["give the last day"]
    if starts_on is not None and ends_on is not None:
        if ends_on < starts_on:
            problems["ends_on"] = ["the last day comes before the first"]
        elif ends_on < today():
            problems["ends_on"] = ["the range is over already"]
        elif ends_on - starts_on > LONGEST:
            problems["ends_on"] = ["a delegation covers at most a year"]
        elif db.session.scalar(db.select(Delegation.id).where(
                Delegation.principal == principal.name, Delegation.revoked_at.is_(None),
                Delegation.starts_on <= ends_on, Delegation.ends_on >= starts_on).limit(1)) is not None:
            problems["starts_on"] = ["these days overlap a delegation you named already; end that one first"]
    if problems:
        raise FormInvalid(problems)
    row = Delegation(principal=principal.name, substitute=substitute, starts_on=starts_on, ends_on=ends_on,
                     created_at=clock.now())
    db.session.add(row)
    audit(principal.name, "delegation.add", detail={"principal": principal.name, "substitute": substitute,
                                                    "starts_on": starts_on.isoformat(), "ends_on": ends_on.isoformat()})
    return row


def end_delegation(principal: User, delegation_id: int) -> Delegation:
    """The principal ends her delegation now (back early); another's is not hers to end (404)."""
    row = db.session.get(Delegation, delegation_id)
    if row is None or row.principal != principal.name or row.revoked_at is not None:
        raise NotFound("没有您正在生效的这项委托 (no such delegation of yours in force)")
    row.revoked_at = clock.now()
    audit(principal.name, "delegation.end", detail={"principal": principal.name, "substitute": row.substitute,
                                                    "id": row.id})
    return row


def delegations_of(user: User) -> tuple[list[Delegation], list[Delegation]]:
    """The delegations the user named and those naming her, not yet over or ended, first day first."""
    current = and_(Delegation.revoked_at.is_(None), Delegation.ends_on >= today())
    order = (Delegation.starts_on, Delegation.id)
    given = db.session.scalars(db.select(Delegation).where(Delegation.principal == user.name, current)
                               .order_by(*order)).all()
    received = db.session.scalars(db.select(Delegation).where(Delegation.substitute == user.name, current)
                                  .order_by(*order)).all()
    return given, received


# ------------------------------------------------------------------ supervision
def supervises(actor: Actor, entry) -> bool:
    """Whether a head supervises a waiting task (`entry`: role, jurisdiction): his role's within
    his jurisdiction; a provincial head also any city's municipal task."""
    if not actor.head or actor.role not in DELEGATING_ROLES or entry.role is None:
        return False
    if entry.role == actor.role:
        return actor.jurisdiction is None or entry.jurisdiction == actor.jurisdiction
    return actor.role == "provincial" and entry.role == "municipal"


def supervised(actor: Actor, model):
    """SQL form of `supervises` over the task index; None when the actor supervises nothing."""
    if not actor.head or actor.role not in DELEGATING_ROLES:
        return None
    own = model.role == actor.role
    if actor.jurisdiction is not None:
        own = and_(own, model.jurisdiction == actor.jurisdiction)
    return or_(own, model.role == "municipal") if actor.role == "provincial" else own


def colleagues_for(tasks: set[tuple[str, str | None]]) -> dict[tuple[str, str | None], list[str]]:
    """For each (role, city) of a task, the active accounts it may be assigned to, by name: the
    role's, of that city or of none (as `Runtime.assign` checks)."""
    out: dict[tuple[str, str | None], list[str]] = {key: [] for key in tasks}
    roles = {role for role, _ in tasks}
    if not roles:
        return out
    people = db.session.execute(db.select(User.name, User.role, User.jurisdiction).where(
        User.role.in_(roles), User.deactivated_at.is_(None)).order_by(User.name)).tuples().all()
    for (role, city), names in out.items():
        names.extend(n for n, r, j in people if r == role and (city is None or j in (None, city)))
    return out


def set_head(user: User, head: bool, actor: Actor) -> None:
    """An administrator marks an official a head (负责人), or no longer (the caller commits)."""
    if not actor.is_admin:
        raise Forbidden("只有管理员可以设定负责人 (only an administrator marks a head)")
    if head and user.role not in DELEGATING_ROLES:
        raise Forbidden("只有办理事项的工作人员可以担任负责人 (only an official who holds tasks can be a head)")
    if bool(user.is_head) != head:
        user.is_head = head
        audit(actor.name, "user.head", detail={"name": user.name, "head": head})
