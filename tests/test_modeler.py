"""The analysts' modeler (流程建模): validate and deploy an edited file as a new version, what
new and running cases then run, history, diff, downloads, new processes, DMN edits, imports.
The file edited is the real provincial round (processes/provincial_selection.bpmn), whose public
notice (公示, Art 15) runs the number of working days its publishing step is given."""
from __future__ import annotations

import io
import zipfile
from datetime import datetime

import pytest
from conftest import MODELS, ROOT
from test_provincial_selection import PROVINCE, all_cities_recommend, municipal_unit, review_all
from webclient import csrf_token, sign_in

from engine import clock, modeling
from engine.db import db
from engine.model_registry import ModelInvalid, collect
from engine.models import HumanTask, ModelVersion, PendingTimer, ProcessHead, ProcessInstance
from engine.runtime import Actor
from web.accounts.users import add_user

PROCESS, NOTICE_FILE = "provincial_selection", "provincial_selection.bpmn"
NOTICE = (ROOT / "processes" / NOTICE_FILE).read_text(encoding="utf-8")
FIVE = '<spiffworkflow:parameter id="working_days" type="int" value="5" />'  # the notice's length
TEN, SEVEN = FIVE.replace('"5"', '"10"'), FIVE.replace('"5"', '"7"')
# the flow from the publishing step to the wait for the notice's end
FLOW_TO_WAIT = '<bpmn:sequenceFlow id="Flow_wait_notice" sourceRef="Service_publish_notice" targetRef="Timer_notice_ends" />'
ADMIN = Actor("root", "admin")
CONFORMANCE = ROOT / "tests" / "conformance"


def timer_due(case_id):
    return db.session.scalar(db.select(PendingTimer.due_at).where(PendingTimer.instance_id == case_id))


@pytest.fixture
def deployed(runtime):
    """All of processes/ (the round needs its decision tables and the municipal units' procedure)."""
    version, _ = runtime.registry.deploy(collect([ROOT / "processes"]), actor="dev", note="first")
    return version


@pytest.fixture
def units(runtime, deployed):
    """Municipal units the cities recommend to the provincial round."""
    return {"lz_a": municipal_unit(runtime, "620100", 1, "兰州甲制造有限公司"),
            "lz_b": municipal_unit(runtime, "620100", 2, "兰州乙化工有限公司"),
            "ts_c": municipal_unit(runtime, "620500", 3, "天水丙电器有限公司")}


def to_notice(runtime, case, units):
    """The cities recommend and the experts pass the candidates: the list goes on notice today."""
    all_cities_recommend(runtime, case, units)
    review_all(runtime, case)


def test_a_longer_notice_applies_to_cases_started_after_the_deployment_only(runtime, deployed, units):
    before = runtime.start(PROCESS, {}, PROVINCE)
    version, created = modeling.deploy(runtime.registry, deployed.id, NOTICE_FILE, NOTICE.replace(FIVE, TEN),
                                       "ana", "公示期延长为10个工作日")
    assert created and version.deployed_by == "ana" and version.note == "公示期延长为10个工作日"
    assert db.session.get(ProcessHead, PROCESS).version_id == version.id
    after = runtime.start(PROCESS, {}, PROVINCE)
    to_notice(runtime, before, units)  # published after the deployment, yet under its own version
    to_notice(runtime, after, {  # other units: a unit is in one open round at a time
        "lz_a": municipal_unit(runtime, "620100", 4, "兰州丁制造有限公司"),
        "lz_b": municipal_unit(runtime, "620100", 5, "兰州戊化工有限公司"),
        "ts_c": municipal_unit(runtime, "620500", 6, "天水己电器有限公司")})
    # 2 March 2026 is a Monday: five working days end with Monday 9 March, ten with Monday 16 March
    assert timer_due(before.id) == datetime(2026, 3, 10, 0, 0, tzinfo=clock.SHANGHAI)
    assert timer_due(after.id) == datetime(2026, 3, 17, 0, 0, tzinfo=clock.SHANGHAI)
    assert db.session.get(ProcessInstance, before.id).version_id == deployed.id
    assert db.session.get(ProcessInstance, after.id).version_id == version.id

    clock.current().set(datetime(2026, 3, 10, 0, 1, tzinfo=clock.SHANGHAI))
    assert runtime.fire_timers(before.id).status == "completed"  # its notice is over: the units are listed
    assert runtime.fire_timers(after.id).status == "waiting"  # its notice runs another week


