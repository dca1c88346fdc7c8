"""The analysts' modeler in a real browser: change the public-notice length in the properties
panel, validate, break a flow and see it marked, select it from the finding, fix it, deploy
with a note; a case started afterwards runs the new length, one started before the old.

Until processes/provincial_selection.bpmn (the real public notice, Art 15) is on main, this
opens the stand-in tests/models/modeler_public_notice.bpmn: retarget PROCESS, FILE and TIMER
to the real procedure's process id, file and notice timer when it lands.
"""
from __future__ import annotations

from datetime import datetime

from conftest import MODELS, ROOT
from creation import deploy

from engine import clock
from engine.db import db
from engine.model_diff import diff_files
from engine.models import PendingTimer, ProcessInstance
from engine.runtime import Actor
from web.users import add_user

PROCESS, FILE, TIMER = "modeler_public_notice", "modeler_public_notice.bpmn", "Timer_notice_period"
FLOW, STEP_AFTER = "Flow_to_listing", "Task_list_units"
FIVE = "end_of_day(working_days_after(notice_published, 5))"
TEN = "end_of_day(working_days_after(notice_published, 10))"
PASSWORD = "correct-horse"


def due(case_id):
    return db.session.scalar(db.select(PendingTimer.due_at).where(PendingTimer.instance_id == case_id))


def shape(element_id):
    return f'g.djs-element[data-element-id="{element_id}"]'


def classes(page, element_id):
    return page.get_attribute(shape(element_id), "class").split()


def test_an_analyst_lengthens_the_public_notice_in_the_modeler(page, live_server, runtime, screenshot):
    first, _ = runtime.registry.deploy({FILE: (MODELS / FILE).read_bytes()}, actor="dev", note="公示五个工作日")
    add_user("ana", "analyst", password=PASSWORD, display_name="流程分析员 安")
    before = runtime.start(PROCESS, {}, Actor("prov", "provincial")).id
    assert due(before) == datetime(2026, 3, 10, 0, 0, tzinfo=clock.SHANGHAI)

    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")
    page.click("header.top >> text=流程建模")
    page.wait_for_url(f"{live_server}/models/")
    page.click(f"#processes tr[data-process={PROCESS}] >> text=编辑")
    page.wait_for_selector("#modeler[data-state=ready] .djs-container svg")

    # the timer's expression, in bpmn-js-properties-panel's timer group
    page.click(shape(TIMER))
    page.wait_for_selector(".bio-properties-panel-header-label >> text=公示期满 Notice period over")
    assert page.locator('.bio-properties-panel-group[data-group-id="group-timer"] .bio-properties-panel-group-header-title').inner_text() == "定时器"
    timer_group = page.locator('.bio-properties-panel-group[data-group-id="group-timer"]')
    if not timer_group.locator("#bio-properties-panel-timerEventDefinitionValue").is_visible():
        timer_group.locator(".bio-properties-panel-group-header").click()
    value = page.locator("#bio-properties-panel-timerEventDefinitionValue")
    assert value.input_value() == FIVE
    value.fill(TEN)
    value.press("Tab")
    page.wait_for_function(
        "() => window.greenLadderModeler.get('elementRegistry').get('%s').businessObject"
        ".eventDefinitions[0].timeDate.body.includes(', 10)')" % TIMER)
    assert page.locator(".green-ladder-note").inner_text().startswith("定时器表达式为 Python")
    screenshot(page, "modeler-timer")

    page.click("#modeler-validate")
    page.wait_for_selector("#modeler[data-validated=valid]")
    assert page.locator("#modeler-findings li.finding.error").count() == 0

    # break the flow into the listing step: its target is then reached by nothing
    page.click("#modeler-canvas", position={"x": 600, "y": 80})  # on the empty canvas: the timer's pad goes
    line = page.locator(shape(FLOW)).bounding_box()  # a straight flow: a box of no height
    page.mouse.click(line["x"] + line["width"] / 2, line["y"] + line["height"] / 2)
    page.click('.djs-context-pad .entry[data-action="delete"]')
    page.wait_for_function("() => !window.greenLadderModeler.get('elementRegistry').get('%s')" % FLOW)
    page.click("#modeler-validate")
    page.wait_for_selector("#modeler[data-validated=errors]")
    error = page.locator("#modeler-findings li.finding.error")
    assert error.count() == 1
    assert f"{FILE}:" in error.inner_text() and f"[{STEP_AFTER}]" in error.inner_text()
    assert "no sequence flow leads to" in error.inner_text()
    assert "finding-error" in classes(page, STEP_AFTER)
    page.click("#modeler-canvas", position={"x": 600, "y": 80})  # nothing selected: the finding selects
    error.locator("button.finding-where").click()
    page.wait_for_function("() => window.greenLadderModeler.get('selection').get().map(e => e.id).join() === '%s'"
                           % STEP_AFTER)
    assert "selected" in classes(page, STEP_AFTER)
    page.wait_for_selector(".bio-properties-panel-header-label >> text=列入名单 List the units")
    screenshot(page, "modeler-finding")

    page.click("#modeler-undo")
    page.wait_for_function("() => !!window.greenLadderModeler.get('elementRegistry').get('%s')" % FLOW)
    page.click("#modeler-validate")
    page.wait_for_selector("#modeler[data-validated=valid]")
    assert "finding-error" not in classes(page, STEP_AFTER)

    page.fill("#modeler-note", "公示期改为十个工作日 Notice lengthened to ten working days")
    page.click("#modeler-deploy")
    page.wait_for_selector("#modeler[data-deployed]")
    new_version = page.get_attribute("#modeler", "data-deployed")
    assert "已部署为新版本" in page.inner_text("#modeler-status")
    screenshot(page, "modeler-deployed")

    db.session.rollback()  # the test's own session: forget what it read before the deployment
    after = runtime.start(PROCESS, {}, Actor("prov", "provincial")).id
    assert db.session.get(ProcessInstance, after).version_id == new_version != first.id
    assert due(after) == datetime(2026, 3, 17, 0, 0, tzinfo=clock.SHANGHAI)
    assert db.session.get(ProcessInstance, before).version_id == first.id
    assert due(before) == datetime(2026, 3, 10, 0, 0, tzinfo=clock.SHANGHAI)

    page.click("#modeler-history-link")
    page.wait_for_url(f"{live_server}/models/history/{PROCESS}")
    assert "公示期改为十个工作日" in page.inner_text(f'#versions tr[data-version="{new_version}"]')
    page.click("text=比较所选两个版本")
    page.wait_for_selector("#diff-diagrams[data-state=ready]")
    assert "diff-changed" in page.get_attribute(f"#diff-new {shape(TIMER)}", "class").split()
    assert "diff-changed" in page.get_attribute(f"#diff-old {shape(TIMER)}", "class").split()
    change = page.inner_text(f'#changes tr[data-element="{TIMER}"]')
    assert change.index(FIVE) < change.index("→") < change.index(TEN)  # from the old length to the new
    screenshot(page, "modeler-diff")
    assert page.errors == []


