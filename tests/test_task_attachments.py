"""File fields in task forms (附件, issue 5): the evaluation report PDF on the evaluation
task — an indicator table with fixed rows, a file input with its type and size, checked by
content on the server, stored with the case under its SHA-256, kept by a draft, and
downloadable only by those who may see the case."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import lxml.html
import pytest
from creation import APPLICATION, FACTORY_LEADING, PDF, codes, deploy, open_task, store_pdf
from test_web_tasks import on_the_page
from webclient import csrf_token, sign_in

from engine.db import db
from engine.errors import FormInvalid
from engine.green import attachments
from engine.green.models import Attachment
from engine.models import ProcessInstance
from engine.runtime import Actor
from web import formrender
from web.accounts.users import add_user

FIRM = Actor("firm", "applicant")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
TOKENS: dict[str, str] = {}


def stored() -> list[Attachment]:
    db.session.rollback()  # a new read: what the requests wrote meanwhile
    return db.session.scalars(db.select(Attachment).order_by(Attachment.id)).all()


@pytest.fixture
def evaluating(app, runtime):
    """A 兰州 case at the applicant's self-evaluation, with the people who look at it."""
    deploy(runtime)
    for name, role, city in (("firm", "applicant", None), ("other-firm", "applicant", None),
                             ("lz", "municipal", "620100"), ("ts", "municipal", "620500"),
                             ("prov", "provincial", None), ("agency-x", "agency", None)):
        _, TOKENS[name] = add_user(name, role, city, password="correct-horse")
    case = runtime.start("municipal_creation", {}, FIRM, "620100")
    runtime.complete(open_task(case.id).id, APPLICATION, FIRM)
    task = open_task(case.id)
    assert task.element == "Task_self_green_factory"
    return case.id, task.id


def signed_in(app, name):
    client = app.test_client()
    sign_in(client, name)
    return client


def post(client, task_id, data, action="submit"):
    data = {**data, "action": action, "csrf_token": csrf_token(client, f"/tasks/{task_id}")}
    return client.post(f"/tasks/{task_id}", data=data, content_type="multipart/form-data")


def doc(response):
    return lxml.html.fromstring(response.get_data(as_text=True))


def test_the_indicator_table_shows_each_indicator_with_its_unit_and_a_number_to_type(app, evaluating):
    case_id, task_id = evaluating
    page = doc(signed_in(app, "firm").get(f"/tasks/{task_id}"))
    basic, scored = codes("green_factory")
    table = page.xpath('//*[@data-field="indicators"]')[0]
    rows = table.xpath(".//tbody/tr")
    assert len(rows) == len(scored)  # one row per indicator, no empty spare rows
    first = rows[0]
    assert "单位产品综合能耗（kgce/t）" in first.xpath("string(.//span[@class='fixed'])")
    assert first.xpath(".//input[@type='hidden']/@value") == ["gf_energy_per_product"]
    assert first.xpath(".//input[@type='number']/@name") == ["indicators[0][value]"]
    assert len(page.xpath('//*[@data-field="basic_requirements"]//tbody/tr')) == len(basic)
    [upload] = page.xpath("//input[@type='file']")
    assert (upload.get("name"), upload.get("accept")) == ("report_pdf__file", "application/pdf")
    assert upload.get("required") is not None and "不超过 10" in page.text_content()
    assert page.xpath("//form[@enctype='multipart/form-data']")


def test_a_wrong_file_type_is_refused_by_content_with_everything_typed_kept(app, evaluating):
    case_id, task_id = evaluating
    client = signed_in(app, "firm")
    data = on_the_page("green_factory", {**FACTORY_LEADING, "gf_renewable_share": "abc"})
    data["report_pdf__file"] = (io.BytesIO(PNG), "report.pdf")  # the name says PDF; the content does not
    r = post(client, task_id, data)
    assert r.status_code == 422
    page = doc(r)
    assert "只接受 PDF 文件" in page.xpath("string(//*[@data-field='report_pdf'])")
    assert "请填写数字" in page.xpath("string(//*[@data-field='indicators/1/value'])")
    assert page.xpath("//input[@name='indicators[0][value]']/@value") == ["90"]
    assert page.xpath("//input[@name='indicators[1][value]']/@value") == ["abc"]
    assert stored() == [] and open_task(case_id).id == task_id


def test_a_file_over_the_fields_size_is_refused_with_its_limit():
    prop = {"format": "attachment", "accept": ["application/pdf"], "maxBytes": 1024}
    with pytest.raises(attachments.AttachmentRefused, match="超过 1 KB"):
        attachments.check_for_field(prop, "big.pdf", PDF + b" " * 1024)
    assert attachments.check_for_field(prop, "ok.pdf", PDF)[2] == "application/pdf"


