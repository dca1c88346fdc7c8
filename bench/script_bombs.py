"""Script-bomb benchmark: does one analyst's bomb hold everyone else's requests?

A single expression done in C (`10 ** (10 ** 7)`, `'a' * 10 ** 10`) holds the
interpreter lock until it ends; the time limit cannot act inside it, so before
the size guards of engine/script_limits.py a `GET /login` sent meanwhile waited
26 s. This starts the real app (`web.create_app`) behind werkzeug's threaded
WSGI server on 127.0.0.1, one process as `flask run` and a threaded worker
serve it, and measures `GET /login` from another thread:
- alone, for a baseline;
- while a third thread fires bombs through the API: deploys whose timer
  expression, due date or decision cell is a bomb (validated on deploy, so
  refused with 422), and cases whose script task is a bomb (each case stops
  in error).
Prints p50/p95/max latency of the GETs in both phases, their ratio, and what
the bombs got back.

Run: make bench-bombs   (or PYTHONPATH=. .venv/bin/python bench/script_bombs.py [--seconds S])
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from werkzeug.serving import make_server  # noqa: E402

from bench.fresh import fresh_app  # noqa: E402

# The red team's bombs, and their cousins: each alone ran seconds to minutes in C, or asked for gigabytes.
SCRIPT_BOMBS = [
    "x = 10 ** (10 ** 7)",
    "x = 'a' * 10 ** 10",
    "x = str(10 ** 100000)",
    "x = '%0999999999d' % 1",
    "x = f'{1:>999999999}'",
    "x = [0] * 10 ** 10",
    "x = 1 << 10 ** 9",
    "x = sum(range(10 ** 12))",
    "x = round(1, -10 ** 8)",
]
TIMER_BOMBS = ["'P%dD' % (10 ** (10 ** 7))", "'P1D' + 'x' * 10 ** 10", "'P%dD' % len(str(10 ** 100000))"]
DUE_BOMBS = ["'P1D' * 10 ** 10", "end_of_day(today()) + ' ' * 10 ** 10"]
CELL_BOMBS = ["'x' * 10 ** 10", "10 ** (10 ** 7)"]

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/'
        '20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" '
        'targetNamespace="http://example.org">')


def line(process: str, step: str, step_id: str) -> bytes:
    """start -> step -> a user task -> end."""
    ids = ["start", step_id, "after", "end"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(zip(ids, ids[1:])))
    return (HEAD + f'<bpmn:process id="{process}" isExecutable="true"><bpmn:startEvent id="start"/>{step}'
            '<bpmn:userTask id="after" name="After"/><bpmn:endEvent id="end"/>' + flows
            + "</bpmn:process></bpmn:definitions>").encode()


def script_diagram(process: str, script: str) -> dict[str, bytes]:
    step = f'<bpmn:scriptTask id="bomb" name="Bomb"><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>'
    return {f"{process}.bpmn": line(process, step, "bomb")}


def timer_diagram(process: str, text: str) -> dict[str, bytes]:
    step = ('<bpmn:intermediateCatchEvent id="bomb"><bpmn:timerEventDefinition><bpmn:timeDuration>'
            f'{escape(text)}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
    return {f"{process}.bpmn": line(process, step, "bomb")}


def due_diagram(process: str, text: str) -> dict[str, bytes]:
    step = ('<bpmn:userTask id="bomb" name="Due"><bpmn:extensionElements><spiffworkflow:properties>'
            f'<spiffworkflow:property name="dueDate" value="{escape(text, {chr(34): "&quot;"})}"/>'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>')
    return {f"{process}.bpmn": line(process, step, "bomb")}


def cell_diagram(process: str, text: str) -> dict[str, bytes]:
    step = ('<bpmn:businessRuleTask id="bomb" name="Decide"><bpmn:extensionElements><spiffworkflow:calledDecisionId>'
            f'{process}_table</spiffworkflow:calledDecisionId></bpmn:extensionElements></bpmn:businessRuleTask>')
    table = ('<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
             f'id="D_{process}" name="t" namespace="http://example.org"><decision id="{process}_table" name="t">'
             '<decisionTable id="T" hitPolicy="UNIQUE"><input id="I" label="Level"><inputExpression id="IE" '
             'typeRef="string"><text>level</text></inputExpression></input><output id="O" label="Out" name="out" '
             'typeRef="string"/><rule id="R"><inputEntry id="RI"><text>"a"</text></inputEntry><outputEntry id="RO">'
             f'<text>{escape(text)}</text></outputEntry></rule></decisionTable></decision></definitions>')
    return {f"{process}.bpmn": line(process, step, "bomb"), f"{process}_table.dmn": table.encode()}


class Client:
    """One keep-alive-free HTTP call at a time to the server under test."""

    def __init__(self, port: int):
        self.port = port

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def deploy(self, token: str, files: dict[str, bytes]):
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                 f"Content-Type: application/xml\r\n\r\n".encode() + content + b"\r\n"
                 for name, content in files.items()]
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self.request("POST", "/api/v1/models", body, {
            "Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"})

    def start(self, token: str, process: str):
        return self.request("POST", "/api/v1/instances", json.dumps({"process": process, "data": {}}).encode(),
                            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


def probe(client: Client, stop: threading.Event, latencies: list[float]) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        status, _ = client.request("GET", "/login")
        latencies.append(time.perf_counter() - began)
        if status != 200:
            raise RuntimeError(f"GET /login answered {status}")


def bomb(client: Client, analyst: str, admin: str, stop: threading.Event, outcomes: dict) -> None:
    """Deploy each kind of bomb and start cases on the script bombs until told to stop."""
    def note(kind: str, status: int, seconds: float, body: bytes = b""):
        entry = outcomes.setdefault(kind, {"count": 0, "statuses": {}, "slowest": 0.0})
        entry["count"] += 1
        key = str(status)
        if kind == "case" and status == 201:
            key = json.loads(body)["status"]
        entry["statuses"][key] = entry["statuses"].get(key, 0) + 1
        entry["slowest"] = max(entry["slowest"], seconds)

    for i, script in enumerate(SCRIPT_BOMBS):  # a script is run when the case reaches it, not on deploy
        status, body = client.deploy(analyst, script_diagram(f"script_bomb_{i}", script))
        if status not in (200, 201):
            raise RuntimeError(f"the script bomb {script!r} did not deploy: {body[:300]!r}")
    deployers = [(timer_diagram, TIMER_BOMBS), (due_diagram, DUE_BOMBS), (cell_diagram, CELL_BOMBS)]
    round_ = 0
    while not stop.is_set():
        for make, texts in deployers:
            for text in texts:
                # a new process id each time: the registry keeps the findings of content it has checked
                began = time.perf_counter()
                status, _ = client.deploy(analyst, make(f"bomb_{round_}_{uuid.uuid4().hex[:6]}", text))
                note("deploy", status, time.perf_counter() - began)
        for i in range(len(SCRIPT_BOMBS)):
            began = time.perf_counter()
            status, body = client.start(admin, f"script_bomb_{i}")
            note("case", status, time.perf_counter() - began, body)
        round_ += 1


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(latencies: list[float]) -> str:
    ms = [v * 1000 for v in latencies]
    return (f"p50 {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 95):7.1f} ms   max {max(ms):7.1f} ms   "
            f"({len(ms)} requests)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    args = parser.parse_args()

    from engine.db import db
    from web.accounts.users import add_user

    with tempfile.TemporaryDirectory() as tmp:
        app = fresh_app(f"sqlite:///{tmp}/bombs.sqlite3", script_diagram("warm_up", "x = 1"))
        with app.app_context():
            _, analyst = add_user("ana", "analyst")
            _, admin = add_user("root", "admin")
            db.session.commit()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request would be the bench's output
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        client = Client(server.server_port)
        for _ in range(20):  # templates compiled, connections opened
            client.request("GET", "/login")

        baseline: list[float] = []
        stop = threading.Event()
        prober = threading.Thread(target=probe, args=(client, stop, baseline))
        prober.start()
        time.sleep(args.seconds)
        stop.set()
        prober.join()

        loaded: list[float] = []
        outcomes: dict = {}
        stop = threading.Event()
        prober = threading.Thread(target=probe, args=(client, stop, loaded))
        bomber = threading.Thread(target=bomb, args=(client, analyst, admin, stop, outcomes))
        bomber.start()
        prober.start()
        time.sleep(args.seconds)
        stop.set()
        bomber.join()
        prober.join()
        server.shutdown()

    print(f"GET /login, {args.seconds:g} s per phase, werkzeug threaded server, SQLite, one process")
    print(f"  alone:              {summary(baseline)}")
    print(f"  while bombs fired:  {summary(loaded)}")
    for kind, entry in sorted(outcomes.items()):
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(entry["statuses"].items()))
        print(f"  bombs via {kind:7s} {entry['count']:5d} ({statuses}); slowest answer {entry['slowest'] * 1000:.0f} ms")
    ratio_p95 = percentile(loaded, 95) / percentile(baseline, 95)
    ratio_max = max(loaded) / max(baseline)
    print(f"ratio with/without bombs: p95 {ratio_p95:.2f}, max {ratio_max:.2f}; "
          f"every GET within 1 s: {'yes' if max(loaded) < 1.0 else 'NO'}")


if __name__ == "__main__":
    main()
