"""Documents (文书) as PDFs, and the document numbers (文号) the deciding steps take: each
walk starts as its users do (the API with their tokens, the pages signed in), and reads
back the text of the PDF they download."""
from __future__ import annotations

import io
import threading
from datetime import date

import pytest
from conftest import ROOT
from creation import FACTORY_LEADING, evaluation
from factories import CODE, LANZHOU, TIANSHUI, people, registered
from factories import designation as listed
from pypdf import PdfReader
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from webclient import post_form, sign_in

from engine.db import db
from engine.green import documents
from engine.green.documents import DocumentNumber
from engine.model_registry import collect
from engine.models import AuditEvent
from engine.services import StepContext
from web.accounts.users import find, issue_token
from web.documents.render import FontMissing, chinese_date

APPLICATION = {"organisation_name": "兰州绿源制造有限公司", "unit_type": "green_factory", "credit_code": CODE,
               "evaluation_mode": "self"}


@pytest.fixture
def procedures(runtime):
    runtime.registry.deploy(collect([ROOT / "processes"]))
    tokens = people(("lz", "municipal", LANZHOU), ("ts", "municipal", TIANSHUI), ("prov", "provincial", None),
                    ("root", "admin", None))
    registered("firm")
    tokens["firm"] = issue_token(find("firm"), None)
    return tokens


def call(client, token, path, body=None, expect=(200, 201)):
    method = client.post if body is not None else client.get
    r = method(f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code in expect, r.get_json()
    return r.get_json()


def task_of(client, token, case_id) -> dict:
    [task] = call(client, token, f"/tasks?instance={case_id}")["tasks"]
    return task


def complete(client, token, case_id, element, data) -> dict:
    task = task_of(client, token, case_id)
    assert task["element"] == element, task["element"]
    return call(client, token, f"/tasks/{task['id']}/complete", {"data": data})


def text_of(body: bytes) -> str:
    """The PDF's text, its lines joined again (a line breaks wherever the page is full)."""
    assert body.startswith(b"%PDF-"), body[:200]
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages).replace("\n", "")


def download(client, case_id, kind):
    return client.get(f"/cases/{case_id}/documents/{kind}.pdf")


def listed_by_the_city(client, tokens) -> int:
    """The firm applies through the API and self-evaluates; the city approves: the case's id."""
    case = call(client, tokens["firm"], "/instances", {"process": "municipal_creation"})
    complete(client, tokens["firm"], case["id"], "Task_submit_report", APPLICATION)
    complete(client, tokens["firm"], case["id"], "Task_self_green_factory",
             evaluation("green_factory", case["id"], FACTORY_LEADING))
    done = complete(client, tokens["lz"], case["id"], "Task_municipal_review",
                    {"decision": "approve", "opinion": "符合市级绿色工厂条件，同意公布。"})
    assert done["status"] == "completed"
    return case["id"]


def test_the_applicant_downloads_its_receipt_the_review_opinion_and_the_listing(procedures, app, client):
    case_id = listed_by_the_city(client, procedures)
    sign_in(client, "firm")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'id="case-documents"' in page and "受理回执" in page and "公布决定" in page

    receipt = download(client, case_id, "receipt")
    assert receipt.status_code == 200 and receipt.mimetype == "application/pdf"
    words = text_of(receipt.data)
    assert "兰州市工业和信息化局" in words and "兰州绿源制造有限公司" in words and CODE in words
    assert "2026年3月2日" in words and "予以受理" in words and f"第{case_id}号" in words

    opinion = text_of(download(client, case_id, "review_opinion").data)
    assert "审核通过" in opinion and "符合市级绿色工厂条件，同意公布。" in opinion and "第十三条" in opinion

    listing = text_of(download(client, case_id, "listing_announcement").data)
    # the city's first document this year, in its default pattern
    assert "兰工信发〔2026〕1号" in listing and "市级绿色制造单位" in listing and CODE in listing
    db.session.rollback()  # a fresh snapshot: the requests wrote in their own sessions
    number = db.session.scalar(db.select(DocumentNumber).where(DocumentNumber.instance_id == case_id))
    assert (number.kind, number.department, number.year, number.number) == ("listing_announcement", LANZHOU, 2026, 1)


