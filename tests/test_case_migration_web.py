"""The case migration pages and API (案件迁移): an analyst picks two versions, reads
the dry run, moves the cases that can move and reads what happened to each."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import MODELS, ROOT
from test_complaints import COMPLAINT_MODELS
from webclient import csrf_token, sign_in

from engine import clock, jobs
from engine.db import db
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor
from web.accounts.users import add_user

PASSWORD = "correct-horse"
PROCESS = "rectification_check"
FIRM = Actor("firm", "applicant")
CITY = Actor("lz", "municipal", "620100")


def deploy(runtime, n, note=None) -> str:
    path = MODELS / f"rectification_v{n}.bpmn"
    return runtime.registry.deploy({"rectification_check.bpmn": path.read_bytes()}, actor="ana", note=note)[0].id


def complete_all(runtime, instance_id, actor):
    [task] = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == instance_id)).all()
    runtime.complete(task.id, {}, actor)


@pytest.fixture
def two_versions(runtime):
    """Version 1 with a case at the review (can move) and one at the expert (cannot),
    then version 2 deployed; an analyst and a provincial official to sign in."""
    v1 = deploy(runtime, 1, "第一版")
    at_expert = runtime.start(PROCESS, {}, FIRM, "620100").id
    complete_all(runtime, at_expert, FIRM)
    complete_all(runtime, at_expert, CITY)
    clock.current().advance(timedelta(days=31))
    runtime.fire_timers(at_expert)
    at_review = runtime.start(PROCESS, {}, FIRM, "620100").id
    complete_all(runtime, at_review, FIRM)
    v2 = deploy(runtime, 2, "删去专家意见，增加现场核查")
    for name, role in (("ana", "analyst"), ("prov", "provincial"), ("root", "admin")):
        add_user(name, role, password=PASSWORD)
    return {"v1": v1, "v2": v2, "at_expert": at_expert, "at_review": at_review}


def rows(page: str, table: str) -> dict[int, str]:
    """case id -> outcome, from a report table."""
    body = page.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return {int(c): o for c, o in re.findall(r'data-case="(\d+)" data-outcome="(\w+)"', body)}


def test_an_analyst_runs_the_dry_run_then_the_migration(client, two_versions):
    w = two_versions
    sign_in(client, "ana")
    listing = client.get("/migrations/").get_data(as_text=True)
    assert "整改核查" in listing and f'/models/{PROCESS}/migration/' in listing

    page = client.get(f"/models/{PROCESS}/migration/").get_data(as_text=True)
    # the defaults: from the older version with live cases, to the current one
    assert re.search(rf'<option value="{w["v1"]}" selected', page.split('name="to"')[0])
    assert re.search(rf'<option value="{w["v2"]}" selected', page.split('name="to"')[1])
    assert "删去专家意见" in page and 'id="dry-run"' not in page

    page = client.get(f"/models/{PROCESS}/migration/?from={w['v1']}&to={w['v2']}").get_data(as_text=True)
    assert rows(page, "dry-run") == {w["at_expert"]: "blocked", w["at_review"]: "movable"}
    assert "正在办理的环节「专家意见 Expert opinion」在目标版本中已删除" in page
    assert "可迁移 1 件，不能迁移 1 件" in page
    assert f'name="instance" value="{w["at_review"]}" checked' in page
    assert f'name="instance" value="{w["at_expert"]}"' not in page

    token = csrf_token(client, f"/models/{PROCESS}/migration/?from={w['v1']}&to={w['v2']}")
    r = client.post(f"/models/{PROCESS}/migration/", data={
        "csrf_token": token, "from": w["v1"], "to": w["v2"], "instance": [str(w["at_review"])]})
    # the cases move in the background: the analyst is sent to the job's page, which shows its progress
    assert r.status_code == 303 and re.fullmatch(r"/jobs/\d+", r.headers["Location"])
    job_page = r.headers["Location"]
    page = client.get(job_page).get_data(as_text=True)
    assert "排队中" in page and 'http-equiv="refresh"' in page
    assert db.session.get(ProcessInstance, w["at_review"]).version_id == w["v1"]
    assert jobs.run_next()  # what the scheduler process's worker does
    page = client.get(job_page).get_data(as_text=True)
    assert "已完成" in page and 'http-equiv="refresh"' not in page
    assert client.get(job_page + ".json").get_json()["done"] == 1
    db.session.rollback()
    assert rows(page, "migration-result") == {w["at_review"]: "migrated"}
    assert "已迁移 1 件" in page
    assert db.session.get(ProcessInstance, w["at_review"]).version_id == w["v2"]
    assert db.session.get(ProcessInstance, w["at_expert"]).version_id == w["v1"]

    case_page = client.get(f"/cases/{w['at_review']}").get_data(as_text=True)
    assert w["v2"][:12] in case_page and "迁移到新版本" in case_page


def test_the_migration_form_needs_its_csrf_token(client, two_versions):
    w = two_versions
    sign_in(client, "ana")
    r = client.post(f"/models/{PROCESS}/migration/", data={"from": w["v1"], "to": w["v2"],
                                                           "instance": [str(w["at_review"])]})
    assert r.status_code == 400
    assert db.session.get(ProcessInstance, w["at_review"]).version_id == w["v1"]


def test_bad_choices_get_a_clear_answer(client, runtime, two_versions):
    w = two_versions
    sign_in(client, "ana")
    page = client.get(f"/models/{PROCESS}/migration/?from={w['v2']}&to={w['v2']}").get_data(as_text=True)
    assert "两个版本相同" in page  # the engine's refusal, in the page's language
    assert client.get("/models/no_such_process/migration/").status_code == 404
    runtime.registry.deploy({name: (ROOT / "processes" / name).read_bytes() for name in COMPLAINT_MODELS})
    page = client.get("/models/complaint/migration/").get_data(as_text=True)
    assert 'id="one-version"' in page and 'id="choose-versions"' not in page
    token = csrf_token(client, "/migrations/")
    r = client.post(f"/models/{PROCESS}/migration/", data={"csrf_token": token, "from": w["v1"], "to": w["v2"]})
    assert r.status_code == 400 and "没有选择要迁移的案件" in r.get_data(as_text=True)
    r = client.post(f"/models/{PROCESS}/migration/", data={"csrf_token": token, "from": w["v1"], "to": w["v2"],
                                                           "instance": ["1; drop table"]})
    assert r.status_code == 400


@pytest.mark.parametrize("name", ["prov", "root"])
def test_only_analysts_reach_the_pages(client, two_versions, name):
    w = two_versions
    sign_in(client, name)
    assert client.get("/migrations/").status_code == 403
    assert client.get(f"/models/{PROCESS}/migration/?from={w['v1']}&to={w['v2']}").status_code == 403
    token = csrf_token(client, "/inbox/")
    r = client.post(f"/models/{PROCESS}/migration/", data={"csrf_token": token, "from": w["v1"], "to": w["v2"],
                                                           "instance": [str(w["at_review"])]})
    assert r.status_code == 403
    assert db.session.get(ProcessInstance, w["at_review"]).version_id == w["v1"]
    assert "/migrations/" not in client.get("/inbox/").get_data(as_text=True)


def test_the_api_dry_run_and_run(client, users, two_versions):
    w = two_versions
    ana = users("ana-api", "analyst")
    url = f"/api/v1/processes/{PROCESS}/migration"
    r = client.get(f"{url}?from={w['v1']}&to={w['v2']}", headers=ana)
    assert r.status_code == 200 and r.json["dry_run"] is True
    verdicts = {c["instance"]: c for c in r.json["cases"]}
    assert verdicts[w["at_review"]]["outcome"] == "movable"
    [why] = verdicts[w["at_expert"]]["reasons"]
    assert why["code"] == "removed_waiting" and why["element"] == "Task_expert_opinion"
    assert r.json["counts"]["movable"] == 1

    assert client.get(f"{url}?from={w['v1']}", headers=ana).status_code == 400
    assert client.post(url, json={"from": w["v1"], "to": w["v2"], "instances": ["x"]}, headers=ana).status_code == 400
    assert client.post(url, json={"from": w["v1"]}, headers=ana).status_code == 400
    r = client.post(url, json={"from": w["v1"], "to": w["v2"], "instances": [w["at_review"], w["at_expert"]]},
                    headers=ana)
    assert r.status_code == 200 and r.json["dry_run"] is False
    assert {c["instance"]: c["outcome"] for c in r.json["cases"]} == {w["at_review"]: "migrated",
                                                                      w["at_expert"]: "blocked"}
    again = client.post(url, json={"from": w["v1"], "to": w["v2"], "instances": [w["at_review"]]}, headers=ana)
    assert again.json["cases"][0]["reasons"][0]["code"] == "same_version"


@pytest.mark.parametrize("role", ["admin", "provincial", "municipal", "applicant"])
def test_the_api_refuses_everyone_but_analysts(client, users, two_versions, role):
    w = two_versions
    headers = users(f"someone-{role}", role, "620100" if role == "municipal" else None)
    url = f"/api/v1/processes/{PROCESS}/migration"
    assert client.get(f"{url}?from={w['v1']}&to={w['v2']}", headers=headers).status_code == 403
    r = client.post(url, json={"from": w["v1"], "to": w["v2"]}, headers=headers)
    assert r.status_code == 403 and "流程分析员" in r.json["error"]
    assert db.session.get(ProcessInstance, w["at_review"]).version_id == w["v1"]
    assert client.get(f"{url}?from={w['v1']}&to={w['v2']}").status_code == 401


def test_the_pages_in_english(client, two_versions):
    w = two_versions
    sign_in(client, "ana")
    client.get("/lang/en")
    page = client.get(f"/models/{PROCESS}/migration/?from={w['v1']}&to={w['v2']}").get_data(as_text=True)
    assert '<html lang="en"' in page and "Deployed versions" in page and "1 can move, 1 cannot" in page
    assert "Cannot move" in page and "no longer exists in the target version" in page
    assert "Move the chosen cases" in page and "不能迁移" not in page
