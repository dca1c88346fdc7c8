"""The modeler in the analyst's language (issue 18, item 6): validation lists the edited file's
findings first, every decision table is listed to be edited, the version diff names elements
and shows old and new values side by side, and the history shows each version with its files.
An analyst signed in uses the pages as the modeler does (see test_modeler.py)."""
from __future__ import annotations

import re

from conftest import ROOT
from lxml import html
from test_modeler import FIVE, NOTICE, NOTICE_FILE, PROCESS, TEN, analyst, deployed, post_json  # noqa: F401

REVOCATION = (ROOT / "processes" / "revocation.bpmn").read_text(encoding="utf-8")
COMPLAINT = (ROOT / "processes" / "complaint.bpmn").read_text(encoding="utf-8")
DMN = "award_amounts.dmn"
SIDE_BY_SIDE = "./td/table[@class='side-by-side']/tbody/tr"  # a change's values: what | old | new


def page(client, path):
    r = client.get(path)
    assert r.status_code == 200, path
    return html.fromstring(r.get_data(as_text=True))


def text(node) -> str:
    return " ".join(node.text_content().split())


def test_validation_lists_the_edited_files_findings_before_the_other_files(analyst, deployed):  # noqa: F811
    # the revocation procedure renamed: the procedures that call it no longer find it (errors there),
    # while the renamed file itself has only warnings (limits depending on the case)
    renamed = REVOCATION.replace('<bpmn:process id="revocation"', '<bpmn:process id="revocation_renamed"')
    r = post_json(analyst, "/models/validate", {"base": deployed.id, "file": "revocation.bpmn", "xml": renamed})
    assert r.status_code == 200
    files = [f["file"] for f in r.json["findings"]]
    own = [f for f in r.json["findings"] if f["file"] == "revocation.bpmn"]
    assert own and all(f["severity"] == "warning" for f in own)
    assert files[:len(own)] == ["revocation.bpmn"] * len(own)  # before the other files' errors
    others = r.json["findings"][len(own):]
    assert {"complaint.bpmn", "spot_check.bpmn"} <= {f["file"] for f in others}
    assert others[0]["severity"] == "error" and "'revocation' was not found" in others[0]["message"]

    # deploying it is refused with the findings in the same order
    r = post_json(analyst, "/models/deploy", {"base": deployed.id, "file": "revocation.bpmn", "xml": renamed,
                                              "note": "改名"})
    assert r.status_code == 422
    assert [f["file"] for f in r.json["findings"]][:len(own)] == ["revocation.bpmn"] * len(own)


def test_every_decision_table_is_listed_with_a_link_to_edit_it(analyst, deployed):  # noqa: F811
    index = page(analyst, "/models/")
    rows = {row.get("data-file"): row for row in index.xpath("//*[@id='decision-tables']/tbody/tr")}
    assert sorted(rows) == sorted(p.name for p in (ROOT / "processes").glob("*.dmn"))
    award = rows[DMN]
    [edit] = award.xpath(".//a")
    assert edit.get("href") == f"/models/versions/{deployed.id}/edit/{DMN}"
    assert text(award.xpath("./td")[0])  # the decision's name, not only the file
    assert analyst.get(edit.get("href")).status_code == 200


