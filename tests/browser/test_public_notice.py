"""The public notice in a real browser: a visitor finds the list on notice, is
told what is missing from an objection without losing what they typed, and
lodges it with its evidence."""
from __future__ import annotations

from test_notices_web import PDF, on_notice  # noqa: F401  (the fixture: a round's list on notice)

from engine.db import db
from engine.green.notices import Objection


def test_a_visitor_lodges_an_objection_with_evidence(page, live_server, on_notice, screenshot, tmp_path):  # noqa: F811
    case, units, notice = on_notice
    page.goto(f"{live_server}/public/notices/")
    page.click(f"#current-notices a:has-text('{notice.title}')")
    page.wait_for_selector("#objection-form")
    assert "5个工作日" in page.inner_text("#notice-window")
    screenshot(page, "public-notice")

    page.select_option("select[name=credit_code]", units["ts_c"])
    page.fill("input[name=real_name]", "张三")
    page.fill("input[name=contact]", "13800000000")
    page.fill("textarea[name=reasons]", "该企业去年发生环境污染事故，被生态环境部门处罚。")
    page.click("#objection-form button[type=submit]")  # no evidence yet
    page.wait_for_selector("#error-evidence")
    assert page.input_value("input[name=real_name]") == "张三"
    assert "被生态环境部门处罚" in page.input_value("textarea[name=reasons]")
    assert page.input_value("select[name=credit_code]") == units["ts_c"]

    evidence = tmp_path / "处罚决定书.pdf"
    evidence.write_bytes(PDF)
    page.set_input_files("input[name=evidence]", str(evidence))
    page.click("#objection-form button[type=submit]")
    page.wait_for_selector("#objection-receipt")
    screenshot(page, "public-notice-objection-received")
    db.session.rollback()
    [lodged] = db.session.scalars(db.select(Objection)).all()
    assert lodged.real_name == "张三" and lodged.credit_code == units["ts_c"] and len(lodged.attachment_ids) == 1
    assert [e for e in page.errors if "422 (UNPROCESSABLE ENTITY)" not in e] == []  # the first refusal was meant
