"""Cultivation (Arts 2, 6-11): processes/cultivation.bpmn through the engine. Each
unit type's candidate conditions (the DMN table of its type), the cultivation
plan, filing with the province and sending back, withdrawal, and the park
membership and supplier links recorded with a nomination."""
from __future__ import annotations

import pytest
from cultivation_helpers import (
    CONDITIONS,
    PLAN,
    PROVINCE,
    code,
    deploy,
    nominate,
    nomination,
    official,
    people,
    record_fact,
    step,
    task_of,
)

from engine.db import db
from engine.errors import FormInvalid
from engine.green.cultivation import CultivationPoolEntry, OrganisationLink
from engine.green.models import Organisation
from engine.models import ProcessInstance


@pytest.fixture
def world(runtime):
    deploy(runtime)
    people()
    return runtime


def data_of(case_id):
    db.session.expire_all()
    return db.session.get(ProcessInstance, case_id).data


def entries():
    db.session.expire_all()
    return db.session.scalars(db.select(CultivationPoolEntry).order_by(CultivationPoolEntry.id)).all()


@pytest.mark.parametrize("unit_type", sorted(CONDITIONS))
def test_an_eligible_candidate_enters_the_pool_with_its_plan_and_is_filed(world, unit_type):
    case = nominate(world, unit_type, code(1))
    assert case.status == "running", case.error_message
    assert data_of(case.id)["eligible"] is True and data_of(case.id)["return_reasons"] == []
    case = step(world, case.id, "Task_cultivation_plan", PLAN, official())
    (entry,) = entries()
    assert (entry.status, entry.unit_type, entry.jurisdiction, entry.year) == ("nominated", unit_type, "620100", 2026)
    assert entry.plan == {"goals": PLAN["goals"], "measures": PLAN["measures"], "target_year": 2028,
                          "standard": PLAN["standard"]}
    assert entry.instance_id == case.id and entry.organisation.credit_code == code(1)
    assert task_of(case.id).role == "provincial"

    case = step(world, case.id, "Task_acknowledge_filing", {"filing_decision": "acknowledge"}, PROVINCE)
    assert case.status == "completed"
    (entry,) = entries()
    assert entry.status == "filed" and entry.filed_on.isoformat() == "2026-03-02"


UNMET = [(t, field) for t, fields in CONDITIONS.items() for field in fields]


@pytest.mark.parametrize("unit_type,field", UNMET, ids=[f"{t}-{f}" for t, f in UNMET])
def test_each_unmet_condition_sends_the_candidate_back_with_its_article(world, unit_type, field):
    value = 50 if field == "industrial_value_share" else False
    case = nominate(world, unit_type, code(1), **{field: value})
    assert case.status == "running", case.error_message
    assert task_of(case.id).element == "Task_nominate_candidate"  # back to the city
    data = data_of(case.id)
    article = {"green_factory": "第七条", "green_park": "第八条", "green_supply_chain": "第九条",
               "water_saving_enterprise": "第十条", "water_saving_park": "第十一条"}[unit_type]
    assert data["eligible"] is False and data["unmet_article"].startswith(article)
    (reason,) = data["return_reasons"]
    assert reason.startswith(data["unmet_article"]) and data["unmet_condition"] in reason
    assert entries() == []


def test_the_industrial_value_share_must_be_above_half(world):
    refused = nominate(world, "green_park", code(1), industrial_value_share=50)
    assert "50%" in data_of(refused.id)["unmet_condition"]
    admitted = nominate(world, "green_park", code(2), industrial_value_share=50.1)
    assert task_of(admitted.id).element == "Task_cultivation_plan"


def test_a_refused_candidate_corrected_by_the_city_goes_on(world):
    case = nominate(world, "green_factory", code(1), manufacturing=False)
    assert "实际从事工业生产" in data_of(case.id)["return_reasons"][0]
    case = step(world, case.id, "Task_nominate_candidate", nomination("green_factory", code(1)), official())
    assert task_of(case.id).element == "Task_cultivation_plan" and data_of(case.id)["return_reasons"] == []


def test_the_city_may_drop_a_refused_candidate(world):
    case = nominate(world, "green_factory", code(1), manufacturing=False)
    case = step(world, case.id, "Task_nominate_candidate", {"nomination_decision": "abandon"}, official())
    assert case.status == "completed" and entries() == []


def test_the_form_asks_for_every_condition_of_the_unit_type_and_a_valid_credit_code(world):
    case = world.start("cultivation", {}, official())
    task = task_of(case.id)
    partial = nomination("green_park", code(1))
    del partial["industrial_value_share"]
    with pytest.raises(FormInvalid) as missing:
        world.complete(task.id, partial, official())
    assert "industrial_value_share" in missing.value.fields
    with pytest.raises(FormInvalid) as bad:
        world.complete(task.id, nomination("green_factory", code(1)[:-1] + "0"), official())
    assert "credit_code" in bad.value.fields
    assert task_of(case.id).id == task.id  # nothing moved


