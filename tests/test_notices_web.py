"""The public notice on the public site (Art 15): the list with its window in
working days, the real-name objection with evidence (entries kept when
something is missing, refused once the window is over), and the objection in
front of the official who investigates it. Also: starting a case from the web."""
from __future__ import annotations

import io
from datetime import datetime

import pytest
from conftest import ROOT
from factories import registered
from test_provincial_selection import PROVINCE, all_cities_recommend, municipal_unit, review_all, tasks
from webclient import csrf_token, post_form, sign_in

from engine import clock
from engine.db import db
from engine.green.models import Attachment
from engine.green.notices import Objection, PublicNotice
from engine.model_registry import collect
from engine.models import ProcessInstance
from engine.timers import run_until
from web.accounts.users import add_user

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def on_notice(app, runtime, tmp_path):
    """A round whose two passing candidates are on notice from Thursday 2 April 2026."""
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    runtime.registry.deploy(collect([ROOT / "processes"]))
    units = {"lz_a": municipal_unit(runtime, "620100", 1, "兰州甲制造有限公司"),
             "lz_b": municipal_unit(runtime, "620100", 2, "兰州乙化工有限公司"),
             "ts_c": municipal_unit(runtime, "620500", 3, "天水丙电器有限公司")}
    case = runtime.start("provincial_selection", {}, PROVINCE)
    all_cities_recommend(runtime, case, units)
    clock.current().set(datetime(2026, 4, 2, 10, 0, tzinfo=clock.SHANGHAI))
    review_all(runtime, case, failing={units["lz_b"]})
    return case, units, db.session.scalar(db.select(PublicNotice))


def objection(client, notice_id, fields, files, page=None):
    path = f"/public/notices/{notice_id}"
    data = {**fields, "csrf_token": csrf_token(client, page or path),
            "evidence": [(io.BytesIO(content), name) for name, content in files]}
    return client.post(path, data=data, content_type="multipart/form-data")


def test_the_public_sees_the_notice_with_its_window(on_notice, client):
    case, units, notice = on_notice
    listing = client.get("/public/notices/").get_data(as_text=True)
    assert "2026年度省级绿色制造单位拟公布名单公示" in listing
    page = client.get(f"/public/notices/{notice.id}").get_data(as_text=True)
    assert "公示期：2026年04月02日 — 2026年04月10日 24:00（5个工作日）" in page
    assert "兰州甲制造有限公司" in page and "天水丙电器有限公司" in page and "兰州乙化工" not in page
    assert 'id="objection-form"' in page
    client.get("/lang/en")
    english = client.get(f"/public/notices/{notice.id}").get_data(as_text=True)
    assert "2026-04-10 24:00 (5 working days)" in english and "Lodge an objection" in english


def test_an_objection_needs_a_name_contact_reasons_and_evidence_and_keeps_what_was_typed(on_notice, client):
    case, units, notice = on_notice
    fields = {"credit_code": units["ts_c"], "real_name": "张三", "organisation": "", "contact": "138",
              "reasons": "该企业去年发生环境污染事故，被生态环境部门处罚。"}
    r = objection(client, notice.id, fields, [])
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="error-contact"' in page and 'id="error-evidence"' in page and 'id="error-real_name"' not in page
    assert 'value="张三"' in page and "被生态环境部门处罚" in page
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(Objection)) == 0
    assert client.post(f"/public/notices/{notice.id}", data=fields).status_code == 400  # no CSRF token


def test_an_objection_under_a_placeholder_name_or_contact_is_refused(on_notice, client):
    case, units, notice = on_notice
    fields = {"credit_code": units["ts_c"], "real_name": "匿名", "organisation": "", "contact": "无无无无无",
              "reasons": "该企业去年发生环境污染事故，被生态环境部门处罚。"}
    r = objection(client, notice.id, fields, [("evidence.pdf", PDF)])
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="error-real_name"' in page and 'id="error-contact"' in page
    assert "被生态环境部门处罚" in page
    r = objection(client, notice.id, {**fields, "real_name": "张三", "contact": "0938-8212345"},
                  [("evidence.pdf", PDF)])
    assert r.status_code in (201, 303), r.get_data(as_text=True)


