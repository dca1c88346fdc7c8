"""At 390 px (a phone held upright) the inbox and the case lists are usable: the page never
scrolls sideways (a wide table scrolls inside its own box), and every page shows its icon."""
from __future__ import annotations

import pytest
from creation import APPLICATION, deploy, self_evaluated
from cultivation_helpers import code
from factories import people, registered

from engine.db import db
from engine.green.models import User
from web.accounts.users import actor_of

from .session import sign_in

# how much wider than the window the page is, in CSS pixels (0: nothing to scroll sideways)
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


@pytest.fixture
def cases(runtime):
    deploy(runtime)
    people(("lz", "municipal", "620100"), ("prov", "provincial", None))
    for n, account in enumerate(("firm", "firm1", "firm2")):  # three companies, each applying itself
        name = f"兰州第{n}绿色精密制造股份有限公司"
        registered(account, code=code(n), org=name)
        firm = actor_of(db.session.scalar(db.select(User).where(User.name == account)))
        self_evaluated(runtime, firm, application={**APPLICATION, "organisation_name": name, "credit_code": code(n)})


@pytest.mark.parametrize("who, paths", [
    ("lz", ["/inbox/?tab=role", "/cases/search", "/cases/search?since=2026-01-01&sort=company"]),
    ("prov", ["/inbox/", "/cases/search", "/registry/", "/cultivation/", "/awards/"]),
    ("firm", ["/inbox/", "/cases/mine"]),
])
def test_the_inbox_and_the_case_lists_do_not_scroll_sideways_at_390_px(page, live_server, cases, screenshot, who, paths):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, who)
    for path in paths:
        page.goto(f"{live_server}{path}")
        assert page.locator("table.list").count() >= 1
        assert page.evaluate(OVERFLOW) <= 0, f"{path} is wider than the screen for {who}"
    screenshot(page, f"narrow-{who}")
    assert page.errors == []


def test_the_public_pages_fit_and_every_page_has_its_icon(page, live_server, cases):
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/", "/public/lists", "/public/notices/", "/login"):
        page.goto(f"{live_server}{path}")
        assert page.evaluate(OVERFLOW) <= 0, f"{path} is wider than the screen"
        icon = page.get_attribute("link[rel=icon]", "href")
        assert page.request.get(f"{live_server}{icon}").headers["content-type"].startswith("image/svg+xml")
    assert page.request.get(f"{live_server}/favicon.ico").url.endswith("/static/favicon.svg")
    assert page.errors == []
