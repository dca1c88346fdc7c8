"""Notifications that reach people: the centre and its unread count, each person's channels,
and the outbox the timers process sends after the step: a real SMTP server (aiosmtpd) and a
local HTTP receiver for the SMS and DingTalk webhooks, started by the tests."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import factories
import pytest
from aiosmtpd.controller import Controller
from conftest import MODELS, ROOT, upload
from test_scheduler_processes import wait_for
from webclient import csrf_token, sign_in

from engine import clock, notifications
from engine.db import db
from engine.green.models import User
from engine.models import HumanTask, Notification
from engine.notifications import Delivery
from web.accounts.users import issue_token

LIMITS = MODELS / "time_limits.bpmn"
LANZHOU = "620100"

# An application its party starts: the city reviews it and returns it for correction,
# approves or rejects it.
APPLICATION = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_apply"
                  targetNamespace="http://green-ladder.gansu/tests">
  <bpmn:process id="small_application" name="small application" isExecutable="true">
    <bpmn:laneSet id="LaneSet_1">
      <bpmn:lane id="Lane_applicant" name="applicant">
        <bpmn:flowNodeRef>Start_apply</bpmn:flowNodeRef><bpmn:flowNodeRef>Task_apply</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_city" name="municipal">
        <bpmn:flowNodeRef>Task_review</bpmn:flowNodeRef><bpmn:flowNodeRef>Gateway_decision</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>End_approved</bpmn:flowNodeRef><bpmn:flowNodeRef>End_rejected</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Start_apply"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="Task_apply" name="申报 Apply"><bpmn:incoming>F1</bpmn:incoming>
      <bpmn:incoming>F_return</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="Task_review" name="市级审核 Review"><bpmn:incoming>F2</bpmn:incoming>
      <bpmn:outgoing>F3</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="Gateway_decision" default="F_reject"><bpmn:incoming>F3</bpmn:incoming>
      <bpmn:outgoing>F_return</bpmn:outgoing><bpmn:outgoing>F_approve</bpmn:outgoing>
      <bpmn:outgoing>F_reject</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="End_approved" name="审核通过 Approved"><bpmn:incoming>F_approve</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="End_rejected" name="不予通过 Rejected"><bpmn:incoming>F_reject</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start_apply" targetRef="Task_apply" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_apply" targetRef="Task_review" />
    <bpmn:sequenceFlow id="F3" sourceRef="Task_review" targetRef="Gateway_decision" />
    <bpmn:sequenceFlow id="F_return" sourceRef="Gateway_decision" targetRef="Task_apply">
      <bpmn:conditionExpression>decision == "return"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F_approve" sourceRef="Gateway_decision" targetRef="End_approved">
      <bpmn:conditionExpression>decision == "approve"</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="F_reject" sourceRef="Gateway_decision" targetRef="End_rejected" />
  </bpmn:process>
</bpmn:definitions>
""".encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    """aiosmtpd's handler: keeps every message the server accepted."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"

    def texts(self) -> list[str]:
        return [message_from_bytes(m.content, policy=policy.default).get_body().get_content() for m in self.messages]

    def subjects(self) -> list[str]:
        return [message_from_bytes(m.content, policy=policy.default)["Subject"] for m in self.messages]


@pytest.fixture
def smtp():
    """A real SMTP server on a free port, stopped after the test; `down()` and `up()` stop and
    start it again on the same port."""
    mailbox = Mailbox()
    mailbox.port = free_port()
    running = []

    def up():
        controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
        controller.start()
        running.append(controller)

    def down():
        running.pop().stop()

    mailbox.up, mailbox.down = up, down
    up()
    yield mailbox
    while running:
        down()


class Receiver:
    """A local HTTP endpoint standing for the SMS gateway or the DingTalk robot: it answers
    500 to its first `failures` requests, then 200 with DingTalk's {"errcode": 0}."""

    def __init__(self, failures: int = 0):
        self.failures, self.bodies, self.answered = failures, [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.bodies.append(body)
                failing = len(receiver.bodies) <= receiver.failures
                receiver.answered.append(500 if failing else 200)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errcode": 1, "errmsg": "busy"}' if failing else b'{"errcode": 0, "errmsg": "ok"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/robot/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(failures=0):
        made.append(Receiver(failures))
        return made[-1]

    yield make
    for r in made:
        r.stop()


def channels_from(env: dict) -> None:
    """The server's channels as the timers process reads them from its environment."""
    notifications.configure(notifications.Settings.from_environment({"NOTIFY_RETRY_SECONDS": "60", **env}))


@pytest.fixture(autouse=True)
def _channels_reset():
    yield
    notifications.configure(notifications.Settings.from_environment({}))


def account(name, role="municipal", city=LANZHOU) -> dict:
    """An account the administrator added, with its password (pages) and token (API)."""
    return {"Authorization": f"Bearer {factories.user(name, role, city)}"}


def choose(client, name, channels=(), **form):
    """The person signs in and chooses their channels on the settings page."""
    sign_in(client, name)
    data = {"csrf_token": csrf_token(client, "/notifications/settings"), "email": "", "mobile": "",
            "channel": list(channels), **form}
    return client.post("/notifications/settings", data=data)


def page(client, name, path="/notifications/") -> str:
    sign_in(client, name)
    return client.get(path).get_data(as_text=True)


def deliveries(**where) -> list[Delivery]:
    db.session.rollback()
    return db.session.scalars(db.select(Delivery).filter_by(**where).order_by(Delivery.id)).all()


def worker_pass() -> dict:
    """One pass of the timers process's delivery worker."""
    done = notifications.deliver_due()
    db.session.rollback()
    return done


def clock_to(client, root, **body):
    r = client.post("/api/v1/clock", json=body, headers=root)
    assert r.status_code == 200, r.json


def start_round(client):
    """A city's yearly recommendation, due 31 March, its reminder on 25 March."""
    upload(client, account("ana", "analyst", None), LIMITS)
    lanzhou = account("lz")
    return client.post("/api/v1/instances", json={"process": "city_recommendation"}, headers=lanzhou).json, lanzhou


def hand_over(client, giver, task_id, to):
    sign_in(client, giver)
    return client.post(f"/inbox/{task_id}/handover", data={"to": to, "csrf_token": csrf_token(client, "/inbox/")})


def applicant(client, smtp):
    """A registered firm that chose e-mail, the small application deployed, and the city's official."""
    channels_from({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)})
    r = upload(client, account("ana", "analyst", None), ("apply.bpmn", APPLICATION))
    assert r.status_code == 201, r.json
    city = account("lz")
    factories.registered("firm")
    firm = {"Authorization": "Bearer " + issue_token(db.session.scalar(db.select(User).where(User.name == "firm")), None)}
    db.session.commit()
    assert choose(client, "firm", ["email"], email="contact@lvyuan.com.cn").status_code == 303
    return firm, city


