"""Task forms drawn from their JSON Schema, and typed entries read back."""
from __future__ import annotations

import json

import lxml.html
import pytest
from conftest import ROOT
from flask import render_template_string

from web import formrender

# a form with every kind of field (the creation form as it was before evaluations had their own forms)
REPORT = json.loads((ROOT / "tests" / "models" / "report_form_sample.json").read_text(encoding="utf-8"))
REVIEW = json.loads((ROOT / "forms" / "municipal_review.json").read_text(encoding="utf-8"))
VALID_CODE = "91620100MA74XJ2P0P"
NAME = "兰州绿色制造有限公司"

# A form with a table of entries (array of objects) and the remaining field kinds.
ENERGY = {
    "type": "object",
    "required": ["plant", "readings"],
    "properties": {
        "plant": {"title": "厂区编号 Plant", "type": "string", "pattern": "^[A-Z]{2}[0-9]{3}$",
                  "description": "两位大写字母加三位数字，如 LZ001"},
        "employees": {"title": "职工人数 Employees", "type": "integer", "minimum": 1, "default": 50},
        "assessed_on": {"title": "评估日期 Assessed on", "type": "string", "format": "date"},
        "readings": {
            "title": "能耗读数 Readings", "type": "array", "minItems": 1,
            "items": {
                "type": "object", "required": ["meter", "quantity"],
                "properties": {
                    "meter": {"title": "表计 Meter", "type": "string"},
                    "quantity": {"title": "数量 Quantity", "type": "integer", "minimum": 0},
                    "unit": {"title": "单位 Unit", "enum": ["吨标煤", "千瓦时"]},
                    "read_on": {"title": "抄表日期 Read on", "type": "string", "format": "date"},
                    "verified": {"title": "已核验 Verified", "type": "boolean"},
                },
            },
        },
    },
}


def render(app, form) -> lxml.html.HtmlElement:
    with app.test_request_context("/"):
        html = render_template_string('{% import "_schema_form.html" as f %}<form>{{ f.render(form) }}</form>',
                                      form=form)
    return lxml.html.fromstring(html)


def block(doc, path):
    [el] = doc.xpath(f'//*[@data-field="{path}"]')
    return el


def test_each_field_kind_of_the_evaluation_report():
    form = formrender.build(REPORT)
    kinds = {f.name: f.kind for f in form}
    assert kinds.items() >= {"unit_type": "select", "credit_code": "text", "evaluation_mode": "select",
                             "agency_name": "text", "basic_requirements_met": "boolean", "score": "number",
                             "summary": "textarea"}.items()
    assert form["unit_type"].label == "单位类型"  # one language: a pair written as 中文 English shows its Chinese
    assert ("green_park", "绿色工业园区") in form["unit_type"].options
    assert form["score"].attrs == {"min": 0, "max": 100, "step": "any"}
    assert form["summary"].attrs["maxlength"] == 4000
    required = [f.name for f in form if f.required]
    assert set(required) >= {"unit_type", "credit_code", "evaluation_mode", "basic_requirements_met", "score"}
    assert "agency_name" not in required and "summary" not in required
    assert form.title == "评价报告" and "第十二条" in form.description


def test_the_evaluation_report_as_html(app):
    doc = render(app, formrender.build(REPORT))
    unit = block(doc, "unit_type")
    assert "单位类型" in unit.xpath("string(label)") and unit.xpath("label/abbr[@class='req']")
    assert unit.xpath("select/option/text()")[1:] == [
        "绿色工厂", "绿色工业园区", "绿色供应链管理企业", "工业节水型企业", "工业节水型园区"]
    [score] = block(doc, "score").xpath("input")
    assert (score.get("type"), score.get("min"), score.get("max"), score.get("step")) == ("number", "0", "100", "any")
    assert score.get("required") is not None
    radios = block(doc, "basic_requirements_met").xpath(".//input[@type='radio']")
    assert [(r.get("value"), r.getparent().text_content().strip()) for r in radios] == [("true", "是"), ("false", "否")]
    assert not any(r.get("checked") is not None for r in radios)  # not answered is not "no"
    assert block(doc, "summary").xpath("textarea")[0].get("maxlength") == "4000"
    agency = block(doc, "agency_name")
    assert agency.xpath("input")[0].get("required") is None and not agency.xpath(".//abbr")


