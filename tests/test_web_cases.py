"""The case page (案件页面): facts, diagram of the case's own version, markers, timeline, data; by jurisdiction."""
from __future__ import annotations

from datetime import timedelta

import lxml.html
from conftest import ROOT
from creation import FACTORY_LEADING, TABLES, evaluation
from webclient import sign_in

from engine import clock
from engine.db import db
from engine.model_registry import collect
from engine.models import HumanTask
from engine.runtime import Actor
from web.accounts.users import add_user

CREATION = ROOT / "processes" / "municipal_creation.bpmn"
REPORT = {
    "organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": "91620100MA74XJ2P0P",
    "evaluation_mode": "self",
}
PASSWORD = "correct-horse"


def case_in_review(runtime) -> int:
    """A 兰州 case of municipal_creation whose report is in, waiting for the city's review;
    with users lz (兰州 municipal), ts (天水 municipal) and firm (the applicant)."""
    version, _ = runtime.registry.deploy(collect([CREATION, *TABLES]), actor="ana")
    add_user("lz", "municipal", "620100", password=PASSWORD, display_name="王科长")
    add_user("ts", "municipal", "620500", password=PASSWORD)
    add_user("firm", "applicant", password=PASSWORD)
    firm = Actor("firm", "applicant")
    case = runtime.start("municipal_creation", {}, firm, "620100")
    [task] = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case.id)).all()
    fields = runtime.registry.load(version.id).forms[task.form]["properties"]
    runtime.complete(task.id, {k: v for k, v in REPORT.items() if k in fields}, firm)
    [task] = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case.id)).all()
    runtime.complete(task.id, evaluation("green_factory", case.id, FACTORY_LEADING), firm)
    return case.id


def test_a_city_official_sees_the_case_page(client, runtime):
    case = case_in_review(runtime)
    sign_in(client, "lz")
    r = client.get(f"/cases/{case}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert f"#{case}" in page and "municipal_creation" in page and "兰州市" in page
    assert "办理中" in page and "firm" in page and "2026年03月02日 09:00" in page
    # the timeline, in order, with the element's name from the diagram
    assert page.index("发起") < page.index("办理</td>") and "申请并选择评价方式" in page and "自评价：绿色工厂" in page
    # the case file, labelled by the forms, not the raw keys (those are for administrators only)
    shown = lxml.html.fromstring(page).xpath("string(//*[@id='case-file'])")
    assert "统一社会信用代码" in shown and "91620100MA74XJ2P0P" in shown and "绿色工厂" in shown
    assert "credit_code" not in shown and "std_code" not in shown and 'id="raw-data"' not in page
    # the diagram is drawn from the app's own copy of bpmn-js and the page's script
    assert "/vendor/bpmn-js/dist/bpmn-navigated-viewer.production.min.js" in page
    assert f'data-markers-url="/cases/{case}/markers.json"' in page


def test_the_diagram_is_the_cases_own_version(client, runtime):
    case = case_in_review(runtime)
    sign_in(client, "lz")
    r = client.get(f"/cases/{case}/diagram.xml")
    assert r.status_code == 200 and r.mimetype == "application/xml"
    xml = r.get_data(as_text=True)
    assert 'bpmn:process id="municipal_creation"' in xml and "BPMNDiagram" in xml
    assert xml == CREATION.read_text(encoding="utf-8")


def test_markers_show_where_the_case_stands(client, runtime):
    case = case_in_review(runtime)
    sign_in(client, "lz")
    marks = client.get(f"/cases/{case}/markers.json").json
    assert "Task_submit_report" in marks["completed"] and "Start_apply" in marks["completed"]
    assert {"Task_self_green_factory", "Rule_indicator_standards", "Service_record_report"} <= set(marks["completed"])
    assert "Task_agency_green_factory" not in marks["completed"]
    assert marks["active"] == ["Task_municipal_review"]
    assert marks["overdue"] == []
    # the engine's own bookkeeping tasks are not diagram elements
    assert not {"Start", "End", "municipal_creation.EndJoin"} & set(marks["completed"])


def test_a_returned_report_shows_where_the_case_is_now(client, runtime):
    case = case_in_review(runtime)
    review = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case))
    runtime.complete(review.id, {"decision": "return", "opinion": "请补充能耗数据"}, Actor("lz", "municipal", "620100"))
    sign_in(client, "lz")
    marks = client.get(f"/cases/{case}/markers.json").json
    assert marks["active"] == ["Task_submit_report"]  # waiting again: not shown as done
    assert "Task_municipal_review" in marks["completed"] and "Task_submit_report" not in marks["completed"]
    page = client.get(f"/cases/{case}").get_data(as_text=True)
    assert "请补充能耗数据" in page and page.count("<tr data-action=") == 4


def test_an_overdue_task_is_marked_late(client, runtime):
    case = case_in_review(runtime)
    review = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case))
    review.due_at = clock.now() + timedelta(days=1)
    db.session.commit()
    sign_in(client, "lz")
    assert client.get(f"/cases/{case}/markers.json").json["overdue"] == []
    clock.current().advance(timedelta(days=2))
    assert client.get(f"/cases/{case}/markers.json").json["overdue"] == ["Task_municipal_review"]
    assert "已逾期" in client.get(f"/cases/{case}").get_data(as_text=True)


def test_another_city_gets_not_found(client, runtime):
    case = case_in_review(runtime)
    sign_in(client, "ts")
    for path in (f"/cases/{case}", f"/cases/{case}/diagram.xml", f"/cases/{case}/markers.json"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "91620100MA74XJ2P0P" not in r.get_data(as_text=True)
    assert client.get("/cases/999999").status_code == 404


def test_signed_out_requests_go_to_the_login_page(client, runtime):
    case = case_in_review(runtime)
    for path in (f"/cases/{case}", f"/cases/{case}/diagram.xml", f"/cases/{case}/markers.json"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path


def test_only_listed_vendor_files_are_served(client):
    r = client.get("/vendor/bpmn-js/dist/bpmn-navigated-viewer.production.min.js")
    assert r.status_code == 200 and b"BpmnJS" in r.data
    r.close()
    assert client.get("/vendor/bpmn-js/dist/assets/bpmn-js.css").status_code == 200
    assert client.get("/vendor/bpmn-js/package.json").status_code == 404
    assert client.get("/vendor/../requirements.txt").status_code == 404