def test_deploying_needs_a_change_note_and_refuses_a_broken_diagram_with_its_findings(runtime, deployed):
    with pytest.raises(modeling.ModelingError, match="change note"):
        modeling.deploy(runtime.registry, deployed.id, NOTICE_FILE, NOTICE.replace(FIVE, TEN), "ana", "  ")
    broken = NOTICE.replace('targetRef="Timer_notice_ends"', 'targetRef="Timer_gone"')
    with pytest.raises(ModelInvalid) as refused:
        modeling.deploy(runtime.registry, deployed.id, NOTICE_FILE, broken, "ana", "oops")
    assert any(f.element == "Flow_wait_notice" and "Timer_gone" in f.message for f in refused.value.findings)
    assert db.session.scalar(db.select(db.func.count()).select_from(ModelVersion)) == 1


def test_a_second_analyst_working_on_an_old_version_is_told_to_open_the_newest(runtime, deployed):
    modeling.deploy(runtime.registry, deployed.id, NOTICE_FILE, NOTICE.replace(FIVE, TEN), "ana", "ten days")
    with pytest.raises(modeling.StaleBase, match="newer version of provincial_selection"):
        modeling.deploy(runtime.registry, deployed.id, NOTICE_FILE, NOTICE.replace(FIVE, SEVEN), "bo", "seven")


def test_an_edit_carries_the_other_files_but_leaves_a_newer_head_of_another_process_alone(runtime):
    files = collect([CONFORMANCE / "business_rule.bpmn", CONFORMANCE / "award_by_level.dmn"])
    procedures = collect([ROOT / "processes"])
    first, _ = runtime.registry.deploy({**files, **procedures}, actor="dev", note="all")
    rule = files["business_rule.bpmn"].decode()
    newer_rule, _ = runtime.registry.deploy({"business_rule.bpmn": rule.replace('name="', 'name="新 ', 1).encode(),
                                             "award_by_level.dmn": files["award_by_level.dmn"]}, actor="dev", note="r")
    version, _ = modeling.deploy(runtime.registry, first.id, NOTICE_FILE, NOTICE.replace(FIVE, TEN), "ana", "ten")
    models = {n for n in modeling.files_of(version.id) if not n.startswith("forms/")}
    assert models == {"business_rule.bpmn", "award_by_level.dmn", *procedures}
    assert modeling.files_of(version.id)[NOTICE_FILE].decode() == NOTICE.replace(FIVE, TEN)
    assert db.session.get(ProcessHead, PROCESS).version_id == version.id
    assert db.session.get(ProcessHead, "cf_business_rule").version_id == newer_rule.id


def award_case(runtime):
    case = runtime.start("cf_business_rule", {}, ADMIN)
    task = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id))
    return runtime.complete(task, {"level": "provincial", "first_time": True}, ADMIN)


def test_an_edited_decision_table_governs_new_cases(runtime):
    files = collect([CONFORMANCE / "business_rule.bpmn", CONFORMANCE / "award_by_level.dmn"])
    first, _ = runtime.registry.deploy(files, actor="dev", note="tables")
    old = award_case(runtime)
    dmn = files["award_by_level.dmn"].decode().replace("<text>100000</text>", "<text>150000</text>")
    version, created = modeling.deploy(runtime.registry, first.id, "award_by_level.dmn", dmn, "ana", "省级奖励提高")
    assert created and db.session.get(ProcessHead, "cf_business_rule").version_id == version.id
    new = award_case(runtime)
    assert db.session.get(ProcessInstance, old.id).data["award"] == 100000
    assert db.session.get(ProcessInstance, new.id).data["award"] == 150000
    [change] = modeling.diff(first.id, version.id)
    assert (change.file, change.element, change.change) == ("award_by_level.dmn", "Out_provincial_award", "changed")


