"""The province's yearly national round (Arts 5, 16), driven through the real
diagram on the virtual clock: candidates among provincial units, the three
departments consulted in parallel, an objection, escalation of a late
department, the 31 July deadline, and MIIT's decision listing and not selecting."""
from __future__ import annotations

from datetime import datetime

import pytest
from national_helpers import FILES, PROVINCE, deploy, list_unit, ready, task_data

from engine import clock
from engine.db import db
from engine.errors import FormInvalid, NotFound
from engine.green.awards import Award
from engine.green.models import Designation
from engine.green.national import NationalRecommendation
from engine.models import Notification, ProcessInstance
from engine.runtime import Actor
from engine.timers import run_until

ECOLOGY, EMERGENCY, MARKET = Actor("eco", "ecology"), Actor("eme", "emergency"), Actor("mkt", "market")


@pytest.fixture
def units(runtime):
    deploy(runtime)
    made = {}
    for key, n, name, unit_type, city in (
            ("factory", 1, "兰州绿源制造有限公司", "green_factory", "620100"),
            ("park", 2, "天水经济技术开发区", "green_park", "620500"),
            ("chain", 3, "金川集团股份有限公司", "green_supply_chain", "620300"),
            ("water", 4, "白银节水科技有限公司", "water_saving_enterprise", "620400")):
        made[key] = list_unit(runtime, n, name, unit_type, city=city)[1].id
    # already national for its type: not a candidate again
    list_unit(runtime, 5, "酒泉风电装备有限公司", "green_factory", city="620900")
    list_unit(runtime, 5, "酒泉风电装备有限公司", "green_factory", level="national", city="620900", reference="GF-2024-0001")
    return made


def opinions(task_rows, objections=None):
    objections = objections or {}
    return [{**{k: r[k] for k in ("designation_id", "organisation_name", "unit_type")},
             **({"opinion": "objection", "reason": objections[r["designation_id"]]}
                if r["designation_id"] in objections else {"opinion": "no_objection"})} for r in task_rows]


def start_round(runtime, units, consult=("factory", "park", "chain")):
    case = runtime.start("national_recommendation", {}, PROVINCE)
    [shortlist] = ready(case.id)
    eligible = task_data(runtime, shortlist)["eligible"]
    rows = [{**{k: e[k] for k in ("designation_id", "organisation_name", "unit_type", "jurisdiction")},
             "consult": e["designation_id"] in {units[k] for k in consult}} for e in eligible]
    runtime.complete(shortlist.id, {"shortlist": rows}, PROVINCE)
    return case, eligible


def consult_all(runtime, case, objections=None):
    for actor, key in ((ECOLOGY, "ecology"), (EMERGENCY, "emergency"), (MARKET, "market")):
        [task] = ready(case.id, f"Task_consult_{key}")
        rows = task_data(runtime, task)["candidates"]
        runtime.complete(task.id, {f"{key}_opinions": opinions(rows, (objections or {}).get(key))}, actor)


def test_the_candidates_are_the_current_provincial_factories_parks_and_supply_chains(runtime, units):
    case, eligible = start_round(runtime, units)
    assert sorted(e["designation_id"] for e in eligible) == sorted([units["factory"], units["park"], units["chain"]])
    assert all(e["unit_type"] != "water_saving_enterprise" for e in eligible)
    assert "酒泉风电装备有限公司" not in {e["organisation_name"] for e in eligible}  # already national
    tasks = ready(case.id)
    assert {t.element: t.role for t in tasks} == {
        "Task_consult_ecology": "ecology", "Task_consult_emergency": "emergency", "Task_consult_market": "market"}
    # ten working days from Monday 2 March 2026, then escalated to the province
    assert {t.due_at.isoformat() for t in tasks} == {"2026-03-17T00:00:00+08:00"}
    assert {t.escalate_to for t in tasks} == {"provincial"}


