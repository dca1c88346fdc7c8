"""When a task is done and the next one enters the inbox, the row of the one done becomes
the row of the next (`store.hand_over`): the next task must reach exactly whom it would
reach had its row been written new, and the one who claimed the task done must not keep it."""
from __future__ import annotations

from datetime import timedelta

from conftest import upload

from engine import clock
from engine.db import db
from engine.models import HumanTask, ProcessInstance
from engine.runtime import Actor

# A city's review, claimed by the officer who does it; the province's approval, claimed too,
# which may send the review back; then the city and the province each sign, side by side.
HANDOVER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="http://example.org">
<bpmn:process id="handover" isExecutable="true">
<bpmn:laneSet id="lanes">
  <bpmn:lane id="Lane_city" name="municipal">
    <bpmn:flowNodeRef>Start_case</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_review</bpmn:flowNodeRef>
    <bpmn:flowNodeRef>Task_sign_city</bpmn:flowNodeRef><bpmn:flowNodeRef>End_case</bpmn:flowNodeRef>
  </bpmn:lane>
  <bpmn:lane id="Lane_province" name="provincial">
    <bpmn:flowNodeRef>Task_approve</bpmn:flowNodeRef><bpmn:flowNodeRef>Decided</bpmn:flowNodeRef>
    <bpmn:flowNodeRef>Split</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_sign_province</bpmn:flowNodeRef>
    <bpmn:flowNodeRef>Join</bpmn:flowNodeRef>
  </bpmn:lane>
</bpmn:laneSet>
<bpmn:startEvent id="Start_case"/>
<bpmn:userTask id="Task_review" name="市级审核">
  <bpmn:extensionElements><spiffworkflow:properties>
    <spiffworkflow:property name="dueDate" value="working_days_after(today(), 5)"/>
    <spiffworkflow:property name="remindBefore" value="P1D"/>
    <spiffworkflow:property name="escalateTo" value="provincial"/>
  </spiffworkflow:properties></bpmn:extensionElements>
</bpmn:userTask>
<bpmn:userTask id="Task_approve" name="省级审定"/>
<bpmn:exclusiveGateway id="Decided" default="f_yes"/>
<bpmn:parallelGateway id="Split"/>
<bpmn:userTask id="Task_sign_city" name="市级签署"/>
<bpmn:userTask id="Task_sign_province" name="省级签署"/>
<bpmn:parallelGateway id="Join"/>
<bpmn:endEvent id="End_case"/>
<bpmn:sequenceFlow id="f1" sourceRef="Start_case" targetRef="Task_review"/>
<bpmn:sequenceFlow id="f2" sourceRef="Task_review" targetRef="Task_approve"/>
<bpmn:sequenceFlow id="f3" sourceRef="Task_approve" targetRef="Decided"/>
<bpmn:sequenceFlow id="f_back" sourceRef="Decided" targetRef="Task_review">
  <bpmn:conditionExpression>approved == False</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f_yes" sourceRef="Decided" targetRef="Split"/>
<bpmn:sequenceFlow id="f4" sourceRef="Split" targetRef="Task_sign_city"/>
<bpmn:sequenceFlow id="f5" sourceRef="Split" targetRef="Task_sign_province"/>
<bpmn:sequenceFlow id="f6" sourceRef="Task_sign_city" targetRef="Join"/>
<bpmn:sequenceFlow id="f7" sourceRef="Task_sign_province" targetRef="Join"/>
<bpmn:sequenceFlow id="f8" sourceRef="Join" targetRef="End_case"/>
</bpmn:process></bpmn:definitions>""".encode()

LZ = Actor("lz", "municipal", "620100")
GS = Actor("gs", "provincial")


def waiting(client, headers) -> dict[str, dict]:
    """The tasks a user's inbox lists over the API, by element."""
    return {t["element"]: t for t in client.get("/api/v1/tasks", headers=headers).get_json()["tasks"]}


