"""The pages in a real browser: sign in, the inbox, the case page with its diagram, English."""
from __future__ import annotations

from pathlib import Path

from conftest import ROOT
from creation import FACTORY_LEADING, PDF, TABLES, codes
from factories import people
from test_complaints import COMPLAINT_MODELS
from test_revocation import CITY, CITY_PROPOSAL, FAILED, PROVINCE, designate, waiting
from test_web_cases import CREATION, PASSWORD, case_in_review

from engine.model_registry import collect
from engine.runtime import Actor
from web.accounts.users import add_user

from .session import sign_in


def test_an_official_signs_in_and_follows_a_case(page, live_server, runtime, screenshot):
    case = case_in_review(runtime)

    page.goto(f"{live_server}/login")
    screenshot(page, "login")
    page.fill("input[name=username]", "lz")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")

    row = page.locator("#tasks tbody tr", has_text=f"#{case}")
    assert "市级审核" in row.inner_text()
    screenshot(page, "inbox")

    page.goto(f"{live_server}/cases/{case}")
    page.wait_for_selector("#case-diagram[data-state=ready] .djs-container svg")
    element = 'g.djs-element[data-element-id="{}"]'.format
    assert "done" in page.get_attribute(element("Task_submit_report"), "class").split()
    assert "active" in page.get_attribute(element("Task_municipal_review"), "class").split()
    assert not {"done", "active"} & set(page.get_attribute(element("End_listed"), "class").split())
    assert "兰州市" in page.inner_text(".case-facts")
    assert page.locator("#timeline tbody tr").count() == 3  # started, applied, self-evaluated
    screenshot(page, "case")

    page.click("header.top >> text=English")
    page.wait_for_selector("html[lang=en]")
    page.wait_for_selector("#case-diagram[data-state=ready]")
    assert page.url.endswith(f"/cases/{case}")
    facts = page.inner_text(".case-facts")
    assert "Lanzhou" in facts and "2026-03-02 09:00" in facts and "兰州市" not in facts
    assert page.locator("header.top a", has_text="中文").count() == 1
    screenshot(page, "case-en")
    assert page.errors == []


def test_another_city_sees_no_case(page, live_server, runtime):
    case = case_in_review(runtime)
    sign_in(page, live_server, "ts")
    assert page.goto(f"{live_server}/cases/{case}").status == 404
    assert page.goto(f"{live_server}/cases/{case}/markers.json").status == 404


def test_an_applicant_corrects_a_refused_report_and_the_city_sees_it_done(page, live_server, runtime, screenshot,
                                                                         tmp_path):
    runtime.registry.deploy(collect([CREATION, *TABLES]), actor="ana")
    add_user("firm", "applicant", password=PASSWORD, display_name="兰州绿源制造有限公司")
    add_user("lz", "municipal", "620100", password=PASSWORD)
    case = runtime.start("municipal_creation", {}, Actor("firm", "applicant"), "620100").id

    sign_in(page, live_server, "firm")
    page.click("#tasks tbody tr a:has-text('申请并选择评价方式')")
    page.wait_for_url(f"{live_server}/tasks/**")
    page.fill("input[name=organisation_name]", "兰州绿源制造有限公司")
    page.fill("input[name=credit_code]", "91620100MA74XJ2P0Q")  # one character mistyped
    page.select_option("select[name=unit_type]", "green_factory")
    page.select_option("select[name=evaluation_mode]", "self")
    page.fill("textarea[name=summary]", "申请市级绿色工厂")
    page.click("button[value=submit]")
    error = page.locator("[data-field=credit_code] .field-error")
    error.wait_for()
    assert "校验码" in error.inner_text()
    assert page.input_value("input[name=organisation_name]") == "兰州绿源制造有限公司"  # entries kept
    assert page.input_value("textarea[name=summary]") == "申请市级绿色工厂"
    screenshot(page, "task-refused")

    page.fill("input[name=credit_code]", "91620100MA74XJ2P0P")
    page.click("button[value=submit]")
    # the self-evaluation is the applicant's next step too: it opens at once, without the inbox
    page.wait_for_selector("h1:has-text('自评价：绿色工厂')")

    # the self-evaluation: requirements, measured values, the report PDF; the score is the system's
    basic, scored = codes("green_factory")
    for i in range(len(basic)):
        page.select_option(f"select[name='basic_requirements[{i}][met]']", "true")
    for i, code in enumerate(scored):
        page.fill(f"input[name='indicators[{i}][value]']", str(FACTORY_LEADING[code]))
    page.check("input[name=pledge][value=true]")
    report = tmp_path / "评价报告.pdf"
    report.write_bytes(PDF)
    page.set_input_files("input[name=report_pdf__file]", str(report))
    screenshot(page, "task-evaluation")
    page.click("button[value=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")

    page.click("header.top form button")  # sign out
    sign_in(page, live_server, "lz")
    page.goto(f"{live_server}/cases/{case}")
    page.wait_for_selector("#case-diagram[data-state=ready] .djs-container svg")
    element = 'g.djs-element[data-element-id="{}"]'.format
    assert "done" in page.get_attribute(element("Task_submit_report"), "class").split()
    assert "active" in page.get_attribute(element("Task_municipal_review"), "class").split()
    assert [e for e in page.errors if "422 (UNPROCESSABLE ENTITY)" not in e] == []  # the refusal was meant