def test_a_round_runs_from_consultation_to_miit_listing_and_the_award(runtime, units):
    case, _ = start_round(runtime, units)
    # the departments answer in any order; each answer is kept under its own key
    consult_all(runtime, case, {"ecology": {units["park"]: "2025年发生一般环境污染事件，尚未整改完毕"}})
    [select] = ready(case.id)
    assert select.element == "Task_select"
    consulted = {c["designation_id"]: c for c in task_data(runtime, select)["consulted"]}
    assert consulted[units["park"]]["objected"] is True
    assert "省生态环境厅：2025年发生一般环境污染事件" in consulted[units["park"]]["objections"]
    assert consulted[units["factory"]]["objected"] is False

    def selection(keep_reason=None):
        out = []
        for c in consulted.values():
            row = {k: c[k] for k in ("designation_id", "organisation_name", "unit_type", "objected", "objections")}
            row["recommend"] = c["designation_id"] != units["chain"]
            if c["designation_id"] == units["park"] and keep_reason:
                row["keep_reason"] = keep_reason
            out.append(row)
        return out

    with pytest.raises(FormInvalid) as refused:  # keeping an objected candidate needs a stated reason
        runtime.complete(select.id, {"selection": selection()}, PROVINCE)
    park_row = [c["designation_id"] for c in consulted.values()].index(units["park"])
    assert f"selection/{park_row}/keep_reason" in refused.value.fields
    runtime.complete(select.id, {"selection": selection("事件已于2026年1月整改销号，经复核同意推荐")}, PROVINCE)

    [submit] = ready(case.id)
    assert submit.element == "Task_submit" and submit.due_at.isoformat() == "2026-08-01T00:00:00+08:00"
    runtime.complete(submit.id, {"submitted_on": "2026-07-20", "submission_reference": "GS-2026-07"}, PROVINCE)
    rows = {r.designation_id: r for r in db.session.scalars(db.select(NationalRecommendation))}
    assert rows[units["chain"]].status == "not_recommended"
    assert rows[units["park"]].status == "submitted" and rows[units["park"]].keep_reason.startswith("事件已于")
    assert rows[units["park"]].consultation["ecology"]["opinion"] == "objection"

    [decide] = ready(case.id)
    recommended = task_data(runtime, decide)["recommended"]
    assert {r["designation_id"] for r in recommended} == {units["factory"], units["park"]}
    decisions = [{**r, "outcome": "listed" if r["designation_id"] == units["factory"] else "not_selected"}
                 for r in recommended]
    with pytest.raises(FormInvalid) as refused:  # a listing carries MIIT's platform number (Art 5)
        runtime.complete(decide.id, {"miit_notice": "工信部2026年度绿色制造名单", "miit_decisions": decisions}, PROVINCE)
    assert any(k.endswith("platform_reference") for k in refused.value.fields)
    for d in decisions:
        if d["outcome"] == "listed":
            d["platform_reference"] = "GF-2026-0620-017"
    case = runtime.complete(decide.id, {"miit_notice": "工信部2026年度绿色制造名单", "miit_decisions": decisions},
                            PROVINCE)
    assert case.status == "completed", case.error_message

    db.session.expire_all()
    national = db.session.scalar(db.select(Designation).where(Designation.level == "national",
                                                             Designation.platform_reference == "GF-2026-0620-017"))
    assert national.organisation.name == "兰州绿源制造有限公司" and national.unit_type == "green_factory"
    assert national.jurisdiction == "620100" and national.instance_id == case.id
    rows = {r.designation_id: r for r in db.session.scalars(db.select(NationalRecommendation))}
    assert rows[units["factory"]].status == "listed" and rows[units["factory"]].national_designation_id == national.id
    assert rows[units["park"]].status == "not_selected" and rows[units["park"]].national_designation_id is None
    award = db.session.scalar(db.select(Award).where(Award.designation_id == national.id))
    # the unit's provincial award was granted at its provincial listing this year: topped up to the national one
    assert (award.level, award.amount) == ("national", 500000) and "补足" in award.reason
    assert case.data["decision_summary"] == {"listed": 1, "not_selected": 1}
    assert [a["amount"] for a in case.data["national_awards"]] == [500000]


