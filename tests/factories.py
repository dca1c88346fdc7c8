"""Factories: the users, organisations, designations and one-step diagrams tests need, with
defaults for what a test does not care about.

Users are made by the same operation `flask users add` calls; designations a test's
procedure could make are made by a one-step diagram through the runtime (`designation`);
`designation_row` is for a past that no procedure running today could produce (a
designation revoked three years ago).
"""
from __future__ import annotations

from datetime import date
from xml.sax.saxutils import quoteattr

from engine.db import db
from engine.green.designations import organisation_by_code
from engine.green.models import Designation, Organisation
from engine.runtime import SYSTEM, Actor
from web.accounts.users import add_user, decide_registration, register

PASSWORD = "correct-horse"
LANZHOU, TIANSHUI = "620100", "620500"
CODE = "91620100MA74XJ2P0P"


def user(name: str, role: str = "admin", city: str | None = None, password: str | None = PASSWORD) -> str:
    """An account as the administrator adds it; returns its API token."""
    _, token = add_user(name, role, city, password=password)
    return token


def registered(name: str, role: str = "applicant", division: str = "620102", code: str = CODE,
               org: str = "兰州绿源制造有限公司", password: str = PASSWORD) -> str:
    """An enterprise's (or agency's) account as it registers itself, confirmed by its city;
    its cases are the city of `division` (620102: 兰州市). Returns the account's name."""
    user = register({"role": role, "name": org, "credit_code": code, "legal_representative": "张建军",
                     "address": "甘肃省兰州市城关区雁滩路 88 号", "division_code": division,
                     "contact_person": "李晓梅", "mobile": "13919312345"}, name, password)
    decide_registration(user.registration_id, Actor("city-official", "admin"), confirm=True)
    return name


def people(*rows: tuple[str, str, str | None]) -> dict[str, str]:
    """Several accounts at once, as (name, role, city); their tokens by name."""
    return {name: user(name, role, city) for name, role, city in rows}


def organisation(code: str = CODE, name: str = "兰州绿源制造有限公司", city: str | None = LANZHOU) -> Organisation:
    org = organisation_by_code(code, name, city)
    db.session.commit()
    return org


def designation_row(code: str = CODE, *, name: str = "曾获称号企业", unit_type: str = "green_factory",
                    level: str = "provincial", status: str = "listed", city: str = LANZHOU,
                    listed_on: date = date(2020, 12, 1), ended_on: date | None = None,
                    end_reason: str | None = None) -> Designation:
    """A designation as the register holds it, in any state and with any past dates."""
    org = organisation(code, name, city)
    row = Designation(organisation_id=org.id, unit_type=unit_type, level=level, status=status, jurisdiction=city,
                      listed_on=listed_on, ended_on=ended_on, end_reason=end_reason)
    db.session.add(row)
    db.session.commit()
    return row


def service_diagram(process_id: str, operator: str, params: dict[str, tuple[str, str]], result: str,
                    start_roles: str | None = None) -> bytes:
    """A process of one service task calling `operator` with `params` ({id: (type, expression)}),
    its result in `result`; started by `start_roles` (a lane-less diagram: by the system or an
    administrator only)."""
    starters = "" if start_roles is None else (
        "<bpmn:extensionElements><spiffworkflow:properties>"
        f'<spiffworkflow:property name="startRoles" value={quoteattr(start_roles)}/>'
        "</spiffworkflow:properties></bpmn:extensionElements>")
    parameters = "".join(f"<spiffworkflow:parameter id={quoteattr(pid)} type={quoteattr(kind)} value={quoteattr(value)}/>"
                         for pid, (kind, value) in params.items())
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://example.org">
<bpmn:process id={quoteattr(process_id)} isExecutable="true">
<bpmn:startEvent id="start">{starters}<bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:serviceTask id="Service_step"><bpmn:extensionElements>
  <spiffworkflow:serviceTaskOperator id={quoteattr(operator)} resultVariable={quoteattr(result)}>
  <spiffworkflow:parameters>{parameters}</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>
  </bpmn:extensionElements><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:serviceTask>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Service_step"/>
<bpmn:sequenceFlow id="f2" sourceRef="Service_step" targetRef="end"/>
</bpmn:process></bpmn:definitions>""".encode()


def quoted(text: str) -> str:
    """A constant as a parameter's expression."""
    return f'"{text}"'


def revoke_diagram(ground: str = "ground", article: str = "article", announcement: str = quoted("immediate"),
                   start_roles: str | None = None) -> bytes:
    """`revoke`: a designation ended (designation.end) on the ground, article and announcement
    given as expressions; reapplying is barred."""
    return service_diagram("revoke", "designation.end", {
        "designation_id": ("int", "designation_id"), "reason": ("str", "reason"), "ground": ("str", ground),
        "article": ("str", article), "announcement": ("str", announcement), "bars_reapplication": ("bool", "True"),
    }, result="ended", start_roles=start_roles)


LIST = service_diagram("list_for_test", "designation.list", {
    "credit_code": ("str", "credit_code"), "name": ("str", "name"), "unit_type": ("str", "unit_type"),
    "level": ("str", "level"), "jurisdiction": ("str", "jurisdiction"),
    "decision": ("str", quoted("listed for the test")),
}, result="designation")


def designation(runtime, code: str = CODE, *, name: str = "兰州绿源制造有限公司", unit_type: str = "green_factory",
                level: str = "provincial", city: str = LANZHOU, party: str | None = "firm") -> int:
    """A unit listed today by a listing step, as a procedure lists it (its annual dynamic
    management starts with it); `party` is the account that applied and acts for the unit."""
    runtime.registry.deploy({"list_for_test.bpmn": LIST})
    case = runtime.start("list_for_test", {"credit_code": code, "name": name, "unit_type": unit_type,
                                           "level": level, "jurisdiction": city}, SYSTEM, city, party=party)
    assert case.status == "completed", case.error_message
    return case.data["designation"]["designation_id"]

