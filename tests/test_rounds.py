"""Rounds that always finish (issue 16, point 4): one provincial and one national
round a year, a second start refused with the open round named on the page and
the API; after 31 March and its overdue notice the province closes the
collection, or it closes itself when the grace period set in the diagram is
over, and a city that did not recommend is recorded as such; a unit already
provincial or in another open round is refused at the collection with the
reason, and the round lists the others."""
from __future__ import annotations

from datetime import datetime

import pytest
import time_machine
from conftest import ROOT
from national_helpers import list_unit, ready, task_data
from test_national_recommendation import consult_all, units  # noqa: F401 (fixture)
from test_national_recommendation import start_round as start_national_round
from test_provincial_selection import (
    PROVINCE,
    _task,
    all_cities_recommend,
    municipal_unit,
    panel,
    recommend,
    review_all,
    tasks,
)
from webclient import post_form, sign_in

from engine import clock
from engine.db import db
from engine.errors import Conflict, FormInvalid
from engine.green import rounds
from engine.green.models import Designation, Organisation
from engine.green.notices import PublicNotice, lodge_objection
from engine.green.roles import JURISDICTIONS
from engine.model_registry import collect
from engine.models import Notification, ProcessInstance
from engine.timers import run_until
from web.accounts.users import add_user

SHANGHAI = clock.SHANGHAI


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def shortlist(case_id) -> dict:
    return db.session.get(ProcessInstance, case_id).data["shortlist"]


@pytest.fixture
def deployed(runtime):
    runtime.registry.deploy(collect([ROOT / "processes"]))


@pytest.fixture
def round_waiting_for_one_city(runtime, deployed):
    """This year's round with every city's recommendation in but 陇南's (621200)."""
    units = {"lz_a": municipal_unit(runtime, "620100", 1, "兰州甲制造有限公司"),
             "lz_b": municipal_unit(runtime, "620100", 2, "兰州乙化工有限公司"),
             "ts_c": municipal_unit(runtime, "620500", 3, "天水丙电器有限公司")}
    case = runtime.start("provincial_selection", {}, PROVINCE)
    all_cities_recommend(runtime, case, units, except_for=("621200",))
    return case, units


def test_a_second_round_in_a_year_is_refused_on_the_page_and_the_api_naming_the_open_one(
        app, runtime, deployed, client, users):
    add_user("prov", "provincial", None, password="correct-horse")
    sign_in(client, "prov")
    assert post_form(client, "/cases/new", {"process": "provincial_selection"}, page="/cases/new").status_code == 303
    first = db.session.scalar(db.select(ProcessInstance.id).where(ProcessInstance.process_id == "provincial_selection"))

    r = post_form(client, "/cases/new", {"process": "provincial_selection"}, page="/cases/new")
    assert r.status_code == 422
    assert f"2026年度省级绿色制造单位评选已有办件 {first}（进行中），每年只开展一轮" in r.get_data(as_text=True)
    api = client.application.test_client()
    province = users("prov-api", "provincial")
    r = api.post("/api/v1/instances", json={"process": "provincial_selection"}, headers=province)
    assert r.status_code == 409 and f"办件 {first}" in r.get_json()["error"]
    # a city may not start a round at all: it is told so, not that one is open
    r = api.post("/api/v1/instances", json={"process": "provincial_selection"}, headers=users("lz", "municipal", "620100"))
    assert r.status_code == 403
    assert db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance).where(
        ProcessInstance.process_id == "provincial_selection")) == 1

    # one national round too: its year is the next 31 July's
    assert api.post("/api/v1/instances", json={"process": "national_recommendation"}, headers=province).status_code == 201
    r = api.post("/api/v1/instances", json={"process": "national_recommendation"}, headers=province)
    assert r.status_code == 409 and "2026年度国家级绿色制造单位推荐" in r.get_json()["error"]

    clock.current().set(at(2026, 12, 31, 23, 59, 59))  # the last moment of the year: still this year's
    assert api.post("/api/v1/instances", json={"process": "provincial_selection"}, headers=province).status_code == 409
    clock.current().set(at(2027, 1, 1, 0, 0, 0))  # a new year: its own round
    r = api.post("/api/v1/instances", json={"process": "provincial_selection"}, headers=province)
    assert r.status_code == 201 and r.get_json()["id"] != first