# ------------------------------------------------------------------------------------------ tests
def test_a_reminder_reaches_the_official_by_email_after_the_step_and_shows_as_delivered(client, smtp):
    channels_from({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_FROM": "noreply@gxt.gansu.gov.cn"})
    root = account("root", "admin", None)
    inst, _ = start_round(client)
    assert choose(client, "lz", ["email"], email="li.city@lanzhou.gov.cn").status_code == 303

    clock_to(client, root, to="2026-03-25T00:00:01+08:00")
    [delivery] = deliveries()
    # written with the step, not sent by it: the mail server has seen nothing yet
    assert (delivery.account, delivery.channel, delivery.status) == ("lz", "email", "pending")
    assert smtp.messages == []
    assert 'data-status="pending"' in page(client, "lz")

    assert worker_pass() == {"sent": 1}
    [mail] = smtp.messages
    assert mail.rcpt_tos == ["li.city@lanzhou.gov.cn"] and mail.mail_from == "noreply@gxt.gansu.gov.cn"
    assert smtp.subjects() == ["【绿色制造】办理提醒"]
    assert f"办件 {inst['id']}「报送推荐名单 Recommend units」将于 2026年03月31日 24:00 到期" in smtp.texts()[0]
    html = page(client, "lz")
    assert 'data-kind="reminder"' in html and 'data-channel="email" data-status="sent"' in html
    assert worker_pass() == {}  # sent once


def test_the_header_counts_my_unread_notices_and_reading_one_is_mine_alone(client):
    root = account("root", "admin", None)
    start_round(client)
    account("lz2")  # a second official of the same city: the reminder is to the city's role
    clock_to(client, root, to="2026-03-25T00:00:01+08:00")

    html = page(client, "lz", "/inbox/")
    assert 'id="unread-count">1<' in html
    [notice_id] = db.session.scalars(db.select(Notification.id)).all()
    sign_in(client, "lz")
    r = client.post(f"/notifications/{notice_id}/read", data={"csrf_token": csrf_token(client, "/notifications/")})
    assert r.status_code == 303
    assert 'id="unread-count"' not in page(client, "lz", "/inbox/")
    assert 'class="read"' in page(client, "lz")
    # the colleague has not read it
    assert 'id="unread-count">1<' in page(client, "lz2", "/inbox/")
    assert 'data-notification' in page(client, "lz2", "/notifications/?show=unread")
    assert 'data-notification' not in page(client, "lz", "/notifications/?show=unread")
    # another city's official sees none of it, and cannot mark it
    account("ts", "municipal", "620500")
    assert 'data-notification' not in page(client, "ts")
    r = client.post(f"/notifications/{notice_id}/read", data={"csrf_token": csrf_token(client, "/notifications/")})
    assert r.status_code == 404

    sign_in(client, "lz2")
    r = client.post("/notifications/read-all", data={"csrf_token": csrf_token(client, "/notifications/")})
    assert r.status_code == 303 and 'id="unread-count"' not in page(client, "lz2", "/inbox/")


def test_a_hand_over_is_told_to_the_colleague_and_the_step_commits_while_smtp_is_down(client, smtp):
    channels_from({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "NOTIFY_MAX_ATTEMPTS": "3"})
    account("root", "admin", None)
    inst, _ = start_round(client)
    account("wang")
    assert choose(client, "wang", ["email"], email="wang@lanzhou.gov.cn").status_code == 303
    smtp.down()  # the mail server is down

    task_id = inst["tasks"][0]["id"]
    assert hand_over(client, "lz", task_id, "wang").status_code == 303
    db.session.rollback()
    assert db.session.get(HumanTask, task_id).assignee == "wang"  # the hand-over stands
    [told] = db.session.scalars(db.select(Notification)).all()
    assert (told.kind, told.assignee) == ("handover", "wang")

    assert worker_pass() == {"pending": 1}
    [d] = deliveries()
    assert d.attempts == 1 and "SMTP" in d.last_error and d.next_attempt_at == clock.now() + timedelta(seconds=60)
    assert 'data-channel="email" data-status="pending"' in page(client, "wang")
    assert worker_pass() == {}  # not before its back-off
    clock.current().advance(timedelta(seconds=60))
    assert worker_pass() == {"pending": 1}
    [d] = deliveries()
    assert d.next_attempt_at == clock.now() + timedelta(seconds=120)  # twice as long
    clock.current().advance(timedelta(seconds=120))
    assert worker_pass() == {"failed": 1}  # the third attempt was the last
    clock.current().advance(timedelta(days=1))
    assert worker_pass() == {}

    assert 'data-channel="email" data-status="failed"' in page(client, "wang")
    admin_page = page(client, "root", "/notifications/deliveries?status=failed")
    assert f'data-delivery="{d.id}" data-status="failed"' in admin_page and "wang@lanzhou.gov.cn" in admin_page
    assert client.get("/notifications/deliveries", headers={}).status_code == 200
    sign_in(client, "wang")
    assert client.get("/notifications/deliveries").status_code == 403

    # the mail server is back; the administrator sends it again
    smtp.up()
    sign_in(client, "root")
    r = client.post(f"/notifications/deliveries/{d.id}/retry",
                    data={"csrf_token": csrf_token(client, "/notifications/deliveries")})
    assert r.status_code == 303
    assert worker_pass() == {"sent": 1}
    [mail] = smtp.messages
    assert mail.rcpt_tos == ["wang@lanzhou.gov.cn"] and "已转交您办理" in smtp.texts()[0]


def test_a_notice_waiting_for_an_account_deactivated_meanwhile_is_not_sent(client, smtp):
    """The colleague chose e-mail and was handed a task; before the worker's pass an administrator
    deactivated the account (he left the department): nothing goes to his address, and the
    delivery says why, on the administrator's page, even when sent again from there."""
    channels_from({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)})
    account("root", "admin", None)
    inst, _ = start_round(client)
    account("wang")
    assert choose(client, "wang", ["email"], email="wang@lanzhou.gov.cn").status_code == 303
    assert hand_over(client, "lz", inst["tasks"][0]["id"], "wang").status_code == 303
    [d] = deliveries()
    assert d.status == "pending"

    sign_in(client, "root")
    r = client.post("/admin/users/wang/deactivate", data={"csrf_token": csrf_token(client, "/admin/users/")})
    assert r.status_code == 303
    assert worker_pass() == {"failed": 1}
    assert smtp.messages == []
    [d] = deliveries()
    assert d.status == "failed" and d.attempts == 1 and "账户已停用" in d.last_error
    admin_page = page(client, "root", "/notifications/deliveries?status=failed")
    assert f'data-delivery="{d.id}" data-status="failed"' in admin_page and "账户已停用，未发送" in admin_page
    assert "deactivated" not in admin_page  # in the reader's language only

    sign_in(client, "root")
    r = client.post(f"/notifications/deliveries/{d.id}/retry",
                    data={"csrf_token": csrf_token(client, "/notifications/deliveries")})
    assert r.status_code == 303
    assert worker_pass() == {"failed": 1} and smtp.messages == []


def test_a_dingtalk_robot_that_fails_twice_then_answers_gets_the_notice_on_the_third_try(client, receivers):
    robot, gateway = receivers(failures=2), receivers()
    channels_from({"DINGTALK_WEBHOOK_URL": robot.url, "SMS_WEBHOOK_URL": gateway.url})
    inst, _ = start_round(client)
    account("wang")
    assert choose(client, "wang", ["dingtalk", "sms"], mobile="139 1931 2345").status_code == 303
    assert hand_over(client, "lz", inst["tasks"][0]["id"], "wang").status_code == 303

    assert worker_pass() == {"pending": 1, "sent": 1}  # the SMS went; the robot answered 500
    [sms] = gateway.bodies
    assert sms["mobile"] == "13919312345" and "已转交您办理" in sms["text"]
    clock.current().advance(timedelta(seconds=60))
    assert worker_pass() == {"pending": 1}
    clock.current().advance(timedelta(seconds=120))
    assert worker_pass() == {"sent": 1}
    assert robot.answered == [500, 500, 200]
    last = robot.bodies[-1]
    assert last["msgtype"] == "text" and last["at"] == {"atMobiles": ["13919312345"]}
    assert "【绿色制造】" in last["text"]["content"]
    d = deliveries(channel="dingtalk")[0]
    assert (d.status, d.attempts, d.last_error) == ("sent", 3, None)


def test_the_application_returned_for_correction_and_its_decision_reach_the_applicant(client, smtp):
    firm, city = applicant(client, smtp)
    inst = client.post("/api/v1/instances", json={"process": "small_application"}, headers=firm).json
    assert "tasks" in inst, inst
    assert client.post(f"/api/v1/tasks/{inst['tasks'][0]['id']}/complete", json={"data": {}}, headers=firm).status_code == 200
    [review] = client.get("/api/v1/tasks", headers=city).json["tasks"]
    r = client.post(f"/api/v1/tasks/{review['id']}/complete", json={"data": {"decision": "return"}}, headers=city)
    assert r.status_code == 200
    [returned] = client.get("/api/v1/notifications", headers=firm).json["notifications"]
    assert (returned["kind"], returned["element"], returned["read"]) == ("returned", "Task_apply", False)
    assert client.get("/api/v1/notifications", headers=city).json["notifications"] == []

    [again] = client.get("/api/v1/tasks", headers=firm).json["tasks"]
    client.post(f"/api/v1/tasks/{again['id']}/complete", json={"data": {}}, headers=firm)
    [review] = client.get("/api/v1/tasks", headers=city).json["tasks"]
    client.post(f"/api/v1/tasks/{review['id']}/complete", json={"data": {"decision": "approve"}}, headers=city)
    decided, _ = client.get("/api/v1/notifications", headers=firm).json["notifications"]
    assert (decided["kind"], decided["element"], decided["task_name"]) == ("decided", "End_approved", "审核通过 Approved")

    assert worker_pass() == {"sent": 2}
    assert smtp.subjects() == ["【绿色制造】退回补正", "【绿色制造】办理结果"]
    listed = client.get("/api/v1/notifications", headers=firm).json["notifications"]
    assert [[(d["channel"], d["status"]) for d in n["deliveries"]] for n in listed] == [[("email", "sent")]] * 2
    assert f"您的申请（办件 {inst['id']}）已办结：审核通过 Approved" in smtp.texts()[1]
    html = page(client, "firm")
    assert 'data-kind="returned"' in html and 'data-kind="decided"' in html


def test_an_application_the_city_ends_tells_the_applicant_why_and_a_withdrawal_tells_nobody(client, smtp):
    firm, city = applicant(client, smtp)
    ended = client.post("/api/v1/instances", json={"process": "small_application"}, headers=firm).json
    withdrawn = client.post("/api/v1/instances", json={"process": "small_application"}, headers=firm).json
    r = client.post(f"/api/v1/instances/{withdrawn['id']}/withdraw", json={"reason": "本年度不再申报"}, headers=firm)
    assert r.status_code == 200, r.json
    clock.current().advance(timedelta(days=31))
    r = client.post(f"/api/v1/instances/{ended['id']}/end", json={"reason": "申报材料逾期未补正"}, headers=city)
    assert r.status_code == 200, r.json

    [told] = client.get("/api/v1/notifications", headers=firm).json["notifications"]
    assert (told["kind"], told["instance"], told["task_name"]) == ("ended", ended["id"], "申报材料逾期未补正")
    assert worker_pass() == {"sent": 1}
    assert smtp.subjects() == ["【绿色制造】终止办理"]
    assert f"您的申请（办件 {ended['id']}）已被终止办理。理由：申报材料逾期未补正" in smtp.texts()[0]
    assert 'data-kind="ended"' in page(client, "firm")


def test_a_case_the_city_starts_is_no_application_and_tells_nobody_its_end(client):
    root = account("root", "admin", None)
    inst, lanzhou = start_round(client)
    for _ in range(2):
        [task] = client.get(f"/api/v1/instances/{inst['id']}", headers=lanzhou).json["tasks"]
        client.post(f"/api/v1/tasks/{task['id']}/complete", json={"data": {}}, headers=lanzhou)
    assert client.get(f"/api/v1/instances/{inst['id']}", headers=root).json["status"] == "completed"
    assert db.session.scalar(db.select(db.func.count()).select_from(Notification)) == 0


def test_channel_settings_are_checked_and_the_entries_kept(client, smtp):
    channels_from({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)})
    account("lz")
    r = choose(client, "lz", ["email", "sms"], email="li.city@", mobile="12345")
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert 'id="error-email"' in html and 'id="error-mobile"' in html and 'id="error-channel"' in html
    assert 'value="li.city@"' in html and 'value="12345"' in html
    r = choose(client, "lz", ["sms"], mobile="")
    assert r.status_code == 422 and 'id="error-mobile"' in r.get_data(as_text=True)
    assert db.session.get(notifications.ChannelSettings, "lz") is None

    assert choose(client, "lz", ["email"], email="li.city@lanzhou.gov.cn").status_code == 303
    html = page(client, "lz", "/notifications/settings")
    assert 'value="li.city@lanzhou.gov.cn"' in html and 'value="email" checked' in html


