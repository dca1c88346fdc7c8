"""The provincial round (Arts 14-15) driven through processes/provincial_selection.bpmn
on the virtual clock: every city recommends by 31 March (a late one is escalated),
experts review each candidate, the ones passing go on public notice for five
working days on the official calendar, objections lodged meanwhile are
investigated, and the rest become provincial units."""
from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import pytest
from conftest import ROOT
from creation import self_evaluated

from engine import clock
from engine.db import db
from engine.errors import FormInvalid
from engine.green import credit_code
from engine.green.awards import Award
from engine.green.exclusions import AdverseFact
from engine.green.models import Designation, Organisation
from engine.green.notices import NoticeClosed, PublicNotice, lodge_objection
from engine.green.roles import JURISDICTIONS
from engine.model_registry import collect
from engine.models import HumanTask, Notification, ProcessInstance
from engine.runtime import Actor
from engine.timers import run_until

PROVINCE = Actor("prov", "provincial")
SHANGHAI = clock.SHANGHAI


def code(city: str, serial: int) -> str:
    first17 = f"9162{city[2:6]}MA{serial:07d}"[:17]
    return first17 + credit_code.check_character(first17)


def municipal_unit(runtime, city: str, serial: int, name: str, unit_type="green_factory") -> str:
    """A unit listed at municipal level by its city, through the municipal creation procedure."""
    firm, official = Actor(f"firm-{serial}", "applicant"), Actor(f"official-{city}", "municipal", city)
    case = self_evaluated(runtime, firm, city, application={
        "organisation_name": name, "unit_type": unit_type, "credit_code": code(city, serial), "evaluation_mode": "self"})
    runtime.complete(_task(case.id), {"decision": "approve", "opinion": "符合市级条件"}, official)
    return code(city, serial)


def _task(instance_id, element=None, jurisdiction=None):
    q = db.select(HumanTask).where(HumanTask.instance_id == instance_id)
    if element:
        q = q.where(HumanTask.element == element)
    if jurisdiction:
        q = q.where(HumanTask.jurisdiction == jurisdiction)
    return db.session.scalars(q).first().id


def tasks(instance_id, element):
    return db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == instance_id,
                                                         HumanTask.element == element)).all()


@pytest.fixture
def round_case(runtime):
    runtime.registry.deploy(collect([ROOT / "processes"]))
    units = {
        "lz_a": municipal_unit(runtime, "620100", 1, "兰州甲制造有限公司"),
        "lz_b": municipal_unit(runtime, "620100", 2, "兰州乙化工有限公司"),
        "ts_c": municipal_unit(runtime, "620500", 3, "天水丙电器有限公司"),
    }
    case = runtime.start("provincial_selection", {}, PROVINCE)
    return case, units


def recommend(runtime, case, city, units):
    runtime.complete(_task(case.id, "Task_recommend", city),
                     {"units": [{"credit_code": c, "unit_type": t, "reason": "行业代表性强"} for c, t in units]},
                     Actor(f"official-{city}", "municipal", city))


def all_cities_recommend(runtime, case, units, except_for=()):
    recommend(runtime, case, "620100", [(units["lz_a"], "green_factory"), (units["lz_b"], "green_factory")])
    recommend(runtime, case, "620500", [(units["ts_c"], "green_factory")])
    for city in JURISDICTIONS:
        if city not in ("620100", "620500", *except_for):
            recommend(runtime, case, city, [])


REVIEWERS = (("zhao", "赵教授", "兰州理工大学"), ("qian", "钱研究员", "甘肃省节能中心"),
             ("sun", "孙高工", "西北有色设计院"), ("li", "李教授", "兰州大学"))


def expert_pool(names=REVIEWERS) -> dict[str, int]:
    """The province's expert pool, each expert with their own account: pool number by account."""
    from engine.green import experts
    from engine.green.models import User
    pool = {}
    for account, name, organisation in names:
        if db.session.scalar(db.select(User.id).where(User.name == account)) is None:
            db.session.add(User(name=account, role="expert", display_name=name, created_at=clock.now()))
            db.session.flush()
        known = experts.expert_of(account)
        pool[account] = (known or experts.add_expert(
            {"name": name, "field": "绿色制造", "organisation": organisation, "account": account}, "prov")).id
    db.session.commit()
    return pool


def panel(runtime, case) -> list[dict]:
    task = tasks(case.id, "Task_assign_experts")[0]
    return runtime.read_workflow(case.id).get_task_from_id(UUID(task.id)).data["review_panel"]


