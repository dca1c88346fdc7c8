"""Enterprise and agency accounts bound to their organisation (单位注册, issue 16 point 1):
an organisation registers itself on the page, the city its registered address lies in
confirms it, and only then do its accounts apply; every case they start is the
organisation's city's, from whatever page or API call; colleagues share its cases."""
from __future__ import annotations

import re

import pytest
from creation import deploy
from webclient import post_form, sign_in

from engine.db import db
from engine.green import registrations
from engine.green.agencies import Agency
from engine.green.models import Organisation, User
from engine.models import HumanTask, ProcessInstance
from web.accounts.users import add_user

PASSWORD = "correct-horse"
ENTERPRISE = {
    "role": "applicant", "name": "兰州绿源制造有限公司", "credit_code": "91620100MA74XJ2P0P",
    "legal_representative": "张建军", "address": "甘肃省兰州市城关区雁滩路 88 号", "division_code": "620102",
    "contact_person": "李晓梅", "mobile": "13919312345", "account": "lvyuan", "display_name": "李晓梅",
    "password": PASSWORD,
}


def register(client, **changes):
    return post_form(client, "/register", {**ENTERPRISE, **changes}, page="/register")


def read(query):
    """What the pages committed: the test's own read transaction ends first."""
    db.session.rollback()
    return db.session.scalar(query)


def read_all(query):
    db.session.rollback()
    return db.session.scalars(query).all()


def officials():
    add_user("lz", "municipal", "620100", password=PASSWORD)
    add_user("ts", "municipal", "620500", password=PASSWORD)
    add_user("xq", "municipal", "620171", password=PASSWORD)


def confirm(client, official: str, account: str = "lvyuan"):
    registration_id = read(db.select(User.registration_id).where(User.name == account))
    client.post("/logout", data={"csrf_token": ""})
    client.delete_cookie("session")
    sign_in(client, official)
    return post_form(client, f"/registrations/{registration_id}/confirm", page="/registrations/")


def start_on_page(client):
    return post_form(client, "/cases/new", {"process": "municipal_creation"}, page="/cases/new")


def as_user(client, name):
    client.delete_cookie("session")
    sign_in(client, name)


def token_of(client, name) -> dict:
    """The user makes their own API token on their account page."""
    as_user(client, name)
    page = post_form(client, "/account/token", {"days": "30"}, page="/account").get_data(as_text=True)
    return {"Authorization": "Bearer " + re.search(r'id="new-token">([^<]+)<', page).group(1)}


def test_an_enterprise_registers_and_applies_once_its_city_confirms(client, runtime):
    deploy(runtime)
    officials()
    r = register(client)
    assert r.status_code == 303 and r.headers["Location"].endswith("/organisation")
    page = client.get("/organisation").get_data(as_text=True)
    assert "待市州确认" in page and "兰州市" in page and "91620100MA74XJ2P0P" in page and "张建军" in page
    # not yet: refused on the server with the reason, on the page
    r = start_on_page(client)
    assert r.status_code == 422 and "尚待兰州市确认" in r.get_data(as_text=True)
    assert read(db.select(db.func.count()).select_from(ProcessInstance)) == 0

    # another city neither sees nor confirms it
    as_user(client, "ts")
    assert "兰州绿源制造有限公司" not in client.get("/registrations/").get_data(as_text=True)
    assert confirm(client, "ts").status_code == 403
    # the applicant cannot confirm itself
    as_user(client, "lvyuan")
    assert client.get("/registrations/").status_code == 403

    # its own city does
    as_user(client, "lz")
    assert "兰州绿源制造有限公司" in client.get("/registrations/").get_data(as_text=True)
    assert confirm(client, "lz").status_code == 303
    org = read(db.select(Organisation).where(Organisation.credit_code == "91620100MA74XJ2P0P"))
    assert org.name == "兰州绿源制造有限公司" and org.jurisdiction == "620100"

    as_user(client, "lvyuan")
    assert "已确认" in client.get("/organisation").get_data(as_text=True)
    r = start_on_page(client)
    assert r.status_code == 303
    case = read(db.select(ProcessInstance))
    assert case.jurisdiction == "620100" and case.started_by == "lvyuan"


