"""Delegation and bulk work (委托代办、督办指派、批量办理、批注), as the officials do it on the pages:
a substitute works his colleague's tasks during her leave and on her behalf, a head assigns his
city's tasks, several tasks are done at once with a per-task result, and comments stay in the
case's history."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from factories import people
from test_registry import bpmn
from webclient import csrf_token, post_form, sign_in

from engine import clock, jobs
from engine.db import db
from engine.models import AuditEvent, HumanTask, ProcessInstance

REVIEW = bpmn("""<bpmn:laneSet id="ls"><bpmn:lane id="city" name="municipal">
<bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>assess</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
</bpmn:lane></bpmn:laneSet>
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:userTask id="assess" name="审核意见"><bpmn:extensionElements><spiffworkflow:properties>
<spiffworkflow:property name="formJsonSchemaFilename" value="opinion.json"/></spiffworkflow:properties></bpmn:extensionElements>
<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="assess"/>
<bpmn:sequenceFlow id="f2" sourceRef="assess" targetRef="end"/>""", pid="review")
OPINION = json.dumps({"type": "object", "title": "审核意见", "required": ["opinion"],
                      "properties": {"opinion": {"type": "string", "title": "意见", "maxLength": 200}}}).encode()
LANZHOU, TIANSHUI = "620100", "620500"


@pytest.fixture
def office(app, runtime):
    """兰州's officials 王 and 李 and 陈, 天水's 赵, the province and an administrator; the review deployed."""
    runtime.registry.deploy({"review.bpmn": REVIEW, "forms/opinion.json": OPINION}, actor="test")
    tokens = people(("wang", "municipal", LANZHOU), ("li", "municipal", LANZHOU), ("chen", "municipal", LANZHOU),
                    ("zhao", "municipal", TIANSHUI), ("sheng", "provincial", None), ("admin", "admin", None))
    return tokens


def signed_in(app, name):
    client = app.test_client()
    sign_in(client, name)
    return client


def new_case(client, token) -> str:
    """A review case started by a city's official through the API; its task's id."""
    answer = client.post("/api/v1/instances", json={"process": "review"}, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 201, answer.json
    db.session.rollback()
    return db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == answer.json["id"]))


def assignee(task_id):
    db.session.rollback()  # a fresh look: the pages' steps committed in other sessions
    return db.session.scalar(db.select(HumanTask.assignee).where(HumanTask.id == task_id))


def events(action):
    db.session.rollback()
    return db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).all()


def name_substitute(client, substitute, starts, ends):
    return post_form(client, "/delegation/", {"substitute": substitute, "starts_on": starts.isoformat(),
                                              "ends_on": ends.isoformat()}, page="/delegation/")


def test_a_substitute_sees_and_completes_her_task_on_her_behalf_inside_the_range_and_not_outside(app, office):
    wang, li = signed_in(app, "wang"), signed_in(app, "li")
    first = new_case(wang, office["wang"])
    assert post_form(wang, f"/inbox/{first}/claim").status_code == 303
    assert li.get(f"/tasks/{first}").status_code == 404  # hers, not his

    today = clock.now().date()
    assert name_substitute(wang, "li", today, today + timedelta(days=2)).status_code == 303
    page = wang.get("/delegation/").get_data(as_text=True)
    assert re.search(r'<table class="list" id="given">.*<td>li</td>', page, re.S)
    assert re.search(r'<table class="list" id="received">.*<td>wang</td>', li.get("/delegation/").get_data(as_text=True), re.S)

    inbox = li.get("/inbox/?tab=delegated").get_data(as_text=True)
    assert first in inbox and "代 wang 办理" in inbox
    assert first not in li.get("/inbox/?tab=mine").get_data(as_text=True)  # his own tasks stay apart
    assert li.get(f"/tasks/{first}").status_code == 200
    answer = post_form(li, f"/tasks/{first}", {"action": "submit", "opinion": "同意"}, page=f"/tasks/{first}")
    assert answer.status_code == 303 and assignee(first) is None
    [done] = events("complete")
    assert done.actor == "li" and json.loads(done.detail)["on_behalf_of"] == "wang"
    timeline = li.get(f"/cases/{done.instance_id}").get_data(as_text=True)
    assert re.search(r"<td>li <span class=\"badge on-behalf\">代 wang</span></td>", timeline)

    # after the range, her next task is hers alone again
    second = new_case(wang, office["wang"])
    post_form(wang, f"/inbox/{second}/claim")
    assert second in li.get("/inbox/?tab=delegated").get_data(as_text=True)
    clock.current().advance(timedelta(days=3))
    assert li.get(f"/tasks/{second}").status_code == 404
    assert li.get("/inbox/?tab=delegated").status_code == 404  # no such tab without a delegation in force
    refused = post_form(li, f"/tasks/{second}", {"action": "submit", "opinion": "同意"}, page="/inbox/")
    assert refused.status_code == 404 and assignee(second) == "wang"


def test_a_delegation_is_refused_on_the_server_for_another_city_oneself_or_a_bad_range(app, office):
    wang = signed_in(app, "wang")
    today = clock.now().date()
    for substitute, starts, ends, field, message in [
        ("zhao", today, today, "substitute", "代办人须是同一角色、同一地区的在用账户。"),
        ("sheng", today, today, "substitute", "代办人须是同一角色、同一地区的在用账户。"),
        ("wang", today, today, "substitute", "不能委托给自己。"),
        ("li", today, today - timedelta(days=1), "ends_on", "结束日期早于开始日期。"),
        ("li", today - timedelta(days=5), today - timedelta(days=1), "ends_on", "这段日期已经过去。"),
    ]:
        answer = name_substitute(wang, substitute, starts, ends)
        page = answer.get_data(as_text=True)
        assert answer.status_code == 422, substitute
        assert f'<span class="field-error" id="error-{field}">{message}</span>' in page
        assert f'value="{ends.isoformat()}"' in page  # the entries stay
    bad_day = post_form(wang, "/delegation/", {"substitute": "li", "starts_on": "2026-13-01", "ends_on": "x"},
                        page="/delegation/")
    assert bad_day.status_code == 422 and "日期格式应为 YYYY-MM-DD。" in bad_day.get_data(as_text=True)
    assert events("delegation.add") == []

    assert name_substitute(wang, "li", today, today + timedelta(days=7)).status_code == 303
    overlapping = name_substitute(wang, "chen", today + timedelta(days=3), today + timedelta(days=9))
    assert overlapping.status_code == 422
    # only she ends her delegation
    [given] = events("delegation.add")
    row_id = re.search(r'data-delegation="(\d+)"', wang.get("/delegation/").get_data(as_text=True)).group(1)
    li = signed_in(app, "li")
    assert post_form(li, f"/delegation/{row_id}/end", page="/delegation/").status_code == 404
    assert post_form(wang, f"/delegation/{row_id}/end", page="/delegation/").status_code == 303
    assert li.get("/inbox/?tab=delegated").status_code == 404
    assert given.actor == "wang"


def test_a_city_head_reassigns_a_colleagues_task_and_nobody_else_may(app, office):
    admin, wang, li = signed_in(app, "admin"), signed_in(app, "wang"), signed_in(app, "li")
    task = new_case(li, office["li"])
    post_form(li, f"/inbox/{task}/claim")
    assert post_form(wang, f"/inbox/{task}/reassign", {"to": "chen"}).status_code == 404  # not a head yet

    assert post_form(admin, "/admin/users/wang/head", {"head": "1"}, page="/admin/users/").status_code == 303
    assert 'id="user-wang"' in admin.get("/admin/users/").get_data(as_text=True)
    assert post_form(admin, "/admin/users/sheng/head", {"head": "1"}, page="/admin/users/").status_code == 303
    assert post_form(li, "/admin/users/li/head", {"head": "1"}).status_code == 403
    people(("firm", "applicant", None))  # an applicant's account cannot be a head
    assert post_form(admin, "/admin/users/firm/head", {"head": "1"}, page="/admin/users/").status_code == 403

    supervised = wang.get("/inbox/?tab=supervised").get_data(as_text=True)
    assert task in supervised and "办理人：li" in supervised
    assert post_form(wang, f"/inbox/{task}/reassign", {"to": "zhao"}).status_code == 403  # another city's official
    assert post_form(wang, f"/inbox/{task}/reassign", {"to": "chen"}).status_code == 303
    assert assignee(task) == "chen"
    [event] = events("reassign")
    assert event.actor == "wang" and json.loads(event.detail) == {"task": task, "from": "li", "to": "chen"}
    assert "指派" in wang.get(f"/cases/{event.instance_id}").get_data(as_text=True)

    # li is no head: chen's task is not his to pass on; 天水's official has no say in 兰州
    assert post_form(li, f"/inbox/{task}/reassign", {"to": "li"}).status_code == 404
    zhao = signed_in(app, "zhao")
    assert post_form(zhao, f"/inbox/{task}/reassign", {"to": "zhao"}).status_code == 404
    # the province's head assigns a city's task too
    sheng = signed_in(app, "sheng")
    assert task in sheng.get("/inbox/?tab=supervised").get_data(as_text=True)
    assert post_form(sheng, f"/inbox/{task}/reassign", {"to": "wang"}).status_code == 303 and assignee(task) == "wang"


def test_a_bulk_completion_of_three_tasks_where_one_was_completed_meanwhile_shows_two_done_one_refused(app, office):
    wang, li = signed_in(app, "wang"), signed_in(app, "li")
    tasks = [new_case(wang, office["wang"]) for _ in range(3)]
    inbox = li.get("/inbox/?tab=role").get_data(as_text=True)
    assert all(f'<input type="checkbox" name="task" value="{t}" form="bulk"' in inbox for t in tasks)

    token = csrf_token(li, "/inbox/?tab=role")
    chosen = {"action": "complete", "task": tasks, "csrf_token": token}
    confirm = li.post("/inbox/bulk/confirm", data=chosen)
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and all(f'data-task="{t}"' in page for t in tasks)
    assert 'name="opinion"' in page and "确认处理 3 项" in page

    # the form filled wrongly comes back, entries kept, nothing done
    empty = li.post("/inbox/bulk/run", data={**chosen, "opinion": ""})
    assert empty.status_code == 422 and all(assignee(t) is None for t in tasks)
    assert db.session.scalar(db.select(db.func.count()).select_from(HumanTask)) == 3

    # meanwhile 王 completes the second one himself
    post_form(wang, f"/tasks/{tasks[1]}", {"action": "submit", "opinion": "王的意见"}, page=f"/tasks/{tasks[1]}")
    result = li.post("/inbox/bulk/run", data={**chosen, "opinion": "一并同意"})
    # the completions run in the background: the job's page shows them, then the result task by task
    assert result.status_code == 303 and "/jobs/" in result.headers["Location"]
    assert "排队中" in li.get(result.headers["Location"]).get_data(as_text=True)
    assert jobs.run_next()  # what the scheduler process's job worker does
    page = li.get(result.headers["Location"]).get_data(as_text=True)
    assert "已完成" in page and "已完成 2 项，未能处理 1 项。" in page
    rows = dict(re.findall(r'<tr data-task="([^"]+)" class="(done|refused)">', page))
    assert rows == {tasks[0]: "done", tasks[1]: "refused", tasks[2]: "done"}
    db.session.rollback()
    assert db.session.scalar(db.select(db.func.count()).select_from(HumanTask)) == 0
    opinions = sorted(c.data["opinion"] for c in db.session.scalars(db.select(ProcessInstance)))
    assert opinions == ["一并同意", "一并同意", "王的意见"]


def test_bulk_claim_and_handover_and_their_limits(app, office):
    li = signed_in(app, "li")
    tasks = [new_case(li, office["li"]) for _ in range(2)]
    token = csrf_token(li, "/inbox/?tab=role")
    claimed = li.post("/inbox/bulk/run", data={"action": "claim", "task": tasks, "csrf_token": token})
    assert "已完成 2 项，未能处理 0 项。" in claimed.get_data(as_text=True)
    assert [assignee(t) for t in tasks] == ["li", "li"]
    handed = li.post("/inbox/bulk/run", data={"action": "handover", "to": "chen", "task": tasks, "csrf_token": token})
    assert "已完成 2 项" in handed.get_data(as_text=True) and [assignee(t) for t in tasks] == ["chen", "chen"]
    # no longer his: refused task by task, nothing changed
    again = li.post("/inbox/bulk/run", data={"action": "handover", "to": "li", "task": tasks, "csrf_token": token})
    assert "已完成 0 项，未能处理 2 项。" in again.get_data(as_text=True) and assignee(tasks[0]) == "chen"
    # another city's official cannot be handed a task, nor are more than 100 taken at once
    chen = signed_in(app, "chen")
    token = csrf_token(chen, "/inbox/")
    wrong = chen.post("/inbox/bulk/confirm", data={"action": "handover", "to": "nobody", "task": tasks, "csrf_token": token})
    assert wrong.status_code == 422 and "没有这位同事。" in wrong.get_data(as_text=True)
    zhao = chen.post("/inbox/bulk/run", data={"action": "handover", "to": "zhao", "task": tasks, "csrf_token": token})
    assert "未能处理 2 项" in zhao.get_data(as_text=True) and assignee(tasks[0]) == "chen"
    many = chen.post("/inbox/bulk/confirm", data={"action": "claim", "task": [f"{i:08d}-0000-0000-0000-000000000000"
                                                                             for i in range(101)], "csrf_token": token})
    assert many.status_code == 422 and "一次最多处理 100 项" in many.get_data(as_text=True)
    assert chen.post("/inbox/bulk/confirm", data={"action": "delete", "task": tasks, "csrf_token": token}).status_code == 400


def test_comments_stay_beside_the_task_and_in_the_case_timeline(app, office):
    li, sheng, zhao = signed_in(app, "li"), signed_in(app, "sheng"), signed_in(app, "zhao")
    task = new_case(li, office["li"])
    answer = post_form(li, f"/tasks/{task}/comments", {"text": "请补充能耗数据", "back": "task"}, page=f"/tasks/{task}")
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/tasks/{task}")
    page = li.get(f"/tasks/{task}").get_data(as_text=True)
    assert re.search(r'id="comments">.*请补充能耗数据', page, re.S)

    # the province may see the case, not act on the task: it comments from the case page
    case_id = db.session.scalar(db.select(HumanTask.instance_id).where(HumanTask.id == task))
    answer = post_form(sheng, "/tasks/comments", {"task": task, "text": "省厅：注意时限"}, page=f"/cases/{case_id}")
    assert answer.status_code == 303
    timeline = li.get(f"/cases/{case_id}").get_data(as_text=True)
    assert '<span class="comment-text">请补充能耗数据</span>' in timeline
    assert '<span class="comment-text">省厅：注意时限</span>' in timeline
    assert [e.actor for e in events("comment")] == ["li", "sheng"]

    # another city's official does not see the case; an empty or too long comment is refused, kept
    assert post_form(zhao, f"/tasks/{task}/comments", {"text": "看看"}).status_code == 404
    empty = post_form(li, f"/tasks/{task}/comments", {"text": "  ", "back": "task"}, page=f"/tasks/{task}")
    assert empty.status_code == 422 and "请填写批注。" in empty.get_data(as_text=True)
    long = post_form(sheng, "/tasks/comments", {"task": task, "text": "长" * 2001}, page=f"/cases/{case_id}")
    assert long.status_code == 422 and "批注最多 2000 个字。" in long.get_data(as_text=True)
    assert "长" * 2001 in long.get_data(as_text=True)
    assert len(events("comment")) == 2


def test_a_substitute_and_a_commenter_use_the_api_as_the_pages(app, office):
    wang = signed_in(app, "wang")
    api = app.test_client()
    task = new_case(wang, office["wang"])
    post_form(wang, f"/inbox/{task}/claim")
    bearer = {"Authorization": f"Bearer {office['li']}"}
    assert task not in [t["id"] for t in api.get("/api/v1/tasks", headers=bearer).json["tasks"]]
    today = clock.now().date()
    name_substitute(wang, "li", today, today)
    assert task in [t["id"] for t in api.get("/api/v1/tasks", headers=bearer).json["tasks"]]
    answer = api.post(f"/api/v1/tasks/{task}/comments", json={"text": "代王处长办理"}, headers=bearer)
    assert answer.status_code == 201
    assert api.post(f"/api/v1/tasks/{task}/comments", json={"text": ""}, headers=bearer).status_code == 422
    zhao = {"Authorization": f"Bearer {office['zhao']}"}
    assert api.post(f"/api/v1/tasks/{task}/comments", json={"text": "看看"}, headers=zhao).status_code == 404
    assert api.post(f"/api/v1/tasks/{task}/complete", json={"data": {"opinion": "同意"}}, headers=bearer).status_code == 200
    [done] = events("complete")
    assert done.actor == "li" and json.loads(done.detail)["on_behalf_of"] == "wang"
