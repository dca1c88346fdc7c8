"""Art 23 per level (issue 16): a candidate's provincial evaluation report made by a
third-party agency counts as one provincial project of the agencies with that
agency's legal representative this year, apart from their municipal and national
ones; the eleventh is refused, and a report by an agency named for fraud is
refused when the city's recommendation brings it in."""
from __future__ import annotations

import pytest
from test_agencies import GREEN, OTHER, SISTER, agencies, done_before, supervise  # noqa: F401 (a fixture)
from test_provincial_selection import _task, round_case  # noqa: F401 (a fixture)

from engine.db import db
from engine.green.agencies import AgencyEngagement
from engine.green.roles import JURISDICTIONS
from engine.models import ProcessInstance
from engine.runtime import Actor


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
    shortlist = collect(runtime, case, [{**by_agency(units, "lz_a"), "evaluation_mode": "third_party"}])
    [refused] = shortlist["refused"]
    assert refused["refused"].startswith("第二十三条：第三方评价须写明评价机构")