def test_the_diff_names_the_elements_and_shows_old_and_new_side_by_side(analyst, deployed):  # noqa: F811
    limits = ('"end_of_day(working_days_after(today(), 15))" />\n'
              '          <spiffworkflow:property name="remindBefore" value="P3D" />')
    assert limits in NOTICE
    changed = (NOTICE.replace(FIVE, TEN)
               .replace(limits, limits.replace("15", "20").replace("P3D", "P5D"))
               .replace("<bpmn:outgoing>Flow_none_passed</bpmn:outgoing>", ""))
    r = post_json(analyst, "/models/deploy", {"base": deployed.id, "file": NOTICE_FILE, "xml": changed,
                                              "note": "公示十日，核查二十日"})
    assert r.status_code == 201
    diff = page(analyst, f"/models/diff?process={PROCESS}&from={deployed.id}&to={r.json['version']}")
    rows = {row.get("data-element"): row for row in diff.xpath("//*[@id='changes']/tbody/tr")}
    assert set(rows) == {"Service_publish_notice", "Task_investigate", "Gateway_any_passed"}
    body = text(diff.xpath("//*[@id='changes']")[0])
    assert "@" not in body and "spiffworkflow:" not in body and "extensionElements" not in body  # no XPath

    investigate = rows["Task_investigate"]
    assert text(investigate.xpath("./td[@class='element']")[0]) == "核查异议"
    assert "Task_investigate" not in text(investigate)
    limit, remind = investigate.xpath(SIDE_BY_SIDE)
    assert text(limit.xpath("./th")[0]) == "办理时限 (dueDate)"
    assert (text(limit.xpath("./td[@class='old']")[0]), text(limit.xpath("./td[@class='new']")[0])) == ("15个工作日", "20个工作日")
    assert limit.xpath("./td[@class='new']")[0].get("title") == "end_of_day(working_days_after(today(), 20))"
    assert [text(c) for c in remind.xpath("./th|./td")] == ["提前提醒 (remindBefore)", "3天", "5天"]

    [length] = rows["Service_publish_notice"].xpath(SIDE_BY_SIDE)
    assert [text(c) for c in length.xpath("./th|./td")] == ["参数 working_days", "5", "10"]

    # the gateway's flows by where they go, not by their ids
    [flows] = rows["Gateway_any_passed"].xpath(SIDE_BY_SIDE)
    assert [text(c) for c in flows.xpath("./th|./td")] == ["去向的连线", "无, 有", "有"]


def test_the_diff_of_a_decision_table_names_the_rule_and_the_column(analyst, deployed):  # noqa: F811
    table = (ROOT / "processes" / DMN).read_text(encoding="utf-8")
    cell = re.search(r"<outputEntry id=\"(\w+)\">\s*<text>([^<]+)</text>", table)
    raised = table.replace(cell.group(0), cell.group(0).replace(cell.group(2), cell.group(2) + "0"))
    r = post_json(analyst, "/models/deploy", {"base": deployed.id, "file": DMN, "xml": raised, "note": "提高奖励"})
    assert r.status_code == 201
    diff = page(analyst, f"/models/diff?from={deployed.id}&to={r.json['version']}")
    [row] = diff.xpath("//*[@id='changes']/tbody/tr")
    assert row.get("data-element") == cell.group(1)
    assert re.fullmatch(r".+ 第 \d+ 条规则 · .+", text(row.xpath("./td[@class='element']")[0]))
    assert cell.group(1) not in text(row)
    [value] = row.xpath(SIDE_BY_SIDE)
    assert [text(c) for c in value.xpath("./td")] == [cell.group(2), cell.group(2) + "0"]


def test_the_history_shows_each_version_once_with_its_files_under_it(analyst, deployed):  # noqa: F811
    r = post_json(analyst, "/models/deploy", {"base": deployed.id, "file": NOTICE_FILE,
                                              "xml": NOTICE.replace(FIVE, TEN), "note": "十个工作日"})
    new = r.json["version"]
    history = page(analyst, f"/models/history/{PROCESS}")
    versions = history.xpath("//*[@id='versions']/tbody[@class='version']")
    assert [v.xpath("./tr[@data-version]")[0].get("data-version") for v in versions] == [new, deployed.id]

    newest = versions[0]
    [touched] = newest.xpath(".//ul[@class='files touched']/li")
    assert touched.get("data-file") == NOTICE_FILE and "修改" in text(touched)
    kept = newest.xpath(".//ul[@class='files kept']/li")
    assert NOTICE_FILE not in [li.get("data-file") for li in kept]
    assert {"complaint.bpmn", DMN} <= {li.get("data-file") for li in kept}
    assert "未改动" in text(newest.xpath(".//details/summary")[0])
    links = [a.get("href") for a in touched.xpath(".//a")]
    assert f"/models/versions/{new}/edit/{NOTICE_FILE}" in links
    assert f"/models/versions/{new}/files/{NOTICE_FILE}?download=1" in links

    # the first version: all its files, none marked as changed
    first = versions[1]
    assert first.xpath(".//ul[@class='files touched']") == []
    assert len(first.xpath(".//ul[@class='files kept']/li")) == len(newest.xpath(".//ul[starts-with(@class, 'files')]/li"))