def test_municipal_review_renders_a_choice_and_a_long_opinion(app):
    form = formrender.build(REVIEW)
    assert form["decision"].options == [("approve", "通过并公布"), ("return", "退回补正"), ("reject", "不予通过")]
    assert form["opinion"].kind == "textarea" and form["opinion"].attrs == {"maxlength": 4000, "minlength": 2}
    doc = render(app, form)
    assert block(doc, "opinion").xpath("textarea")[0].get("minlength") == "2"
    assert "审核意见" in block(doc, "opinion").text_content()


def test_a_complete_report_parses_to_typed_json():
    data, errors = formrender.parse(REPORT, {
        "organisation_name": NAME, "unit_type": "green_factory", "credit_code": f" {VALID_CODE} ",
        "evaluation_mode": "self",
        "agency_name": "", "basic_requirements_met": "false", "score": "88.5", "summary": "第一行\r\n第二行"})
    assert errors == {}
    data.pop("organisation_name", None)  # a field the form may or may not have yet
    assert data == {"unit_type": "green_factory", "credit_code": VALID_CODE, "evaluation_mode": "self",
                    "basic_requirements_met": False, "score": 88.5, "summary": "第一行\n第二行"}
    assert formrender.parse(REPORT, {"score": "90"})[0] == {"score": 90}  # a whole number stays whole


@pytest.mark.parametrize("field,raw,message", [
    ("score", "abc", "请填写数字。"),
    ("score", "nan", "请填写数字。"),
    ("basic_requirements_met", "maybe", "请选择“是”或“否”。"),
    ("unit_type", "castle", "请从列表中选择。"),
])
def test_text_that_cannot_be_converted_is_a_field_error(field, raw, message):
    data, errors = formrender.parse(REPORT, {field: raw})
    assert field not in data and errors == {field: [message]}
    form = formrender.build(REPORT, {field: raw}, errors)
    assert form[field].value == raw and form[field].errors == [message]  # the raw text is kept for the page


def test_the_raw_text_is_shown_again_in_the_page(app):
    values = {"score": "abc", "unit_type": "castle", "summary": "<b>摘要</b>", "basic_requirements_met": "true"}
    _, errors = formrender.parse(REPORT, values)
    doc = render(app, formrender.build(REPORT, values, errors))
    assert block(doc, "score").xpath("input")[0].get("value") == "abc"
    assert "请填写数字。" in block(doc, "score").text_content()
    assert block(doc, "summary").xpath("textarea")[0].text == "<b>摘要</b>"  # escaped, shown as typed
    assert block(doc, "basic_requirements_met").xpath(".//input[@checked]")[0].get("value") == "true"
    assert block(doc, "unit_type").xpath("select/option[@selected]")[0].get("value") == "castle"


def test_validation_gives_every_problem_at_once_in_chinese(app):
    with app.test_request_context("/"):  # the app registers the credit-code format
        data, errors = formrender.validate(REPORT, {
            "organisation_name": NAME, "unit_type": "green_factory", "credit_code": VALID_CODE,
            "evaluation_mode": "third_party",
            "score": "abc"})
    assert errors == {"score": ["请填写数字。"],  # not also "required": it was typed, wrongly
                      "basic_requirements_met": ["此项为必填项。"],
                      "agency_name": ["此项为必填项。"]}  # third-party evaluation needs the agency (if/then)
    _, errors = formrender.validate(REPORT, {"score": "150", "credit_code": "not-a-code"})
    assert errors["score"] == ["不能大于 100。"] and errors["unit_type"] == ["此项为必填项。"]
    assert errors["credit_code"] and errors["credit_code"] != ["此项为必填项。"]
    _, errors = formrender.validate(REVIEW, {"decision": "approve", "opinion": "好"})
    assert errors == {"opinion": ["至少填写 2 个字。"]}