def test_a_document_is_produced_again_byte_for_byte_from_the_record(procedures, app, client):
    case_id = listed_by_the_city(client, procedures)
    sign_in(client, "lz")
    first = download(client, case_id, "listing_announcement").data
    other = app.test_client()
    sign_in(other, "firm")
    assert other.get(f"/cases/{case_id}/documents/listing_announcement.pdf").data == first
    assert download(client, case_id, "receipt").data == download(client, case_id, "receipt").data


def test_who_may_not_have_a_document_is_refused_on_the_server(procedures, app, client):
    case_id = listed_by_the_city(client, procedures)
    sign_in(client, "ts")  # another city: the case is not theirs to know of
    assert download(client, case_id, "receipt").status_code == 404
    outsider = app.test_client()
    assert outsider.get(f"/cases/{case_id}/documents/receipt.pdf").status_code in (302, 401)
    sign_in(client, "lz")
    assert download(client, case_id, "revocation_decision").status_code == 404  # the case has none
    assert download(client, case_id, "complaint_reply").status_code == 404


def test_the_province_revokes_and_the_decision_carries_its_number_facts_and_article(procedures, app, client, runtime):
    designation = listed(runtime, level="provincial")  # entered by a one-step listing, which issues no document
    sign_in(client, "lz")
    started = post_form(client, f"/registry/{designation}/revocation",
                        {"ground": "false_materials", "facts": "动态管理表能耗数据与计量不符。"}, page=f"/registry/{designation}")
    assert started.status_code == 303
    case_id = int(started.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    complete(client, procedures["lz"], case_id, "Task_city_proposal",
             {"propose": True, "facts": "企业提供的能耗数据与电网计量不符。", "evidence": "国网兰州供电公司计量单"})
    done = complete(client, procedures["prov"], case_id, "Task_provincial_decision",
                    {"revoke": True, "opinion": "同意取消资格。"})
    assert done["status"] == "completed"

    sign_in(client, "prov")
    body = download(client, case_id, "revocation_decision")
    assert body.status_code == 200
    words = text_of(body.data)
    assert "甘肃省工业和信息化厅" in words and "甘工信发〔2026〕1号" in words
    assert "兰州绿源制造有限公司" in words and CODE in words and "企业提供的能耗数据与电网计量不符。" in words
    assert "第二十一条" in words and chinese_date(date(2026, 3, 2)) in words and "三年内不得申报" in words
    firm = app.test_client()
    sign_in(firm, "firm")  # the unit's own account has the decision about it
    assert firm.get(f"/cases/{case_id}/documents/revocation_decision.pdf").data == body.data


def test_a_failed_spot_check_orders_rectification_under_a_number(procedures, client, runtime):
    designation = listed(runtime, level="provincial")
    case = call(client, procedures["prov"], "/instances",
                {"process": "spot_check", "data": {"designation_id": designation, "batch": "2026年第一批",
                                                   "jurisdiction": LANZHOU}})
    complete(client, procedures["prov"], case["id"], "Task_spot_check",
             {"spot_check_passed": False, "spot_check_findings": "单位产品能耗高于行业基准值。"})
    sign_in(client, "firm")
    words = text_of(download(client, case["id"], "rectification_order").data)
    assert "责令限期整改通知书" in words and "甘工信发〔2026〕1号" in words
    assert "单位产品能耗高于行业基准值。" in words and "2026年5月31日" in words  # day 90 from 2 March


def test_the_reporter_is_answered_in_a_reply_the_city_prints(procedures, client, runtime):
    designation = listed(runtime, level="municipal")
    report = {"reporter": {"name": "张三", "contact": "13800000000"},
              "target": {"kind": "unit", "name": "兰州绿源制造有限公司", "credit_code": CODE},
              "description": "该公司在动态管理表中虚报能耗数据。", "jurisdiction": LANZHOU}
    case = call(client, procedures["root"], "/instances", {"process": "complaint", "data": report})
    complete(client, procedures["lz"], case["id"], "Task_verify",
             {"confirmed": True, "findings": "部分指标数据填报有误。", "measure": "rectification",
              "designation_id": designation})
    complete(client, procedures["lz"], case["id"], "Task_reply", {"reply": "经核查，已责令该单位限期整改。"})
    sign_in(client, "lz")
    page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "举报答复书" in page and "责令整改通知书" in page
    words = text_of(download(client, case["id"], "complaint_reply").data)
    assert "张三" in words and "经核查，已责令该单位限期整改。" in words and "部分指标数据填报有误。" in words
    order = text_of(download(client, case["id"], "rectification_order").data)
    assert "兰工信发〔2026〕1号" in order  # a municipal unit: the city orders, in its own sequence
    firm = client.application.test_client()
    sign_in(firm, "firm")
    # the reply is the reporter's, not the reported unit's; it names the reporter, whose name an
    # administrator reads masked on the case page: not for them either
    assert firm.get(f"/cases/{case['id']}/documents/complaint_reply.pdf").status_code == 404
    admin = client.application.test_client()
    sign_in(admin, "root")
    assert admin.get(f"/cases/{case['id']}/documents/complaint_reply.pdf").status_code == 404
    db.session.rollback()
    reads = db.session.scalars(db.select(AuditEvent.detail).where(AuditEvent.action == "personal.read",
                                                                  AuditEvent.actor == "lz")).all()
    assert any("document complaint_reply" in detail for detail in reads)  # the city's read is on record


def test_the_public_downloads_a_public_notice(procedures, client, runtime):
    from engine.green.notices import PublicNotice
    step = StepContext(0, "p", "v", "prov")
    case = call(client, procedures["root"], "/instances", {"process": "complaint", "data": {
        "reporter": {"name": "张三", "contact": "13800000000"}, "target": {"kind": "unit", "name": "某单位"},
        "description": "占位案件，承载公示。", "jurisdiction": LANZHOU}})
    from engine.green import notices
    window = notices.publish({"working_days": 5, "title": "2026年省级绿色制造单位拟公布名单", "items": [
        {"credit_code": CODE, "name": "兰州绿源制造有限公司", "unit_type": "green_factory", "level": "provincial",
         "jurisdiction": LANZHOU}]}, StepContext(case["id"], step.process_id, step.version_id, "prov"))
    db.session.commit()
    notice = db.session.get(PublicNotice, window["notice_id"])
    assert 'id="notice-pdf"' in client.get(f"/public/notices/{notice.id}").get_data(as_text=True)
    r = client.get(f"/public/notices/{notice.id}.pdf")
    assert r.status_code == 200
    words = text_of(r.data)
    assert "2026年省级绿色制造单位拟公布名单" in words and "5个工作日" in words and "2026年3月9日" in words
    assert "兰州绿源制造有限公司" in words and "匿名异议不予受理" in words
    assert client.get("/public/notices/999.pdf").status_code == 404


def test_the_administrator_sets_a_departments_pattern_for_its_next_numbers(procedures, client):
    sign_in(client, "root")
    page = client.get("/admin/document-numbers").get_data(as_text=True)
    assert "甘工信发〔2026〕1号" in page and "兰工信发〔2026〕1号" in page
    bad = post_form(client, f"/admin/document-numbers/{LANZHOU}", {"pattern": "兰工信〔{year}〕号"},
                    page="/admin/document-numbers")
    assert bad.status_code == 422
    text_ = bad.get_data(as_text=True)
    assert "{number}" in text_ and 'value="兰工信〔{year}〕号"' in text_  # the entry is kept
    ok = post_form(client, f"/admin/document-numbers/{LANZHOU}", {"pattern": "兰工信函〔{year}〕{number}号"},
                   page="/admin/document-numbers")
    assert ok.status_code == 303
    assert "兰工信函〔2026〕1号" in client.get("/admin/document-numbers").get_data(as_text=True)
    sign_in(client, "lz")
    assert client.get("/admin/document-numbers").status_code == 403
    assert post_form(client, f"/admin/document-numbers/{LANZHOU}", {"pattern": "x{year}{number}"},
                     page="/inbox/").status_code == 403
    assert documents.pattern_of(LANZHOU) == "兰工信函〔{year}〕{number}号"


def test_a_rolled_back_step_gives_its_number_to_the_next_and_none_is_issued_twice(procedures, app, runtime):
    case = runtime.start("complaint", {"reporter": {"name": "张三", "contact": "13800000000"},
                                       "target": {"kind": "unit", "name": "某单位"}, "description": "占位案件。"},
                         find_actor("root"), LANZHOU)
    other = runtime.start("complaint", {"reporter": {"name": "李四", "contact": "13800000001"},
                                        "target": {"kind": "unit", "name": "某单位"}, "description": "占位案件。"},
                          find_actor("root"), LANZHOU)
    first = documents.issue("revocation_decision", "province", StepContext(case.id, "p", "v", "prov"))
    assert first.reference == "甘工信发〔2026〕1号"
    db.session.rollback()  # the step failed: its number was never issued
    again = documents.issue("revocation_decision", "province", StepContext(other.id, "p", "v", "prov"))
    assert again.reference == "甘工信发〔2026〕1号"
    db.session.commit()
    # the same case's document asked for again keeps its number; the next document takes the next
    assert documents.issue("revocation_decision", "province", StepContext(other.id, "p", "v", "prov")).number == 1
    assert documents.issue("rectification_order", "province", StepContext(other.id, "p", "v", "prov")).number == 2
    db.session.commit()
    with pytest.raises(IntegrityError):  # a number written twice by any other path is refused too
        db.session.add(DocumentNumber(department="province", year=2026, number=1, reference="重号", kind="x",
                                      instance_id=case.id, issued_at=first.issued_at))
        db.session.flush()
    db.session.rollback()


def find_actor(name):
    from web.accounts.users import actor_of
    return actor_of(find(name))


def test_two_steps_at_once_on_postgresql_take_different_numbers(procedures, app, runtime):
    if app.config["DB_KIND"] != "postgresql":
        return  # SQLite takes one writer at a time; the lock under test is PostgreSQL's row lock
    cases = [runtime.start("complaint", {"reporter": {"name": f"张{i}", "contact": "13800000000"},
                                         "target": {"kind": "unit", "name": "某单位"}, "description": "占位案件。"},
                           find_actor("root"), LANZHOU).id for i in range(2)]
    holding = threading.Event()
    taken: dict[int, int] = {}

    seen_waiting = []

    def first():
        with app.app_context():
            try:
                taken[cases[0]] = documents.issue("revocation_decision", "province",
                                                  StepContext(cases[0], "p", "v", "prov")).number
            finally:
                holding.set()
            # the first step still open: the second must wait on the counter row, not guess a number
            with db.engine.connect() as conn:
                for _ in range(600):
                    waiting = conn.execute(text("select count(*) from pg_stat_activity where wait_event_type = 'Lock' "
                                                "and datname = current_database()")).scalar()
                    # pg_stat_activity is read once per transaction: end it, or every look sees the first
                    conn.rollback()
                    if waiting:
                        seen_waiting.append(True)
                        break
                    threading.Event().wait(0.05)
            db.session.commit()

    def second():
        holding.wait(60)
        with app.app_context():
            taken[cases[1]] = documents.issue("revocation_decision", "province",
                                              StepContext(cases[1], "p", "v", "prov")).number
            db.session.commit()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen_waiting and sorted(taken.values()) == [1, 2]
    db.session.expire_all()
    assert sorted(db.session.scalars(db.select(DocumentNumber.reference))) == ["甘工信发〔2026〕1号", "甘工信发〔2026〕2号"]


def test_a_missing_font_is_a_clear_503_not_a_500(procedures, app, client):
    case_id = listed_by_the_city(client, procedures)
    app.config["DOCUMENT_FONT"] = "/nonexistent/font.ttc"
    sign_in(client, "firm")
    r = download(client, case_id, "receipt")
    assert r.status_code == 503 and "fonts-wqy-microhei" in r.get_data(as_text=True)
    with pytest.raises(FontMissing):
        from web.documents.render import font_file
        font_file("/nonexistent/font.ttc")
