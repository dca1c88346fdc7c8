"""A day of each role in a real browser (issue 17): on the demo's data (`flask demo`), each kind
of user signs in and goes through the pages of their day, first in Chinese and then, having
chosen English, in English. Every page is checked for text in the other language
(tests/browser/language.py) and kept as a screenshot under test-output/walk/<role>/.

To walk a new page, add a step to its role's list in WALKS: a path to open, or a function that
gets there from where the previous step left the browser (a click on the inbox's first task).
A step that finds nothing to open (no such task in the demo today) fails: the demo should have it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from browser.language import check, stored_texts
from web.demo.accounts import DEMO_PASSWORD

WALK_SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "test-output" / "walk"


# a page that draws a diagram (the case page, the modeler) is checked once it has drawn it
DRAWN = "() => [...document.querySelectorAll('[data-state]')].every(e => e.dataset.state !== 'loading')"


@dataclass
class Step:
    name: str  # also the screenshot's name
    go: str | Callable  # a path, or go(page, base_url) that ends on the page
    acts: bool = False  # does something on the page it starts from (sends a form): done again in English


def open_task(text: str | None = None) -> Callable:
    """From the inbox, the first task (whose row has `text`, when given)."""

    def go(page, base):
        page.goto(f"{base}/inbox/")
        rows = page.locator("#tasks tbody tr", has_text=text) if text else page.locator("#tasks tbody tr")
        rows.first.locator("a[href*='/tasks/']").first.click()
        page.wait_for_url("**/tasks/**")

    return go


def open_case_of_task(text: str | None = None) -> Callable:
    """From the inbox, the case of the first task (whose row has `text`, when given)."""

    def go(page, base):
        page.goto(f"{base}/inbox/")
        rows = page.locator("#tasks tbody tr", has_text=text) if text else page.locator("#tasks tbody tr")
        rows.first.locator("a[href*='/cases/']").first.click()
        page.wait_for_url("**/cases/**")

    return go


def submit_empty_form(page, base):
    """The page's form sent with what can be typed left empty (the browser's own checks off): the
    server's field messages. (A returned form reopens filled in: it is emptied first.)"""
    page.evaluate("""document.querySelectorAll('main form').forEach(f => {
        f.noValidate = true;
        f.querySelectorAll('input[type=text], input[type=number], input:not([type]), textarea, select')
          .forEach(e => { e.value = ''; });
      })""")
    with page.expect_navigation():
        # the task's own form when the page has one (not the comment box beside it), else the page's last
        scope = "#task-form form" if page.locator("#task-form form").count() else "main form"
        page.locator(f"{scope} button[type=submit][value=submit], {scope} button[type=submit]:not([value])") \
            .last.click()
    assert page.locator(".error, .flash.error, [role=alert]").count(), "the form was not refused"


def first_link(path: str, selector: str) -> Callable:
    def go(page, base):
        page.goto(f"{base}{path}")
        page.locator(selector).first.click()
        page.wait_for_load_state()

    return go


def open_modeler(process_id: str) -> Callable:
    """The analyst's modeler on the newest version of a procedure, once its diagram is drawn."""

    def go(page, base):
        first_link(f"/models/history/{process_id}", "a[href*='/edit/']")(page, base)

    return go


# who signs in (None: the public), and the pages of their day
WALKS: dict[str, tuple[str | None, list[Step]]] = {
    "enterprise": ("tianshui-electric", [
        Step("inbox", "/inbox/"),
        Step("apply", open_task("申请")),
        Step("apply-refused", submit_empty_form, acts=True),
        Step("organisation", "/organisation"),
        Step("new-case", "/cases/new"),
    ]),
    "agency": ("agency-gsgreen", [
        Step("inbox", "/inbox/"),
        Step("evaluate", open_task()),
        Step("case", open_case_of_task()),
    ]),
    "city": ("lanzhou", [
        Step("inbox", "/inbox/"),
        Step("review", open_task("市级审核")),
        Step("case", open_case_of_task("市级审核")),
        Step("registrations", "/registrations/"),
        Step("registry", "/registry/"),
        Step("cultivation", "/cultivation/"),
    ]),
    "province": ("provincial", [
        Step("inbox", "/inbox/"),
        Step("task", open_task()),
        Step("round", open_case_of_task()),
        Step("dashboard", "/dashboard"),
        Step("awards", "/awards/"),
        Step("experts", "/experts/"),
    ]),
    # the demo's round has every review scored, so the expert's scoring form is not on this walk
    # until the demo leaves one open; 周教授 is the expert who declared a conflict
    "expert": ("expert-zhou", [
        Step("inbox", "/inbox/"),
        Step("conflicts", "/experts/conflicts"),
        Step("conflicts-refused", submit_empty_form, acts=True),
    ]),
    "analyst": ("analyst", [
        Step("models", "/models/"),
        Step("history", first_link("/models/", "a[href*='/models/history/']")),
        Step("modeler", open_modeler("municipal_creation")),
        Step("migrations", "/migrations/"),
    ]),
    "public": (None, [
        Step("home", "/"),
        Step("lists", "/public/lists"),
        Step("notices", "/public/notices/"),
        Step("notice", first_link("/public/notices/", "a[href*='/public/notices/']")),
        Step("agencies", "/public/agencies"),
        Step("complaint", "/public/complaint"),
        Step("register", "/register"),
    ]),
}


def walk(browser, base: str, role: str, data: list[str]) -> list[str]:
    """One role's day in Chinese, then in English: what each page shows in the other language."""
    account, steps = WALKS[role]
    folder = WALK_SCREENSHOTS / role
    folder.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",  # an English browser
                                  timezone_id="Asia/Shanghai")
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{role}: script error {exc}"))
    problems: list[str] = []
    try:
        if account:
            page.goto(f"{base}/login")
            page.fill("input[name=username]", account)
            page.fill("input[name=password]", DEMO_PASSWORD)
            with page.expect_navigation():
                page.click("main form button[type=submit]")
            assert "/login" not in page.url, f"{account} could not sign in"
        visited: dict[str, str] = {}  # step -> the page it found in Chinese, opened again in English
        for language in ("zh", "en"):
            if language == "en":
                page.goto(f"{base}/lang/en?next=/")
            for n, step in enumerate(steps, 1):
                where = f"{role} {step.name} ({language})"
                try:
                    if isinstance(step.go, str):
                        page.goto(f"{base}{step.go}")
                    elif language == "en" and not step.acts and step.name in visited:
                        page.goto(visited[step.name])
                    else:
                        step.go(page, base)
                    page.wait_for_function(DRAWN)
                    visited[step.name] = page.url
                except Exception as exc:  # noqa: BLE001  (the walk goes on; the step is reported)
                    problems.append(f"{where}: could not get there: {str(exc).splitlines()[0]}")
                    continue
                page.screenshot(path=str(folder / f"{n:02d}-{step.name}-{language}.png"))
                problems += [f"{where} {page.url.removeprefix(base)}: {p}" for p in check(page, language, data)]
    finally:
        context.close()
    return problems + errors


def test_a_day_of_each_role_in_one_language_at_a_time(app, browser, live_server):
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    data = stored_texts()
    problems = [p for role in WALKS for p in walk(browser, live_server, role, data)]
    assert not problems, f"{len(problems)} page text(s) in the other language:\n" + "\n".join(problems)
