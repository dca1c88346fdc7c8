"""Designations made by process steps: the registry for officials (scoped by
city, with history and an Excel export), the public lists and revocations."""
from __future__ import annotations

import io

from creation import deploy, self_evaluated
from factories import LANZHOU, TIANSHUI, people, revoke_diagram
from openpyxl import load_workbook
from webclient import sign_in

from engine.db import db
from engine.green.models import Designation
from engine.models import HumanTask
from engine.runtime import Actor

CODE = "91620100MA74XJ2P0P"
REPORT = {"organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": CODE,
          "evaluation_mode": "self"}
END = revoke_diagram(start_roles="provincial")


def list_unit(runtime, city="620100", report=REPORT):
    firm, official = Actor("firm", "applicant"), Actor("official", "municipal", city)
    case = self_evaluated(runtime, firm, city, application=report)
    task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))
    return runtime.complete(task, {"decision": "approve", "opinion": "符合市级绿色工厂条件"}, official)


def officials():
    people(("lz", "municipal", LANZHOU), ("ts", "municipal", TIANSHUI), ("prov", "provincial", None),
           ("firm1", "applicant", None))


def test_a_listing_step_records_the_designation_for_the_registry(client, runtime):
    deploy(runtime)
    case = list_unit(runtime)
    assert case.status == "completed"
    officials()
    sign_in(client, "lz")
    page = client.get("/registry/").get_data(as_text=True)
    assert "兰州绿源制造有限公司" in page and "绿色工厂" in page and "市级" in page
    designation = db.session.scalar(db.select(Designation))
    detail = client.get(f"/registry/{designation.id}").get_data(as_text=True)
    assert f"#{case.id}" in detail and "符合市级绿色工厂条件" in detail  # history: the decision, from which case

    book = load_workbook(io.BytesIO(client.get("/registry.xlsx").data))
    rows = list(book.active.values)
    assert rows[0][:2] == ("单位名称", "统一社会信用代码") and rows[1][:4] == ("兰州绿源制造有限公司", CODE, "绿色工厂", "市级")
    client.get("/lang/en")
    rows = list(load_workbook(io.BytesIO(client.get("/registry.xlsx").data)).active.values)
    assert rows[1][2:6] == ("Green factory", "Municipal", "Lanzhou", "Listed")  # the rows follow the language too
    client.get("/lang/zh_CN")

    other = client.application.test_client()
    sign_in(other, "ts")  # 天水 sees nothing of 兰州
    assert "兰州绿源" not in other.get("/registry/").get_data(as_text=True)
    assert other.get(f"/registry/{designation.id}").status_code == 404
    assert len(list(load_workbook(io.BytesIO(other.get("/registry.xlsx").data)).active.values)) == 1
    applicant = client.application.test_client()
    sign_in(applicant, "firm1")
    assert applicant.get("/registry/").status_code == 403

    visitor = client.application.test_client()
    public = visitor.get("/public/lists?level=municipal").get_data(as_text=True)
    assert "兰州绿源制造有限公司" in public and "2026年03月02日" in public
    visitor.get("/lang/en")
    english = visitor.get("/public/lists?level=municipal").get_data(as_text=True)
    assert "Green factory" in english and "Lanzhou" in english and "2026-03-02" in english


def test_listing_the_same_designation_twice_holds_the_case(runtime):
    deploy(runtime)
    list_unit(runtime)
    again = list_unit(runtime)
    assert again.status == "error" and again.error_element == "Service_list_unit"
    assert "already holds" in again.error_message
    assert db.session.scalar(db.select(db.func.count()).select_from(Designation)) == 1


def test_a_revocation_is_announced_with_its_ground(client, runtime):
    deploy(runtime)
    runtime.registry.deploy({"revoke.bpmn": END})
    list_unit(runtime)
    designation = db.session.scalar(db.select(Designation))
    without_ground = runtime.start("revoke", {"designation_id": designation.id, "reason": "未按时报送动态管理表",
                                              "ground": None, "article": "第二十一条"}, Actor("prov", "provincial"))
    assert without_ground.status == "error" and "unknown Art 21 ground" in without_ground.error_message
    ended = runtime.start("revoke", {"designation_id": designation.id, "reason": "未按时报送动态管理表",
                                     "ground": "refuses_supervision", "article": "第二十一条第（六）项"},
                          Actor("prov", "provincial"))
    assert ended.status == "completed", ended.error_message
    page = client.get("/public/revocations").get_data(as_text=True)
    assert "兰州绿源制造有限公司" in page and "第二十一条第（六）项" in page
    assert "未按时报送动态管理表" not in page  # the public reads the ground; the facts stay with the officials
    assert "兰州绿源" not in client.get("/public/lists").get_data(as_text=True)
    db.session.expire_all()
    assert [e.action for e in db.session.get(Designation, designation.id).events] == ["listed", "revoked"]


def test_the_dashboard_counts_what_each_official_may_see(client, runtime):
    import re

    deploy(runtime)
    list_unit(runtime)
    runtime.start("municipal_creation", {}, Actor("firm2", "applicant"), "620500")  # an open case in 天水
    officials()

    def bars(name, chart):
        c = client.application.test_client()
        sign_in(c, name)
        page = c.get("/dashboard").get_data(as_text=True)
        figure = re.search(rf'<figure class="chart card" id="{chart}">(.*?)</figure>', page, re.S)
        return dict(re.findall(r'data-label="([^"]+)" data-value="(\d+)"', figure.group(1))) if figure else None

    assert bars("prov", "chart-type")["绿色工厂"] == "1"
    assert bars("prov", "chart-city")["兰州市"] == "1" and bars("prov", "chart-city")["天水市"] == "0"
    # the listed unit's dynamic management runs on, waiting for its first year
    assert bars("prov", "chart-pipeline") == {"市级绿色制造单位创建 · 办理中": "1",
                                              "绿色制造单位动态管理 · 等待中": "1"}
    assert bars("lz", "chart-type")["绿色工厂"] == "1" and bars("lz", "chart-city") is None
    assert bars("lz", "chart-pipeline") == {  # 天水's open case is not 兰州's
        "绿色制造单位动态管理 · 等待中": "1"}
    assert bars("ts", "chart-type")["绿色工厂"] == "0"
    applicant = client.application.test_client()
    sign_in(applicant, "firm1")
    assert applicant.get("/dashboard").status_code == 403
