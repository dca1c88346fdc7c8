"""The dashboard's charts carry the list behind each bar, and the time each step with a
statutory limit took is counted from the moment its task was ready to its completion."""
from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from html import unescape

from conftest import ROOT
from test_complaints import COMPLAINT_MODELS, GOOD, PDF
from webclient import csrf_token, sign_in

from engine import clock
from engine.db import db
from engine.models import HandlingTime, HumanTask
from web.accounts.users import add_user


def charts(client) -> dict[str, dict]:
    """Each chart's data as the page hands it to ECharts, by the chart's id."""
    page = client.get("/dashboard").get_data(as_text=True)
    return {spec["id"]: spec for spec in
            (json.loads(unescape(m)) for m in re.findall(r'data-chart="([^"]*)"', page))}


def report(client) -> int:
    data = {**GOOD, "csrf_token": csrf_token(client, "/public/complaint"), "evidence": [(io.BytesIO(PDF), "证据.pdf")]}
    r = client.post("/public/complaint", data=data, content_type="multipart/form-data")
    assert r.status_code == 201
    return int(re.search(r'id="receipt-number">(\d+)<', r.get_data(as_text=True)).group(1))


def test_the_time_a_step_took_is_set_against_its_limit_for_the_province_and_its_city(app, runtime, users):
    runtime.registry.deploy({name: (ROOT / "processes" / name).read_bytes() for name in COMPLAINT_MODELS})
    public = app.test_client()
    quick, slow = report(public), report(public)
    city = users("lz", "municipal", "620100")

    def verify(case_id):
        db.session.rollback()
        task = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case_id))
        r = app.test_client().post(f"/api/v1/tasks/{task.id}/complete", headers=city, json={"data": {
            "confirmed": False, "findings": "经核查，举报不实。", "measure": "none"}})
        assert r.status_code == 200, r.get_json()

    clock.current().advance(timedelta(days=2))
    verify(quick)
    clock.current().advance(timedelta(days=40))  # past the 15 working days the diagram allows
    add_user("prov", "provincial", None, password="correct-horse")
    province = app.test_client()
    sign_in(province, "prov")
    [late] = [b for b in charts(province)["chart-overdue"]["items"] if b["value"]]
    # the slow report waits for its verification, the quick one for its reply (5 working days)
    assert late["label"] == "兰州市" and late["value"] == 2
    listed = province.get(late["href"]).get_data(as_text=True)  # the bar opens the cases it counts
    assert f"#{slow}" in listed and f"#{quick}" in listed
    assert f"#{quick}" not in province.get(late["href"].replace("620100", "620500")).get_data(as_text=True)
    verify(slow)
    db.session.rollback()  # the test's own read began before the API's steps
    [first, second] = db.session.scalars(db.select(HandlingTime).order_by(HandlingTime.id)).all()
    assert (first.element, first.jurisdiction, first.done_at - first.began_at) == ("Task_verify", "620100",
                                                                                  timedelta(days=2))
    assert second.done_at > second.due_at > first.done_at

    add_user("ts", "municipal", "620500", password="correct-horse")
    [row] = charts(province)["chart-handling"]["items"]
    allowed = (first.due_at - first.began_at).total_seconds() / 86400
    assert row["count"] == 2 and row["late"] == 1
    assert row["taken"] == round((2 + 42) / 2, 1) and abs(row["allowed"] - allowed) < 1
    assert row["label"].startswith("实名举报处理") and "核实举报" in row["label"]
    # the bar opens the cases of that procedure
    assert row["href"].startswith("/cases/search?") and "process=complaint" in row["href"]
    tianshui = app.test_client()
    sign_in(tianshui, "ts")  # another city's steps are not 天水's
    assert "chart-handling" not in charts(tianshui)
    assert "近一年没有办结的有法定时限的环节" in tianshui.get("/dashboard").get_data(as_text=True)


def test_each_bar_opens_the_list_it_counts(app, runtime, users):
    from test_designations import deploy, list_unit, officials

    deploy(runtime)
    list_unit(runtime)
    officials()
    province = app.test_client()
    sign_in(province, "prov")
    shown = charts(province)
    [factory] = [b for b in shown["chart-type"]["items"] if b["value"] == 1]
    listed = province.get(factory["href"]).get_data(as_text=True)
    assert "兰州绿源" in listed
    [lanzhou] = [b for b in shown["chart-city"]["items"] if b["value"] == 1]
    assert "city=620100" in lanzhou["href"] and "兰州绿源" in province.get(lanzhou["href"]).get_data(as_text=True)
    [empty] = [b for b in shown["chart-city"]["items"] if "620500" in b["href"]]
    assert empty["value"] == 0 and "兰州绿源" not in province.get(empty["href"]).get_data(as_text=True)
    # each chart offers its picture for saving, in the page's language
    assert shown["chart-type"]["save"] == "导出为图片"
