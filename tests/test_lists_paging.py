"""Lists that page (分页): every list answers in a number of statements that does not
grow with its rows, and walking its pages by the `next` cursor shows every row once."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date, datetime

import pytest
from conftest import upload
from cultivation_helpers import code
from factories import designation_row, user
from sqlalchemy import event
from test_registry import LINE, bpmn
from webclient import sign_in

from engine import clock
from engine.db import db
from engine.green.models import Designation, Organisation
from web.accounts.users import add_user

WITH_FORM = LINE.replace(
    '<bpmn:userTask id="work" name="Work">',
    '<bpmn:userTask id="work" name="Work"><bpmn:extensionElements><spiffworkflow:properties>'
    '<spiffworkflow:property name="formJsonSchemaFilename" value="note.json"/>'
    '</spiffworkflow:properties></bpmn:extensionElements>')
FORM = b'{"type": "object", "title": "Note", "properties": {"note": {"type": "string"}}, "required": ["note"]}'


@contextmanager
def statements():
    """Counts the SQL statements sent while the block runs."""
    sent = []

    def count(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def cases(client, admin, n):
    for _ in range(n):
        assert client.post("/api/v1/instances", json={"process": "p"}, headers=admin).status_code == 201


def designations(n, start=0):
    for i in range(start, start + n):
        org = Organisation(credit_code=f"916201000000{i:06d}", name=f"单位{i}", jurisdiction="620100",
                           created_at=clock.now())
        db.session.add(org)
        db.session.flush()
        db.session.add(Designation(organisation_id=org.id, unit_type="green_factory", level="municipal",
                                   status="listed", jurisdiction="620100", listed_on=date(2026, 1, 1 + i % 28)))
    db.session.commit()


def walk(client, path: str, shown: str = r"<td>(单位\d+)</td>") -> list[str]:
    """Every page of a list from `path` on, by the next link each page gives: what it shows
    (`shown`, a pattern) in page order; each next link must keep the list's filters."""
    seen, query = [], path.partition("?")[2]
    while path:
        page = client.get(path).get_data(as_text=True)
        seen += re.findall(shown, page)
        nxt = re.search(r'<a href="([^"]+)" rel="next">', page)
        path = nxt.group(1).replace("&amp;", "&") if nxt else None
        assert path is None or query in path  # the filter goes on with the cursor
    return seen


def counted(client, path, headers=None) -> int:
    client.get(path, headers=headers)  # warm: the registry's and the user's first loads are not the list's cost
    with statements() as sent:
        assert client.get(path, headers=headers).status_code == 200
    return len(sent)


@pytest.fixture
def deployed(client, users):
    admin = users("root", "admin")
    assert upload(client, admin, ("p.bpmn", bpmn(WITH_FORM)), ("note.json", FORM)).status_code == 201
    return admin


def test_the_api_lists_send_as_many_statements_for_one_case_as_for_thirty(client, deployed):
    cases(client, deployed, 1)
    one = {path: counted(client, path, deployed) for path in ("/api/v1/tasks", "/api/v1/instances")}
    cases(client, deployed, 29)
    many = {path: counted(client, path, deployed) for path in ("/api/v1/tasks", "/api/v1/instances")}
    assert len(client.get("/api/v1/tasks", headers=deployed).json["tasks"]) == 30
    assert many == one, (one, many)


def test_a_task_list_names_its_form_once_and_expands_it_on_request(client, deployed):
    cases(client, deployed, 3)
    tasks = client.get("/api/v1/tasks", headers=deployed).json["tasks"]
    assert {t["form"] for t in tasks} == {None}
    [url] = {t["form_url"] for t in tasks}
    form = client.get(url, headers=deployed)
    assert form.json["title"] == "Note" and "immutable" in form.headers["Cache-Control"]
    expanded = client.get("/api/v1/tasks?expand=form", headers=deployed).json["tasks"]
    assert all(t["form"]["title"] == "Note" for t in expanded)
    # a case read on its own still carries its tasks' forms, as it always did
    case = client.get(f"/api/v1/instances/{tasks[0]['instance']}", headers=deployed).json
    assert case["tasks"][0]["form"]["required"] == ["note"]
    listed = client.get("/api/v1/instances", headers=deployed).json["instances"]
    assert listed[0]["tasks"][0]["form"] is None and listed[0]["tasks"][0]["form_url"] == url
    assert client.get("/api/v1/tasks?expand=everything", headers=deployed).status_code == 400
    assert client.get(url.replace("note.json", "other.json"), headers=deployed).status_code == 404
    # a blank form is any signed-in account's to read (an applicant's client renders its task's form), no one else's
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": f"Bearer {user('firm', 'applicant', password=None)}"}).status_code == 200


def test_walking_an_api_list_by_its_cursor_shows_every_item_once(client, deployed):
    cases(client, deployed, 7)
    for name in ("tasks", "instances"):
        seen, path = [], f"/api/v1/{name}?limit=3"
        while path:
            answer = client.get(path, headers=deployed)
            seen += [item["id"] for item in answer.json[name]]
            nxt = answer.json["next"]
            link = answer.headers.get("Link")
            assert (link is None) == (nxt is None)
            path = re.match(r"<([^>]+)>", link).group(1) if link else None
        assert len(seen) == len(set(seen)) == 7, name
    assert client.get("/api/v1/tasks?after=bm90LWEtY3Vyc29y", headers=deployed).status_code == 400
    assert client.get("/api/v1/tasks?after=WzEsMiwzXQ", headers=deployed).status_code == 400  # [1,2,3]
    first = client.get("/api/v1/tasks?limit=3", headers=deployed).json
    assert client.get(f"/api/v1/tasks?after={first['next']}&offset=3", headers=deployed).status_code == 400