def test_a_table_of_entries_has_fixed_rows_named_by_row_and_column(app):
    form = formrender.build(ENERGY)
    table = form["readings"]
    assert table.kind == "table" and len(table.rows) == formrender.TABLE_ROWS == 5
    assert [c.label for c in table.columns] == ["表计", "数量", "单位", "抄表日期", "已核验"]
    assert [c.required for c in table.columns] == [True, True, False, False, False]
    assert table.rows[2][1].name == "readings[2][quantity]"
    assert form["employees"].value == "50"  # the schema's default, on a fresh form
    doc = render(app, form)
    assert len(doc.xpath('//fieldset[@data-field="readings"]//tbody/tr')) == 5
    cell = doc.xpath('//*[@data-field="readings/2/unit"]/select')[0]
    assert cell.get("name") == "readings[2][unit]" and cell.xpath("option/text()")[1:] == ["吨标煤", "千瓦时"]
    assert cell.get("aria-label") == "单位 第 3 行"  # a cell says which column and row it is
    assert doc.xpath('//*[@data-field="readings/0/quantity"]/input')[0].get("required") is None
    plant = block(doc, "plant").xpath("input")[0]
    assert plant.get("pattern") == "^[A-Z]{2}[0-9]{3}$" and "LZ001" in block(doc, "plant").text_content()
    assert block(doc, "assessed_on").xpath("input")[0].get("type") == "date"


def test_a_table_drops_empty_rows_and_reports_cells_by_their_row_on_the_page(app):
    values = {
        "plant": "LZ001", "employees": "", "assessed_on": "2026/3/1",
        "readings[0][meter]": "总表", "readings[0][quantity]": "1200", "readings[0][unit]": "千瓦时",
        "readings[0][verified]": "true",
        "readings[1][meter]": "", "readings[1][quantity]": "",  # an empty row
        "readings[2][meter]": "锅炉", "readings[2][quantity]": "1.5", "readings[2][read_on]": "2026-02-30",
        "readings[3][quantity]": "7",  # no meter
    }
    data, errors = formrender.parse(ENERGY, values)
    assert data == {"plant": "LZ001", "assessed_on": "2026-03-01", "readings": [
        {"meter": "总表", "quantity": 1200, "unit": "千瓦时", "verified": True},
        {"meter": "锅炉"}, {"quantity": 7}]}
    assert errors == {"readings/2/quantity": ["请填写整数。"], "readings/2/read_on": ["请填写有效日期，如 2026-03-31。"]}
    with app.test_request_context("/"):
        _, errors = formrender.validate(ENERGY, values)
    # the item without a meter is the JSON's third, but the page's fourth row (row 1 was empty)
    assert errors["readings/3/meter"] == ["此项为必填项。"]
    assert "readings/2/quantity" in errors and "readings/2/meter" not in errors
    form = formrender.build(ENERGY, values, errors)
    assert form["readings"].rows[3][0].errors == ["此项为必填项。"]
    assert form["readings"].rows[2][1].value == "1.5"
    doc = render(app, form)
    assert "请填写整数。" in doc.xpath('//*[@data-field="readings/2/quantity"]')[0].text_content()
    # the engine's paths index the JSON array; they land on the page's rows too
    assert formrender.page_errors(ENERGY, values, {"readings/1/meter": ["x"]}) == {"readings/2/meter": ["x"]}


def test_a_full_table_offers_a_spare_row_and_an_empty_one_is_left_out():
    values = {f"readings[{i}][meter]": f"表{i}" for i in range(5)}
    assert len(formrender.build(ENERGY, values)["readings"].rows) == 6
    data, _ = formrender.parse(ENERGY, {"plant": "LZ001", "readings[0][meter]": " "})
    assert "readings" not in data
    data, errors = formrender.validate(ENERGY, {"plant": "LZ001"})
    assert errors == {"readings": ["此项为必填项。"]}