def test_miit_selecting_nobody_lists_nothing(runtime, units):
    case, _ = start_round(runtime, units, consult=("chain",))
    consult_all(runtime, case)
    [select] = ready(case.id)
    [c] = task_data(runtime, select)["consulted"]
    row = {k: c[k] for k in ("designation_id", "organisation_name", "unit_type", "objected", "objections")}
    runtime.complete(select.id, {"selection": [{**row, "recommend": True}]}, PROVINCE)
    [submit] = ready(case.id)
    runtime.complete(submit.id, {"submitted_on": "2026-03-10"}, PROVINCE)
    [decide] = ready(case.id)
    [r] = task_data(runtime, decide)["recommended"]
    case = runtime.complete(decide.id, {"miit_notice": "工信部2026年度绿色制造名单",
                                        "miit_decisions": [{**r, "outcome": "not_selected"}]}, PROVINCE)
    assert case.status == "completed", case.error_message
    assert db.session.scalar(db.select(db.func.count()).select_from(Designation)
                             .where(Designation.level == "national")) == 1  # the one from before the round
    assert db.session.scalar(db.select(NationalRecommendation.status)) == "not_selected"


def test_a_department_answers_for_every_candidate_and_cannot_change_them(runtime, units):
    case, _ = start_round(runtime, units)
    [task] = ready(case.id, "Task_consult_market")
    rows = opinions(task_data(runtime, task)["candidates"])
    with pytest.raises(FormInvalid) as refused:
        runtime.complete(task.id, {"market_opinions": rows[:-1]}, MARKET)
    assert "尚未填写" in refused.value.fields["market_opinions"][0]
    tampered = [dict(r) for r in rows]
    tampered[0]["organisation_name"] = "另一家公司"
    with pytest.raises(FormInvalid) as refused:
        runtime.complete(task.id, {"market_opinions": tampered}, MARKET)
    assert refused.value.fields == {"market_opinions/0/organisation_name": [
        "此栏由系统给出，不可修改 (this column is given and cannot be changed)"]}
    objection = [dict(rows[0], opinion="objection"), *rows[1:]]
    with pytest.raises(FormInvalid) as refused:  # an objection needs its reason
        runtime.complete(task.id, {"market_opinions": objection}, MARKET)
    assert "market_opinions/0/reason" in refused.value.fields
    with pytest.raises(NotFound):  # another department's task is not theirs
        runtime.complete(task.id, {"market_opinions": rows}, ECOLOGY)
    runtime.complete(task.id, {"market_opinions": rows}, MARKET)
    assert {t.element for t in ready(case.id)} == {"Task_consult_ecology", "Task_consult_emergency"}


def test_a_late_department_is_escalated_to_the_province(runtime, units):
    case, _ = start_round(runtime, units)
    for actor, key in ((EMERGENCY, "emergency"), (MARKET, "market")):  # ecology is late
        [task] = ready(case.id, f"Task_consult_{key}")
        runtime.complete(task.id, {f"{key}_opinions": opinions(task_data(runtime, task)["candidates"])}, actor)
    run_until(runtime, datetime(2026, 3, 14, 0, 0, 1, tzinfo=clock.SHANGHAI))
    db.session.expire_all()
    [reminder] = db.session.scalars(db.select(Notification)).all()  # three days before: the department itself
    assert (reminder.kind, reminder.role, reminder.element) == ("reminder", "ecology", "Task_consult_ecology")
    run_until(runtime, datetime(2026, 3, 16, 23, 59, tzinfo=clock.SHANGHAI))
    assert db.session.scalar(db.select(db.func.count()).select_from(Notification)) == 1  # not a minute early
    run_until(runtime, datetime(2026, 3, 17, 0, 0, 1, tzinfo=clock.SHANGHAI))
    db.session.expire_all()
    overdue = db.session.scalar(db.select(Notification).where(Notification.kind == "overdue"))
    assert (overdue.role, overdue.element) == ("provincial", "Task_consult_ecology")
    # late is not lost: the department can still answer, and the round goes on
    [task] = ready(case.id, "Task_consult_ecology")
    runtime.complete(task.id, {"ecology_opinions": opinions(task_data(runtime, task)["candidates"])}, ECOLOGY)
    assert [t.element for t in ready(case.id)] == ["Task_select"]