def assign_reviewers(runtime, case, accounts=("zhao", "qian", "sun"), by=None):
    """The province names the same reviewers for every candidate."""
    pool = expert_pool()
    numbers = ",".join(str(pool[a]) for a in accounts)
    rows = [{**row, "experts": numbers} for row in panel(runtime, case)]
    runtime.complete(tasks(case.id, "Task_assign_experts")[0].id, {"assignments": rows}, by or PROVINCE)


def review_all(runtime, case, failing=()):
    if tasks(case.id, "Task_assign_experts"):
        assign_reviewers(runtime, case)
    for task in tasks(case.id, "Task_expert_review"):
        candidate = runtime.read_workflow(case.id).get_task_from_id(UUID(task.id)).data["_review"]
        verdict = "fail" if candidate["credit_code"] in failing else "pass"
        runtime.complete(task.id, {"conclusion": verdict, "score": 62 if verdict == "fail" else 88,
                                   "opinion": "资料齐全，指标先进" if verdict == "pass" else "能效指标未达标"},
                         Actor(task.assignee, "expert"))


def test_each_city_gets_its_own_recommendation_task_due_31_march(runtime, round_case):
    case, _ = round_case
    recs = tasks(case.id, "Task_recommend")
    assert sorted(t.jurisdiction for t in recs) == sorted(JURISDICTIONS)
    assert {t.role for t in recs} == {"municipal"}
    assert {t.due_at for t in recs} == {datetime(2026, 4, 1, tzinfo=SHANGHAI)}
    lanzhou = Actor("official-620100", "municipal", "620100")
    tianshui_task = _task(case.id, "Task_recommend", "620500")
    with pytest.raises(Exception, match="not waiting for you"):  # 兰州 cannot answer for 天水
        runtime.complete(tianshui_task, {"units": []}, lanzhou)
    assert runtime.may_see(lanzhou, case.id)


def test_a_late_city_is_escalated_to_the_province_and_review_waits_for_it(runtime, round_case):
    case, units = round_case
    all_cities_recommend(runtime, case, units, except_for=("621200",))
    assert tasks(case.id, "Task_expert_review") == []  # the round waits for every city

    run_until(runtime, datetime(2026, 4, 1, 0, 0, 1, tzinfo=SHANGHAI))
    overdue = db.session.scalars(db.select(Notification).where(Notification.kind == "overdue")).all()
    assert [(n.role, n.jurisdiction) for n in overdue] == [("provincial", "621200")]

    recommend(runtime, case, "621200", [])
    assert [t.role for t in tasks(case.id, "Task_assign_experts")] == ["provincial"]
    data = db.session.get(ProcessInstance, case.id).data
    assert data["shortlist"]["refused"] == []


def test_a_city_recommending_a_unit_not_its_own_is_refused_at_once_beside_it(runtime, round_case):
    case, units = round_case
    with pytest.raises(FormInvalid) as refused:
        recommend(runtime, case, "620100", [(units["lz_a"], "green_factory"), (units["ts_c"], "green_factory")])
    assert refused.value.fields == {"units/1/credit_code": [
        "不是本市（州）公布的市级单位 (not one of this city's listed municipal units)"]}
    assert _task(case.id, "Task_recommend", "620100")  # still waiting for 兰州


def test_the_notice_runs_five_working_days_over_qingming_then_lists_without_objection(runtime, round_case):
    case, units = round_case
    all_cities_recommend(runtime, case, units)
    clock.current().set(datetime(2026, 4, 2, 10, 0, tzinfo=SHANGHAI))  # a Thursday before the Qingming holiday
    review_all(runtime, case, failing={units["lz_b"]})

    notice = db.session.scalar(db.select(PublicNotice))
    assert [i["credit_code"] for i in notice.items] == [units["lz_a"], units["ts_c"]]
    # 3 Apr, then 4-6 Apr are the holiday: 7, 8, 9, 10 Apr complete the five working days
    assert notice.ends_at == datetime(2026, 4, 11, tzinfo=SHANGHAI)
    assert db.session.get(ProcessInstance, case.id).next_timer_at == notice.ends_at

    run_until(runtime, datetime(2026, 4, 11, tzinfo=SHANGHAI))
    assert db.session.scalar(db.select(db.func.count()).select_from(Designation).where(
        Designation.level == "provincial")) == 0  # not a second early
    run_until(runtime, datetime(2026, 4, 11, 0, 0, 2, tzinfo=SHANGHAI))

    case_row = db.session.get(ProcessInstance, case.id)
    assert case_row.status == "completed"
    listed = db.session.execute(db.select(Organisation.credit_code, Designation.unit_type, Designation.jurisdiction)
                                .join(Designation).where(Designation.level == "provincial")).all()
    assert sorted(listed) == sorted([(units["lz_a"], "green_factory", "620100"),
                                     (units["ts_c"], "green_factory", "620500")])
    db.session.refresh(notice)
    assert notice.listed == [units["lz_a"], units["ts_c"]] and notice.struck_off == []


