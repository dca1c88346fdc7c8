"""Time limits on the virtual clock: due dates, a reminder, the overdue notice to
the supervising role, and timers that fire at their moment and not a second early."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from conftest import MODELS, upload

from engine import clock
from engine.db import db
from engine.models import ProcessInstance

LIMITS = MODELS / "time_limits.bpmn"
TIMED = (Path(__file__).parent / "conformance" / "boundary_timer_interrupting.bpmn").read_bytes()


def start_round(client, users, city="620100"):
    upload(client, users("ana", "analyst"), LIMITS)
    official = users(f"city-{city}", "municipal", city)
    inst = client.post("/api/v1/instances", json={"process": "city_recommendation"}, headers=official).json
    return inst, official


def move(client, users, **body):
    r = client.post("/api/v1/clock", json=body, headers=users("root", "admin"))
    assert r.status_code == 200, r.json
    return r.json


def notices(client, headers):
    return client.get("/api/v1/notifications", headers=headers).json["notifications"]


def test_the_due_date_comes_from_the_diagram(client, users):
    inst, lanzhou = start_round(client, users)
    [task] = inst["tasks"]
    assert task["due"] == "2026-04-01T00:00:00+08:00" and task["overdue"] is False
    assert inst["next_timer"] == "2026-03-25T00:00:00+08:00"  # the reminder, a week before


def test_reminder_then_overdue_notice_to_the_province(client, users):
    inst, lanzhou = start_round(client, users)
    tianshui, province = users("ts", "municipal", "620500"), users("prov", "provincial")

    assert move(client, users, to="2026-03-25T00:00:00+08:00")["fired"] == []  # not a second early
    assert notices(client, lanzhou) == []
    fired = move(client, users, advance="PT1S")["fired"]
    assert [f["instance"] for f in fired] == [inst["id"]]
    [reminder] = notices(client, lanzhou)
    assert reminder["kind"] == "reminder" and reminder["element"] == "Task_recommend"
    assert notices(client, tianshui) == [] and notices(client, province) == []

    move(client, users, to="2026-04-01T00:00:01+08:00")
    [overdue] = notices(client, province)
    assert overdue["kind"] == "overdue" and overdue["jurisdiction"] == "620100"
    assert [t["element"] for t in client.get("/api/v1/tasks?overdue=true", headers=lanzhou).json["tasks"]] \
        == ["Task_recommend"]
    assert len(notices(client, lanzhou)) == 1  # the city keeps its reminder; the notice went up
    r = client.post(f"/api/v1/notifications/{overdue['id']}/read", headers=province)
    assert r.status_code == 200 and notices(client, province)[0]["read"] is True
    assert client.post(f"/api/v1/notifications/{overdue['id']}/read", headers=tianshui).status_code == 404

    # nothing more is due for this step: the clock can go on without repeats
    move(client, users, advance="P30D")
    assert len(notices(client, province)) == 1 and len(notices(client, lanzhou)) == 1


def test_completing_in_time_sends_nothing(client, users):
    inst, lanzhou = start_round(client, users)
    client.post(f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete", json={"data": {}}, headers=lanzhou)
    after = client.get(f"/api/v1/instances/{inst['id']}", headers=lanzhou).json
    # the publication step: five working days from Monday 2 March 2026
    assert after["tasks"][0]["due"] == "2026-03-10T00:00:00+08:00"
    assert after["next_timer"] == "2026-03-10T00:00:00+08:00"
    move(client, users, to="2026-03-09T23:00:00+08:00")
    assert notices(client, lanzhou) == []
    move(client, users, to="2026-03-10T00:00:02+08:00")
    [late] = notices(client, lanzhou)  # no escalateTo: the task's own role is told
    assert late["kind"] == "overdue" and late["element"] == "Task_publish"


def test_a_boundary_timer_fires_at_its_moment_not_a_second_early(client, users, runtime):
    upload(client, users("ana", "analyst"), ("timed.bpmn", TIMED))
    admin = users("root", "admin")
    inst = client.post("/api/v1/instances", json={"process": "cf_timer_interrupting"}, headers=admin).json
    due = clock.now() + timedelta(hours=1)
    move(client, users, to=due.isoformat())
    assert [t["element"] for t in client.get(f"/api/v1/instances/{inst['id']}", headers=admin).json["tasks"]] \
        == ["Task_review"]
    fired = move(client, users, advance="PT1S")["fired"]
    assert fired and fired[0]["at"] == (due + timedelta(seconds=1)).isoformat()
    assert [t["element"] for t in client.get(f"/api/v1/instances/{inst['id']}", headers=admin).json["tasks"]] \
        == ["Task_escalation"]


def test_a_non_interrupting_timer_fires_at_its_moment_and_the_task_stays(client, users):
    body = (Path(__file__).parent / "conformance" / "boundary_timer_non_interrupting.bpmn").read_bytes()
    upload(client, users("ana", "analyst"), ("reminder.bpmn", body))
    admin = users("root", "admin")
    inst = client.post("/api/v1/instances", json={"process": "cf_timer_non_interrupting",
                                                  "data": {"reviewer": "张工"}}, headers=admin).json
    due = clock.now() + timedelta(hours=1)
    assert move(client, users, to=due.isoformat())["fired"] == []
    fired = move(client, users, advance="PT1S")["fired"]
    assert [f["at"] for f in fired] == [(due + timedelta(seconds=1)).isoformat()]
    after = client.get(f"/api/v1/instances/{inst['id']}", headers=admin).json
    assert [t["element"] for t in after["tasks"]] == ["Task_review"] and after["tasks"][0]["id"] == inst["tasks"][0]["id"]
    assert after["next_timer"] is None and after["status"] == "running", after  # it fired once


def test_many_cases_fire_in_due_order(client, users, runtime):
    upload(client, users("ana", "analyst"), ("timed.bpmn", TIMED))
    admin = users("root", "admin")
    ids = []
    for minutes in (50, 10, 30):
        clock.current().advance(timedelta(minutes=minutes))
        ids.append(client.post("/api/v1/instances", json={"process": "cf_timer_interrupting"}, headers=admin).json["id"])
    fired = move(client, users, advance="PT3H")["fired"]
    assert [f["instance"] for f in fired] == ids
    assert [f["at"] for f in fired] == sorted(f["at"] for f in fired)


def test_the_clock_is_an_administrators_and_only_when_virtual(app, client, users):
    assert client.get("/api/v1/clock", headers=users("root", "admin")).json["virtual"] is True
    assert client.post("/api/v1/clock", json={"advance": "P1D"}, headers=users("p", "provincial")).status_code == 403
    r = client.post("/api/v1/clock", json={"to": "2020-01-01T00:00:00+08:00"}, headers=users("root", "admin"))
    assert r.status_code == 422 and "forward" in r.json["fields"]["to"][0]
    assert client.post("/api/v1/clock", json={"advance": "soon"}, headers=users("root", "admin")).status_code == 422
    app.config["CLOCK"] = "system"
    assert client.get("/api/v1/clock", headers=users("root", "admin")).status_code == 404


def test_a_wrong_time_limit_holds_the_case_for_an_administrator(client, users, runtime):
    broken = LIMITS.read_bytes().replace(b'value="provincial"', b'value="nobody"')
    checked = runtime.registry.check({"limits.bpmn": broken})
    assert [(f.element, f.severity) for f in checked.findings] == [("Task_recommend", "error")]
    from_data = LIMITS.read_bytes().replace(b'next_annual(3, 31)', b'report_deadline')
    runtime.registry.deploy({"limits.bpmn": from_data})
    [warning] = runtime.registry.check({"limits.bpmn": from_data}).findings
    assert warning.severity == "warning" and "report_deadline" in warning.message
    official = users("lz", "municipal", "620100")
    inst = client.post("/api/v1/instances", json={"process": "city_recommendation"}, headers=official).json
    assert inst["status"] == "error" and inst["error"]["element"] == "Task_recommend"
    assert "report_deadline" in inst["error"]["message"]
    admin = users("root", "admin")
    r = client.post(f"/api/v1/instances/{inst['id']}/retry",
                    json={"data": {"report_deadline": "2026-03-31"}, "reason": "the notice's date"}, headers=admin)
    assert r.json["status"] == "running" and r.json["tasks"][0]["due"] == "2026-04-01T00:00:00+08:00"
    assert db.session.get(ProcessInstance, inst["id"]).next_timer_at is not None


def test_an_early_or_repeated_wake_up_writes_nothing(client, users, runtime):
    inst, _ = start_round(client, users)
    before = db.session.get(ProcessInstance, inst["id"]).revision
    runtime.fire_timers(inst["id"])  # nothing is due yet
    runtime.fire_timers(inst["id"])
    db.session.rollback()
    assert db.session.get(ProcessInstance, inst["id"]).revision == before
    from engine.models import AuditEvent
    assert not db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "timer")).all()
