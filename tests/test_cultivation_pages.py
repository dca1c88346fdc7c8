"""The cultivation pool and adverse-fact pages: each city its own, the province all;
nominating and recording from the pages; the reasons on a returned task; the
Art 2 links on an organisation's registry page."""
from __future__ import annotations

import io
import re
from datetime import date

import pytest
from cultivation_helpers import PLAN, PROVINCE, code, deploy, nominate, nomination, official, people, record_fact, step
from factories import designation_row
from openpyxl import load_workbook
from webclient import post_form, sign_in

from engine import clock
from engine.db import db
from engine.green.models import Designation, Organisation
from engine.models import HumanTask
from web.accounts.users import add_user


@pytest.fixture
def world(app, runtime):
    deploy(runtime)
    people()
    add_user("firm", "applicant", password="correct-horse")
    lanzhou = nominate(runtime, "green_factory", code(1), name="兰州培育工厂")
    step(runtime, lanzhou.id, "Task_cultivation_plan", PLAN, official())
    tianshui = nominate(runtime, "water_saving_enterprise", code(2, "620500"), city="620500", name="天水节水企业")
    step(runtime, tianshui.id, "Task_cultivation_plan", PLAN, official("620500"))
    step(runtime, tianshui.id, "Task_acknowledge_filing", {"filing_decision": "acknowledge"}, PROVINCE)
    record_fact(runtime, official(), code(3), "tax_evasion", "2025-02-01", name="兰州某欠税企业")
    record_fact(runtime, official("620500"), code(4, "620500"), "dishonest_debtor", "2024-02-01", name="天水某失信企业",
                source="court")
    return {"lanzhou": lanzhou.id, "tianshui": tianshui.id}


def client_of(app, name):
    c = app.test_client()
    sign_in(c, name)
    return c


def test_each_city_sees_its_own_pool_and_the_province_sees_all(app, world):
    lz = client_of(app, "city-620100").get("/cultivation/").get_data(as_text=True)
    assert "兰州培育工厂" in lz and "天水节水企业" not in lz and "已入库待备案" in lz
    ts = client_of(app, "city-620500").get("/cultivation/?city=620100").get_data(as_text=True)
    assert "兰州培育工厂" not in ts and "天水节水企业" in ts and "已备案" in ts  # the city filter cannot widen it
    province = client_of(app, "province")
    page = province.get("/cultivation/").get_data(as_text=True)
    assert "兰州培育工厂" in page and "天水节水企业" in page
    filtered = province.get("/cultivation/?city=620500&status=filed").get_data(as_text=True)
    assert "天水节水企业" in filtered and "兰州培育工厂" not in filtered
    assert client_of(app, "firm").get("/cultivation/").status_code == 403


def test_the_pool_exports_to_excel_within_the_same_scope(app, world):
    rows = list(load_workbook(io.BytesIO(client_of(app, "city-620100").get("/cultivation.xlsx").data)).active.values)
    assert rows[0][:3] == ("单位名称", "统一社会信用代码", "类型")
    assert [r[0] for r in rows[1:]] == ["兰州培育工厂"]
    assert rows[1][5] == "已入库待备案" and rows[1][11] == PLAN["standard"]
    everything = list(load_workbook(io.BytesIO(client_of(app, "province").get("/cultivation.xlsx").data)).active.values)
    assert sorted(r[0] for r in everything[1:]) == ["兰州培育工厂", "天水节水企业"]
    assert client_of(app, "firm").get("/cultivation.xlsx").status_code == 403


def test_adverse_facts_are_shown_to_their_city_and_the_province(app, world):
    lz = client_of(app, "city-620100").get("/adverse-facts/").get_data(as_text=True)
    assert "兰州某欠税企业" in lz and "天水某失信企业" not in lz and "第十八条第（二）项" in lz
    page = client_of(app, "province").get("/adverse-facts/?kind=dishonest_debtor").get_data(as_text=True)
    assert "天水某失信企业" in page and "兰州某欠税企业" not in page and "未结束" in page
    assert client_of(app, "firm").get("/adverse-facts/").status_code == 403