def test_two_workers_never_take_the_same_delivery(app, client):
    channels_from({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": "1"})
    root = account("root", "admin", None)
    start_round(client)
    for i in range(12):  # a reminder to the city's role reaches each of its officials
        account(f"lz{i}")
        assert choose(client, f"lz{i}", ["email"], email=f"o{i}@lanzhou.gov.cn").status_code == 303
    clock_to(client, root, to="2026-03-25T00:00:01+08:00")
    assert len(deliveries(status="pending")) == 12

    taken, ready = [], threading.Barrier(2)

    def worker():
        with app.app_context():
            ready.wait()
            taken.append(notifications.claim(limit=12))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first, second = taken
    assert not set(first) & set(second) and len(first) + len(second) == 12
    assert {d.status for d in deliveries()} == {"sending"}


def test_a_delivery_whose_worker_died_is_claimed_again_after_its_lease(client, smtp):
    channels_from({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "NOTIFY_LEASE_SECONDS": "300"})
    inst, _ = start_round(client)
    account("wang")
    choose(client, "wang", ["email"], email="wang@lanzhou.gov.cn")
    hand_over(client, "lz", inst["tasks"][0]["id"], "wang")
    [claimed] = notifications.claim()  # and the worker dies before sending
    assert notifications.claim() == []
    clock.current().advance(timedelta(seconds=301))
    assert worker_pass() == {"sent": 1} and len(smtp.messages) == 1


def test_the_timers_process_sends_what_steps_wrote_while_it_was_not_running(app, client, smtp, tmp_path):
    clock.install(clock.SystemClock())
    channels_from({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)})
    inst, _ = start_round(client)
    account("wang")
    choose(client, "wang", ["email"], email="wang@lanzhou.gov.cn")
    assert hand_over(client, "lz", inst["tasks"][0]["id"], "wang").status_code == 303
    assert [d.status for d in deliveries()] == ["pending"]

    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "PYTHONPATH": str(ROOT),
           "CLOCK": "system", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "NOTIFY_POLL_SECONDS": "0.2"}
    env.pop("SCHEDULER", None)
    log = tmp_path / "timers.log"
    timers = subprocess.Popen([sys.executable, "-m", "flask", "--app", "web", "timers", "run"], cwd=ROOT, env=env,
                              stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: [d.status for d in deliveries()] == ["sent"], what=f"the delivery\n{log.read_text()}")
    finally:
        os.killpg(timers.pid, signal.SIGKILL)
        timers.wait()
    [mail] = smtp.messages
    assert mail.rcpt_tos == ["wang@lanzhou.gov.cn"]
    assert 'data-channel="email" data-status="sent"' in page(client, "wang")