def test_the_province_sends_a_filing_back_with_remarks_and_the_city_revises_it(world):
    case = nominate(world, "green_factory", code(1))
    case = step(world, case.id, "Task_cultivation_plan", PLAN, official())
    with pytest.raises(FormInvalid):  # sending back needs remarks
        world.complete(task_of(case.id).id, {"filing_decision": "send_back"}, PROVINCE)
    case = step(world, case.id, "Task_acknowledge_filing",
                {"filing_decision": "send_back", "remarks": "培育措施过于笼统，请细化节能改造项目和时间表"}, PROVINCE)
    assert task_of(case.id).element == "Task_cultivation_plan"
    assert "培育措施过于笼统" in data_of(case.id)["return_reasons"][0]
    (entry,) = entries()
    assert entry.status == "nominated" and "过于笼统" in entry.remarks

    revised = {**PLAN, "measures": "2026年完成空压机系统节能改造；2027年建设2MW屋顶光伏"}
    case = step(world, case.id, "Task_cultivation_plan", revised, official())
    assert data_of(case.id)["return_reasons"] == []  # the province sees a fresh filing
    case = step(world, case.id, "Task_acknowledge_filing", {"filing_decision": "acknowledge"}, PROVINCE)
    (entry,) = entries()  # the same entry, revised
    assert entry.status == "filed" and entry.plan["measures"].startswith("2026年完成")


def test_the_city_may_withdraw_a_candidate_sent_back(world):
    case = nominate(world, "water_saving_enterprise", code(1))
    case = step(world, case.id, "Task_cultivation_plan", PLAN, official())
    case = step(world, case.id, "Task_acknowledge_filing",
                {"filing_decision": "send_back", "remarks": "用水计量不完善"}, PROVINCE)
    case = step(world, case.id, "Task_cultivation_plan",
                {"plan_action": "withdraw", "withdraw_reason": "企业暂无创建意愿"}, official())
    assert case.status == "completed"
    (entry,) = entries()
    assert entry.status == "withdrawn" and entry.remarks == "企业暂无创建意愿"


def test_a_candidate_already_in_a_pool_is_sent_back_and_may_come_again_once_withdrawn(world):
    first = nominate(world, "green_factory", code(1))
    step(world, first.id, "Task_cultivation_plan", PLAN, official())
    second = nominate(world, "green_factory", code(1), city="620500")  # another city, the same type
    assert task_of(second.id).element == "Task_nominate_candidate"
    (reason,) = data_of(second.id)["return_reasons"]
    assert reason.startswith("第六条") and "已在兰州市培育库" in reason and f"#{first.id}" in reason
    other_type = nominate(world, "water_saving_enterprise", code(1))  # as another unit type: admitted
    assert task_of(other_type.id).element == "Task_cultivation_plan"

    step(world, first.id, "Task_acknowledge_filing", {"filing_decision": "send_back", "remarks": "暂缓"}, PROVINCE)
    step(world, first.id, "Task_cultivation_plan", {"plan_action": "withdraw", "withdraw_reason": "转由天水培育"},
         official())
    again = step(world, second.id, "Task_nominate_candidate", nomination("green_factory", code(1)), official("620500"))
    assert task_of(again.id).element == "Task_cultivation_plan"
    step(world, again.id, "Task_cultivation_plan", PLAN, official("620500"))
    assert [(e.jurisdiction, e.status) for e in entries()] == [("620100", "withdrawn"), ("620500", "nominated")]


def test_a_park_nomination_records_the_firms_in_the_park(world):
    firms = [{"credit_code": code(11), "name": "园区企业甲"}, {"credit_code": code(12), "name": "园区企业乙"}]
    case = nominate(world, "green_park", code(1), name="兰州某经济技术开发区管委会", members=firms)
    assert data_of(case.id)["links"]["added"] == [code(11), code(12)]
    links = db.session.scalars(db.select(OrganisationLink)).all()
    assert {(link.kind, link.organisation.credit_code, link.member.credit_code) for link in links} == {
        ("park_member", code(1), code(11)), ("park_member", code(1), code(12))}
    # named again: nothing doubled
    again = nominate(world, "green_park", code(1), name="兰州某经济技术开发区管委会", members=firms[:1])
    assert data_of(again.id)["links"]["added"] == []
    assert db.session.scalar(db.select(db.func.count()).select_from(OrganisationLink)) == 2


def test_a_supply_chain_nomination_records_its_suppliers_and_a_factory_records_none(world):
    nominate(world, "green_supply_chain", code(1), members=[{"credit_code": code(21), "name": "供应商甲"}])
    nominate(world, "green_factory", code(2), members=[{"credit_code": code(22), "name": "不相关企业"}])
    (link,) = db.session.scalars(db.select(OrganisationLink)).all()
    assert (link.kind, link.organisation.credit_code, link.member.credit_code) == ("supplier", code(1), code(21))
    assert db.session.scalar(db.select(Organisation).where(Organisation.credit_code == code(22))) is None


def test_a_candidate_with_a_barring_fact_is_refused_with_the_reasons(world):
    record_fact(world, official(), code(1), "environmental_accident", "2025-07-15", source="authority",
                name="候选企业")
    case = nominate(world, "green_factory", code(1))
    assert task_of(case.id).element == "Task_nominate_candidate"
    data = data_of(case.id)
    assert data["eligible"] is True and data["exclusions"]["barred"] is True
    (reason,) = data["return_reasons"]
    assert reason.startswith("第十八条第（二）项") and "环境污染事故" in reason and "2025-07-15" in reason
    # both at once: an unmet condition and a barring fact
    both = nominate(world, "green_factory", code(1), meets_standard=False)
    assert [r[:5] for r in data_of(both.id)["return_reasons"]] == ["第七条第（", "第十八条第"]


def test_officials_of_another_city_cannot_work_the_nomination(world):
    from engine.errors import Forbidden, NotFound

    case = world.start("cultivation", {}, official())
    with pytest.raises(NotFound):  # another city's task is not disclosed
        world.complete(task_of(case.id).id, nomination("green_factory", code(1)), official("620500"))
    with pytest.raises(Forbidden):  # only a city starts a nomination
        world.start("cultivation", {}, PROVINCE)
