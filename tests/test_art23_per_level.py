"""Art 23 per level (issue 16): a candidate's provincial evaluation report made by a
third-party agency counts as one provincial project of the agencies with that
agency's legal representative this year, apart from their municipal and national
ones, and likewise a national evaluation report at national level; the eleventh is
refused, and a report by an agency named for fraud is refused when the city's
recommendation brings it in."""
from __future__ import annotations

import pytest
from national_helpers import PROVINCE, ready, task_data
from test_agencies import GREEN, OTHER, SISTER, agencies, done_before, supervise  # noqa: F401 (a fixture)
from test_national_recommendation import consult_all, start_round, units  # noqa: F401 (a fixture)
from test_provincial_selection import _task, round_case  # noqa: F401 (a fixture)
from webclient import sign_in

from engine.db import db
from engine.errors import FormInvalid
from engine.green.agencies import AgencyEngagement
from engine.green.national import NationalRecommendation
from engine.green.roles import JURISDICTIONS
from engine.models import ProcessInstance
from engine.runtime import Actor
from web.accounts.users import add_user


def recommend(runtime, case, city, rows):
    runtime.complete(_task(case.id, "Task_recommend", city),
                     {"units": [{"reason": "行业代表性强", **row} for row in rows]},
                     Actor(f"official-{city}", "municipal", city))


def collect(runtime, case, lanzhou, tianshui=()):
    recommend(runtime, case, "620100", lanzhou)
    recommend(runtime, case, "620500", list(tianshui))
    for city in JURISDICTIONS:
        if city not in ("620100", "620500"):
            recommend(runtime, case, city, [])
    db.session.expire_all()
    return db.session.get(ProcessInstance, case.id).data["shortlist"]


def by_agency(units, key, agency=None):
    row = {"credit_code": units[key], "unit_type": "green_factory"}
    return {**row, "evaluation_mode": "third_party", "agency_credit_code": agency[1]} if agency else row


def provincial_count(representative="王建国"):
    return db.session.scalar(db.select(db.func.count()).select_from(AgencyEngagement).where(
        AgencyEngagement.legal_representative == representative, AgencyEngagement.level == "provincial"))


@pytest.fixture
def world(runtime, round_case, agencies):
    return round_case


def test_the_tenth_provincial_evaluation_of_the_year_is_admitted_and_the_eleventh_refused(runtime, world, agencies):
    case, units = world
    done_before(agencies["green"], "provincial", 9)
    done_before(agencies["green"], "municipal", 10)  # municipal projects are counted apart
    shortlist = collect(runtime, case, [by_agency(units, "lz_a", GREEN), by_agency(units, "lz_b", SISTER)],
                        [by_agency(units, "ts_c")])  # self-evaluated: no agency counted
    admitted = {c["credit_code"]: c for c in shortlist["admitted"].values()}
    assert set(admitted) == {units["lz_a"], units["ts_c"]}
    assert admitted[units["lz_a"]]["agency"] == GREEN[0] and "agency" not in admitted[units["ts_c"]]
    [refused] = shortlist["refused"]
    assert refused["credit_code"] == units["lz_b"]
    assert refused["refused"].startswith("第二十三条：法定代表人 王建国 名下机构 2026 年已承担省级评价项目 10 个，达到上限 10 个")
    assert provincial_count() == 10


def test_a_provincial_report_by_an_agency_named_for_fraud_is_refused(runtime, world, agencies):
    case, units = world
    supervise(runtime, OTHER[1])  # named by the province before the recommendations come in
    shortlist = collect(runtime, case, [by_agency(units, "lz_a", GREEN)], [by_agency(units, "ts_c", OTHER)])
    [refused] = shortlist["refused"]
    assert refused["credit_code"] == units["ts_c"]
    assert "天水节能评估中心有限公司 因弄虚作假于 2026-03-02 被通报" in refused["refused"]
    assert [c["credit_code"] for c in shortlist["admitted"].values()] == [units["lz_a"]]
    assert provincial_count("李明") == 0 and provincial_count() == 1


def test_a_third_party_evaluation_names_its_agency(runtime, world):
    case, units = world
    row = {**by_agency(units, "lz_a"), "reason": "行业代表性强", "evaluation_mode": "third_party"}
    city = Actor("official-620100", "municipal", "620100")
    with pytest.raises(FormInvalid) as refused:
        runtime.complete(_task(case.id, "Task_recommend", "620100"), {"units": [row]}, city)
    assert list(refused.value.fields) == ["units/0/agency_credit_code"]
    runtime.complete(_task(case.id, "Task_recommend", "620100"),  # the entries kept, the agency added
                     {"units": [{**row, "agency_credit_code": GREEN[1]}]}, city)
    assert provincial_count() == 0  # counted when the recommendations are collected, not before


def test_the_tenth_national_evaluation_is_recommended_and_the_eleventh_refused_with_its_unit(
        runtime, agencies, units, client):
    done_before(agencies["green"], "national", 9)
    case, _ = start_round(runtime, units)
    consult_all(runtime, case)
    [select] = ready(case.id)
    agency_of = {units["factory"]: GREEN, units["park"]: SISTER}
    rows = [{**{k: c[k] for k in ("designation_id", "organisation_name", "unit_type", "objected", "objections")},
             "recommend": True,
             **({"evaluation_mode": "third_party", "agency_credit_code": agency_of[c["designation_id"]][1]}
                if c["designation_id"] in agency_of else {})}
            for c in task_data(runtime, select)["consulted"]]
    unnamed = [{k: v for k, v in r.items() if k != "agency_credit_code"} for r in rows]
    with pytest.raises(FormInvalid) as refused:  # a third-party evaluation names its agency
        runtime.complete(select.id, {"selection": unnamed}, PROVINCE)
    assert sorted(refused.value.fields) == [f"selection/{i}/agency_credit_code" for i, r in enumerate(rows)
                                            if r["designation_id"] in agency_of]
    runtime.complete(select.id, {"selection": rows}, PROVINCE)
    [submit] = ready(case.id)
    db.session.expire_all()
    [reason] = db.session.get(ProcessInstance, case.id).data["refused_recommendations"]
    assert reason.startswith("第二十三条：天水经济技术开发区的国家级评价报告不予采信——法定代表人 王建国 名下机构 2026 年已承担国家级评价项目 10 个")
    add_user("prov", "provincial", password="correct-horse")
    sign_in(client, "prov")
    assert reason in client.get(f"/tasks/{submit.id}").get_data(as_text=True)

    runtime.complete(submit.id, {"submitted_on": "2026-07-20", "submission_reference": "GS-2026-07"}, PROVINCE)
    status = dict(db.session.execute(db.select(NationalRecommendation.designation_id,
                                               NationalRecommendation.status)).all())
    assert status == {units["factory"]: "submitted", units["park"]: "refused", units["chain"]: "submitted"}
    counted = db.session.scalar(db.select(db.func.count()).select_from(AgencyEngagement).where(
        AgencyEngagement.legal_representative == "王建国", AgencyEngagement.level == "national"))
    assert counted == 10