def test_the_round_closes_when_31_july_passes_without_a_submission(runtime, units):
    case, _ = start_round(runtime, units, consult=("factory",))
    consult_all(runtime, case)
    [select] = ready(case.id)
    [c] = task_data(runtime, select)["consulted"]
    row = {k: c[k] for k in ("designation_id", "organisation_name", "unit_type", "objected", "objections")}
    runtime.complete(select.id, {"selection": [{**row, "recommend": True}]}, PROVINCE)
    run_until(runtime, datetime(2026, 7, 24, 23, 0, tzinfo=clock.SHANGHAI))
    assert db.session.scalar(db.select(db.func.count()).select_from(Notification)) == 0
    run_until(runtime, datetime(2026, 7, 25, 0, 0, 1, tzinfo=clock.SHANGHAI))  # a week before: reminded
    db.session.expire_all()
    assert [(n.kind, n.role) for n in db.session.scalars(db.select(Notification))] == [("reminder", "provincial")]
    run_until(runtime, datetime(2026, 7, 31, 23, 59, 59, tzinfo=clock.SHANGHAI))
    assert [t.element for t in ready(case.id)] == ["Task_submit"]  # 31 July itself is still in time
    run_until(runtime, datetime(2026, 8, 1, 0, 0, 1, tzinfo=clock.SHANGHAI))
    db.session.expire_all()
    assert ready(case.id) == []
    done = db.session.get(ProcessInstance, case.id)  # the boundary timer ended the round
    assert done.status == "completed" and done.error_message is None
    assert db.session.scalar(db.select(NationalRecommendation.status)) == "missed"
    assert db.session.scalar(db.select(db.func.count()).select_from(Designation)
                             .where(Designation.level == "national")) == 1


def test_a_round_started_after_31_july_runs_to_next_year(runtime, units):
    clock.current().set(datetime(2026, 8, 3, 9, 0, tzinfo=clock.SHANGHAI))
    case = runtime.start("national_recommendation", {}, PROVINCE)
    assert case.data["miit_due"] == "2027-07-31" and case.data["round_year"] == 2027


def test_water_saving_units_have_no_national_level(runtime, units):
    water = db.session.get(Designation, units["water"])
    # a diagram that puts water-saving enterprises in a national round is held, with the reason
    model = FILES["national_recommendation.bpmn"].read_text().replace(
        '"green_supply_chain"]', '"green_supply_chain", "water_saving_enterprise"]')
    deploy(runtime, **{"national_recommendation.bpmn": model.encode()})
    case = runtime.start("national_recommendation", {}, PROVINCE)
    assert case.status == "error" and case.error_element == "Service_list_eligible"
    assert "工业节水型企业" in case.error_message and "no national level" in case.error_message
    # and no step may list one nationally
    refused = runtime.start("listing_with_award", {
        "credit_code": water.organisation.credit_code, "organisation_name": water.organisation.name,
        "unit_type": "water_saving_enterprise", "level": "national", "platform_reference": None,
        "decision": "x"}, Actor("registrar", "admin"), "620400")
    assert refused.status == "error" and "没有国家级：工业节水型单位只实行省市联动" in refused.error_message