def test_the_public_lists_and_the_registry_send_as_many_statements_for_one_unit_as_for_forty(client, monkeypatch):
    add_user("prov", "provincial", None, password="correct-horse")
    designations(1)
    visitor = client.application.test_client()
    one = counted(visitor, "/public/lists")
    sign_in(client, "prov")
    one_registry = counted(client, "/registry/")
    designations(39, start=1)
    assert counted(visitor, "/public/lists") == one
    assert counted(client, "/registry/") == one_registry


def test_walking_the_public_lists_shows_every_unit_once(client, monkeypatch):
    from web.designations import views

    monkeypatch.setattr(views, "PAGE", 4)
    designations(10)
    seen = walk(client, "/public/lists?level=municipal")
    assert sorted(seen) == sorted(f"单位{i}" for i in range(10))
    # a cursor this list did not hand out starts it again
    assert "单位" in client.get("/public/lists?after=garbage").get_data(as_text=True)


def test_the_administrators_all_tab_pages_without_counting_the_whole_table(client, deployed, monkeypatch):
    from web.inbox import views

    add_user("boss", "admin", None, password="correct-horse")
    sign_in(client, "boss")
    cases(client, deployed, 1)
    one = counted(client, "/inbox/?tab=all")
    cases(client, deployed, 9)
    assert counted(client, "/inbox/?tab=all") == one
    monkeypatch.setattr(views, "COUNT_CAP", 5)
    monkeypatch.setattr(views, "PAGE", 4)
    page = client.get("/inbox/?tab=all").get_data(as_text=True)
    assert "(5+)" in page and 'rel="next"' in page


def test_a_cursor_names_a_place_in_the_order_and_refuses_what_it_did_not_hand_out():
    from web import paging

    keys = [paging.Key(Designation.listed_on, date, descending=True), paging.Key(Designation.id, int)]
    assert paging.decode(paging.encode([date(2026, 3, 2), 42]), keys) == [date(2026, 3, 2), 42]
    times = [paging.Key(Designation.id, datetime, nullable=True)]
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=clock.SHANGHAI)
    assert paging.decode(paging.encode([moment]), times) == [moment]
    assert paging.decode(paging.encode([None]), times) == [None]
    for bad in ("", "%%%", paging.encode(["x", 1]), paging.encode([{"d": "x"}, 1]), paging.encode([1]),
                paging.encode([{"d": "2026-01-01"}, 2**70]), "A" * 2000):
        with pytest.raises(paging.BadCursor):
            paging.decode(bad, keys)


def pool_and_ledger(n, start=0):
    """Cultivation pool entries and award lines, as the steps write them (rows only)."""
    from engine.green.awards import Award
    from engine.green.cultivation import CultivationPoolEntry

    designations(n, start)
    for d in db.session.scalars(db.select(Designation).order_by(Designation.id).offset(start)):
        db.session.add(CultivationPoolEntry(organisation_id=d.organisation_id, unit_type="green_factory",
                                            jurisdiction="620100", year=2026, plan={"goals": "g"}, status="nominated",
                                            nominated_on=date(2026, 3, 2), instance_id=d.id, updated_at=clock.now()))
        db.session.add(Award(organisation_id=d.organisation_id, designation_id=d.id, year=2026, level="municipal",
                             unit_type="green_factory", jurisdiction="620100", amount=100, reason="r",
                             decided_at=clock.now()))
    db.session.commit()


def test_the_cultivation_pool_and_the_award_ledger_page_by_cursor_in_constant_statements(client, monkeypatch):
    from web.awards import views as awards
    from web.cultivation import views as cultivation

    add_user("prov", "provincial", None, password="correct-horse")
    sign_in(client, "prov")
    pool_and_ledger(1)
    one = {path: counted(client, path) for path in ("/cultivation/", "/awards/")}
    pool_and_ledger(9, start=1)
    assert {path: counted(client, path) for path in ("/cultivation/", "/awards/")} == one
    monkeypatch.setattr(cultivation, "PAGE", 3)
    monkeypatch.setattr(awards, "PAGE", 3)
    for path in ("/cultivation/?city=620100", "/awards/?year=2026"):
        seen = walk(client, path, r"单位\d+")
        assert sorted(set(seen)) == sorted(f"单位{i}" for i in range(10)), path


def test_the_public_lists_run_in_art_2s_order_of_unit_types_newest_listing_first(client, monkeypatch):
    from web.designations import views

    monkeypatch.setattr(views, "PAGE", 2)  # the order holds across pages too
    for n, (level, unit_type, listed_on) in enumerate([
            ("municipal", "water_saving_enterprise", date(2026, 2, 1)), ("municipal", "green_factory", date(2025, 1, 1)),
            ("national", "green_park", date(2025, 6, 1)), ("municipal", "green_factory", date(2026, 1, 1)),
            ("provincial", "green_supply_chain", date(2024, 3, 1))]):
        designation_row(code(n), name=f"单位{n}", level=level, unit_type=unit_type, listed_on=listed_on)
    assert walk(client, "/public/lists?level=municipal") == ["单位3", "单位1", "单位0"]  # green factories (newest first), then water-saving enterprises