def test_messages_with_no_field_go_to_the_top():
    form = formrender.build(REVIEW, {}, {"$": ["data must be a JSON object"], "approved": ["not a field"],
                                         "opinion": ["too short"]})
    assert form.messages == ["data must be a JSON object", "approved: not a field"]
    assert form["opinion"].errors == ["too short"] and form.invalid


def test_only_the_forms_own_inputs_are_kept():
    kept = formrender.raw_values(ENERGY, {"plant": "LZ001", "csrf_token": "t", "action": "draft",
                                          "readings[0][meter]": "总表", "readings[0][bogus]": "x",
                                          "readings[9999][meter]": "x", "readings[" + "9" * 5000 + "][meter]": "x",
                                          "other": "y"})
    assert kept == {"plant": "LZ001", "readings[0][meter]": "总表"}


NOMINATION = json.loads((ROOT / "forms" / "cultivation_nomination.json").read_text(encoding="utf-8"))


def test_a_submission_read_back_fills_the_same_inputs_again():
    typed = {"plant": "LZ001", "employees": "12", "readings[0][meter]": "电表", "readings[0][quantity]": "7",
             "readings[0][verified]": "true", "readings[1][meter]": "气表", "readings[1][quantity]": "3"}
    data, errors = formrender.validate(ENERGY, typed)
    assert errors == {}
    assert formrender.values_of(ENERGY, data) == typed


def test_a_known_field_shows_the_known_value_whatever_was_typed_and_a_chosen_one_offers_its_register():
    schema = {**REPORT, "properties": {**REPORT["properties"],
                                       "credit_code": {**REPORT["properties"]["credit_code"],
                                                       "x-known": "organisation.credit_code"}}}
    form = formrender.build(schema, {"credit_code": "91620100MA75QWER28"},
                            known={"organisation.credit_code": VALID_CODE})
    assert (form["credit_code"].value, form["credit_code"].readonly) == (VALID_CODE, True)
    listed = {"type": "object", "properties": {"agency": {"type": "string", "x-choices": "agencies"}}}
    form = formrender.build(listed, {}, choices={"agencies": [("91620100MA71GLP0EL", "甘肃绿评科技有限公司")]})
    assert (form["agency"].kind, form["agency"].options) == ("select", [("91620100MA71GLP0EL", "甘肃绿评科技有限公司")])
    # without its register (a page that passes none) the field is typed, as before
    assert formrender.build(listed, {})["agency"].kind == "text"


def test_each_unit_types_conditions_are_a_section_of_their_own_and_only_the_chosen_one_is_checked():
    form = formrender.build(NOMINATION)
    assert form["legal_boundary"].show_when == [
        {"unit_type": {"in": ["green_park"]}, "nomination_decision": {"in": ["nominate"]}},
        {"unit_type": {"in": ["water_saving_park"]}, "nomination_decision": {"in": ["nominate"]}}]
    assert form["nomination_decision"].show_when is None  # always there
    typed = {"nomination_decision": "nominate", "organisation_name": NAME, "credit_code": VALID_CODE,
             "unit_type": "green_factory", "year": "2026", "independent_legal_person": "true",
             "manufacturing": "true", "meets_standard": "true",
             "industrial_value_share": "250", "members[0][name]": "某"}  # a park's entries, wrong as well
    data, errors = formrender.validate(NOMINATION, typed)
    assert errors == {}
    assert "industrial_value_share" not in data and "members" not in data and data["manufacturing"] is True
    data, errors = formrender.validate(NOMINATION, {**typed, "unit_type": "green_park"})
    assert errors["industrial_value_share"] == ["不能大于 100。"] and "此项为必填项。" in errors["legal_boundary"]
    assert "manufacturing" not in data
