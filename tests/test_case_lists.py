"""Case lists (办件列表): 我的申报 for an organisation's accounts, the case search for
officials (their own city's cases, the province every city's), each from the page or the
API its user opens, paged by cursor in a constant number of statements."""
from __future__ import annotations

import re

import pytest
from creation import APPLICATION, deploy, open_task, self_evaluated
from cultivation_helpers import code
from factories import people, registered
from test_lists_paging import counted, walk
from webclient import post_form, sign_in

from engine.db import db
from engine.green.models import User
from web.accounts.users import actor_of

TIANSHUI_CODE = code(7, "620500")


def firm(name):
    return actor_of(db.session.scalar(db.select(User).where(User.name == name)))


def apply(runtime, account, org, credit_code, city):
    return self_evaluated(runtime, firm(account), city=city,
                          application={**APPLICATION, "organisation_name": org, "credit_code": credit_code})


@pytest.fixture
def world(app, runtime):
    deploy(runtime)
    registered("firm")  # 兰州绿源制造有限公司, confirmed by 兰州
    registered("tianshui-firm", division="620502", code=TIANSHUI_CODE, org="天水秦岭机械有限公司")
    tokens = people(("lanzhou", "municipal", "620100"), ("tianshui", "municipal", "620500"),
                    ("province", "provincial", None), ("expert", "expert", None))
    lanzhou_case = apply(runtime, "firm", "兰州绿源制造有限公司", APPLICATION["credit_code"], "620100")
    tianshui_case = apply(runtime, "tianshui-firm", "天水秦岭机械有限公司", TIANSHUI_CODE, "620500")
    return {"lanzhou": lanzhou_case.id, "tianshui": tianshui_case.id, "tokens": tokens}


def shown(client, path) -> list[int]:
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    return [int(n) for n in re.findall(r'data-case="(\d+)"', page.get_data(as_text=True))]


def test_a_colleague_sees_the_organisations_application_where_it_stands_and_what_it_came_to(app, runtime, world):
    client = app.test_client()
    sign_in(client, "firm")
    assert post_form(client, "/organisation/colleagues", {"account": "firm-clerk", "password": "correct-horse",
                                                          "display_name": "王会计"}, page="/organisation").status_code == 303
    colleague = app.test_client()
    sign_in(colleague, "firm-clerk")
    page = colleague.get("/cases/mine").get_data(as_text=True)
    assert shown(colleague, "/cases/mine") == [world["lanzhou"]]
    assert "兰州绿源制造有限公司" in page and APPLICATION["credit_code"] in page
    assert "市级审核" in page and "兰州市" in page  # the step and whose queue holds it
    assert 'class="due"><div>—</div>' in page  # the city's review has no time limit in the diagram
    # the city decides; the organisation reads the outcome in its list
    runtime.complete(open_task(world["lanzhou"]).id, {"decision": "reject", "opinion": "材料不全，不予通过"},
                     firm("lanzhou"))
    row = re.search(rf'data-case="{world["lanzhou"]}".*?</tr>', colleague.get("/cases/mine").get_data(as_text=True), re.S)
    assert "不予通过" in row.group(0)
    # another organisation sees none of it
    other = app.test_client()
    sign_in(other, "tianshui-firm")
    assert shown(other, "/cases/mine") == [world["tianshui"]]


def test_a_city_official_searches_only_their_own_citys_cases(app, world):
    client = app.test_client()
    sign_in(client, "lanzhou")
    assert shown(client, "/cases/search") == [world["lanzhou"]]
    assert shown(client, "/cases/search?company=绿源") == [world["lanzhou"]]
    assert shown(client, "/cases/search?company=秦岭") == []
    assert shown(client, "/cases/search?city=620500") == []  # another city's cases: none, whatever the URL asks
    assert shown(client, f"/cases/search?number={world['tianshui']}") == []
    province = app.test_client()
    sign_in(province, "province")
    assert shown(province, "/cases/search") == [world["tianshui"], world["lanzhou"]]  # newest first
    assert shown(province, "/cases/search?city=620500") == [world["tianshui"]]
    assert shown(province, f"/cases/search?credit_code={TIANSHUI_CODE[:10].lower()}") == [world["tianshui"]]
    assert shown(province, "/cases/search?process=municipal_creation&status=running&since=2000-01-01") == \
        [world["tianshui"], world["lanzhou"]]
    assert shown(province, "/cases/search?until=2000-01-01") == []
    assert shown(province, "/cases/search?sort=company") == [world["lanzhou"], world["tianshui"]]  # 兰 before 天
    assert shown(province, "/cases/search?sort=-company") == [world["tianshui"], world["lanzhou"]]


def test_wrong_filters_come_back_with_their_message_and_the_entries_kept(app, world):
    client = app.test_client()
    sign_in(client, "province")
    answer = client.get("/cases/search?company=绿源&since=31.03.2026&number=abc")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'value="31.03.2026"' in page and 'value="绿源"' in page
    assert 'id="since-error"' in page and 'id="number-error"' in page


