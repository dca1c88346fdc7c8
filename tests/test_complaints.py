"""Real-name reports from the public (Art 24): intake with evidence, the
receipt, the city's verification and reply, and who may read the evidence."""
from __future__ import annotations

import hashlib
import io
import re

import pytest
from conftest import ROOT
from webclient import csrf_token, sign_in

from engine.db import db
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor
from web.accounts.users import add_user

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
COMPLAINT_MODELS = ("complaint.bpmn", "rectification.bpmn", "revocation.bpmn", "revocation_grounds.dmn", "agency_supervision.bpmn")
GOOD = {"reporter_name": "张三", "contact": "13800000000", "target_kind": "unit",
        "target_name": "兰州某化工有限公司", "target_credit_code": "", "city": "620100",
        "description": "该公司在动态管理表中虚报能耗数据，与实际用电量明显不符。"}


@pytest.fixture
def intake(app, runtime, tmp_path):
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    # a confirmed report's measure runs the rectification or revocation procedure
    runtime.registry.deploy({name: (ROOT / "processes" / name).read_bytes() for name in COMPLAINT_MODELS})
    return app


def submit(client, fields, files):
    data = {**fields, "csrf_token": csrf_token(client, "/public/complaint"),
            "evidence": [(io.BytesIO(content), name) for name, content in files]}
    return client.post("/public/complaint", data=data, content_type="multipart/form-data")


def test_a_report_needs_a_real_name_contact_and_evidence_and_keeps_what_was_typed(intake):
    client = intake.test_client()
    assert client.get("/public/complaint").status_code == 200
    assert client.post("/public/complaint", data=GOOD).status_code == 400  # no CSRF token
    r = submit(client, {**GOOD, "target_name": "", "target_credit_code": "91620100MA74XJ2P0Q"},
               [("report.pdf", b"just text, not a PDF")])
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    for name in ("target_name", "target_credit_code", "evidence"):
        assert f'id="error-{name}"' in page, name
    assert 'value="张三"' in page and "虚报能耗数据" in page
    assert db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance)) == 0


@pytest.mark.parametrize("name", ["匿名", "无", "无无无", "某某", "张某某", "test", "Test 123", "测试", "不详", "a", "12345"])
def test_a_placeholder_is_not_a_real_name(intake, name):
    client = intake.test_client()
    r = submit(client, {**GOOD, "reporter_name": name}, [("evidence.pdf", PDF)])
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="error-reporter_name"' in page and "不接受“匿名”“无”“某某”" in page
    assert 'id="error-contact"' not in page and "虚报能耗数据" in page  # the rest is kept
    assert db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance)) == 0


@pytest.mark.parametrize("contact", ["无无无无无", "12345678901", "1380000000", "138000000001", "23800000000",
                                     "8123456", "zhang@", "zhang@mail", "联系我"])
def test_a_contact_must_reach_someone(intake, contact):
    client = intake.test_client()
    r = submit(client, {**GOOD, "contact": contact}, [("evidence.pdf", PDF)])
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="error-contact"' in page and 'id="error-reporter_name"' not in page
    assert f'value="{contact}"' in page


@pytest.mark.parametrize(("name", "contact"), [
    ("张三", "13800000000"),  # a mainland mobile
    ("欧阳娜娜", "+86 139 1931 2345"),
    ("王五", "0931-8123456"),  # a landline with its area code
    ("Li Wei", "09318123456"),
    ("马丽", "mali@example.com.cn"),
    ("兰州市环保志愿者协会", "0931-8123456-801"),  # an organisation reports too, an extension is fine
])
def test_a_real_name_and_contact_are_accepted(intake, name, contact):
    client = intake.test_client()
    r = submit(client, {**GOOD, "reporter_name": name, "contact": contact}, [("evidence.pdf", PDF)])
    assert r.status_code == 201, r.get_data(as_text=True)