def row(task_id: str) -> dict:
    """The task's inbox row as stored now (the test's own read transaction ended first, as a request's would)."""
    db.session.commit()
    entry = db.session.get(HumanTask, task_id)
    return {c.name: getattr(entry, c.name) for c in HumanTask.__table__.columns}


def complete(client, headers, task: dict, **data):
    reply = client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": data}, headers=headers)
    assert reply.status_code == 200, reply.get_json()
    clock.current().advance(timedelta(hours=1))


def test_the_task_after_a_claimed_one_reaches_its_own_lane_as_if_written_new(client, users, runtime):
    assert upload(client, users("ana", "analyst"), ("handover.bpmn", HANDOVER)).status_code == 201
    lz, gs = users("lz", "municipal", "620100"), users("gs", "provincial")
    users("ty", "municipal", "620500")
    started = client.post("/api/v1/instances", json={"process": "handover", "data": {}}, headers=lz)
    assert started.status_code == 201, started.get_json()
    case_id = started.get_json()["id"]
    review = waiting(client, lz)["Task_review"]
    written_new = row(review["id"])  # the first task's row is inserted with the case
    assert written_new["due_at"] is not None and written_new["escalate_to"] == "provincial"
    runtime.assign(review["id"], LZ, LZ)
    clock.current().advance(timedelta(hours=1))

    complete(client, lz, review)
    approve = waiting(client, gs)["Task_approve"]
    assert waiting(client, lz) == {}  # the claimer keeps nothing of the task done
    handed = row(approve["id"])
    assert (handed["role"], handed["jurisdiction"], handed["assignee"], handed["lane"]) == (
        "provincial", "620100", None, "provincial")
    assert (handed["due_at"], handed["remind_at"], handed["escalate_to"], handed["overdue_noticed"]) == (
        None, None, None, False)
    assert handed["created_at"] == clock.now() - timedelta(hours=1)  # when it entered, not when the review did
    assert db.session.get(HumanTask, review["id"]) is None  # (row() above ended the read)

    # sent back: the province's claimed row becomes the city's review again, as the start wrote it
    runtime.assign(approve["id"], GS, GS)
    complete(client, gs, approve, approved=False)
    again = waiting(client, lz)["Task_review"]
    assert again["id"] != review["id"] and waiting(client, gs) == {}
    returned = row(again["id"])
    assert returned["created_at"] == clock.now() - timedelta(hours=1)
    assert {k: v for k, v in returned.items() if k not in ("id", "created_at")} == \
           {k: v for k, v in written_new.items() if k not in ("id", "created_at")}
    assert waiting(client, users("ty")) == {}  # another city's officer sees none of it

    complete(client, lz, again)
    complete(client, gs, waiting(client, gs)["Task_approve"], approved=True)
    # two tasks enter for one that leaves: one takes its row, the other gets one of its own
    signs = {**waiting(client, lz), **waiting(client, gs)}
    assert set(signs) == {"Task_sign_city", "Task_sign_province"}
    assert {e: (row(t["id"])["role"], row(t["id"])["assignee"]) for e, t in signs.items()} == {
        "Task_sign_city": ("municipal", None), "Task_sign_province": ("provincial", None)}
    assert "Task_sign_city" in waiting(client, lz) and "Task_sign_province" in waiting(client, gs)

    complete(client, lz, signs["Task_sign_city"])  # the join waits: one leaves, none enters
    assert waiting(client, lz) == {} and set(waiting(client, gs)) == {"Task_sign_province"}
    complete(client, gs, signs["Task_sign_province"])
    db.session.commit()
    assert db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case_id)).all() == []
    assert db.session.get(ProcessInstance, case_id).status == "completed"