def test_the_national_round_after_31_july_is_next_years(app, runtime, deployed, client, users):
    province = users("prov", "provincial")
    clock.current().set(at(2026, 7, 31, 12, 0))
    assert client.post("/api/v1/instances", json={"process": "national_recommendation"},
                       headers=province).status_code == 201
    clock.current().set(at(2026, 8, 1, 9, 0))  # the 2026 round is there; this one is for 31 July 2027
    r = client.post("/api/v1/instances", json={"process": "national_recommendation"}, headers=province)
    assert r.status_code == 201
    assert db.session.get(ProcessInstance, r.get_json()["id"]).data["round_year"] == 2027
    with pytest.raises(Conflict, match="2027年度国家级"):
        rounds.refuse_second_round("national_recommendation")


def test_the_province_closes_the_collection_only_after_the_deadline_and_the_silent_city_is_recorded(
        app, runtime, round_waiting_for_one_city, client):
    case, units = round_waiting_for_one_city
    add_user("prov", "provincial", None, password="correct-horse")
    add_user("ln", "municipal", "621200", password="correct-horse")
    sign_in(client, "prov")
    city = client.application.test_client()
    sign_in(city, "ln")

    run_until(runtime, at(2026, 3, 31, 23, 59, 59))  # the last second of 31 March: not overdue yet
    assert post_form(city, f"/cases/{case.id}/close-collection", page="/inbox/").status_code == 403
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="close-collection"' not in page
    r = post_form(client, f"/cases/{case.id}/close-collection", page=f"/cases/{case.id}")
    assert r.status_code == 303 and tasks(case.id, "Task_recommend")  # refused: the city still has its task
    assert "截止日未过" in client.get(f"/cases/{case.id}").get_data(as_text=True)
    db.session.rollback()
    with pytest.raises(Conflict):
        rounds.close_collection(runtime, case.id, PROVINCE)

    run_until(runtime, at(2026, 4, 1, 0, 0, 1))
    overdue = db.session.scalars(db.select(Notification).where(Notification.kind == "overdue")).all()
    assert [(n.role, n.jurisdiction) for n in overdue] == [("provincial", "621200")]
    assert tasks(case.id, "Task_assign_experts") == []  # the round still waits, for the grace period
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert 'id="close-collection"' in page and "陇南市" in page

    # closing is the province's
    assert post_form(city, f"/cases/{case.id}/close-collection", page="/inbox/").status_code == 403
    db.session.rollback()
    assert tasks(case.id, "Task_recommend")

    r = post_form(client, f"/cases/{case.id}/close-collection", page=f"/cases/{case.id}")
    assert r.status_code == 303
    assert "推荐收集已关闭；未推荐的市州：陇南市" in client.get(r.headers["Location"]).get_data(as_text=True)
    db.session.rollback()  # read what the request committed
    assert tasks(case.id, "Task_recommend") == []
    assert len(panel(runtime, case)) == 3  # the round goes on without 陇南: reviewers for its 3 candidates
    assert shortlist(case.id)["not_recommended"] == [{"jurisdiction": "621200", "name": "陇南市"}]
    # a city that recommended nobody is not one that did not recommend
    assert db.session.get(ProcessInstance, case.id).data["recommendations"]["620200"] == []


