"""Withdrawing an application and ending a stalled case (issue 16 point 7): the applicant
withdraws its own application before the city decides, an official of the case's city or
the province ends a case nothing has moved for 30 days; each with its reason, audited and
shown on the case page."""
from __future__ import annotations

import re
from datetime import timedelta

from creation import APPLICATION, deploy, evaluation
from factories import registered
from webclient import post_form, sign_in

from engine import clock
from engine.db import db
from engine.green.models import User
from engine.models import AuditEvent, HumanTask, ProcessInstance
from web.accounts.users import actor_of, add_colleague, add_user

PASSWORD = "correct-horse"


def read(query):
    db.session.rollback()  # what the pages committed, not this test's snapshot
    return db.session.scalar(query)


def actor(name):
    return actor_of(read(db.select(User).where(User.name == name)))


def task_of(case_id) -> HumanTask:
    return read(db.select(HumanTask).where(HumanTask.instance_id == case_id))


def application_in_review(client, runtime) -> int:
    """A registered 兰州 enterprise applies on the page and hands in its self-evaluation:
    the city's review is next. Accounts: firm (the enterprise), lz and ts (two cities), prov."""
    deploy(runtime)
    registered("firm")
    add_user("lz", "municipal", "620100", password=PASSWORD)
    add_user("ts", "municipal", "620500", password=PASSWORD)
    add_user("prov", "provincial", password=PASSWORD)
    sign_in(client, "firm")
    assert post_form(client, "/cases/new", {"process": "municipal_creation"}, page="/cases/new").status_code == 303
    case = read(db.select(ProcessInstance.id))
    runtime.complete(task_of(case).id, APPLICATION, actor("firm"))
    runtime.complete(task_of(case).id, evaluation("green_factory", case), actor("firm"))
    assert task_of(case).element == "Task_municipal_review"
    return case


def as_user(client, name):
    client.delete_cookie("session")
    sign_in(client, name)


def stop(client, case, action, reason):
    return post_form(client, f"/cases/{case}/{action}", {"reason": reason})  # the token of any page the user has open


def token_of(client, name) -> dict:
    as_user(client, name)
    page = post_form(client, "/account/token", {"days": "365"}, page="/account").get_data(as_text=True)
    return {"Authorization": "Bearer " + re.search(r'id="new-token">([^<]+)<', page).group(1)}


def test_the_applicant_withdraws_before_the_city_decides(client, runtime):
    case = application_in_review(client, runtime)
    page = client.get(f"/cases/{case}").get_data(as_text=True)
    assert 'id="withdraw"' in page and 'id="end"' not in page
    # a reason is needed: three characters are not one, four are
    for reason in ("", "   ", "不申报"):
        r = stop(client, case, "withdraw", reason)
        assert r.status_code == 422 and "请说明理由（至少4个字）" in r.get_data(as_text=True)
    assert read(db.select(ProcessInstance.status).where(ProcessInstance.id == case)) == "running"
    r = stop(client, case, "withdraw", "本年度暂不申报")
    assert r.status_code == 303
    assert read(db.select(ProcessInstance.status).where(ProcessInstance.id == case)) == "cancelled"
    assert task_of(case) is None  # gone from the city's inbox
    event = read(db.select(AuditEvent).where(AuditEvent.instance_id == case, AuditEvent.action == "withdraw"))
    assert event.actor == "firm" and "本年度暂不申报" in event.detail
    # shown in the case, to the applicant and to the city
    for who in ("firm", "lz"):
        as_user(client, who)
        page = client.get(f"/cases/{case}").get_data(as_text=True)
        assert "撤回申请" in page and "理由：本年度暂不申报" in page and "已撤销" in page
    as_user(client, "firm")
    assert stop(client, case, "withdraw", "本年度暂不申报").status_code == 409  # once