def test_the_lists_are_for_their_own_users_only(app, world):
    for name, path, status in (("firm", "/cases/search", 403), ("expert", "/cases/search", 403),
                               ("lanzhou", "/cases/mine", 403), ("province", "/cases/search", 200)):
        client = app.test_client()
        sign_in(client, name)
        assert client.get(path).status_code == status, (name, path)
    assert app.test_client().get("/cases/search").status_code == 302  # signed out: to the sign-in page


def test_the_search_pages_by_cursor_keeps_its_filters_and_costs_the_same_for_more_cases(app, runtime, world, monkeypatch):
    from web.case_lists import views

    client = app.test_client()
    sign_in(client, "province")
    one = counted(client, "/cases/search?sort=company")
    for n in range(3):
        apply(runtime, "firm", f"兰州第{n}制造有限公司", APPLICATION["credit_code"], "620100")
    assert counted(client, "/cases/search?sort=company") == one
    monkeypatch.setattr(views, "PAGE", 2)
    seen = walk(client, "/cases/search?sort=company&process=municipal_creation", r'data-case="(\d+)"')
    assert len(seen) == len(set(seen)) == 5


def test_the_api_searches_with_the_same_filters_and_the_same_scope(app, world):
    client = app.test_client()
    tokens = world["tokens"]

    def ids(token, query=""):
        answer = client.get(f"/api/v1/cases{query}", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.json
        return [c["id"] for c in answer.json["cases"]]

    assert ids(tokens["lanzhou"]) == [world["lanzhou"]]
    assert ids(tokens["lanzhou"], "?city=620500") == []
    assert ids(tokens["province"], "?company=秦岭") == [world["tianshui"]]
    case = client.get("/api/v1/cases?company=秦岭", headers={"Authorization": f"Bearer {tokens['province']}"}).json["cases"][0]
    assert case["company"] == "天水秦岭机械有限公司" and case["credit_code"] == TIANSHUI_CODE
    assert case["steps"][0]["role"] == "municipal" and case["steps"][0]["due"] is None
    # page by page by the cursor, the filters kept in the next page's link
    seen, path = [], "/api/v1/cases?limit=1&process=municipal_creation&sort=company"
    while path:
        answer = client.get(path, headers={"Authorization": f"Bearer {tokens['province']}"})
        seen += [c["company"] for c in answer.json["cases"]]
        path = re.match(r"<([^>]+)>", answer.headers["Link"]).group(1) if answer.json["next"] else None
        assert path is None or "sort=company" in path
    assert seen == ["兰州绿源制造有限公司", "天水秦岭机械有限公司"]
    bad = client.get("/api/v1/cases?since=yesterday", headers={"Authorization": f"Bearer {tokens['province']}"})
    assert bad.status_code == 400 and "since" in bad.json["fields"]
    assert client.get("/api/v1/cases", headers={"Authorization": f"Bearer {tokens['expert']}"}).status_code == 403


def test_the_inbox_names_each_tasks_company_and_case_and_sorts_by_them_page_by_page(app, runtime, world, monkeypatch):
    from web.inbox import views

    client = app.test_client()
    sign_in(client, "lanzhou")
    one = counted(client, "/inbox/?tab=role&sort=company")
    for n in (2, 0, 1):
        apply(runtime, "firm", f"兰州第{n}制造有限公司", APPLICATION["credit_code"], "620100")
    page = client.get("/inbox/?tab=role").get_data(as_text=True)
    assert "兰州绿源制造有限公司" in page and APPLICATION["credit_code"] in page and f"#{world['lanzhou']}" in page
    assert "天水秦岭机械有限公司" not in page  # another city's review is not in 兰州's inbox
    monkeypatch.setattr(views, "PAGE", 2)
    companies = walk(client, "/inbox/?tab=role&sort=company", r'class="company">([^<]+)<')
    assert companies == ["兰州第0制造有限公司", "兰州第1制造有限公司", "兰州第2制造有限公司", "兰州绿源制造有限公司"]
    assert walk(client, "/inbox/?tab=role&sort=-company", r'class="company">([^<]+)<') == companies[::-1]
    cases = walk(client, "/inbox/?tab=role&sort=-case", r'<a href="/cases/(\d+)">')
    assert cases == sorted(cases, key=int, reverse=True) and len(cases) == 4
    monkeypatch.setattr(views, "PAGE", 50)
    assert counted(client, "/inbox/?tab=role&sort=company") == one  # as many statements for 4 tasks as for 1


def test_the_search_is_an_operation_that_scopes_by_the_caller_without_http(app, runtime, world):
    from engine.actors import Actor
    from web.case_lists import lists

    tianshui = Actor("ts-official", "municipal", "620500")
    assert [r.case.id for r in lists.search(runtime, tianshui, lists.Filters()).rows] == [world["tianshui"]]
    assert lists.search(runtime, tianshui, lists.Filters(city="620100")).rows == []
    assert lists.search(runtime, tianshui, lists.Filters(number=world["lanzhou"])).rows == []
    other_firm = firm("tianshui-firm")
    assert lists.mine(runtime, other_firm, lists.Filters(number=world["lanzhou"])).rows == []
    with pytest.raises(lists.FiltersInvalid) as refused:
        lists.filters_from({"status": "lost", "credit_code": "91-62", "until": "2026-01-01", "since": "2026-02-01"})
    assert set(refused.value.fields) == {"status", "credit_code", "until"}