def test_the_report_is_required_and_stored_with_the_case_under_its_checksum(app, evaluating):
    case_id, task_id = evaluating
    client = signed_in(app, "firm")
    r = post(client, task_id, on_the_page("green_factory", FACTORY_LEADING))
    assert r.status_code == 422 and "此项为必填项" in doc(r).xpath("string(//*[@data-field='report_pdf'])")
    r = post(client, task_id, on_the_page("green_factory", FACTORY_LEADING, pdf=True))
    assert r.status_code == 303
    [item] = stored()
    digest = hashlib.sha256(PDF).hexdigest()
    assert (item.instance_id, item.sha256, item.content_type, item.original_name) == \
        (case_id, digest, "application/pdf", "评价报告.pdf")
    assert Path(app.config["UPLOAD_DIR"], digest[:2], digest).read_bytes() == PDF
    assert db.session.get(ProcessInstance, case_id).data["report_pdf"] == item.id


def test_a_draft_keeps_the_uploaded_file(app, evaluating):
    case_id, task_id = evaluating
    client = signed_in(app, "firm")
    half = on_the_page("green_factory", {"gf_energy_per_product": 95}, pdf=True)
    assert post(client, task_id, half, action="draft").status_code == 303
    page = doc(client.get(f"/tasks/{task_id}"))
    [kept] = page.xpath("//input[@name='report_pdf']/@value")
    assert "已上传：" in page.text_content() and "评价报告.pdf" in page.text_content()
    assert page.xpath("//input[@type='file']")[0].get("required") is None  # nothing more to upload
    assert page.xpath("//input[@name='indicators[0][value]']/@value") == ["95"]
    # submitted later without uploading again: the draft's file is the report
    full = on_the_page("green_factory", FACTORY_LEADING)
    full["report_pdf"] = kept
    assert post(client, task_id, full).status_code == 303
    db.session.rollback()
    assert db.session.get(ProcessInstance, case_id).data["report_pdf"] == int(kept)
    assert len(stored()) == 1


def test_another_cases_file_cannot_be_named(app, runtime, evaluating):
    case_id, task_id = evaluating
    other = runtime.start("municipal_creation", {}, Actor("other-firm", "applicant"), "620100")
    foreign = store_pdf(other.id, by="other-firm")
    data = formrender.parse(runtime.registry.load(db.session.get(ProcessInstance, case_id).version_id)
                            .forms["evaluation_green_factory.json"], on_the_page("green_factory", FACTORY_LEADING))[0]
    with pytest.raises(FormInvalid) as refused:
        runtime.complete(task_id, {**data, "report_pdf": foreign}, FIRM)
    assert "不属于本案件" in refused.value.fields["report_pdf"][0]


def test_only_those_who_may_see_the_case_download_the_report(app, evaluating):
    case_id, task_id = evaluating
    assert post(signed_in(app, "firm"), task_id, on_the_page("green_factory", FACTORY_LEADING, pdf=True)).status_code == 303
    [item] = stored()
    url = f"/attachments/{item.id}"
    for name, status in (("firm", 200), ("lz", 200), ("prov", 200), ("ts", 404), ("other-firm", 404),
                         ("agency-x", 404)):
        r = signed_in(app, name).get(url)
        assert r.status_code == status, name
        if status == 200:
            assert r.data == PDF and r.mimetype == "application/pdf"
    assert app.test_client().get(url).status_code == 302  # signed out: to the login page


def test_the_api_takes_a_file_for_a_file_field_of_a_task_of_ones_own(app, evaluating):
    case_id, task_id = evaluating
    client = app.test_client()

    def send(name, field="report_pdf", content=PDF):
        return client.post(f"/api/v1/tasks/{task_id}/attachments", content_type="multipart/form-data",
                           headers={"Authorization": f"Bearer {TOKENS[name]}"},
                           data={"field": field, "file": (io.BytesIO(content), "报告.pdf")})

    assert send("other-firm").status_code == 404 and send("lz").status_code == 404
    assert send("firm", field="highlights").status_code == 422  # not a file field
    r = send("firm", content=PNG)
    assert r.status_code == 422 and "只接受 PDF" in r.json["fields"]["report_pdf"][0]
    r = send("firm")
    assert r.status_code == 201 and r.json["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert [(a.id, a.instance_id) for a in stored()] == [(r.json["id"], case_id)]


def test_formrender_shows_a_numbers_unit_and_a_missing_table_row():
    schema = {"type": "object", "properties": {
        "added_value": {"title": "工业增加值", "type": "number", "unit": "万元"},
        "rows": {"type": "array", "maxItems": 2, "items": {"type": "object", "properties": {
            "code": {"type": "string", "readOnly": True, "oneOf": [{"const": "a", "title": "甲"}, {"const": "b", "title": "乙"}]},
            "value": {"type": "number"}}},
            "allOf": [{"contains": {"title": "乙指标", "properties": {"code": {"const": "b"}}, "required": ["code"]}}]}}}
    form = formrender.build(schema, {"added_value": "12"})
    assert form["added_value"].unit == "万元" and form["rows"].columns[0].readonly
    _, errors = formrender.validate(schema, {"rows[0][code]": "a", "rows[0][value]": "1"})
    assert errors == {"rows": ["缺少必填的指标或要求：乙指标"]}