def test_a_report_reaches_the_city_is_answered_and_the_reporter_sees_the_reply(intake, runtime):
    client = intake.test_client()
    r = submit(client, GOOD, [("证据.pdf", PDF)])
    assert r.status_code == 201
    page = r.get_data(as_text=True)
    number = re.search(r'id="receipt-number">(\d+)<', page).group(1)
    code = re.search(r'id="receipt-code">([^<]+)<', page).group(1)

    case = db.session.get(ProcessInstance, int(number))
    assert case.jurisdiction == "620100" and case.data["reporter"]["name"] == "张三"
    digest = hashlib.sha256(PDF).hexdigest()
    stored = intake.config["UPLOAD_DIR"] + f"/{digest[:2]}/{digest}"
    assert open(stored, "rb").read() == PDF

    assert client.get(f"/public/complaint/status?no={number}&code=wrong").status_code == 404
    status = client.get(f"/public/complaint/status?no={number}&code={code}").get_data(as_text=True)
    assert "正在核实办理中" in status and "张三" not in status

    add_user("lz", "municipal", "620100", password="correct-horse")
    add_user("ts", "municipal", "620500", password="correct-horse")
    lanzhou, tianshui = intake.test_client(), intake.test_client()
    sign_in(lanzhou, "lz")
    sign_in(tianshui, "ts")
    task = db.session.scalar(db.select(HumanTask).where(HumanTask.instance_id == case.id))
    assert task.element == "Task_verify" and task.due_at is not None
    assert task.id in lanzhou.get("/inbox/?tab=role").get_data(as_text=True)
    case_page = lanzhou.get(f"/cases/{case.id}").get_data(as_text=True)
    link = re.search(r'href="(/attachments/\d+)"', case_page).group(1)
    assert lanzhou.get(link).data == PDF
    assert tianshui.get(link).status_code == 404

    official = Actor("lz", "municipal", "620100")
    runtime.complete(task.id, {"confirmed": True, "findings": "经核查，能耗数据填报有误。", "measure": "none"},
                     official)
    reply = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))
    runtime.complete(reply, {"reply": "您举报的问题经核查属实，已责令该公司更正数据。"}, official)
    status = client.get(f"/public/complaint/status?no={number}&code={code}").get_data(as_text=True)
    assert "已答复" in status and "已责令该公司更正数据" in status


def test_a_confirmed_report_needs_its_measure(intake, runtime):
    client = intake.test_client()
    submit(client, GOOD, [("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64)])
    task = db.session.scalar(db.select(HumanTask.id))
    from engine.errors import FormInvalid

    with pytest.raises(FormInvalid) as refused:
        runtime.complete(task, {"confirmed": True, "findings": "属实属实"}, Actor("lz", "municipal", "620100"))
    assert "measure" in refused.value.fields


def test_a_confirmed_report_about_an_agency_goes_to_the_citys_agency_report(intake, runtime):
    client = intake.test_client()
    submit(client, {**GOOD, "target_kind": "agency", "target_name": "甘肃某评价咨询有限公司"}, [("证据.pdf", PDF)])
    case = db.session.scalar(db.select(ProcessInstance))
    official = Actor("lz", "municipal", "620100")
    verify = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))
    runtime.complete(verify, {"confirmed": True, "findings": "评价报告能耗数据与企业台账不符。", "measure": "agency"}, official)
    reply = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))
    runtime.complete(reply, {"reply": "经核查属实，已按第二十三条处理该机构。"}, official)
    # Art 24 → Art 23 ¶1: the city that verified the report now reports the agency to the province
    [task] = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case.id)).all()
    assert task.element == "Task_report_agency" and task.role == "municipal" and task.jurisdiction == "620100"


def test_one_address_may_send_only_a_few_reports_an_hour(intake):
    from datetime import timedelta

    from engine import clock

    client = intake.test_client()
    for _ in range(5):
        assert submit(client, GOOD, [("e.pdf", PDF)]).status_code == 201
    sixth = submit(client, GOOD, [("e.pdf", PDF)])
    assert sixth.status_code == 429 and "一小时后再试" in sixth.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(ProcessInstance)) == 5
    clock.current().advance(timedelta(minutes=61))
    assert submit(client, GOOD, [("e.pdf", PDF)]).status_code == 201
