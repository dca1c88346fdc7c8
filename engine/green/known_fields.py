"""Fields the system already knows (已知信息): filled in or chosen from a register, never retyped.

A form declares them in its JSON Schema, so an analyst sees where a value comes from:

- `"x-known": "organisation.credit_code"` (or `organisation.name`, `organisation.address`):
  the acting organisation's own entry, from its confirmed registration (单位注册信息);
- `"x-choices": "agencies"`: one of the third-party evaluation agencies on record (机构名录);
  `"x-choices": "city_designations"`: one of the task's city's own listed municipal units.

The page fills in the first and offers the second as a list; `submission_problems` refuses,
whatever page or API sends it, a value that is not the organisation's own or not on the list.
An account that acts for no registered organisation (an official, an administrator) has no
known organisation: its fields are typed and checked by the form alone.
"""
from __future__ import annotations

from engine.actors import Actor
from engine.db import db

from .agencies import Agency
from .models import Designation, Organisation, User
from .registrations import Registration

KNOWN = "x-known"
CHOICES = "x-choices"
ORGANISATION = {"organisation.name": "name", "organisation.credit_code": "credit_code",
                "organisation.address": "address"}
_WRONG_KNOWN = {
    "organisation.name": "与本单位注册的名称不符 (not the name your organisation registered)",
    "organisation.credit_code": "不是本单位的统一社会信用代码 (not your organisation's credit code)",
    "organisation.address": "与本单位注册的地址不符 (not the address your organisation registered)",
}
_NOT_A_CHOICE = {
    "agencies": "不是已备案的第三方评价机构 (not an evaluation agency on record)",
    "city_designations": "不是本市（州）公布的市级单位 (not one of this city's listed municipal units)",
}


def known_values(actor: Actor | None) -> dict[str, str]:
    """What the system knows of the acting organisation, by `x-known` name; empty for an
    account acting for none (or whose registration is not confirmed yet)."""
    if actor is None:
        return {}
    row = db.session.scalar(db.select(Registration).join(User, User.registration_id == Registration.id).where(
        User.name == actor.name, Registration.status == "confirmed"))
    return {} if row is None else {known: getattr(row, column) for known, column in ORGANISATION.items()}


def choices(source: str, jurisdiction: str | None) -> list[tuple[str, str]] | None:
    """The (value, title) pairs a field chooses from, by `x-choices` name; None for an unknown source."""
    if source == "agencies":
        rows = db.session.execute(db.select(Agency.credit_code, Agency.name).order_by(Agency.name, Agency.id))
        return [(code, f"{name} · {code}") for code, name in rows]
    if source == "city_designations":
        if jurisdiction is None:
            return []
        rows = db.session.execute(db.select(Organisation.credit_code, Organisation.name).join(
            Designation, Designation.organisation_id == Organisation.id).where(
            Designation.level == "municipal", Designation.status == "listed",
            Designation.jurisdiction == jurisdiction).distinct().order_by(Organisation.name, Organisation.credit_code))
        return [(code, f"{name} · {code}") for code, name in rows]
    return None


def declared(schema: dict | None) -> list[tuple[str, str | None, dict]]:
    """(field, table column or None, its schema) of every field a form declares known or chosen."""
    out = []
    for key, prop in ((schema or {}).get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if KNOWN in prop or CHOICES in prop:
            out.append((key, None, prop))
        items = prop.get("items")
        if prop.get("type") == "array" and isinstance(items, dict):
            for column, sub in (items.get("properties") or {}).items():
                if isinstance(sub, dict) and (KNOWN in sub or CHOICES in sub):
                    out.append((key, column, sub))
    return out


def submission_problems(schema: dict | None, data: dict, actor: Actor | None,
                        jurisdiction: str | None) -> dict[str, list[str]]:
    """A known field that is not the organisation's own entry, a chosen one that is not on its list."""
    fields = declared(schema)
    if not fields:
        return {}
    known = known_values(actor) if any(KNOWN in p for _k, _c, p in fields) else {}
    lists: dict[str, set[str] | None] = {}
    problems: dict[str, list[str]] = {}

    def check(path: str, prop: dict, value) -> None:
        if value is None or value == "":
            return
        if prop.get(KNOWN) in known and str(value).strip() != known[prop[KNOWN]]:
            problems.setdefault(path, []).append(_WRONG_KNOWN[prop[KNOWN]])
        source = prop.get(CHOICES)
        if source in _NOT_A_CHOICE:
            if source not in lists:
                lists[source] = {v for v, _t in choices(source, jurisdiction) or ()}
            if str(value).strip().upper() not in lists[source]:
                problems.setdefault(path, []).append(_NOT_A_CHOICE[source])

    for key, column, prop in fields:
        if column is None:
            check(key, prop, data.get(key))
            continue
        rows = data.get(key) if isinstance(data.get(key), list) else []
        for i, row in enumerate(rows):
            if isinstance(row, dict):
                check(f"{key}/{i}/{column}", prop, row.get(column))
    return problems