def test_a_new_process_is_added_to_the_newest_version(runtime, deployed):
    xml = modeling.blank_diagram("city_spot_check", "市级抽查 City spot check")
    version, _ = modeling.deploy(runtime.registry, None, "city_spot_check.bpmn", xml, "ana", "新建市级抽查")
    assert set(version.processes) == {*deployed.processes, "city_spot_check"}
    assert set(modeling.files_of(version.id)) == {*modeling.files_of(deployed.id), "city_spot_check.bpmn"}
    # a lone start event deploys, and the analyst is told its path goes nowhere yet
    assert any(w["element"] == "Start_city_spot_check" and "no sequence flow leaves" in w["message"]
               for w in version.warnings)
    with pytest.raises(modeling.ModelingError, match="exists already"):
        modeling.blank_diagram("city_spot_check", "again")
    with pytest.raises(modeling.ModelingError, match="not allowed"):
        modeling.deploy(runtime.registry, None, "../evil.bpmn", xml, "ana", "x")


def test_the_zip_lays_the_files_out_as_the_repository_does(runtime, deployed):
    with zipfile.ZipFile(io.BytesIO(modeling.zip_of(deployed.id))) as z:
        names = z.namelist()
        assert {n.split("/")[0] for n in names} == {"processes", "forms"}
        assert f"processes/{NOTICE_FILE}" in names and "forms/expert_review.json" in names
        assert z.read(f"processes/{NOTICE_FILE}").decode() == NOTICE


def test_an_entity_or_an_oversized_upload_is_refused_and_nothing_is_read(runtime, deployed, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">'
           '<bpmn:process id="p" name="&x;" isExecutable="true" /></bpmn:definitions>')
    check = modeling.validate(runtime.registry, deployed.id, "x.bpmn", xxe)
    [error] = check.errors
    assert "external entity 'x'" in error.message and "TOP SECRET" not in str(check.findings)
    in_text = xxe.replace(' name="&x;" isExecutable="true" />', ' isExecutable="true"><bpmn:documentation>&x;'
                                                                 '</bpmn:documentation></bpmn:process>')
    check = modeling.validate(runtime.registry, deployed.id, "x.bpmn", in_text)
    assert [f.message for f in check.errors] == ["模型文件中不允许 DOCTYPE 声明 (DOCTYPE declarations are not allowed in model files)"]
    assert "TOP SECRET" not in str(check.findings)
    with pytest.raises(modeling.ModelingError, match="larger than"):
        modeling.validate(runtime.registry, deployed.id, "x.bpmn", "<a/>" + " " * modeling.MAX_FILE_BYTES)


# -- the pages, as an analyst uses them

@pytest.fixture
def analyst(app, deployed):
    add_user("ana", "analyst", password="correct-horse")
    client = app.test_client()
    assert sign_in(client, "ana").status_code == 302
    return client


def post_json(client, path, body):
    return client.post(path, json=body, headers={"X-CSRFToken": csrf_token(client, "/models/")})


