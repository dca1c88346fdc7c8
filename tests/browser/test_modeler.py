"""The analysts' modeler in a real browser, on the real provincial procedure (省级评选,
processes/provincial_selection.bpmn), in one walk: an analyst changes the public notice's
length (公示期) in the properties panel, validates, breaks a flow and sees it marked, selects
it from the finding, undoes the break and deploys with a note; a round started afterwards puts
its list on notice for the new length, one started before keeps the old; then the analyst
moves the running rounds to the new version (案件迁移): the dry run case by case, then the
migration. Also: a decision table raised in dmn-js, and a diagram drawn in Camunda imported."""
from __future__ import annotations

from datetime import datetime

from conftest import MODELS, ROOT
from creation import deploy
from lxml import etree
from test_provincial_selection import PROVINCE, all_cities_recommend, municipal_unit, review_all

from engine import clock, jobs
from engine.db import db
from engine.green.notices import PublicNotice
from engine.model_diff import diff_files
from engine.models import PendingTimer, ProcessInstance
from web.accounts.users import add_user

from .session import sign_in

PROCESS, FILE = "provincial_selection", "provincial_selection.bpmn"
NOTICE_STEP, NOTICE_TIMER = "Service_publish_notice", "Timer_notice_ends"
FLOW = "Flow_to_notice"  # from "any passed?" into the public notice
FIVE, TEN = "working_days = 5", "working_days = 10"  # lines of the step's parameters
PASSWORD = "correct-horse"


def at(day):
    return datetime(2026, 3, day, tzinfo=clock.SHANGHAI)


def shape(element_id):
    return f'g.djs-element[data-element-id="{element_id}"]'


def classes(page, element_id):
    return page.get_attribute(shape(element_id), "class").split()


def shown(page, condition):
    """Waits until the diagram holds `condition`, then until the panel's fields show it: a field takes a
    value the diagram changed in an effect Preact runs after the next paint, and what is typed into the
    field before then is overwritten by the value it showed before (on a loaded machine a frame is long)."""
    page.wait_for_function(condition)
    page.evaluate("() => new Promise(painted => requestAnimationFrame(() => setTimeout(painted)))")


def round_on_notice(runtime, units) -> int:
    """A provincial round the cities and the experts have taken to its public notice."""
    case = runtime.start(PROCESS, {}, PROVINCE)
    finish_round_to_notice(runtime, case.id, units)
    return case.id


def finish_round_to_notice(runtime, case_id, units):
    case = db.session.get(ProcessInstance, case_id)
    all_cities_recommend(runtime, case, units)
    review_all(runtime, case)


def notice_of(case_id) -> PublicNotice:
    return db.session.scalar(db.select(PublicNotice).where(PublicNotice.instance_id == case_id))


def timer_due(case_id):
    return db.session.scalar(db.select(PendingTimer.due_at).where(PendingTimer.instance_id == case_id))


def notice_window(page, live_server, case_id) -> str:
    """What the public reads on the case's notice: its dates and its length."""
    page.goto(f"{live_server}/public/notices/{notice_of(case_id).id}")
    return page.inner_text("#notice-window")