def test_an_upheld_objection_keeps_the_unit_off_the_list(runtime, round_case):
    case, units = round_case
    all_cities_recommend(runtime, case, units)
    review_all(runtime, case)
    notice = db.session.scalar(db.select(PublicNotice))
    with pytest.raises(NoticeClosed, match="不在本次公示名单"):
        lodge_objection(notice, credit_code=code("620300", 9), real_name="李四", organisation=None,
                        contact="13900000000", reasons="该单位存在问题", attachment_ids=[])
    lodge_objection(notice, credit_code=units["ts_c"], real_name="张三", organisation="天水某环保协会",
                    contact="13800000000", reasons="该企业去年发生环境污染事故，已被处罚。", attachment_ids=[])
    db.session.commit()

    run_until(runtime, notice.ends_at.replace(second=2))
    with pytest.raises(NoticeClosed, match="公示期已结束"):
        lodge_objection(notice, credit_code=units["lz_a"], real_name="王五", organisation=None,
                        contact="13700000000", reasons="迟到的异议", attachment_ids=[])
    [investigate] = tasks(case.id, "Task_investigate")
    assert investigate.role == "provincial"
    [objection] = db.session.get(ProcessInstance, case.id).data["objections"]
    assert objection["credit_code"] == units["ts_c"] and "已被处罚" in objection["reasons"]
    # who objected stays on the objection's record, shown on the task to the province alone
    assert "张三" not in str(objection) and "13800000000" not in str(objection)

    runtime.complete(investigate.id, {"upheld": [{"credit_code": units["ts_c"], "finding": "经核实，异议成立"}],
                                      "findings": "生态环境部门确认该企业受到行政处罚。"}, PROVINCE)
    listed = db.session.scalars(db.select(Organisation.credit_code).join(Designation)
                                .where(Designation.level == "provincial")).all()
    assert sorted(listed) == sorted([units["lz_a"], units["lz_b"]])
    db.session.refresh(notice)
    assert notice.struck_off == [units["ts_c"]]


def test_a_round_where_no_candidate_passes_ends_without_a_notice(runtime, round_case):
    case, units = round_case
    all_cities_recommend(runtime, case, units)
    review_all(runtime, case, failing={units["lz_a"], units["lz_b"], units["ts_c"]})
    assert db.session.get(ProcessInstance, case.id).status == "completed"
    assert db.session.scalar(db.select(PublicNotice)) is None


def test_a_unit_barred_under_art_18_is_not_admitted_and_the_listed_ones_get_their_award(runtime, round_case):
    case, units = round_case
    org = db.session.scalar(db.select(Organisation).where(Organisation.credit_code == units["lz_b"]))
    # a safety accident 2 years and 364 days before the round: inside the three-year look-back
    db.session.add(AdverseFact(organisation_id=org.id, kind="safety_accident", occurred_on=date(2023, 3, 3),
                               source="authority", reference="兰应急罚〔2023〕12号",
                               recorded_at=clock.now(), recorded_by="lz"))
    db.session.commit()
    all_cities_recommend(runtime, case, units)
    data = db.session.get(ProcessInstance, case.id).data
    [barred] = [r for r in data["shortlist"]["refused"] if r["credit_code"] == units["lz_b"]]
    assert barred["refused"].startswith("第十八条第（二）项") and "2023-03-03" in barred["refused"]
    assert {c["credit_code"] for c in data["shortlist"]["admitted"].values()} == {units["lz_a"], units["ts_c"]}

    review_all(runtime, case)
    run_until(runtime, db.session.scalar(db.select(PublicNotice)).ends_at.replace(second=2))
    paid = db.session.execute(db.select(Organisation.credit_code, Award.amount).join(Award)).all()
    assert sorted(paid) == sorted([(units["lz_a"], 500000), (units["ts_c"], 500000)])  # Art 25, first provincial entry
