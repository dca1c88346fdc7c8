"""The award ledger page (Art 25): the province sees every city, a city its own
units; yearly totals per city; the Excel export; the dashboard's award charts;
MIIT's platform number in the registry (Art 5); and a consultation task page
that opens with one row per candidate."""
from __future__ import annotations

import io
import re
from datetime import datetime

import pytest
from national_helpers import PROVINCE, deploy, list_unit, ready
from openpyxl import load_workbook
from webclient import post_form, sign_in

from engine import clock
from web.accounts.users import add_user


@pytest.fixture
def ledger(app, runtime):
    deploy(runtime)
    list_unit(runtime, 1, "兰州绿源制造有限公司", "green_factory", city="620100")          # 500,000
    list_unit(runtime, 1, "兰州绿源制造有限公司", "green_supply_chain", city="620100")     # same year: 0
    list_unit(runtime, 2, "天水经济技术开发区", "green_park", city="620500")               # 500,000
    clock.current().set(datetime(2027, 3, 1, 9, 0, tzinfo=clock.SHANGHAI))
    list_unit(runtime, 3, "兰州新材料有限公司", "green_factory", level="national", city="620100",
              reference="GF-2027-0001")                                                       # 1,000,000
    for name, role, city in (("prov", "provincial", None), ("lz", "municipal", "620100"),
                             ("ts", "municipal", "620500"), ("eco", "ecology", None), ("firm", "applicant", None)):
        add_user(name, role, city, password="correct-horse")
    return app


def signed_in(app, name):
    client = app.test_client()
    sign_in(client, name)
    return client


def totals(page: str) -> dict:
    return {(y, c): int(a) for y, c, a in re.findall(
        r'<tr data-year="(\d+)" data-city="(\d*)">.*?data-amount="(\d+)"', page, re.S)}


def test_the_province_sees_every_city_with_yearly_totals(ledger):
    page = signed_in(ledger, "prov").get("/awards/").get_data(as_text=True)
    assert totals(page) == {("2027", "620100"): 1000000, ("2026", "620100"): 500000, ("2026", "620500"): 500000}
    assert 'id="award-grand-total" data-amount="2000000"' in page
    assert "天水经济技术开发区" in page and "同一年度已享受一种奖励，不叠加" in page
    only_2026 = signed_in(ledger, "prov").get("/awards/?year=2026&city=620500").get_data(as_text=True)
    assert totals(only_2026) == {("2026", "620500"): 500000} and "兰州绿源" not in only_2026


def test_a_city_sees_its_own_units_only(ledger):
    lanzhou = signed_in(ledger, "lz").get("/awards/").get_data(as_text=True)
    assert set(totals(lanzhou)) == {("2027", "620100"), ("2026", "620100")}
    assert "天水经济技术开发区" not in lanzhou
    # asking for another city's rows does not widen a city official's view
    assert "天水经济技术开发区" not in signed_in(ledger, "lz").get("/awards/?city=620500").get_data(as_text=True)
    tianshui = signed_in(ledger, "ts").get("/awards/").get_data(as_text=True)
    assert totals(tianshui) == {("2026", "620500"): 500000} and "兰州" not in tianshui.split("<main>")[1]
    for name in ("eco", "firm"):
        client = signed_in(ledger, name)
        assert client.get("/awards/").status_code == 403 and client.get("/awards.xlsx").status_code == 403


def test_the_ledger_exports_to_excel_with_the_totals(ledger):
    book = load_workbook(io.BytesIO(signed_in(ledger, "prov").get("/awards.xlsx").data))
    rows = list(book["奖励台账"].values)
    assert rows[0][:7] == ("年度", "单位名称", "统一社会信用代码", "地区", "级别", "类型", "奖励金额（元）")
    assert [(r[0], r[1], r[6]) for r in rows[1:]] == [
        (2027, "兰州新材料有限公司", 1000000), (2026, "天水经济技术开发区", 500000),
        (2026, "兰州绿源制造有限公司", 0), (2026, "兰州绿源制造有限公司", 500000)]
    assert list(book["年度分地区合计"].values)[1:] == [(2027, "兰州市", 1000000, 1), (2026, "兰州市", 500000, 1),
                                                 (2026, "天水市", 500000, 1)]
    city = load_workbook(io.BytesIO(signed_in(ledger, "ts").get("/awards.xlsx").data))
    assert [r[1] for r in list(city["奖励台账"].values)[1:]] == ["天水经济技术开发区"]


