"""Personal data only for those who need it: a real-name reporter's (Art 24) and an
objector's (Art 15) name, contact and evidence, and whatever a form marks
`"x-personal": true`, are read unmasked by the city handling the case and by the
province, each read audited; analysts, administrators, the consulted departments,
other cities and the unit reported on see them masked or not at all."""
from __future__ import annotations

import io
import json
import re
from datetime import datetime

import pytest
from conftest import ROOT
from jsonschema import Draft202012Validator
from test_lifecycle import file_table, list_unit, world  # noqa: F401 (a fixture)
from test_notices_web import objection, on_notice  # noqa: F401 (a fixture)
from test_revocation import CITY, INTAKE, REPORTED, act, designate, procedures  # noqa: F401 (a fixture)
from webclient import csrf_token, sign_in
from werkzeug.security import generate_password_hash

from engine import clock, personal
from engine.db import db
from engine.green.models import Attachment, User
from engine.models import AuditEvent, HumanTask
from engine.timers import run_until
from web.accounts.users import add_user, issue_token

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
REPORT = {"reporter_name": "张三", "contact": "13812345678", "target_kind": "unit",
          "target_name": "兰州绿源制造有限公司", "target_credit_code": "", "city": "620100",
          "description": "该公司在动态管理表中虚报能耗数据，与实际用电量明显不符。"}
OTHERS = (("ana", "analyst", None), ("eco", "ecology", None), ("root", "admin", None))


def reads() -> list[tuple[str, dict]]:
    db.session.commit()  # a fresh snapshot: the pages wrote in their own sessions
    return [(e.actor, json.loads(e.detail)) for e in db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action == "personal.read").order_by(AuditEvent.seq))]


def signed_in(app, name):
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client


def with_password(name, role, city=None):
    user = db.session.scalar(db.select(User).where(User.name == name))
    if user is None:
        add_user(name, role, city, password="correct-horse")
    else:  # made by a fixture without one
        user.password_hash = generate_password_hash("correct-horse")
        db.session.commit()


def report(app) -> int:
    """A real-name report sent on the public form, with its evidence."""
    client = app.test_client()
    r = client.post("/public/complaint", content_type="multipart/form-data", data={
        **REPORT, "csrf_token": csrf_token(client, "/public/complaint"), "evidence": [(io.BytesIO(PDF), "证据.pdf")]})
    assert r.status_code == 201
    return int(re.search(r'id="receipt-number">(\d+)<', r.get_data(as_text=True)).group(1))


@pytest.fixture
def reported(app, procedures):
    for name, role, city in OTHERS:
        add_user(name, role, city, password="correct-horse")
    case_id = report(app)
    evidence = db.session.scalar(db.select(Attachment.id).where(Attachment.instance_id == case_id))
    return case_id, evidence


def test_the_city_handling_a_report_and_the_province_read_the_reporter_and_each_read_is_audited(app, reported):
    case_id, evidence = reported
    for name in ("lz", "prov"):
        client = signed_in(app, name)
        page = client.get(f"/cases/{case_id}").get_data(as_text=True)
        assert "张三" in page and "13812345678" in page and f'href="/attachments/{evidence}"' in page
        assert client.get(f"/attachments/{evidence}").data == PDF
    assert reads() == [
        ("lz", {"case": case_id, "via": "case page", "fields": ["reporter"], "attachments": [evidence]}),
        ("lz", {"case": case_id, "via": "download", "attachment": evidence}),
        ("prov", {"case": case_id, "via": "case page", "fields": ["reporter"], "attachments": [evidence]}),
        ("prov", {"case": case_id, "via": "download", "attachment": evidence}),
    ]


def test_analysts_administrators_other_cities_and_departments_never_read_the_reporter(app, reported):
    case_id, evidence = reported
    for name in ("ana", "root"):  # they may open every case, but not the reporter
        client = signed_in(app, name)
        page = client.get(f"/cases/{case_id}").get_data(as_text=True)
        assert "张**" in page and "138****5678" in page and "张三" not in page and "13812345678" not in page
        assert "/attachments/" not in page and 'id="evidence-withheld"' in page
        assert client.get(f"/attachments/{evidence}").status_code == 404
    for name in ("ts", "eco"):  # another city, a consulted department: not even the case
        client = signed_in(app, name)
        assert client.get(f"/cases/{case_id}").status_code == 404
        assert client.get(f"/attachments/{evidence}").status_code == 404
    assert reads() == []


def test_the_verification_task_files_the_report_unmasked_for_the_city_alone_and_audits_it_once(app, reported):
    case_id, evidence = reported
    task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case_id))
    page = signed_in(app, "lz").get(f"/tasks/{task}").get_data(as_text=True)
    assert "张三" in page and "13812345678" in page and f'href="/attachments/{evidence}"' in page  # its case file
    page = signed_in(app, "root").get(f"/tasks/{task}").get_data(as_text=True)  # may act, yet is not the authority
    assert "张**" in page and "张三" not in page and "/attachments/" not in page and 'id="evidence-withheld"' in page
    assert reads() == [("lz", {"case": case_id, "via": "task page", "fields": ["reporter"], "attachments": [evidence]})]


def test_the_api_gives_the_reporter_to_the_handling_city_alone_and_never_in_a_list(app, reported, client):
    case_id, _evidence = reported
    city = {"Authorization": f"Bearer {issue_token(db.session.scalar(db.select(User).where(User.name == 'lz')), None)}"}
    analyst = {"Authorization": f"Bearer {issue_token(db.session.scalar(db.select(User).where(User.name == 'ana')), None)}"}
    assert client.get(f"/api/v1/instances/{case_id}", headers=city).json["data"]["reporter"] == \
        {"name": "张三", "contact": "13812345678"}
    assert client.get(f"/api/v1/instances/{case_id}", headers=analyst).json["data"]["reporter"] == \
        {"name": "张**", "contact": "138****5678"}
    [listed] = client.get("/api/v1/instances?process=complaint", headers=city).json["instances"]
    assert listed["data"]["reporter"] == {"name": "张**", "contact": "138****5678"}
    assert reads() == [("lz", {"case": case_id, "via": "api", "fields": ["reporter"]})]


