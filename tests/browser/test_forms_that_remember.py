"""Forms in a real browser (issue 17.4): a table's rows are added and removed, and a form's
conditional sections show only what applies to the choice made."""
from __future__ import annotations

import json

from conftest import ROOT
from factories import LANZHOU, designation_row, registered, user
from test_provincial_selection import code

from engine.db import db
from engine.model_registry import collect
from engine.models import AuditEvent, HumanTask
from engine.runtime import Actor

from .session import sign_in


def submitted(case_id, element) -> dict:
    """What the step took in, as the case's audit log keeps it."""
    db.session.rollback()
    event = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.instance_id == case_id, AuditEvent.task == element).order_by(AuditEvent.seq)).all()[-1]
    return json.loads(event.detail)["in"]


def test_a_city_adds_and_removes_rows_of_its_recommendation(page, live_server, runtime, screenshot):
    runtime.registry.deploy(collect([ROOT / "processes"]), actor="ana")
    first, second = code(LANZHOU, 1), code(LANZHOU, 2)
    designation_row(first, name="兰州甲制造有限公司", level="municipal", city=LANZHOU)
    designation_row(second, name="兰州乙化工有限公司", level="municipal", city=LANZHOU)
    case = runtime.start("provincial_selection", {}, Actor("prov", "provincial"))
    task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id,
                                                           HumanTask.jurisdiction == LANZHOU))
    user("lz", "municipal", LANZHOU)
    sign_in(page, live_server, "lz")
    page.goto(f"{live_server}/tasks/{task}")

    rows = page.locator("#f-units tbody tr")
    assert rows.count() == 1  # one empty row to start with, not five
    page.click("#f-units .add-row")
    page.click("#f-units .add-row")
    assert rows.count() == 3
    assert rows.nth(2).locator("th").inner_text() == "3"
    for i, (unit, reason) in enumerate(((first, "行业代表性强"), (second, "节水成效显著"), (first, "重复的一行"))):
        row = rows.nth(i)
        row.locator("select[name$='[credit_code]']").select_option(unit)
        row.locator("select[name$='[unit_type]']").select_option("green_factory")
        row.locator("select[name$='[evaluation_mode]']").select_option("self")
        row.locator("textarea[name$='[reason]']").fill(reason)
    screenshot(page, "form-rows-added")
    rows.nth(2).locator(".remove-row").click()  # the row typed by mistake goes
    assert rows.count() == 2 and rows.nth(1).locator("th").inner_text() == "2"
    assert "兰州乙化工有限公司" in rows.nth(1).locator("select[name$='[credit_code]'] option:checked").inner_text()
    page.click("button[value=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")  # the next step is the province's

    recommended = submitted(case.id, "Task_recommend")["units"]
    assert [(u["credit_code"], u["reason"]) for u in recommended] == [(first, "行业代表性强"), (second, "节水成效显著")]
    assert page.errors == []


def test_a_nomination_shows_only_the_conditions_of_the_chosen_unit_type(page, live_server, runtime, screenshot):
    runtime.registry.deploy(collect([ROOT / "processes"]), actor="ana")
    user("lz", "municipal", LANZHOU)
    case = runtime.start("cultivation", {}, Actor("lz", "municipal", LANZHOU))
    task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))
    sign_in(page, live_server, "lz")
    page.goto(f"{live_server}/tasks/{task}")

    def shown(path):
        return page.locator(f"[data-field='{path}']").is_visible()

    page.select_option("select[name=unit_type]", "green_park")
    assert shown("legal_boundary") and shown("industrial_value_share") and shown("members")
    assert not shown("manufacturing") and not shown("industry_leader")
    screenshot(page, "form-section-park")

    page.select_option("select[name=unit_type]", "green_factory")
    assert shown("manufacturing") and shown("independent_legal_person") and shown("meets_standard")
    assert not shown("legal_boundary") and not shown("industrial_value_share") and not shown("members")

    page.select_option("select[name=nomination_decision]", "abandon")  # nothing about the unit applies
    assert not shown("unit_type") and not shown("manufacturing") and not shown("credit_code")
    page.select_option("select[name=nomination_decision]", "nominate")
    assert shown("unit_type") and shown("manufacturing")

    page.fill("input[name=organisation_name]", "兰州绿源制造有限公司")
    page.fill("input[name=credit_code]", "91620100MA74XJ2P0P")
    page.fill("input[name=year]", "2026")
    for name in ("independent_legal_person", "manufacturing", "meets_standard"):
        page.check(f"input[name={name}][value=true]")
    screenshot(page, "form-section-factory")
    page.click("button[value=submit]")
    page.wait_for_selector(".flash:has-text('已提交')")
    data = submitted(case.id, "Task_nominate_candidate")
    assert data["unit_type"] == "green_factory" and data["manufacturing"] is True
    assert "legal_boundary" not in data and "members" not in data
    assert page.errors == []


def test_an_enterprise_applies_with_its_own_entries_filled_in_and_names_an_agency_only_for_a_third_party_evaluation(
        page, live_server, runtime, screenshot):
    runtime.registry.deploy(collect([ROOT / "processes"]), actor="ana")
    registered("agency-green", role="agency", code="91620100MA71GLP0EL", org="甘肃绿评科技有限公司")
    registered("firm")
    sign_in(page, live_server, "firm")
    page.goto(f"{live_server}/cases/new")
    page.click("#start-municipal_creation")
    page.wait_for_url(f"{live_server}/tasks/**")

    facts = page.inner_text("[data-field=credit_code]")
    assert "91620100MA74XJ2P0P" in facts and "取自本单位注册信息" in facts
    assert page.locator("input[name=credit_code][type=text]").count() == 0  # nothing to retype
    assert "甘肃省兰州市城关区雁滩路 88 号" in page.inner_text("[data-field=address]")
    assert not page.locator("[data-field=agency_credit_code]").is_visible()
    page.select_option("select[name=evaluation_mode]", "third_party")
    assert page.locator("[data-field=agency_credit_code]").is_visible()
    page.select_option("select[name=agency_credit_code]", "91620100MA71GLP0EL")
    page.select_option("select[name=unit_type]", "green_factory")
    screenshot(page, "form-known-fields")
    page.click("button[value=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")  # the agency evaluates next
    data = submitted(db.session.scalar(db.select(HumanTask.instance_id)), "Task_submit_report")
    assert (data["credit_code"], data["organisation_name"], data["agency_credit_code"]) == (
        "91620100MA74XJ2P0P", "兰州绿源制造有限公司", "91620100MA71GLP0EL")
    assert page.errors == []