def test_every_procedure_comes_out_of_the_modeler_as_it_went_in(page, live_server, runtime):
    """Opening a procedure in the modeler and saving it changes nothing the engine reads, so a
    deployment changes only what the analyst changed (the loops' collections are kept, too)."""
    version, _ = deploy(runtime)
    add_user("ana", "analyst", password=PASSWORD)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")
    procedures = sorted((ROOT / "processes").glob("*.bpmn"))
    assert len(procedures) > 5
    for path in procedures:
        page.goto(f"{live_server}/models/versions/{version.id}/edit/{path.name}")
        page.wait_for_selector("#modeler[data-state=ready] .djs-container svg")
        saved = page.evaluate("() => window.greenLadderModeler.saveXML().then(r => r.xml)")
        assert diff_files(path.name, path.read_bytes(), saved) == [], path.name
    assert page.errors == []


def test_an_analyst_raises_an_award_in_a_decision_table(page, live_server, runtime, screenshot):
    from engine.registry import collect

    conformance = ROOT / "tests" / "conformance"
    first, _ = runtime.registry.deploy(collect([conformance / "business_rule.bpmn", conformance / "award_by_level.dmn"]),
                                       actor="dev", note="tables")
    add_user("ana", "analyst", password=PASSWORD)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")
    page.goto(f"{live_server}/models/")
    page.click("#decision-tables >> text=award_by_level.dmn")
    page.wait_for_selector("#modeler[data-state=ready] .tjs-table")

    cell = page.locator('td[data-element-id="Out_provincial_award"]')
    assert cell.inner_text().strip() == "100000"
    cell.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("150000")
    page.click("#modeler-validate")  # leaves the cell, which commits its text
    page.wait_for_selector("#modeler-findings li.finding")
    assert page.locator("#modeler-findings li.finding.error").count() == 0
    screenshot(page, "modeler-dmn")

    page.fill("#modeler-note", "省级奖励提高到15万元")
    page.click("#modeler-deploy")
    page.wait_for_selector("#modeler[data-deployed]")
    version = page.get_attribute("#modeler", "data-deployed")
    db.session.rollback()
    from engine import modeling

    assert version != first.id
    assert "<text>150000</text>" in modeling.files_of(version)["award_by_level.dmn"].decode()
    [change] = modeling.diff(first.id, version)
    assert (change.element, change.details[0]["after"]) == ("Out_provincial_award", "150000")
    assert page.errors == []


def test_an_analyst_imports_a_camunda_diagram(page, live_server, screenshot):
    add_user("ana", "analyst", password=PASSWORD)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")
    page.goto(f"{live_server}/models/")
    page.click("text=导入其他建模工具绘制的图")

    page.set_input_files("input[name=file]", str(MODELS / "foreign" / "camunda_unsupported.bpmn"))
    page.click("text=校验并部署")
    page.wait_for_selector("#import-findings")
    rows = page.locator("#import-findings tbody tr.error")
    named = {rows.nth(i).get_attribute("data-element") for i in range(rows.count())}
    assert {"Gateway_outcome", "Event_compensate_fetch", "Event_rectified", "Activity_score"} <= named
    assert "complex gateway is not supported" in page.inner_text('#import-findings tr[data-element="Gateway_outcome"]')
    screenshot(page, "modeler-import-refused")

    page.set_input_files("input[name=file]", str(MODELS / "foreign" / "camunda_pool_lanes.bpmn"))
    page.fill("input[name=note]", "城市评审流程（Camunda 绘制）")
    page.click("text=校验并部署")
    page.wait_for_selector("#import-result")
    assert "city_review_camunda" in page.inner_text("#import-result")
    assert "camunda:assignee" in page.inner_text("#import-findings")  # deployed, with what it ignores
    screenshot(page, "modeler-import-deployed")
    assert [e for e in page.errors if "422 (UNPROCESSABLE ENTITY)" not in e] == []  # the refusal was meant