def test_the_dashboard_charts_awards_by_year_and_city(ledger):
    def bars(name, chart):
        page = signed_in(ledger, name).get("/dashboard").get_data(as_text=True)
        figure = re.search(rf'<figure class="chart card" id="{chart}">(.*?)</figure>', page, re.S)
        return dict(re.findall(r'data-label="([^"]+)" data-value="([\d.]+)"', figure.group(1))) if figure else None

    assert bars("prov", "chart-awards-year") == {"2026": "100", "2027": "100"}  # 万元
    assert bars("prov", "chart-awards-city") == {"2027 · 兰州市": "100", "2026 · 兰州市": "50", "2026 · 天水市": "50"}
    assert bars("ts", "chart-awards-year") == {"2026": "50"} and bars("ts", "chart-awards-city") is None
    assert bars("eco", "chart-awards-year") is None  # the consulted departments read the registry, not the awards


def test_the_registry_shows_miit_platform_numbers(ledger):
    client = signed_in(ledger, "lz")
    page = client.get("/registry/?level=national").get_data(as_text=True)
    assert "GF-2027-0001" in page
    designation = re.search(r'href="/registry/(\d+)"', page).group(1)
    assert 'id="platform-reference">GF-2027-0001<' in client.get(f"/registry/{designation}").get_data(as_text=True)
    rows = list(load_workbook(io.BytesIO(client.get("/registry.xlsx?level=national").data)).active.values)
    assert rows[0][-1] == "工信部平台编号" and rows[1][-1] == "GF-2027-0001"


def test_a_department_answers_on_a_page_that_lists_every_candidate(ledger, runtime):
    add_user("mkt", "market", None, password="correct-horse")
    # back in 2026: working days in 2027 wait for the State Council's holiday arrangement
    clock.current().set(datetime(2026, 4, 1, 9, 0, tzinfo=clock.SHANGHAI))
    case = runtime.start("national_recommendation", {}, PROVINCE)
    [shortlist] = ready(case.id)
    prov = signed_in(ledger, "prov")
    page = prov.get(f"/tasks/{shortlist.id}").get_data(as_text=True)
    # the eligible provincial units, given by the case and shown as text, not typed
    assert "天水经济技术开发区" in page and 'type="hidden" id="f-shortlist-0-designation_id"' in page
    ids = re.findall(r'name="(shortlist\[\d+\]\[designation_id\])" value="(\d+)"', page)
    assert len(ids) == 3  # the national one of 2027 is not eligible; the 2026 provincial units are
    form = {}
    for field in ("designation_id", "organisation_name", "unit_type", "jurisdiction"):
        form.update(dict(re.findall(rf'name="(shortlist\[\d+\]\[{field}\])" value="([^"]*)"', page)))
    form.update({f"shortlist[{i}][consult]": "true" for i in range(len(ids))})
    r = post_form(prov, f"/tasks/{shortlist.id}", {**form, "action": "submit"}, page=f"/tasks/{shortlist.id}")
    assert r.status_code == 303, r.get_data(as_text=True)

    [market] = ready(case.id, "Task_consult_market")
    client = signed_in(ledger, "mkt")
    assert signed_in(ledger, "lz").get(f"/tasks/{market.id}").status_code == 404
    page = client.get(f"/tasks/{market.id}").get_data(as_text=True)
    rows = re.findall(r'name="(market_opinions\[(\d+)\]\[(designation_id|organisation_name|unit_type)\])" value="([^"]*)"',
                      page)
    assert len(rows) == 9 and "绿色工业园区" in page  # the type shown by its name
    form = {name: value for name, _, _, value in rows}
    form.update({"market_opinions[0][opinion]": "objection", "market_opinions[1][opinion]": "no_objection",
                 "market_opinions[2][opinion]": "no_objection", "action": "submit"})
    r = post_form(client, f"/tasks/{market.id}", form, page=f"/tasks/{market.id}")
    assert r.status_code == 422 and "此项为必填项" in r.get_data(as_text=True)  # the objection's reason
    form["market_opinions[0][reason]"] = "2025年产品质量监督抽查不合格"
    r = post_form(client, f"/tasks/{market.id}", form, page=f"/tasks/{market.id}")
    assert r.status_code == 303
    assert {t.element for t in ready(case.id)} == {"Task_consult_ecology", "Task_consult_emergency"}


def test_the_demo_has_a_round_in_consultation_and_awards_in_several_cities(app):
    from engine.db import db
    from engine.green.awards import Award
    from engine.models import HumanTask, ProcessInstance

    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    db.session.rollback()
    round_ = db.session.scalar(db.select(ProcessInstance).where(ProcessInstance.process_id == "national_recommendation"))
    waiting = set(db.session.scalars(db.select(HumanTask.role).where(HumanTask.instance_id == round_.id)))
    assert waiting == {"emergency", "market"}  # the ecology department has answered
    paid = db.session.execute(db.select(Award.jurisdiction, db.func.sum(Award.amount)).group_by(Award.jurisdiction)).all()
    assert len([city for city, amount in paid if amount > 0]) >= 3
    assert app.test_cli_runner().invoke(args=["demo"]).exit_code == 0
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance)
                             .where(ProcessInstance.process_id == "national_recommendation")) == 1
