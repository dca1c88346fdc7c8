"""Organisations registering themselves (单位注册): an enterprise, a park's management
body or a third-party evaluation agency registers with its credit code, legal
representative, registered address and a contact; the city its address lies in
confirms it before its accounts may apply. Several accounts may act for one
organisation; every case they start belongs to the organisation's city.

Refusals name the field and say why as a code (`RegistrationRefused.fields`):
the pages put them into the reader's language.
"""
from __future__ import annotations

import re
from datetime import datetime

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine import clock
from engine.actors import Actor
from engine.audit import append as audit
from engine.db import db
from engine.errors import Conflict, EngineError, Forbidden, NotFound
from engine.models import Aware

from . import credit_code, real_name
from .agencies import Agency
from .designations import organisation_by_code
from .models import User
from .roles import JURISDICTIONS, MUNICIPAL_ROLES, PARTY_ROLES, role_for_lane

STATUSES = {"pending": ("待市州确认", "Awaiting the city's confirmation"),
            "confirmed": ("已确认", "Confirmed"), "refused": ("未通过", "Refused")}
FIELDS = ("role", "name", "credit_code", "legal_representative", "address", "division_code", "contact_person",
          "mobile")
# 兰州新区 is a city-level authority of its own although its code sits among Lanzhou's
# (Art 3 lists it beside the 14 prefectures); every other county-level code maps to its prefecture.
OWN_AUTHORITY_CODES = frozenset({"620171"})


class Registration(db.Model):
    """An organisation as it registered itself (单位注册信息), and the city's confirmation."""

    __tablename__ = "registration"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role: Mapped[str] = mapped_column(String(40))  # applicant or agency: what its accounts act as
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_representative: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(200))
    division_code: Mapped[str] = mapped_column(String(6))  # the registered address's division
    jurisdiction: Mapped[str] = mapped_column(String(12), index=True)  # the city the division belongs to
    contact_person: Mapped[str] = mapped_column(String(80))
    mobile: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16))
    registered_at: Mapped[datetime] = mapped_column(Aware())
    decided_at: Mapped[datetime | None] = mapped_column(Aware())
    decided_by: Mapped[str | None] = mapped_column(String(80))
    refusal_reason: Mapped[str | None] = mapped_column(Text)


class RegistrationRefused(EngineError):
    """What is wrong with a registration: field → problem code."""

    status = 422

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def city_of(division_code: str) -> str | None:
    """The city (市州) whose authority confirms an organisation registered at this
    division code: a county-level code maps to its prefecture, 兰州新区 stays its own;
    None for a code outside Gansu's divisions."""
    if not re.fullmatch(r"62\d{4}", division_code or ""):
        return None
    if division_code in OWN_AUTHORITY_CODES:
        return division_code
    city = division_code[:4] + "00"
    return city if city in JURISDICTIONS else None


def problems(details: dict) -> dict[str, str]:
    """Every field that will not do, with why (a code the pages explain)."""
    p: dict[str, str] = {}
    if details.get("role") not in PARTY_ROLES:
        p["role"] = "role"
    if real_name.name_problem(details.get("name", ""), organisation=True):
        p["name"] = "organisation_name"
    code = details.get("credit_code", "")
    if credit_code.problem(code) is not None:
        p["credit_code"] = "credit_code"
    elif db.session.scalar(db.select(Registration.id).where(Registration.credit_code == code)) is not None:
        p["credit_code"] = "registered"
    if real_name.name_problem(details.get("legal_representative", "")):
        p["legal_representative"] = "person_name"
    if len(details.get("address", "")) < 6:
        p["address"] = "address"
    if city_of(details.get("division_code", "")) is None:
        p["division_code"] = "division_code"
    if real_name.name_problem(details.get("contact_person", "")):
        p["contact_person"] = "person_name"
    if not real_name.is_mobile(details.get("mobile", "")):
        p["mobile"] = "mobile"
    return p


def clean(details: dict) -> dict:
    out = {k: str(details.get(k) or "").strip() for k in FIELDS}
    out["credit_code"] = out["credit_code"].upper()
    out["mobile"] = out["mobile"].replace(" ", "").replace("-", "")
    return out


def record(details: dict, account: str) -> Registration:
    """An organisation's registration, awaiting the city's confirmation, made with its
    first account `account` (which the caller adds in the same transaction)."""
    details = clean(details)
    found = problems(details)
    if found:
        raise RegistrationRefused(found)
    row = Registration(**details, jurisdiction=city_of(details["division_code"]), status="pending",
                       registered_at=clock.now())
    db.session.add(row)
    db.session.flush()
    audit(account, "registration.submit", detail={"registration": row.id, "name": row.name,
                                                    "credit_code": row.credit_code, "city": row.jurisdiction})
    return row


