"""An analyst moves running cases to a new version in a real browser (案件迁移):
dry run, migration, and the moved case's page on its new version."""
from __future__ import annotations

from datetime import timedelta

from conftest import MODELS

from engine import clock
from engine.db import db
from engine.models import HumanTask
from engine.runtime import Actor
from web.users import add_user

PASSWORD = "correct-horse"
PROCESS = "rectification_check"


def test_an_analyst_moves_the_cases_that_can_move(page, live_server, runtime, screenshot):
    firm, city = Actor("firm", "applicant"), Actor("lz", "municipal", "620100")

    def deploy(n, note):
        files = {"rectification_check.bpmn": (MODELS / f"rectification_v{n}.bpmn").read_bytes()}
        return runtime.registry.deploy(files, actor="ana", note=note)[0].id

    def do(case, actor):
        [task] = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case)).all()
        runtime.complete(task.id, {}, actor)

    deploy(1, "第一版")
    at_expert = runtime.start(PROCESS, {}, firm, "620100").id
    do(at_expert, firm)
    do(at_expert, city)
    clock.current().advance(timedelta(days=31))
    runtime.fire_timers(at_expert)
    at_review = runtime.start(PROCESS, {}, firm, "620100").id
    do(at_review, firm)
    v2 = deploy(2, "删去专家意见，增加现场核查")
    add_user("ana", "analyst", password=PASSWORD, display_name="流程分析员")

    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inbox/**")
    page.click("header.top >> text=案件迁移")
    page.wait_for_url(f"{live_server}/migrations/")
    page.click(f"#processes tr[data-process={PROCESS}] >> text=迁移案件")
    page.wait_for_url(f"{live_server}/models/{PROCESS}/migration/")
    assert page.input_value("select[name=to]") == v2  # the current version is the default target
    page.click("#choose-versions button[type=submit]")

    page.wait_for_selector("#dry-run")
    blocked = page.locator(f"#dry-run tr[data-case='{at_expert}']")
    assert "不能迁移" in blocked.inner_text() and "专家意见 Expert opinion" in blocked.inner_text()
    assert "在目标版本中已删除" in blocked.inner_text()
    assert blocked.locator("input[type=checkbox]").count() == 0
    movable = page.locator(f"#dry-run tr[data-case='{at_review}']")
    assert "可迁移" in movable.inner_text() and "审核整改方案" in movable.inner_text()
    assert movable.locator("input[name=instance]").is_checked()
    assert "可迁移 1 件，不能迁移 1 件" in page.inner_text("#dry-run-summary")
    screenshot(page, "migration-dry-run")

    page.click("#migrate-form button[type=submit]")
    page.wait_for_selector("#migration-result")
    assert "已迁移" in page.inner_text(f"#migration-result tr[data-case='{at_review}']")
    assert "已迁移 1 件" in page.inner_text("#migration-summary")
    screenshot(page, "migration-result")

    page.click(f"#migration-result tr[data-case='{at_review}'] a")
    page.wait_for_url(f"{live_server}/cases/{at_review}")
    assert v2[:12] in page.inner_text(".case-facts")
    assert page.locator("#timeline tr[data-action=migrate]").count() == 1
    assert "迁移到新版本" in page.inner_text("#timeline")
    # the diagram drawn is the new version's: it has the site visit, not the expert's opinion
    page.wait_for_selector("#case-diagram[data-state=ready] .djs-container svg")
    element = 'g.djs-element[data-element-id="{}"]'.format
    assert page.locator(element("Task_site_visit")).count() == 1
    assert page.locator(element("Task_expert_opinion")).count() == 0
    assert "active" in page.get_attribute(element("Task_review_plan"), "class").split()
    screenshot(page, "migrated-case")
    assert page.errors == []