def test_the_collection_closes_itself_when_the_grace_period_is_over(runtime, round_waiting_for_one_city):
    case, units = round_waiting_for_one_city
    run_until(runtime, at(2026, 4, 10, 23, 59, 59))  # 31 March + 10 days: the grace period's last second
    assert [t.jurisdiction for t in tasks(case.id, "Task_recommend")] == ["621200"]
    assert tasks(case.id, "Task_assign_experts") == []

    run_until(runtime, at(2026, 4, 11, 0, 0, 1))
    assert tasks(case.id, "Task_recommend") == []
    assert len(panel(runtime, case)) == 3
    assert shortlist(case.id)["not_recommended"] == [{"jurisdiction": "621200", "name": "陇南市"}]
    assert db.session.get(ProcessInstance, case.id).status == "running"


def test_a_city_recommending_in_the_grace_period_is_taken(runtime, round_waiting_for_one_city):
    case, units = round_waiting_for_one_city
    run_until(runtime, at(2026, 4, 10, 12, 0))
    recommend(runtime, case, "621200", [])
    assert shortlist(case.id)["not_recommended"] == []
    run_until(runtime, at(2026, 4, 11, 0, 0, 1))  # the grace timer went with the city's sub-case
    assert len(panel(runtime, case)) == 3


def test_a_unit_already_provincial_is_refused_and_the_next_round_lists_the_others(runtime, deployed):
    units = {"lz_a": municipal_unit(runtime, "620100", 1, "兰州甲制造有限公司"),
             "lz_b": municipal_unit(runtime, "620100", 2, "兰州乙化工有限公司"),
             "ts_c": municipal_unit(runtime, "620500", 3, "天水丙电器有限公司")}
    first = runtime.start("provincial_selection", {}, PROVINCE)
    all_cities_recommend(runtime, first, units)
    review_all(runtime, first, failing={units["lz_b"]})
    run_until(runtime, at(2026, 4, 30))
    assert db.session.get(ProcessInstance, first.id).status == "completed"

    clock.current().set(at(2027, 1, 4, 9, 0))
    units["qy_d"] = municipal_unit(runtime, "621000", 4, "庆阳丁能源有限公司")
    second = runtime.start("provincial_selection", {}, PROVINCE)
    with pytest.raises(FormInvalid) as refused:
        recommend(runtime, second, "620100", [(units["lz_b"], "green_factory"), (units["lz_a"], "green_factory")])
    assert refused.value.fields == {"units/1/credit_code": [
        "兰州甲制造有限公司已是省级绿色工厂（2026-03-10公布），不再推荐 (already a provincial green factory since 2026-03-10)"]}
    recommend(runtime, second, "620100", [(units["lz_b"], "green_factory")])
    recommend(runtime, second, "621000", [(units["qy_d"], "green_factory")])
    for city in JURISDICTIONS:
        if city not in ("620100", "621000"):
            recommend(runtime, second, city, [])
    assert shortlist(second.id)["refused"] == []
    assert sorted(shortlist(second.id)["admitted"]) == sorted(
        [f"{units['lz_b']}:green_factory", f"{units['qy_d']}:green_factory"])

    review_all(runtime, second)
    run_until(runtime, at(2027, 2, 28))
    case = db.session.get(ProcessInstance, second.id)
    assert case.status == "completed", case.error_message
    listed = db.session.scalars(db.select(Organisation.credit_code).join(Designation).where(
        Designation.level == "provincial", Designation.listed_on >= datetime(2027, 1, 1).date())).all()
    assert sorted(listed) == sorted([units["lz_b"], units["qy_d"]])