def test_the_unit_reported_on_does_not_learn_who_reported_it(app, procedures, client):
    designation = designate(procedures, level="municipal")
    case = procedures.start("complaint", REPORTED, INTAKE, "620100")
    act(procedures, case.id, "Task_verify", {"confirmed": True, "findings": "部分指标数据填报有误。",
                                             "measure": "rectification", "designation_id": designation}, CITY)
    act(procedures, case.id, "Task_reply", {"reply": "已责令整改。"}, CITY)
    firm = signed_in(app, "firm")  # the unit's own account now has the rectification order in this case
    page = firm.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "张**" in page and "张三" not in page and "13800000000" not in page

    token = issue_token(db.session.scalar(db.select(User).where(User.name == "firm")), None)
    task = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case.id))
    done = client.post(f"/api/v1/tasks/{task.id}/complete", headers={"Authorization": f"Bearer {token}"}, json={
        "data": {"measures": "已更正动态管理表中的能耗数据并加强计量管理。", "completed_on": "2026-03-20",
                 "contact": "王工 0931-8123456"}}).json
    assert done["status"] == "running" and done["data"]["reporter"] == {"name": "张**", "contact": "138****0000"}


def test_the_province_investigating_objections_reads_the_objector_and_no_one_else_does(app, on_notice):
    case, units, notice = on_notice
    public = app.test_client()
    r = objection(public, notice.id, {"credit_code": units["ts_c"], "real_name": "张三", "organisation": "天水某环保协会",
                                      "contact": "13800000000", "reasons": "该企业去年发生环境污染事故，被生态环境部门处罚。"},
                  [("处罚决定书.pdf", PDF)])
    assert r.status_code == 201
    db.session.rollback()
    evidence = db.session.scalar(db.select(Attachment.id).where(Attachment.instance_id == case.id))
    run_until(app.extensions["green_ladder.runtime"], datetime(2026, 4, 11, 0, 0, 2, tzinfo=clock.SHANGHAI))
    investigate = db.session.scalar(db.select(HumanTask).where(HumanTask.element == "Task_investigate"))
    for name, role in (("prov", "provincial"), ("root", "admin"), ("ana", "analyst")):
        with_password(name, role)

    province = signed_in(app, "prov")
    page = province.get(f"/tasks/{investigate.id}").get_data(as_text=True)
    assert "张三（天水某环保协会）" in page and "13800000000" in page and f'href="/attachments/{evidence}"' in page
    [(who, read)] = reads()
    assert who == "prov" and read["via"] == "task page" and read["case"] == case.id and len(read["objections"]) == 1

    admin = signed_in(app, "root")  # may act on any task, yet is not the authority
    page = admin.get(f"/tasks/{investigate.id}").get_data(as_text=True)
    assert "张**" in page and "138****0000" in page and "张三" not in page and "/attachments/" not in page
    assert "被生态环境部门处罚" in page  # what is objected to is no secret
    assert admin.get(f"/attachments/{evidence}").status_code == 404
    analyst = signed_in(app, "ana")
    page = analyst.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "张三" not in page and "13800000000" not in page and 'id="evidence-withheld"' in page
    assert analyst.get(f"/attachments/{evidence}").status_code == 404
    assert [who for who, _read in reads()] == ["prov"]


def test_a_units_contact_person_is_masked_for_analysts_and_read_by_the_unit_and_its_city(app, world):
    designation_id, lifecycle = list_unit(world)
    run_until(world, datetime(2027, 1, 1, 0, 0, 2, tzinfo=clock.SHANGHAI))
    file_table(world, lifecycle.id)
    for name, role, city in (("firm", "applicant", None), ("lz", "municipal", "620100"), ("ana", "analyst", None)):
        with_password(name, role, city)
    for name in ("firm", "lz"):
        page = signed_in(app, name).get(f"/cases/{lifecycle.id}").get_data(as_text=True)
        assert "李明" in page and "0931-8888888" in page
    page = signed_in(app, "ana").get(f"/cases/{lifecycle.id}").get_data(as_text=True)
    assert "李**" in page and "093****8888" in page and "李明" not in page and "0931-8888888" not in page
    assert [(who, read["fields"]) for who, read in reads()] == [("firm", ["contact_person", "contact_phone"]),
                                                               ("lz", ["contact_person", "contact_phone"])]


def test_the_public_report_form_describes_the_data_a_report_starts_with():
    """The intake builds the case's data by hand; the form that marks its personal fields must fit it."""
    schema = json.loads((ROOT / "forms" / "complaint_report.json").read_text())
    assert not list(Draft202012Validator(schema).iter_errors(REPORTED))
    assert personal.marked_paths(schema) == {("reporter",)}


@pytest.mark.parametrize("value,shown", [
    ("张三", "张**"), ("13812345678", "138****5678"), ("0931-8123456", "093****3456"),
    ("zhang.san@example.com", "z***@example.com"), ({"name": "李四", "phone": "138 1234 5678"},
                                                      {"name": "李**", "phone": "138****5678"}), (42, "***"), ("", ""),
])
def test_masked_values_keep_just_enough_to_tell_them_apart(value, shown):
    assert personal.mask(value) == shown