def test_a_draft_saved_while_the_step_hands_its_task_over_waits_and_is_refused(client, users, monkeypatch):
    """A draft saved from another request while the step completes its task waits for the step
    (and then finds the task gone): saved, it would be deleted unseen by the step, or, on
    PostgreSQL, saved between the step's delete of the task's drafts and its UPDATE of the
    entry's id, make that UPDATE fail on the foreign key. The step holds the entry locked
    from its first read (SQLite: its write lock)."""
    from sqlalchemy import create_engine, insert, text
    from sqlalchemy.exc import OperationalError

    from engine import store
    from engine.errors import Busy
    from web.tasks.models import TaskDraft

    assert upload(client, users("ana", "analyst"), ("handover.bpmn", HANDOVER)).status_code == 201
    lz = users("lz", "municipal", "620100")
    assert client.post("/api/v1/instances", json={"process": "handover", "data": {}}, headers=lz).status_code == 201
    review = waiting(client, lz)["Task_review"]
    refused = []
    hand_over = store.HAND_OVER_INBOX

    def save_a_draft_meanwhile(connection, row):
        elsewhere = create_engine(db.engine.url)  # another request's connection, waiting 300 ms at most
        try:
            with elsewhere.connect() as other:
                if other.dialect.name == "postgresql":
                    other.execute(text("SET lock_timeout = '300ms'"))
                else:
                    other.connection.dbapi_connection.execute("PRAGMA busy_timeout = 300")
                other.execute(insert(TaskDraft.__table__).values(
                    task_id=row["b_id"], user_name="lz", values={"opinion": "同意"}, saved_at=clock.now()))
                other.commit()
        # a lock wait that timed out (on SQLite refused as busy by engine.db's BEGIN IMMEDIATE)
        except (OperationalError, Busy) as exc:
            refused.append(exc)
        finally:
            elsewhere.dispose()
        hand_over(connection, row)

    monkeypatch.setattr(store, "HAND_OVER_INBOX", save_a_draft_meanwhile)
    complete(client, lz, review)
    assert len(refused) == 1
    approve = waiting(client, users("gs", "provincial"))["Task_approve"]
    db.session.commit()
    assert db.session.scalars(db.select(TaskDraft.task_id)).all() == []
    assert db.session.get(HumanTask, approve["id"]) is not None


def test_a_completion_waiting_for_another_step_on_its_case_holds_nothing_of_the_inbox(app, client, users):
    """The completion locks its case's row first and its entry's after it (PostgreSQL locks in
    the order its FOR UPDATE OF names them): while it waits for a step that holds the case
    (a timer's, which may write the case's inbox), it holds no inbox row that step could
    wait for in turn. SQLite takes one writer at a time: no row locks to order."""
    import threading
    import time

    from sqlalchemy import text

    if app.config["DB_KIND"] != "postgresql":
        return
    assert upload(client, users("ana", "analyst"), ("handover.bpmn", HANDOVER)).status_code == 201
    lz = users("lz", "municipal", "620100")
    started = client.post("/api/v1/instances", json={"process": "handover", "data": {}}, headers=lz)
    case_id, review = started.get_json()["id"], waiting(client, lz)["Task_review"]["id"]
    runtime = app.extensions["green_ladder.runtime"]
    done = []
    with db.engine.connect() as step_on_the_case, db.engine.connect() as look:
        step_on_the_case.execute(text("SELECT id FROM process_instance WHERE id = :i FOR UPDATE"), {"i": case_id})

        def completion():
            with app.app_context():
                done.append(runtime.complete(review, {}, LZ).revision)

        waiter = threading.Thread(target=completion)
        waiter.start()
        for _ in range(500):  # until the completion waits for the case's row
            waits = look.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                      "AND datname = current_database()")).scalar()
            look.rollback()  # (pg_stat_activity is read once a transaction)
            if waits:
                break
            time.sleep(0.01)
        assert waits == 1
        look.execute(text("SELECT id FROM human_task WHERE id = :t FOR UPDATE NOWAIT"), {"t": review})  # not held
        look.rollback()
        step_on_the_case.rollback()
        waiter.join(10)
    assert done and not waiter.is_alive()