def decide(registration_id: int, actor: Actor, confirm: bool, reason: str | None = None) -> Registration:
    """The city confirms a registration in its area, or refuses it with a reason. On
    confirmation the organisation enters the register of organisations (an agency the
    register of agencies) under its credit code."""
    row = db.session.get(Registration, registration_id)
    if row is None:
        raise NotFound(f"没有注册申请 {registration_id} (no registration {registration_id})")
    if not (actor.is_admin or (actor.role in MUNICIPAL_ROLES and actor.jurisdiction == row.jurisdiction)):
        raise Forbidden("只有单位注册地所在市州可以确认其注册 (only the city the organisation is registered in confirms its registration)")
    if row.status != "pending":
        raise Conflict(f"该注册申请已为 {row.status} 状态 (the registration is {row.status} already)")
    reason = (reason or "").strip()
    if not confirm and len(reason) < 2:
        raise RegistrationRefused({"reason": "reason"})
    row.status, row.decided_at, row.decided_by = ("confirmed" if confirm else "refused"), clock.now(), actor.name
    row.refusal_reason = None if confirm else reason
    if confirm:
        _enter_register(row)
    audit(actor.name, "registration.confirm" if confirm else "registration.refuse",
          detail={"registration": row.id, "name": row.name, "reason": row.refusal_reason})
    return row


def _enter_register(row: Registration) -> None:
    if row.role == "agency":
        agency = db.session.scalar(db.select(Agency).where(Agency.credit_code == row.credit_code))
        first = db.session.scalar(db.select(User.name).where(User.registration_id == row.id).order_by(User.id))
        if agency is None:
            db.session.add(Agency(name=row.name, credit_code=row.credit_code, created_at=clock.now(),
                                  legal_representative=row.legal_representative, jurisdiction=row.jurisdiction,
                                  account=first))
        elif agency.account is None:
            agency.account = first
    else:
        organisation_by_code(row.credit_code, row.name, row.jurisdiction)


def registration_of(user) -> Registration | None:
    return db.session.get(Registration, user.registration_id) if user.registration_id else None


def colleagues(user) -> tuple[str, ...]:
    """The other active accounts acting for the user's organisation."""
    if not user.registration_id:
        return ()
    return tuple(db.session.scalars(db.select(User.name).where(
        User.registration_id == user.registration_id, User.id != user.id, User.deactivated_at.is_(None))))


def accounts_of(row: Registration) -> list:
    """Every account acting for the organisation, the first first."""
    return list(db.session.scalars(db.select(User).where(User.registration_id == row.id).order_by(User.id)))


def pending_in(actor: Actor) -> list[Registration]:
    """The registrations a city has to confirm (every city's for an administrator)."""
    query = db.select(Registration).where(Registration.status == "pending").order_by(Registration.registered_at)
    if not actor.is_admin:
        query = query.where(Registration.jurisdiction == actor.jurisdiction)
    return list(db.session.scalars(query))


# ------------------------------------------------------------------ before any case starts
def needs_jurisdiction(spec) -> bool:
    """A process with a city's task that no loop over the cities gives its own city
    (a provincial round's recommendations do) cannot run without the case's city."""
    looped = {ts.task_spec for ts in spec.task_specs.values() if isinstance(ts, LoopTask)}
    return any(getattr(ts, "manual", False) and ts.name not in looped
               and role_for_lane(getattr(ts, "lane", None)) in MUNICIPAL_ROLES
               for ts in spec.task_specs.values())


def start_check(process_id: str, spec, actor: Actor, jurisdiction: str | None) -> None:
    """An organisation's account applies only once its city has confirmed it; a case
    that needs a city and has none is refused before it starts (no city would see it)."""
    if actor.role in PARTY_ROLES:
        user = db.session.scalar(db.select(User).where(User.name == actor.name))
        row = registration_of(user) if user is not None else None
        if row is not None and row.status != "confirmed":
            city = JURISDICTIONS[row.jurisdiction][0]
            raise Forbidden(f"本单位的注册尚待{city}确认，确认后方可申报 "
                            f"(the organisation's registration awaits {city}'s confirmation)")
    if jurisdiction is None and needs_jurisdiction(spec):
        name = spec.description or process_id
        raise EngineError(f"“{name}”须由所在市州办理，但未能确定本案所属市州：申报单位请先注册并经所在市州确认 "
                          f"('{process_id}' is handled by a city and the case has none: an organisation registers "
                          f"and is confirmed by its city first)")