def test_a_unit_in_another_open_round_is_refused_with_that_round_named(runtime, deployed):
    units = {"lz_a": municipal_unit(runtime, "620100", 1, "兰州甲制造有限公司"),
             "lz_b": municipal_unit(runtime, "620100", 2, "兰州乙化工有限公司"),
             "ts_c": municipal_unit(runtime, "620500", 3, "天水丙电器有限公司")}
    first = runtime.start("provincial_selection", {}, PROVINCE)
    all_cities_recommend(runtime, first, units)
    review_all(runtime, first)
    notice = db.session.scalar(db.select(PublicNotice))
    lodge_objection(notice, credit_code=units["ts_c"], real_name="张三", organisation="天水某环保协会",
                    contact="13800000000", reasons="该企业去年发生环境污染事故，已被处罚。", attachment_ids=[])
    db.session.commit()
    run_until(runtime, notice.ends_at.replace(second=2))
    assert tasks(first.id, "Task_investigate")  # the 2026 round is still open in the new year

    clock.current().set(at(2027, 1, 4, 9, 0))
    second = runtime.start("provincial_selection", {}, PROVINCE)
    with pytest.raises(FormInvalid) as refused:
        recommend(runtime, second, "620500", [(units["ts_c"], "green_factory")])
    assert refused.value.fields == {"units/0/credit_code": [
        f"天水丙电器有限公司正在另一轮省级评选中（办件 {first.id}），不能同时推荐 (a candidate of the open round {first.id})"]}

    runtime.complete(_task(first.id, "Task_investigate"), {"upheld": [], "findings": "经核实，异议不成立。"}, PROVINCE)
    assert db.session.get(ProcessInstance, first.id).status == "completed"
    assert db.session.scalar(db.select(db.func.count()).select_from(Designation).where(
        Designation.level == "provincial")) == 3


def test_a_unit_recommended_to_two_open_rounds_is_the_candidate_of_the_first_to_collect(runtime, deployed):
    """A round opened after 31 March collects by the next one, as the next year's does: a city may
    recommend a unit to both before either has collected; the second to collect refuses it."""
    lz_a = municipal_unit(runtime, "620100", 1, "兰州甲制造有限公司")
    clock.current().set(at(2026, 12, 1, 9, 0))
    late = runtime.start("provincial_selection", {}, PROVINCE)  # 2026's round, due 31 March 2027
    clock.current().set(at(2027, 1, 4, 9, 0))
    this = runtime.start("provincial_selection", {}, PROVINCE)  # 2027's, due the same day
    recommend(runtime, this, "620100", [(lz_a, "green_factory")])
    for case in (late, this):
        for city in JURISDICTIONS:
            if (case, city) != (this, "620100"):
                recommend(runtime, case, city, [(lz_a, "green_factory")] if city == "620100" else [])
    assert list(shortlist(late.id)["admitted"]) == [f"{lz_a}:green_factory"]
    assert [(r["credit_code"], r["refused"]) for r in shortlist(this.id)["refused"]] == [
        (lz_a, f"正在另一轮省级评选中（办件 {late.id}）")]
    assert db.session.get(ProcessInstance, this.id).status == "completed"  # no candidate left: it ends


def test_the_demos_round_lists_its_candidates_when_its_notice_ends(app, runtime):
    """The seeded round once went to `error` at its listing: 金川 was recommended though
    already provincial. Now it recommends only units not yet provincial, and lists them all."""
    today = datetime(2026, 12, 4, 10, 0, tzinfo=SHANGHAI)
    with time_machine.travel(today, tick=False):
        clock.install(clock.SystemClock())
        result = app.test_cli_runner().invoke(args=["demo"])
        assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    db.session.rollback()
    case = db.session.scalar(db.select(ProcessInstance).where(ProcessInstance.process_id == "provincial_selection"))
    assert shortlist(case.id)["refused"] == [] and shortlist(case.id)["not_recommended"] == []
    notice = db.session.scalar(db.select(PublicNotice).where(PublicNotice.instance_id == case.id))
    proposed = sorted(item["credit_code"] for item in notice.items)

    clock.install(clock.VirtualClock(notice.ends_at.replace(second=1)))
    runtime.fire_timers(case.id)
    case = db.session.get(ProcessInstance, case.id)
    assert case.status == "completed", f"{case.error_element}: {case.error_message}"
    listed = db.session.scalars(db.select(Organisation.credit_code).join(Designation).where(
        Designation.level == "provincial", Designation.instance_id == case.id)).all()
    assert proposed and sorted(listed) == proposed


