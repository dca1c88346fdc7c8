"""Art 18 at every gate (issue 16): applying, the city's listing, the province's
recommendation and listing, the national recommendation. The facts are recorded as
an official records them (processes/adverse_fact.bpmn); the gates are service tasks
calling `exclusions.screen` with the look-back from art18_exclusions.dmn. Each
reason names the article, the organisation, the fact and its date, on the task the
next person sees and in the case. The virtual clock starts Monday 2 March 2026, so
the three-year look-back starts on 2 March 2023."""
from __future__ import annotations

from datetime import date

import pytest
from conftest import ROOT
from creation import APPLICATION, CODE, open_task, self_evaluated
from cultivation_helpers import code as pool_code
from cultivation_helpers import nominate, official, people, record_fact
from factories import designation_row
from national_helpers import PROVINCE as NATIONAL_PROVINCE
from national_helpers import ready, task_data
from test_national_recommendation import consult_all, start_round, units  # noqa: F401 (a fixture)
from test_provincial_selection import all_cities_recommend, review_all, round_case  # noqa: F401 (a fixture)
from webclient import sign_in

from engine.db import db
from engine.green.models import Designation, Organisation
from engine.green.national import NationalRecommendation
from engine.green.notices import PublicNotice
from engine.model_registry import collect
from engine.models import ProcessInstance
from engine.runtime import Actor
from engine.timers import run_until
from web.accounts.users import add_user

FIRM = Actor("firm-lz", "applicant")
CITY = official("620100")


@pytest.fixture
def world(runtime):
    runtime.registry.deploy(collect([ROOT / "processes"]))
    people()
    return runtime


def fact(runtime, credit_code, kind, occurred_on, name="兰州绿源制造有限公司"):
    case = record_fact(runtime, CITY, credit_code, kind, occurred_on, name=name)
    assert case.status == "completed", case.error_message


def apply(runtime, application=APPLICATION, firm=FIRM):
    case = runtime.start("municipal_creation", {}, firm, "620100")
    return runtime.complete(open_task(case.id).id, application, firm)


def case_data(case_id):
    db.session.expire_all()
    return db.session.get(ProcessInstance, case_id).data


# ---------------------------------------------------------------- on application

@pytest.mark.parametrize("occurred_on,barred", [
    ("2023-03-02", True),   # exactly three years before: inside the look-back
    ("2023-03-01", False),  # three years and a day: no longer bars
])
def test_an_applicant_with_an_accident_inside_three_years_is_sent_back_with_the_article_fact_and_date(
        world, occurred_on, barred):
    fact(world, CODE, "safety_accident", occurred_on)
    case = apply(world)
    task = open_task(case.id)
    data = case_data(case.id)
    if not barred:
        assert task.element == "Task_self_green_factory" and data["returned_reason"] is None
        return
    assert task.element == "Task_submit_report"  # back to the applicant, nothing evaluated or counted
    reason = data["returned_reason"]
    assert reason.startswith("第十八条第（二）项：兰州绿源制造有限公司安全事故") and occurred_on in reason
    [unit] = data["art18_on_application"]["barred"]
    assert [(f["kind"], f["date"]) for f in unit["facts"]] == [("safety_accident", occurred_on)]


def test_the_applicant_reads_the_reason_on_its_task_page(world, client):
    add_user(FIRM.name, "applicant", password="correct-horse")
    fact(world, CODE, "tax_evasion", "2025-11-20")
    case = apply(world)
    sign_in(client, FIRM.name)
    page = client.get(f"/tasks/{open_task(case.id).id}").get_data(as_text=True)
    assert "第十八条第（二）项：兰州绿源制造有限公司偷漏税（2025-11-20" in page


def test_a_firm_whose_designation_was_revoked_today_cannot_apply(world):
    designation_row(CODE, name="兰州绿源制造有限公司", level="municipal", status="revoked",
                    ended_on=date(2026, 3, 2), end_reason="第二十一条第（三）项：提供虚假材料")
    case = apply(world)
    assert open_task(case.id).element == "Task_submit_report"
    reason = case_data(case.id)["returned_reason"]
    assert reason.startswith("第十八条第（三）项：兰州绿源制造有限公司绿色制造单位称号被动态调整撤销（2026-03-02")


def test_a_park_is_barred_on_application_by_a_firm_inside_it(world):
    park, other_park = pool_code(11), pool_code(12)
    firm = {"credit_code": CODE, "name": "兰州绿源制造有限公司"}
    nominate(world, "green_park", park, name="兰州某工业园区管委会", members=[firm])  # the city records its firms
    nominate(world, "green_park", other_park, name="兰州另一工业园区管委会", members=[])
    fact(world, CODE, "environmental_accident", "2025-09-09")
    barred = apply(world, {**APPLICATION, "organisation_name": "兰州某工业园区管委会", "credit_code": park,
                           "unit_type": "green_park"}, Actor("park-a", "applicant"))
    assert open_task(barred.id).element == "Task_submit_report"
    assert "兰州绿源制造有限公司（园区内企业）环境污染事故（2025-09-09" in case_data(barred.id)["returned_reason"]
    clean = apply(world, {**APPLICATION, "organisation_name": "兰州另一工业园区管委会", "credit_code": other_park,
                          "unit_type": "green_park"}, Actor("park-b", "applicant"))
    assert open_task(clean.id).element == "Task_self_green_park"