def test_a_returned_application_may_be_withdrawn_a_decided_one_not(client, runtime):
    case = application_in_review(client, runtime)
    runtime.complete(task_of(case).id, {"decision": "return", "opinion": "请补充能源计量器具配备情况。"}, actor("lz"))
    assert task_of(case).element == "Task_submit_report"  # the applicant's again: not decided
    firm = token_of(client, "firm")
    r = client.post(f"/api/v1/instances/{case}/withdraw", json={"reason": "资料不全，明年再报"}, headers=firm)
    assert r.status_code == 200 and r.json["status"] == "cancelled"

    # the city approves: the unit is listed, the case is over, nothing to withdraw
    db.session.rollback()
    clock.current().advance(timedelta(hours=1))
    other = runtime.start("municipal_creation", {}, actor("firm"))
    assert other.jurisdiction == "620100"
    runtime.complete(task_of(other.id).id, APPLICATION, actor("firm"))
    runtime.complete(task_of(other.id).id, evaluation("green_factory", other.id, dict.fromkeys(
        [i["indicator"] for i in evaluation("green_factory", other.id)["indicators"]], 100)), actor("firm"))
    runtime.complete(task_of(other.id).id, {"decision": "reject", "opinion": "不符合条件。"}, actor("lz"))
    r = client.post(f"/api/v1/instances/{other.id}/withdraw", json={"reason": "资料不全，明年再报"}, headers=firm)
    assert r.status_code == 409


def test_only_the_applicant_and_its_colleagues_withdraw(client, runtime):
    case = application_in_review(client, runtime)
    # the city may not withdraw the applicant's application
    as_user(client, "lz")
    assert 'id="withdraw"' not in client.get(f"/cases/{case}").get_data(as_text=True)
    assert stop(client, case, "withdraw", "代企业撤回申请").status_code == 403
    # another enterprise does not even see it
    registered("other", code="91620102MA7JCJT0Q0", org="兰州另一制造有限公司")
    as_user(client, "other")
    assert stop(client, case, "withdraw", "代企业撤回申请").status_code == 404
    # a colleague of the same enterprise may
    add_colleague(read(db.select(User).where(User.name == "firm")), "firm-wang", PASSWORD, "王芳")
    as_user(client, "firm-wang")
    assert stop(client, case, "withdraw", "公司决定撤回申请").status_code == 303
    event = read(db.select(AuditEvent).where(AuditEvent.instance_id == case, AuditEvent.action == "withdraw"))
    assert event.actor == "firm-wang"


def test_an_official_ends_a_case_stalled_for_thirty_days(client, runtime):
    case = application_in_review(client, runtime)
    moved = read(db.select(ProcessInstance.updated_at).where(ProcessInstance.id == case))
    clock.current().set(moved + timedelta(days=30) - timedelta(minutes=1))
    as_user(client, "lz")
    assert 'id="end"' in client.get(f"/cases/{case}").get_data(as_text=True)
    r = stop(client, case, "end", "企业长期未响应，终止办理")
    assert r.status_code == 409 and "未停滞" in r.get_data(as_text=True)
    assert "企业长期未响应" in r.get_data(as_text=True)  # the reason typed is kept
    clock.current().set(moved + timedelta(days=30))
    # another city does not see it; the applicant does not end its own case (it withdraws)
    as_user(client, "ts")
    assert stop(client, case, "end", "企业长期未响应，终止办理").status_code == 404
    firm = token_of(client, "firm")
    assert client.post(f"/api/v1/instances/{case}/end", json={"reason": "企业长期未响应"}, headers=firm).status_code == 403
    as_user(client, "lz")
    assert stop(client, case, "end", "无").status_code == 422
    assert stop(client, case, "end", "企业长期未响应，终止办理").status_code == 303
    page = client.get(f"/cases/{case}").get_data(as_text=True)
    assert "终止办理" in page and "理由：企业长期未响应，终止办理" in page
    event = read(db.select(AuditEvent).where(AuditEvent.instance_id == case, AuditEvent.action == "end"))
    assert event.actor == "lz"


def test_the_province_ends_a_stalled_case_by_the_api(client, runtime):
    case = application_in_review(client, runtime)
    prov = token_of(client, "prov")
    r = client.post(f"/api/v1/instances/{case}/end", json={"reason": "长期停滞，终止办理"}, headers=prov)
    assert r.status_code == 409
    clock.current().advance(timedelta(days=31))
    r = client.post(f"/api/v1/instances/{case}/end", json={}, headers=prov)
    assert r.status_code == 422 and "reason" in r.json["fields"]
    r = client.post(f"/api/v1/instances/{case}/end", json={"reason": "长期停滞，终止办理"}, headers=prov)
    assert r.status_code == 200 and r.json["status"] == "cancelled"