def test_a_city_nominates_from_the_pool_page_and_sees_why_it_came_back(app, world, runtime):
    lz = client_of(app, "city-620100")
    assert lz.post("/cultivation/nominate").status_code == 400  # no CSRF token
    r = post_form(lz, "/cultivation/nominate", page="/cultivation/")
    assert r.status_code == 303 and "/tasks/" in r.headers["Location"]
    task_id = r.headers["Location"].rsplit("/", 1)[1]
    task = db.session.get(HumanTask, task_id)
    assert task.element == "Task_nominate_candidate" and task.jurisdiction == "620100"
    case_id = task.instance_id
    page = lz.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert "第十一条" in page and 'id="return-reasons"' not in page  # the form names the articles
    # a candidate with a tax-evasion fact comes back with the reason on the task page
    runtime.complete(task_id, nomination("green_factory", code(3), name="兰州某欠税企业"), official())
    back = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case_id))
    page = lz.get(f"/tasks/{back.id}").get_data(as_text=True)
    reasons = re.search(r'id="return-reasons".*?</section>', page, re.S).group(0)
    assert "第十八条第（二）项" in reasons and "偷漏税" in reasons and "2025-02-01" in reasons
    # the province does not nominate; an applicant records nothing
    assert post_form(client_of(app, "province"), "/cultivation/nominate", page="/cultivation/").status_code == 403
    assert post_form(client_of(app, "firm"), "/adverse-facts/new").status_code == 403


def test_the_province_records_a_fact_from_the_page(app, world):
    province = client_of(app, "province")
    r = post_form(province, "/adverse-facts/new", page="/adverse-facts/")
    assert r.status_code == 303
    page = province.get(r.headers["Location"]).get_data(as_text=True)
    assert "记录不良信息" in page and "失信被执行人" in page and "信用中国" in page


def test_a_registry_page_shows_the_park_firms_and_the_park_a_firm_is_in(app, world, runtime):
    nominate(runtime, "green_park", code(5), name="兰州某工业园区管委会",
             members=[{"credit_code": code(6), "name": "园区企业甲"}])
    park = db.session.scalar(db.select(Organisation).where(Organisation.credit_code == code(5)))
    firm = db.session.scalar(db.select(Organisation).where(Organisation.credit_code == code(6)))
    for org in (park, firm):
        designation_row(org.credit_code, level="municipal", listed_on=date(2026, 1, 5))
    ids = dict(db.session.execute(db.select(Designation.organisation_id, Designation.id)).all())
    lz = client_of(app, "city-620100")
    park_page = lz.get(f"/registry/{ids[park.id]}").get_data(as_text=True)
    members = re.search(r'id="links-park_members".*?</ul>', park_page, re.S).group(0)
    assert "园区企业甲" in members and code(6) in members and "2026年03月02日" in members
    firm_page = lz.get(f"/registry/{ids[firm.id]}").get_data(as_text=True)
    assert "兰州某工业园区管委会" in re.search(r'id="links-parks".*?</ul>', firm_page, re.S).group(0)
    assert client_of(app, "city-620500").get(f"/registry/{ids[park.id]}").status_code == 404
    assert clock.now().date().isoformat() == "2026-03-02"


def test_the_demo_seeds_pools_in_several_cities_and_adverse_facts(app):
    from engine.green.cultivation import CultivationPoolEntry
    from engine.green.exclusions import AdverseFact

    for _ in range(2):  # the second run adds nothing
        assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    db.session.expire_all()
    pool = {(e.jurisdiction, e.unit_type): (e.status, e.remarks)
            for e in db.session.scalars(db.select(CultivationPoolEntry))}
    assert pool[("620100", "green_factory")][0] == "filed"
    assert pool[("620100", "water_saving_park")][0] == "nominated"
    assert pool[("620500", "water_saving_enterprise")][0] == "filed"
    assert pool[("620900", "green_park")][0] == "nominated" and "统计口径" in pool[("620900", "green_park")][1]
    assert len(pool) == 4 and db.session.scalar(db.select(db.func.count()).select_from(AdverseFact)) == 3
    refused = db.session.scalar(db.select(HumanTask).where(HumanTask.element == "Task_nominate_candidate"))
    assert refused.jurisdiction == "620100"  # the supply-chain leader with a 2025 tax-evasion fact, sent back
    lz = app.test_client()
    sign_in(lz, "lanzhou", password="green-ladder")
    page = lz.get(f"/tasks/{refused.id}").get_data(as_text=True)
    assert "偷漏税" in re.search(r'id="return-reasons".*?</section>', page, re.S).group(0)