def test_an_analyst_lengthens_the_public_notice_and_moves_the_running_rounds(page, live_server, runtime, app,
                                                                            screenshot):
    first, _ = deploy(runtime)
    units = {"lz_a": municipal_unit(runtime, "620100", 1, "兰州甲制造有限公司"),
             "lz_b": municipal_unit(runtime, "620100", 2, "兰州乙化工有限公司"),
             "ts_c": municipal_unit(runtime, "620500", 3, "天水丙电器有限公司")}
    others = {"lz_a": municipal_unit(runtime, "620100", 4, "兰州丁制造有限公司"),  # a unit is in one open round at a time
              "lz_b": municipal_unit(runtime, "620100", 5, "兰州戊化工有限公司"),
              "ts_c": municipal_unit(runtime, "620500", 6, "天水己电器有限公司")}
    before = round_on_notice(runtime, units)  # on notice from Monday 2 March
    recommending = runtime.start(PROCESS, {}, PROVINCE).id  # the cities have not recommended yet
    assert notice_of(before).ends_at == at(10)  # five working days: 3 to 9 March
    add_user("ana", "analyst", password=PASSWORD, display_name="流程分析员 安")

    sign_in(page, live_server, "ana")
    page.click("header.top >> text=流程建模")
    page.wait_for_url(f"{live_server}/models/")
    page.click(f"#processes tr[data-process={PROCESS}] >> text=编辑")
    page.wait_for_selector("#modeler[data-state=ready] .djs-container svg")

    # the notice ends when its timer fires; the timer reads the end the publishing step computed
    page.click(shape(NOTICE_TIMER))
    page.wait_for_selector(".bio-properties-panel-header-label >> text=公示期满")
    timer_group = page.locator('.bio-properties-panel-group[data-group-id="group-timer"]')
    assert timer_group.locator(".bio-properties-panel-group-header-title").inner_text() == "定时器"
    timer = timer_group.locator("#bio-properties-panel-timerEventDefinitionValue")
    if not timer.is_visible():
        timer_group.locator(".bio-properties-panel-group-header").click()
    assert timer.input_value() == 'notice["ends_at"]'
    # case data, not a date the fields can say: the expression stays text, and the note says so
    note = page.locator(".green-ladder-note").inner_text()
    assert note.startswith("此定时器表达式无法用字段表示") and "定时器表达式为 Python" in note

    # so the length is there: the working_days parameter of the publishing step, in the engine's settings
    page.click(shape(NOTICE_STEP))
    page.wait_for_selector(".bio-properties-panel-header-label >> text=网上公示")
    settings = page.locator('.bio-properties-panel-group[data-group-id="group-greenLadder"]')
    assert settings.locator(".bio-properties-panel-group-header-title").inner_text() == "本系统读取的设置"
    parameters = settings.locator("#bio-properties-panel-serviceParameters")
    if not parameters.is_visible():
        settings.locator(".bio-properties-panel-group-header").click()
    lines = parameters.input_value().splitlines()
    assert FIVE in lines and "items = proposed" in lines
    parameters.fill("\n".join(TEN if line == FIVE else line for line in lines))
    parameters.press("Tab")
    page.wait_for_function(
        f"() => window.greenLadderModeler.get('elementRegistry').get('{NOTICE_STEP}').businessObject.extensionElements"
        ".values[0].parameterList.parameters.find(p => p.id === 'working_days').value === '10'")
    screenshot(page, "modeler-notice-length")

    page.click("#modeler-validate")
    page.wait_for_selector("#modeler[data-validated=valid]")
    assert page.locator("#modeler-findings li.finding.error").count() == 0

    # break the flow into the notice: the notice is then reached by nothing
    canvas = page.locator("#modeler-canvas").bounding_box()
    empty = {"x": 20, "y": canvas["height"] - 20}  # below the pool: clicking there selects nothing
    page.click("#modeler-canvas", position=empty)
    line = page.locator(shape(FLOW)).bounding_box()  # a straight flow: a box of no height
    page.mouse.click(line["x"] + line["width"] / 2, line["y"] + line["height"] / 2)
    page.click('.djs-context-pad .entry[data-action="delete"]')
    page.wait_for_function(f"() => !window.greenLadderModeler.get('elementRegistry').get('{FLOW}')")
    page.click("#modeler-validate")
    page.wait_for_selector("#modeler[data-validated=errors]")
    error = page.locator("#modeler-findings li.finding.error")
    assert error.count() == 1
    assert f"{FILE}:" in error.inner_text() and f"[{NOTICE_STEP}]" in error.inner_text()
    assert "没有顺序流通向「网上公示」" in error.inner_text()
    assert "finding-error" in classes(page, NOTICE_STEP)
    page.click("#modeler-canvas", position=empty)  # nothing selected: the finding selects
    error.locator("button.finding-where").click()
    page.wait_for_function(f"() => window.greenLadderModeler.get('selection').get().map(e => e.id).join() === '{NOTICE_STEP}'")
    assert "selected" in classes(page, NOTICE_STEP)
    page.wait_for_selector(".bio-properties-panel-header-label >> text=网上公示")
    assert TEN in parameters.input_value().splitlines()  # the new length is still there
    screenshot(page, "modeler-finding")

    page.click("#modeler-undo")  # undoes the deletion only
    page.wait_for_function(f"() => !!window.greenLadderModeler.get('elementRegistry').get('{FLOW}')")
    page.click("#modeler-validate")
    page.wait_for_selector("#modeler[data-validated=valid]")
    assert "finding-error" not in classes(page, NOTICE_STEP)
    assert TEN in parameters.input_value().splitlines()

    page.fill("#modeler-note", "公示期改为十个工作日 Notice lengthened to ten working days")
    page.click("#modeler-deploy")
    page.wait_for_selector("#modeler[data-deployed]")
    new = page.get_attribute("#modeler", "data-deployed")
    assert "已部署为新版本" in page.inner_text("#modeler-status")
    screenshot(page, "modeler-deployed")

    page.click("#modeler-history-link")
    page.wait_for_url(f"{live_server}/models/history/{PROCESS}")
    assert "公示期改为十个工作日" in page.inner_text(f'#versions tr[data-version="{new}"]')
    page.click("text=比较所选两个版本")
    page.wait_for_selector("#diff-diagrams[data-state=ready]")
    assert "diff-changed" in page.get_attribute(f"#diff-new {shape(NOTICE_STEP)}", "class").split()
    assert "diff-changed" in page.get_attribute(f"#diff-old {shape(NOTICE_STEP)}", "class").split()
    # the editor's round trip of the whole file changed nothing else
    changes = page.locator("#changes > tbody > tr")
    assert changes.count() == 1 and changes.get_attribute("data-element") == NOTICE_STEP
    assert changes.locator("table.side-by-side tbody tr").inner_text().split("\t") == ["参数 working_days", "5", "10"]
    screenshot(page, "modeler-diff")

    # a round started now runs the new version: its list is on notice for ten working days
    db.session.rollback()  # the test's own session: forget what it read before the deployment
    after = round_on_notice(runtime, {"lz_a": municipal_unit(runtime, "620100", 7, "兰州庚制造有限公司"),
                                      "lz_b": municipal_unit(runtime, "620100", 8, "兰州辛化工有限公司"),
                                      "ts_c": municipal_unit(runtime, "620500", 9, "天水壬电器有限公司")})
    assert db.session.get(ProcessInstance, after).version_id == new != first.id
    assert db.session.get(ProcessInstance, before).version_id == first.id
    assert "2026年03月16日 24:00（10个工作日）" in notice_window(page, live_server, after)
    assert "2026年03月09日 24:00（5个工作日）" in notice_window(page, live_server, before)
    screenshot(page, "notice-after-deployment")

    # the rounds still on the first version: the one on notice and the one waiting for the cities
    page.goto(f"{live_server}/inbox/")
    page.click("header.top >> text=案件迁移")
    page.wait_for_url(f"{live_server}/migrations/")
    assert page.inner_text(f"#processes tr[data-process={PROCESS}] td:nth-child(3)") == "1"  # on the new version
    assert page.inner_text(f"#processes tr[data-process={PROCESS}] td:nth-child(4)") == "2"  # on older ones
    page.click(f"#processes tr[data-process={PROCESS}] >> text=迁移案件")
    page.wait_for_url(f"{live_server}/models/{PROCESS}/migration/")
    assert page.input_value("select[name=from]") == first.id and page.input_value("select[name=to]") == new
    page.click("#choose-versions button[type=submit]")
    page.wait_for_selector("#dry-run")
    assert page.locator("#dry-run tbody tr").count() == 2  # the round started afterwards is on the target already
    on_notice = page.locator(f"#dry-run tr[data-case='{before}']")
    # its notice is published and the step changed is done: waiting for the notice to end, it can move
    assert "公示期满" in on_notice.inner_text() and "可迁移" in on_notice.inner_text()
    waiting = page.locator(f"#dry-run tr[data-case='{recommending}']")
    assert "推荐省级绿色制造单位" in waiting.inner_text()
    assert "可迁移" in waiting.inner_text()
    for row in (on_notice, waiting):
        assert row.locator("input[name=instance]").is_checked()
        assert row.locator("td.reasons").inner_text() == "—"
    assert "可迁移 2 件，不能迁移 0 件" in page.inner_text("#dry-run-summary")
    screenshot(page, "migration-dry-run")

    # the cases move in the background: the job's page shows its progress, then the result
    worker = jobs.JobWorker(app)
    worker.start()
    try:
        page.click("#migrate-form button[type=submit]")
        page.wait_for_url(f"{live_server}/jobs/*")
        page.wait_for_selector("#migration-result", timeout=20_000)  # the page reloads every 2 s until done
    finally:
        worker.shutdown()
    for case_id in (before, recommending):
        assert "已迁移" in page.inner_text(f"#migration-result tr[data-case='{case_id}']")
        assert new[:12] in page.inner_text(f"#migration-result tr[data-case='{case_id}']")
    assert "已迁移 2 件" in page.inner_text("#migration-summary")
    screenshot(page, "migration-result")

    # the round on notice moved, and its notice ends when the public was told it would
    page.click(f"#migration-result tr[data-case='{before}'] a")
    page.wait_for_url(f"{live_server}/cases/{before}")
    facts = page.inner_text(".case-facts")
    assert new[:12] in facts and "2026年03月09日 24:00" in facts  # its next timer: the notice's end
    assert page.locator("#timeline tr[data-action=migrate]").count() == 1
    assert "迁移到新版本" in page.inner_text("#timeline")
    page.wait_for_selector("#case-diagram[data-state=ready] .djs-container svg")
    drawn = page.request.get(live_server + page.get_attribute("#case-diagram", "data-diagram-url")).text()
    assert '<spiffworkflow:parameter id="working_days" type="int" value="10" />' in drawn  # the new version's
    assert "active" in page.get_attribute(f"#case-diagram {shape(NOTICE_TIMER)}", "class").split()
    screenshot(page, "migrated-case")

    db.session.rollback()
    assert db.session.get(ProcessInstance, before).version_id == new
    assert notice_of(before).ends_at == timer_due(before) == at(10)
    # the round that was waiting for the cities publishes its notice under the new version: ten days
    assert db.session.get(ProcessInstance, recommending).version_id == new
    finish_round_to_notice(runtime, recommending, others)
    assert "2026年03月16日 24:00（10个工作日）" in notice_window(page, live_server, recommending)
    assert "2026年03月09日 24:00（5个工作日）" in notice_window(page, live_server, before)
    assert page.errors == []