def test_the_api_starts_the_organisations_cases_in_its_city_only(client, runtime):
    deploy(runtime)
    officials()
    register(client)
    confirm(client, "lz")
    firm = token_of(client, "lvyuan")
    # without a city: the organisation's
    r = client.post("/api/v1/instances", json={"process": "municipal_creation", "data": {}}, headers=firm)
    assert r.status_code == 201 and r.json["jurisdiction"] == "620100"
    # the same city named: the same
    r = client.post("/api/v1/instances", json={"process": "municipal_creation", "data": {"jurisdiction": "620100"}},
                    headers=firm)
    assert r.status_code == 201 and r.json["jurisdiction"] == "620100"
    # another city: refused
    r = client.post("/api/v1/instances", json={"process": "municipal_creation", "data": {"jurisdiction": "620500"}},
                    headers=firm)
    assert r.status_code == 403
    # and the city's review is the city's: 兰州's official sees the case, 天水's does not
    lz, ts = token_of(client, "lz"), token_of(client, "ts")
    case = client.get("/api/v1/instances", headers=firm).json["instances"][0]["id"]
    assert client.get(f"/api/v1/instances/{case}", headers=lz).status_code == 200
    assert client.get(f"/api/v1/instances/{case}", headers=ts).status_code == 404


@pytest.mark.parametrize(("division", "city", "city_name"), [
    ("620102", "620100", "兰州市"),  # 城关区: a district maps to its city
    ("620100", "620100", "兰州市"),  # the city's own code
    ("620171", "620171", "兰州新区"),  # 兰州新区 is its own city-level authority
    ("622901", "622900", "临夏回族自治州"),  # 临夏市 in its autonomous prefecture
    ("620502", "620500", "天水市"),
])
def test_the_registered_address_decides_the_city(client, division, city, city_name):
    officials()
    assert register(client, division_code=division).status_code == 303
    row = read(db.select(registrations.Registration))
    assert row.jurisdiction == city
    assert city_name in client.get("/organisation").get_data(as_text=True)


def test_lanzhou_new_area_confirms_its_own_and_lanzhou_does_not(client):
    officials()
    register(client, division_code="620171")
    assert confirm(client, "lz").status_code == 403
    assert confirm(client, "xq").status_code == 303


@pytest.mark.parametrize("division", ["610102", "62010", "6201021", "629900", "abcdef", ""])
def test_a_division_outside_gansu_or_malformed_is_refused(client, division):
    r = register(client, division_code=division)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert 'id="error-division_code"' in page
    assert 'value="兰州绿源制造有限公司"' in page and 'value="91620100MA74XJ2P0P"' in page  # entries kept
    assert read(db.select(db.func.count()).select_from(User)) == 0


def test_bad_particulars_get_field_messages_and_the_entries_stay(client):
    r = register(client, credit_code="91620100MA74XJ2P0Q", legal_representative="某某", contact_person="无",
                  mobile="1391931234", name="测试公司", account="x", password="short")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    for field in ("credit_code", "legal_representative", "contact_person", "mobile", "name", "account", "password"):
        assert f'id="error-{field}"' in page, field
    assert "统一社会信用代码应为18位，且校验码正确" in page and "11位中国大陆手机号码" in page
    assert 'value="91620100MA74XJ2P0Q"' in page and 'value="1391931234"' in page and 'value="某某"' in page
    assert read(db.select(db.func.count()).select_from(registrations.Registration)) == 0
    # one digit more: a mobile number; the right check character: a credit code
    r = register(client, mobile="13919312345")
    assert r.status_code == 303


def test_an_organisation_registers_once(client):
    officials()
    assert register(client).status_code == 303
    client.delete_cookie("session")
    r = register(client, account="lvyuan2")
    assert r.status_code == 422 and "该统一社会信用代码已注册" in r.get_data(as_text=True)
    r = register(client, account="lvyuan", credit_code="91620102MA7JCJT0Q0")
    assert r.status_code == 422 and "该登录名已被使用" in r.get_data(as_text=True)


def test_a_refused_registration_names_the_reason_and_still_cannot_apply(client, runtime):
    deploy(runtime)
    officials()
    register(client)
    registration_id = read(db.select(User.registration_id).where(User.name == "lvyuan"))
    as_user(client, "lz")
    r = post_form(client, f"/registrations/{registration_id}/refuse", {"reason": " "}, page="/registrations/")
    assert r.status_code == 422 and "请填写不予确认的理由" in r.get_data(as_text=True)
    r = post_form(client, f"/registrations/{registration_id}/refuse", {"reason": "营业执照地址与注册地址不符"},
                  page="/registrations/")
    assert r.status_code == 303
    as_user(client, "lvyuan")
    assert "营业执照地址与注册地址不符" in client.get("/organisation").get_data(as_text=True)
    assert start_on_page(client).status_code == 422
    # decided once
    as_user(client, "lz")
    assert post_form(client, f"/registrations/{registration_id}/confirm", page="/registrations/").status_code == 409