def test_an_objection_is_received_then_shown_to_the_province_that_investigates(on_notice, client, runtime):
    case, units, notice = on_notice
    r = objection(client, notice.id, {"credit_code": units["ts_c"], "real_name": "张三", "organisation": "天水某环保协会",
                                      "contact": "13800000000", "reasons": "该企业去年发生环境污染事故，被生态环境部门处罚。"},
                  [("处罚决定书.pdf", PDF)])
    assert r.status_code == 201 and 'id="objection-receipt"' in r.get_data(as_text=True)
    db.session.rollback()  # end this session's snapshot: the request committed in its own
    saved = db.session.scalar(db.select(Objection))
    [evidence] = db.session.scalars(db.select(Attachment).where(Attachment.instance_id == case.id)).all()
    assert saved.attachment_ids == [evidence.id] and evidence.instance_id == case.id

    run_until(runtime, datetime(2026, 4, 11, 0, 0, 2, tzinfo=clock.SHANGHAI))
    late = objection(client, notice.id, {"credit_code": units["lz_a"], "real_name": "王五", "organisation": "",
                                         "contact": "13700000000", "reasons": "迟到的异议，公示期已经结束了。"},
                     [("x.pdf", PDF)], page="/public/complaint")  # a page opened before the window closed
    assert late.status_code == 409 and "公示期已结束" in late.get_data(as_text=True)

    add_user("prov", "provincial", None, password="correct-horse")
    add_user("lz", "municipal", "620100", password="correct-horse")
    official = client.application.test_client()
    sign_in(official, "prov")
    [investigate] = tasks(case.id, "Task_investigate")
    page = official.get(f"/tasks/{investigate.id}").get_data(as_text=True)
    assert 'id="objections"' in page and "张三（天水某环保协会）" in page and "被生态环境部门处罚" in page
    assert official.get(f"/attachments/{evidence.id}").data == PDF
    city = client.application.test_client()
    sign_in(city, "lz")  # the round is the province's: a city official sees neither the task nor the evidence
    assert city.get(f"/tasks/{investigate.id}").status_code == 404
    assert city.get(f"/attachments/{evidence.id}").status_code == 404


def test_a_role_starts_only_the_procedures_whose_start_lies_in_its_lane(app, runtime, client):
    runtime.registry.deploy(collect([ROOT / "processes"]))
    add_user("prov", "provincial", None, password="correct-horse")
    registered("firm")  # an enterprise registered in 兰州 and confirmed by its city
    sign_in(client, "prov")
    page = client.get("/cases/new").get_data(as_text=True)
    assert 'id="start-provincial_selection"' in page and 'id="start-municipal_creation"' not in page
    r = post_form(client, "/cases/new", {"process": "provincial_selection"}, page="/cases/new")
    assert r.status_code == 303
    case = db.session.scalar(db.select(ProcessInstance).where(ProcessInstance.process_id == "provincial_selection"))
    assert r.headers["Location"].endswith(f"/cases/{case.id}") and case.started_by == "prov"

    add_user("lz", "municipal", "620100", password="correct-horse")
    city = client.application.test_client()
    sign_in(city, "lz")  # a revocation or a complaint needs its data: started from the page that has it
    offered = city.get("/cases/new").get_data(as_text=True)
    assert 'id="start-cultivation"' in offered and "start-revocation" not in offered and "start-complaint" not in offered
    r = post_form(city, "/cases/new", {"process": "revocation"}, page="/cases/new")
    assert r.status_code == 403

    firm = client.application.test_client()
    sign_in(firm, "firm")
    assert 'id="start-provincial_selection"' not in firm.get("/cases/new").get_data(as_text=True)
    assert post_form(firm, "/cases/new", {"process": "provincial_selection"}, page="/cases/new").status_code == 403
    r = post_form(firm, "/cases/new", {"process": "municipal_creation"}, page="/cases/new")
    assert r.status_code == 303 and "/tasks/" in r.headers["Location"]  # straight to the applicant's first step
    db.session.rollback()
    assert db.session.scalar(db.select(ProcessInstance.jurisdiction).where(
        ProcessInstance.process_id == "municipal_creation")) == "620100"  # the organisation's city