def test_every_procedure_comes_out_of_the_modeler_as_it_went_in(page, live_server, runtime):
    """Opening a procedure in the modeler and saving it changes nothing the engine reads, so a
    deployment changes only what the analyst changed (the loops' collections are kept, too)."""
    version, _ = deploy(runtime)
    add_user("ana", "analyst", password=PASSWORD)
    sign_in(page, live_server, "ana")
    procedures = sorted((ROOT / "processes").glob("*.bpmn"))
    assert len(procedures) > 5
    for path in procedures:
        page.goto(f"{live_server}/models/versions/{version.id}/edit/{path.name}")
        page.wait_for_selector("#modeler[data-state=ready] .djs-container svg")
        saved = page.evaluate("() => window.greenLadderModeler.saveXML().then(r => r.xml)")
        assert diff_files(path.name, path.read_bytes(), saved) == [], path.name
        # and what the procedure is, which the diagram says in its process's documentation
        assert _about(saved.encode()) == _about(path.read_bytes()) != "", path.name
    assert page.errors == []


def _about(xml: bytes) -> str:
    root = etree.fromstring(xml)
    return "".join(root.xpath("//bpmn:process/bpmn:documentation/text()",
                              namespaces={"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}))


def test_an_analyst_raises_an_award_in_a_decision_table(page, live_server, runtime, screenshot):
    from engine.model_registry import collect

    conformance = ROOT / "tests" / "conformance"
    first, _ = runtime.registry.deploy(collect([conformance / "business_rule.bpmn", conformance / "award_by_level.dmn"]),
                                       actor="dev", note="tables")
    add_user("ana", "analyst", password=PASSWORD)
    sign_in(page, live_server, "ana")
    page.goto(f"{live_server}/models/")
    page.click('#decision-tables tr[data-file="award_by_level.dmn"] >> text=编辑')
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

    # the bpmn.io notice the licence requires is laid out by inline styles the CSP allows by their hash
    page.click(".bjs-powered-by")
    notice = page.wait_for_selector(".bjs-powered-by-lightbox")
    assert notice.evaluate("e => getComputedStyle(e).position") == "fixed"
    assert page.errors == []


def test_an_analyst_imports_a_camunda_diagram(page, live_server, screenshot):
    add_user("ana", "analyst", password=PASSWORD)
    sign_in(page, live_server, "ana")
    page.goto(f"{live_server}/models/")
    page.click("text=导入其他建模工具绘制的图")

    page.set_input_files("input[name=file]", str(MODELS / "foreign" / "camunda_unsupported.bpmn"))
    page.click("text=校验并部署")
    page.wait_for_selector("#import-findings")
    rows = page.locator("#import-findings tbody tr.error")
    named = {rows.nth(i).get_attribute("data-element") for i in range(rows.count())}
    assert {"Gateway_outcome", "Event_compensate_fetch", "Event_rectified", "Activity_score"} <= named
    assert "不支持复杂网关" in page.inner_text('#import-findings tr[data-element="Gateway_outcome"]')
    screenshot(page, "modeler-import-refused")

    page.set_input_files("input[name=file]", str(MODELS / "foreign" / "camunda_pool_lanes.bpmn"))
    page.fill("input[name=note]", "城市评审流程（Camunda 绘制）")
    page.click("text=校验并部署")
    page.wait_for_selector("#import-result")
    assert "city_review_camunda" in page.inner_text("#import-result")
    assert "camunda:assignee" in page.inner_text("#import-findings")  # deployed, with what it ignores
    screenshot(page, "modeler-import-deployed")
    assert [e for e in page.errors if "422 (UNPROCESSABLE ENTITY)" not in e] == []  # the refusal was meant


def test_an_analyst_sets_a_time_limit_in_working_days_not_in_python(page, live_server, runtime, screenshot):
    """The report's verification (核实举报) is due in 15 working days; the analyst makes it 20 in
    the panel's fields, not by editing `working_days_after(today(), 15)`, and deploys: the
    deployed version's task carries the new limit. A limit the fields cannot say stays text."""
    first, _ = deploy(runtime)
    add_user("ana", "analyst", password=PASSWORD)
    sign_in(page, live_server, "ana")
    page.goto(f"{live_server}/models/")
    page.click("#processes tr[data-process=complaint] >> text=编辑")
    page.wait_for_selector("#modeler[data-state=ready] .djs-container svg")

    page.click(shape("Task_verify"))
    page.wait_for_selector(".bio-properties-panel-header-label >> text=核实举报")
    settings = page.locator('.bio-properties-panel-group[data-group-id="group-greenLadder"]')
    kind = settings.locator("#bio-properties-panel-dueDateKind")
    if not kind.is_visible():
        settings.locator(".bio-properties-panel-group-header").click()
    assert kind.input_value() == "working"
    assert kind.locator("option:checked").inner_text() == "工作日"
    days = settings.locator("#bio-properties-panel-dueDateDays")
    assert days.input_value() == "15"
    assert settings.locator("#bio-properties-panel-dueDateFrom").input_value() == ""  # counted from the day it starts
    assert settings.locator("#bio-properties-panel-remindBeforeDays").input_value() == "3"  # P3D
    assert settings.locator("#bio-properties-panel-dueDate").count() == 0  # no Python to read
    days.fill("20")
    days.press("Tab")
    page.wait_for_function(
        "() => window.greenLadderModeler.get('elementRegistry').get('Task_verify').businessObject.extensionElements"
        ".values[0].properties.find(p => p.name === 'dueDate').value === 'working_days_after(today(), 20)'")
    screenshot(page, "modeler-working-days")
    page.click("#modeler-validate")
    page.wait_for_selector("#modeler[data-validated=valid]")
    findings = page.locator("#modeler-findings li").all_inner_texts()
    other = findings.index("其他文件的问题")  # the other files' warnings (limits that depend on the case) come after
    assert all("complaint.bpmn:" in f for f in findings[:other])
    assert findings[other + 1:] and not any("complaint.bpmn:" in f for f in findings[other + 1:])

    page.fill("#modeler-note", "核实期限改为二十个工作日 Verification within twenty working days")
    page.click("#modeler-deploy")
    page.wait_for_selector("#modeler[data-deployed]")
    new = page.get_attribute("#modeler", "data-deployed")
    assert new != first.id
    db.session.rollback()
    verify = runtime.registry.load(new).specs["complaint"].task_specs["Task_verify"]
    assert verify.extensions["properties"]["dueDate"] == "working_days_after(today(), 20)"
    old = runtime.registry.load(first.id).specs["complaint"].task_specs["Task_verify"]
    assert old.extensions["properties"]["dueDate"] == "working_days_after(today(), 15)"

    # a limit that depends on the case stays an expression, with a note saying why
    page.goto(f"{live_server}/models/versions/{new}/edit/revocation.bpmn")
    page.wait_for_selector("#modeler[data-state=ready] .djs-container svg")
    page.click(shape("Task_city_proposal"))
    page.wait_for_selector(".bio-properties-panel-header-label >> text=市级提出取消建议")
    if not kind.is_visible():
        settings.locator(".bio-properties-panel-group-header").click()
    assert kind.input_value() == "expression"
    expression = settings.locator("#bio-properties-panel-dueDate")
    assert "else 15" in expression.input_value()
    assert "此表达式无法用字段表示" in settings.locator('[data-entry-id="dueDate"]').inner_text()

    # a timer: the analyst writes a yearly date once as the helper's expression, then moves it by its fields
    page.goto(f"{live_server}/models/versions/{new}/edit/provincial_selection.bpmn")
    page.wait_for_selector("#modeler[data-state=ready] .djs-container svg")
    page.click(shape(NOTICE_TIMER))
    page.wait_for_selector(".bio-properties-panel-header-label >> text=公示期满")
    timer_group = page.locator('.bio-properties-panel-group[data-group-id="group-timer"]')
    timer = timer_group.locator("#bio-properties-panel-timerEventDefinitionValue")
    if not timer.is_visible():
        timer_group.locator(".bio-properties-panel-group-header").click()
    body = f"() => window.greenLadderModeler.get('elementRegistry').get('{NOTICE_TIMER}').businessObject.eventDefinitions[0].timeDate.body"
    timer.fill("end_of_day(next_annual(3, 31))")
    timer.press("Tab")
    shown(page, f"{body} === 'end_of_day(next_annual(3, 31))'")
    if not settings.locator("#bio-properties-panel-timerDateKind").is_visible():
        settings.locator(".bio-properties-panel-group-header").click()
    assert settings.locator("#bio-properties-panel-timerDateKind").input_value() == "annual"
    month, day = settings.locator("#bio-properties-panel-timerDateMonth"), settings.locator("#bio-properties-panel-timerDateDay")
    assert (month.input_value(), day.input_value()) == ("3", "31")
    month.fill("4")
    month.press("Tab")
    shown(page, f"{body} === 'end_of_day(next_annual(4, 30))'")  # April has no 31st: its last day
    assert day.input_value() == "30"
    day.fill("15")
    day.press("Tab")
    shown(page, f"{body} === 'end_of_day(next_annual(4, 15))'")
    day.fill("31")  # 31 April is no day: refused on the spot, the diagram keeps 15 April
    day.press("Tab")
    page.wait_for_selector('[data-entry-id="timerDateDay"] .bio-properties-panel-error >> text=没有这一天')
    assert page.evaluate(body) == "end_of_day(next_annual(4, 15))"
    # five working days from the day the notice was published, as the case records it
    settings.locator("#bio-properties-panel-timerDateKind").select_option("working")
    days, start = settings.locator("#bio-properties-panel-timerDateDays"), settings.locator("#bio-properties-panel-timerDateFrom")
    days.fill("5")
    days.press("Tab")
    start.fill("notice_published")
    start.press("Tab")
    shown(page, f"{body} === 'end_of_day(working_days_after(notice_published, 5))'")
    assert timer.input_value() == "end_of_day(working_days_after(notice_published, 5))"  # the same expression
    screenshot(page, "modeler-timer-fields")
    assert page.errors == []