# ---------------------------------------------------------------- before the city lists

def test_a_fact_recorded_during_the_citys_review_stops_the_listing_and_comes_back_to_the_city(world):
    case = self_evaluated(world, FIRM)
    review = open_task(case.id)
    assert review.element == "Task_municipal_review"
    fact(world, CODE, "quality_accident", "2026-03-01")  # learnt while the city reviews
    world.complete(review.id, {"decision": "approve", "opinion": "符合市级条件"}, CITY)
    again = open_task(case.id)
    assert again.element == "Task_municipal_review"
    assert case_data(case.id)["returned_reason"].startswith("第十八条第（二）项：兰州绿源制造有限公司质量事故（2026-03-01")
    assert db.session.scalar(db.select(db.func.count()).select_from(Designation)) == 0
    done = world.complete(again.id, {"decision": "reject", "opinion": "存在第十八条情形"}, CITY)
    assert done.status == "completed"
    assert db.session.scalar(db.select(db.func.count()).select_from(Designation)) == 0


def test_a_fact_older_than_three_years_does_not_stop_the_listing(world):
    case = self_evaluated(world, FIRM)
    fact(world, CODE, "quality_accident", "2023-03-01")
    done = world.complete(open_task(case.id).id, {"decision": "approve", "opinion": "符合市级条件"}, CITY)
    assert done.status == "completed", done.error_message
    assert case_data(case.id)["art18_before_listing"]["barred"] == []
    assert db.session.scalar(db.select(Designation.level)) == "municipal"


# ---------------------------------------------------------------- the provincial round

def test_a_unit_with_a_fact_recorded_during_the_notice_is_not_listed_and_the_others_are(runtime, round_case):
    people()
    case, units = round_case
    all_cities_recommend(runtime, case, units)
    review_all(runtime, case)
    notice = db.session.scalar(db.select(PublicNotice))
    fact(runtime, units["lz_a"], "environmental_accident", "2026-03-02", name="兰州甲制造有限公司")
    fact(runtime, units["lz_b"], "environmental_accident", "2023-03-01", name="兰州乙化工有限公司")  # too old
    run_until(runtime, notice.ends_at.replace(second=2))
    data = case_data(case.id)
    assert db.session.get(ProcessInstance, case.id).status == "completed"
    listed = db.session.scalars(db.select(Organisation.credit_code).join(Designation)
                                .where(Designation.level == "provincial")).all()
    assert sorted(listed) == sorted([units["lz_b"], units["ts_c"]])
    [reason] = data["art18_before_listing"]["reasons"]
    assert reason.startswith("第十八条第（二）项：兰州甲制造有限公司环境污染事故（2026-03-02")
    db.session.refresh(notice)
    assert notice.struck_off == [units["lz_a"]]


# ---------------------------------------------------------------- the national recommendation

def select_all(runtime, case):
    [select] = ready(case.id)
    rows = [{**{k: c[k] for k in ("designation_id", "organisation_name", "unit_type", "objected", "objections")},
             "recommend": True} for c in task_data(runtime, select)["consulted"]]
    return runtime.complete(select.id, {"selection": rows}, NATIONAL_PROVINCE)


@pytest.fixture
def national(runtime, units):  # noqa: F811 (the fixture imported above)
    runtime.registry.deploy({"adverse_fact.bpmn": (ROOT / "processes" / "adverse_fact.bpmn").read_bytes()})
    people()
    return units


def test_a_unit_barred_when_the_province_recommends_is_not_submitted_and_says_why(runtime, national, client):
    factory = db.session.get(Designation, national["factory"]).organisation
    case, _ = start_round(runtime, national)
    consult_all(runtime, case)
    fact(runtime, factory.credit_code, "dishonest_debtor", "2026-03-01", name=factory.name)
    select_all(runtime, case)
    [submit] = ready(case.id)
    assert submit.element == "Task_submit"
    [reason] = case_data(case.id)["refused_recommendations"]
    assert reason.startswith(f"第十八条第（六）项：{factory.name}失信被执行人（2026-03-01")
    add_user("prov", "provincial", password="correct-horse")
    sign_in(client, "prov")
    assert reason in client.get(f"/tasks/{submit.id}").get_data(as_text=True)  # on the task the province submits

    runtime.complete(submit.id, {"submitted_on": "2026-07-20", "submission_reference": "GS-2026-07"},
                     NATIONAL_PROVINCE)
    rows = {r.designation_id: r for r in db.session.scalars(db.select(NationalRecommendation))}
    assert rows[national["factory"]].status == "refused" and rows[national["factory"]].refused_reason == reason
    assert {rows[national[k]].status for k in ("park", "chain")} == {"submitted"}
    [decide] = ready(case.id)
    assert national["factory"] not in {r["designation_id"] for r in task_data(runtime, decide)["recommended"]}


def test_when_every_selected_unit_is_barred_nothing_is_recommended(runtime, national):
    case, eligible = start_round(runtime, national, consult=("factory",))
    consult_all(runtime, case)
    factory = db.session.get(Designation, national["factory"]).organisation
    fact(runtime, factory.credit_code, "inspection_problem", "2025-12-01", name=factory.name)
    done = select_all(runtime, case)
    assert done.status == "completed", done.error_message
    [row] = db.session.scalars(db.select(NationalRecommendation)).all()
    assert row.status == "refused" and row.refused_reason.startswith("第十八条第（四）项")