def test_a_unit_waiting_for_miits_decision_is_not_offered_to_next_years_national_round(runtime, units):
    last = start_national_round(runtime, units)[0]
    consult_all(runtime, last)
    [select] = ready(last.id)
    runtime.complete(select.id, {"selection": [
        {**{k: c[k] for k in ("designation_id", "organisation_name", "unit_type", "objected", "objections")},
         "recommend": True} for c in task_data(runtime, select)["consulted"]]}, PROVINCE)
    [submit] = ready(last.id)
    runtime.complete(submit.id, {"submitted_on": "2026-07-20", "submission_reference": "GS-2026-07"}, PROVINCE)
    assert [t.element for t in ready(last.id)] == ["Task_miit_decision"]  # the 2026 round is still open

    clock.current().set(at(2026, 8, 3, 9, 0))
    newcomer = list_unit(runtime, 6, "武威新材料有限公司", "green_factory", city="620600")[1]
    this = runtime.start("national_recommendation", {}, PROVINCE)
    [shortlist] = ready(this.id)
    offered = [e["designation_id"] for e in task_data(runtime, shortlist)["eligible"]]
    assert offered == [newcomer.id]  # factory, park and chain sit in the 2026 round


def test_a_city_recommending_a_unit_already_provincial_is_refused_beside_it_with_its_entries_kept(
        app, runtime, deployed, client, users):
    lz_a = municipal_unit(runtime, "620100", 1, "兰州甲制造有限公司")
    first = runtime.start("provincial_selection", {}, PROVINCE)
    all_cities_recommend(runtime, first, {"lz_a": lz_a, "lz_b": municipal_unit(runtime, "620100", 2, "兰州乙化工有限公司"),
                                          "ts_c": municipal_unit(runtime, "620500", 3, "天水丙电器有限公司")})
    review_all(runtime, first)
    run_until(runtime, at(2026, 4, 30))  # 兰州甲 is provincial from 10 March 2026

    clock.current().set(at(2027, 1, 4, 9, 0))
    lz_d = municipal_unit(runtime, "620100", 4, "兰州丁制造有限公司")
    second = runtime.start("provincial_selection", {}, PROVINCE)
    task = _task(second.id, "Task_recommend", "620100")
    add_user("lz", "municipal", "620100", password="correct-horse")
    sign_in(client, "lz")
    form = {"units[0][credit_code]": lz_a, "units[0][unit_type]": "green_factory", "units[0][reason]": "行业代表性强",
            "units[1][credit_code]": lz_d, "units[1][unit_type]": "green_factory", "units[1][reason]": "能效领先",
            "action": "submit"}
    r = post_form(client, f"/tasks/{task}", form, page=f"/tasks/{task}")
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "兰州甲制造有限公司已是省级绿色工厂（2026-03-10公布），不再推荐" in page
    assert f'value="{lz_a}"' in page and f'value="{lz_d}"' in page  # the city's entries are kept
    db.session.rollback()
    assert _task(second.id, "Task_recommend", "620100") == task  # nothing was taken

    r = client.application.test_client().post(
        f"/api/v1/tasks/{task}/complete", headers=users("lz-api", "municipal", "620100"),
        json={"data": {"units": [{"credit_code": lz_a, "unit_type": "green_factory", "reason": "行业代表性强"}]}})
    assert r.status_code == 422 and "units/0/credit_code" in r.get_json()["fields"]
    # without it, the other unit is taken
    r = post_form(client, f"/tasks/{task}", {**{k.replace("[1]", "[0]"): v for k, v in form.items() if k.startswith("units[1]")}, "action": "submit"},
                  page=f"/tasks/{task}")
    assert r.status_code == 303
