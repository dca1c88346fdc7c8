"""An official ticks three tasks in her inbox, fills their shared form once and reads a result per
task; on a phone the inbox with its checkboxes still does not scroll sideways."""
from __future__ import annotations

import pytest
from factories import people
from test_delegation import OPINION, REVIEW

from engine import jobs
from engine.runtime import Actor

from .session import sign_in
from .test_narrow_screens import OVERFLOW


@pytest.fixture
def reviews(runtime):
    runtime.registry.deploy({"review.bpmn": REVIEW, "forms/opinion.json": OPINION}, actor="test")
    people(("wang", "municipal", "620100"), ("li", "municipal", "620100"))
    for _ in range(3):
        runtime.start("review", {}, Actor("wang", "municipal", "620100"))


def test_three_tasks_completed_at_once_with_one_form(page, live_server, reviews, screenshot, app):
    sign_in(page, live_server, "li")
    page.goto(f"{live_server}/inbox/?tab=role")
    boxes = page.locator("#tasks input[type=checkbox][name=task]")
    assert boxes.count() == 3
    for i in range(3):
        boxes.nth(i).check()
    page.click("#bulk button[value=complete]")
    page.wait_for_url(f"{live_server}/inbox/bulk/confirm")
    assert page.locator("#selected tbody tr").count() == 3
    page.fill("[name=opinion]", "一并同意")
    screenshot(page, "bulk-confirm")
    # the completions run in the scheduler process's job worker; the job's page follows them
    worker = jobs.JobWorker(app)
    worker.start()
    try:
        page.click("#task-form button[type=submit]")
        page.wait_for_url(f"{live_server}/jobs/*")
        page.wait_for_selector("#bulk-summary", timeout=20_000)  # the page reloads every 2 s until done
    finally:
        worker.shutdown()
    assert page.inner_text("#bulk-summary") == "已完成 3 项，未能处理 0 项。"
    assert page.locator("#results tr.done").count() == 3
    screenshot(page, "bulk-result")
    page.goto(f"{live_server}/inbox/?tab=role")
    assert page.locator("#tasks input[type=checkbox][name=task]").count() == 0
    assert page.errors == []


def test_the_inbox_with_checkboxes_fits_a_phone(page, live_server, reviews):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "li")
    page.goto(f"{live_server}/inbox/?tab=role")
    assert page.locator("#bulk").count() == 1
    assert page.evaluate(OVERFLOW) <= 0
    assert page.errors == []