def test_colleagues_share_the_organisations_cases_and_tasks(client, runtime):
    deploy(runtime)
    officials()
    register(client)
    # a pending organisation adds nobody
    r = post_form(client, "/organisation/colleagues", {"account": "lvyuan-wang", "display_name": "王芳",
                                                       "password": PASSWORD}, page="/organisation")
    assert r.status_code == 403
    confirm(client, "lz")
    as_user(client, "lvyuan")
    r = post_form(client, "/organisation/colleagues", {"account": "lvyuan-wang", "display_name": "匿名",
                                                       "password": PASSWORD}, page="/organisation")
    assert r.status_code == 422 and 'id="error-display_name"' in r.get_data(as_text=True)
    r = post_form(client, "/organisation/colleagues", {"account": "lvyuan-wang", "display_name": "王芳",
                                                       "password": PASSWORD}, page="/organisation")
    assert r.status_code == 303
    assert start_on_page(client).status_code == 303
    case = read(db.select(ProcessInstance))
    task = read(db.select(HumanTask).where(HumanTask.instance_id == case.id))
    assert task.assignee == "lvyuan"

    as_user(client, "lvyuan-wang")
    assert client.get(f"/cases/{case.id}").status_code == 200
    assert task.id in client.get("/inbox/").get_data(as_text=True)
    assert client.get(f"/tasks/{task.id}").status_code == 200
    # a case the colleague starts is the organisation's city's too
    assert start_on_page(client).status_code == 303
    assert {c.jurisdiction for c in read_all(db.select(ProcessInstance))} == {"620100"}
    # another organisation's account sees none of it
    add_user("other", "applicant", password=PASSWORD)
    as_user(client, "other")
    assert client.get(f"/cases/{case.id}").status_code == 404
    assert client.get(f"/tasks/{task.id}").status_code in (403, 404)


def test_an_agency_registers_and_its_city_enters_it_into_the_agencies(client):
    officials()
    register(client, role="agency", name="甘肃绿评科技有限公司", credit_code="91620100MA71GLP0EL",
             account="gsgreen")
    assert read(db.select(Agency)) is None
    confirm(client, "lz", "gsgreen")
    agency = read(db.select(Agency))
    assert (agency.name, agency.legal_representative, agency.jurisdiction, agency.account) == \
        ("甘肃绿评科技有限公司", "张建军", "620100", "gsgreen")


def test_a_case_that_needs_a_city_and_has_none_is_refused_at_start(client, runtime):
    deploy(runtime)
    # an account an administrator made without an organisation has no city to give
    add_user("firm", "applicant", password=PASSWORD)
    sign_in(client, "firm")
    r = start_on_page(client)
    assert r.status_code == 422 and "须由所在市州办理" in r.get_data(as_text=True)
    assert read(db.select(db.func.count()).select_from(ProcessInstance)) == 0
    firm = token_of(client, "firm")
    r = client.post("/api/v1/instances", json={"process": "municipal_creation", "data": {}}, headers=firm)
    assert r.status_code == 400 and "须由所在市州办理" in r.json["error"]
    # given its city, it starts
    r = client.post("/api/v1/instances", json={"process": "municipal_creation", "data": {"jurisdiction": "620100"}},
                    headers=firm)
    assert r.status_code == 201
    # a provincial round gives each city its own task: it needs no city of its own
    add_user("prov", "provincial", password=PASSWORD)
    r = client.post("/api/v1/instances", json={"process": "provincial_selection", "data": {}},
                    headers=token_of(client, "prov"))
    assert r.status_code == 201 and r.json["jurisdiction"] is None


def test_the_demos_enterprises_and_agencies_are_registered_and_confirmed(app):
    from web.demo.seed import seed

    seed()
    for name, city in (("jinchuan-group", "620100"), ("tianshui-electric", "620500"),
                       ("agency-gsgreen", "620100"), ("agency-lzhk", "620100")):
        user = read(db.select(User).where(User.name == name))
        row = registrations.registration_of(user)
        assert (row.status, row.jurisdiction) == ("confirmed", city), name
    started = read_all(db.select(ProcessInstance).where(ProcessInstance.started_by == "tianshui-electric"))
    assert {c.jurisdiction for c in started} == {"620500"}