def test_the_analyst_validates_and_deploys_through_the_pages(analyst, deployed):
    page = analyst.get("/models/").get_data(as_text=True)
    assert PROCESS in page and f"/models/versions/{deployed.id}/edit/{NOTICE_FILE}" in page
    editor = analyst.get(f"/models/versions/{deployed.id}/edit/{NOTICE_FILE}")
    assert editor.status_code == 200 and "modeler/build/bpmn-editor.js" in editor.get_data(as_text=True)

    broken = NOTICE.replace(FLOW_TO_WAIT, "")
    r = post_json(analyst, "/models/validate", {"base": deployed.id, "file": NOTICE_FILE, "xml": broken})
    assert r.status_code == 200
    [error] = [f for f in r.json["findings"] if f["severity"] == "error"]
    assert (error["file"], error["element"]) == (NOTICE_FILE, "Timer_notice_ends") and error["line"]

    r = post_json(analyst, "/models/deploy", {"base": deployed.id, "file": NOTICE_FILE, "xml": broken, "note": "x"})
    assert r.status_code == 422 and any(f["element"] == "Timer_notice_ends" for f in r.json["findings"])
    r = post_json(analyst, "/models/deploy", {"base": deployed.id, "file": NOTICE_FILE,
                                              "xml": NOTICE.replace(FIVE, TEN), "note": ""})
    assert r.status_code == 400 and "变更说明" in r.json["error"]
    r = post_json(analyst, "/models/deploy", {"base": deployed.id, "file": NOTICE_FILE,
                                              "xml": NOTICE.replace(FIVE, TEN), "note": "十个工作日"})
    # the history of the process edited, not of the first of the version's many processes
    assert r.status_code == 201 and r.json["history_url"] == f"/models/history/{PROCESS}"
    new_id = r.json["version"]
    r = post_json(analyst, "/models/deploy", {"base": deployed.id, "file": NOTICE_FILE,
                                              "xml": NOTICE.replace(FIVE, SEVEN), "note": "stale"})
    assert r.status_code == 409
    # without the CSRF header, nothing happens
    assert analyst.post("/models/deploy", json={"file": NOTICE_FILE, "xml": NOTICE, "note": "n"}).status_code == 400

    history = analyst.get(f"/models/history/{PROCESS}").get_data(as_text=True)
    assert "十个工作日" in history and "ana" in history and deployed.id[:12] in history
    diff = analyst.get(f"/models/diff?process={PROCESS}&from={deployed.id}&to={new_id}")
    text = diff.get_data(as_text=True)
    assert diff.status_code == 200 and 'data-element="Service_publish_notice"' in text
    assert '<th scope="row">参数 working_days</th>' in text and '<td class="new">10</td>' in text
    one = analyst.get(f"/models/versions/{new_id}/files/{NOTICE_FILE}?download=1")
    assert TEN in one.get_data(as_text=True) and "attachment" in one.headers["Content-Disposition"]
    z = analyst.get(f"/models/versions/{new_id}.zip")
    assert z.mimetype == "application/zip"
    assert f"processes/{NOTICE_FILE}" in zipfile.ZipFile(io.BytesIO(z.data)).namelist()


def test_the_import_page_deploys_or_lists_each_unsupported_element(analyst):
    def send(path):
        return analyst.post("/models/import", data={
            "file": (io.BytesIO(path.read_bytes()), path.name), "note": "imported",
            "csrf_token": csrf_token(analyst, "/models/import")}, content_type="multipart/form-data")

    r = send(MODELS / "foreign" / "camunda_unsupported.bpmn")
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    for element in ("Gateway_outcome", "Event_compensate_fetch", "Event_rectified", "Activity_score", "Flow_pass"):
        assert f'data-element="{element}"' in page
    assert "不支持复杂网关" in page
    r = send(MODELS / "foreign" / "camunda_pool_lanes.bpmn")
    assert r.status_code == 200 and 'id="import-result"' in r.get_data(as_text=True)
    assert db.session.get(ProcessHead, "city_review_camunda") is not None