def test_a_citizen_reports_with_evidence(page, live_server, runtime, app, tmp_path, screenshot):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    runtime.registry.deploy({name: (ROOT / "processes" / name).read_bytes() for name in COMPLAINT_MODELS})
    evidence = Path(tmp_path / "证据.pdf")
    evidence.write_bytes(b"%PDF-1.4\n%%EOF\n")
    page.goto(f"{live_server}/public/complaint")
    page.fill("input[name=reporter_name]", "张三")
    page.fill("input[name=contact]", "13800000000")
    page.check("input[name=target_kind][value=unit]")
    page.fill("input[name=target_name]", "兰州某化工有限公司")
    page.select_option("select[name=city]", "620100")
    page.fill("textarea[name=description]", "该公司在动态管理表中虚报能耗数据。")
    page.set_input_files("input[name=evidence]", str(evidence))
    screenshot(page, "complaint")
    page.click("#complaint-form button[type=submit]")
    page.wait_for_selector("#receipt-number")
    number, code = page.inner_text("#receipt-number"), page.inner_text("#receipt-code")
    page.goto(f"{live_server}/public/complaint/status?no={number}&code={code}")
    assert "正在核实办理中" in page.inner_text("#complaint-status")


def test_a_unit_sees_its_rectification_order_and_the_province_the_spot_check_and_revocation(page, live_server,
                                                                                            runtime, screenshot):
    runtime.registry.deploy(collect([ROOT / "processes"]))
    people(("lz", "municipal", "620100"), ("prov", "provincial", None), ("firm", "applicant", None))
    check = runtime.start("spot_check", {"designation_id": designate(runtime)}, PROVINCE, "620100")
    runtime.complete(waiting(check.id).id, FAILED, PROVINCE)
    order = waiting(check.id)
    revocation = runtime.start("revocation", {"designation_id": designate(runtime, level="national",
                                                                          code="91620000224330075D",
                                                                          name="金川集团股份有限公司"),
                                              "ground": "false_materials"}, CITY, "620100")
    runtime.complete(waiting(revocation.id).id, CITY_PROPOSAL, CITY)

    sign_in(page, live_server, "firm")
    page.goto(f"{live_server}/tasks/{order.id}")
    assert "2026年05月31日 24:00" in page.inner_text("#due")
    screenshot(page, "rectification-order")

    sign_in(page, live_server, "prov")
    element = 'g.djs-element[data-element-id="{}"]'.format
    page.goto(f"{live_server}/cases/{check.id}")
    page.wait_for_selector("#case-diagram[data-state=ready] .djs-container svg")
    assert "done" in page.get_attribute(element("Task_spot_check"), "class").split()
    assert "active" in page.get_attribute(element("Call_rectification"), "class").split()
    screenshot(page, "spot-check-case")
    page.goto(f"{live_server}/cases/{revocation.id}")
    page.wait_for_selector("#case-diagram[data-state=ready] .djs-container svg")
    assert "done" in page.get_attribute(element("Task_city_proposal"), "class").split()
    assert "active" in page.get_attribute(element("Task_provincial_decision"), "class").split()
    screenshot(page, "revocation-case")
    assert page.errors == []