def test_the_import_page_shows_what_the_engine_refuses_and_the_data_warnings(analyst):
    def send(path):
        return analyst.post("/models/import", data={
            "file": (io.BytesIO(path.read_bytes()), path.name), "note": "imported",
            "csrf_token": csrf_token(analyst, "/models/import")}, content_type="multipart/form-data")

    r = send(CONFORMANCE / "refused_error_start_event.bpmn")
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and 'data-element="Start_falsified"' in page
    assert "不支持错误开始事件「Start_falsified」" in page
    # a loop reading what nothing sets deploys, and the analyst is told
    looped = (CONFORMANCE / "standard_loop_before.bpmn").read_bytes().replace(
        b'<bpmn:userTask id="Task_sign_off" name="Sign off visits" />',
        b'<bpmn:scriptTask id="Task_sign_off" name="Sign off visits"><bpmn:script>signed = True</bpmn:script>'
        b'</bpmn:scriptTask>')
    r = analyst.post("/models/import", data={
        "file": (io.BytesIO(looped), "loop.bpmn"), "note": "imported",
        "csrf_token": csrf_token(analyst, "/models/import")}, content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="import-result"' in page
    assert 'data-element="Script_visit"' in page and "读取了 required_visits，但流程中没有任何步骤设置它" in page


def test_the_dmn_editor_and_a_new_process_open(analyst, runtime):
    files = collect([CONFORMANCE / "business_rule.bpmn", CONFORMANCE / "award_by_level.dmn"])
    version, _ = runtime.registry.deploy(files, actor="dev", note="tables")
    r = analyst.get(f"/models/versions/{version.id}/edit/award_by_level.dmn")
    assert r.status_code == 200 and "modeler/build/dmn-editor.js" in r.get_data(as_text=True)
    r = analyst.get("/models/new?process_id=city_spot_check&name=市级抽查")
    assert r.status_code == 200 and "city_spot_check.bpmn" in r.get_data(as_text=True)
    assert analyst.get(f"/models/new?process_id={PROCESS}").status_code == 400  # it exists
    assert "Start_city_spot_check" in analyst.get("/models/new.bpmn?process_id=city_spot_check").get_data(as_text=True)


def test_versions_deployed_in_the_same_second_keep_their_order(runtime, deployed):
    second, _ = modeling.deploy(runtime.registry, deployed.id, NOTICE_FILE, NOTICE.replace(FIVE, TEN), "ana", "2")
    third, _ = modeling.deploy(runtime.registry, second.id, NOTICE_FILE, NOTICE.replace(FIVE, SEVEN), "ana", "3")
    assert [v.note for v in modeling.history(PROCESS)] == ["3", "2", "first"]
    assert modeling.latest_version().id == third.id


def test_undoing_a_change_brings_back_the_earlier_version_for_new_cases(runtime, deployed, units):
    ten, _ = modeling.deploy(runtime.registry, deployed.id, NOTICE_FILE, NOTICE.replace(FIVE, TEN), "ana", "ten")
    back, created = modeling.deploy(runtime.registry, ten.id, NOTICE_FILE, NOTICE, "ana", "back to five")
    assert (back.id, created) == (deployed.id, False)  # the same content is the same version
    assert db.session.get(ProcessHead, PROCESS).version_id == deployed.id
    case = runtime.start(PROCESS, {}, PROVINCE)
    to_notice(runtime, case, units)
    assert timer_due(case.id) == datetime(2026, 3, 10, 0, 0, tzinfo=clock.SHANGHAI)
    assert [v.id for v in modeling.history(PROCESS)] == [deployed.id, ten.id]


def test_an_older_version_opened_and_deployed_unchanged_becomes_current_again(runtime, deployed):
    ten, _ = modeling.deploy(runtime.registry, deployed.id, NOTICE_FILE, NOTICE.replace(FIVE, TEN), "ana", "ten")
    with pytest.raises(modeling.StaleBase):  # changing an old version would drop the newer change
        modeling.deploy(runtime.registry, deployed.id, NOTICE_FILE, NOTICE.replace(FIVE, SEVEN), "ana", "edit")
    back, created = modeling.deploy(runtime.registry, deployed.id, NOTICE_FILE, NOTICE, "ana", "五个工作日恢复")
    assert (back.id, created) == (deployed.id, False)
    assert db.session.get(ProcessHead, PROCESS).version_id == deployed.id
    assert modeling.latest_version().id == deployed.id


def test_a_downloaded_file_cannot_run_what_it_carries(analyst, deployed):
    r = analyst.get(f"/models/versions/{deployed.id}/files/{NOTICE_FILE}")
    assert r.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert analyst.get(f"/models/versions/{deployed.id}/files/forms/nothing.json").status_code == 404
    assert analyst.get(f"/models/versions/{'0' * 64}/files/{NOTICE_FILE}").status_code == 404


def test_the_modeler_pages_in_english_show_no_chinese(app):
    import re

    add_user("ana", "analyst", password="correct-horse")
    client = app.test_client()
    sign_in(client, "ana")
    client.get("/lang/en")
    cjk = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
    for path in ("/models/", "/models/import"):
        page = client.get(path).get_data(as_text=True)
        assert "Process modeling" in page
        # the language link, and the example of a process name (names are Chinese, then English)
        leftovers = [line.strip() for line in page.splitlines()
                     if cjk.search(line) and "中文" not in line]
        assert leftovers == [], path
