"""Scale benchmark: the main pages and API lists with 20,000 cases and 10,000
designations, through the production server (gunicorn with deploy/gunicorn.conf.py,
as tests/test_production.py runs it) on PostgreSQL, at 1 and at 4 clients.

What it writes, and how:
- The shipped procedures (processes/) are deployed, and one real case of
  municipal_creation is started through the runtime (`Runtime.start`): its
  process_instance row and its human-task index row are the template.
- 20,000 cases are a bulk copy of that template's two rows (process_instance,
  human_task) with fresh ids, spread over the 15 jurisdictions, four roles and a year
  of due dates. The copies are for reading lists: their workflow state (instance_task)
  and audit chain are not copied, so they are not meant to be completed.
- 10,000 designations are a bulk copy of what `designation.list`
  (engine/green/designations.py) writes: an organisation, a listed designation and its
  "listed" history event, over the unit types, levels and cities; a tenth of them
  ended (revoked), as the registry has over the years.

Then gunicorn is started, three users sign in (the province, a city official,
the administrator; pages through the login form, the API with tokens) and each path
is asked REPEAT times by one client, then by four at once. Prints p50 and p95 in
milliseconds per path and client count, and the time of /registry.xlsx (10,000 rows:
over EXPORT_IN_REQUEST, so it runs as a background job in the scheduler's process,
`flask timers run`, started beside gunicorn as in production; the time is from the
request to the file downloaded from the job). Goal: every p95 under 150 ms at 4 clients.

Run: make bench-scale
  (or BENCH_POSTGRES_URL=postgresql://... PYTHONPATH=. .venv/bin/python bench/scale.py [--repeat N])
The database at BENCH_POSTGRES_URL is wiped.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fresh import fresh_app  # noqa: E402
from engine import clock  # noqa: E402
from engine.green.roles import JURISDICTIONS  # noqa: E402

CASES, DESIGNATIONS = 20_000, 10_000
PASSWORD = "bench-scale-password"


def seed(app, cases: int, designations: int) -> None:
    from sqlalchemy import insert, select, text

    from engine.db import db
    from engine.green.models import LEVELS, UNIT_TYPES, Designation, DesignationEvent, Organisation
    from engine.models import HumanTask, ProcessInstance
    from engine.runtime import Actor

    cities = list(JURISDICTIONS)
    roles = ["municipal"] * 5 + ["provincial", "expert", "applicant"]
    now = clock.now()
    with app.app_context():
        template = app.extensions["green_ladder.runtime"].start(
            "municipal_creation", {}, Actor("firm", "applicant"), "620100")
        case = dict(db.session.execute(select(ProcessInstance.__table__)
                                       .where(ProcessInstance.id == template.id)).mappings().one())
        [task] = [dict(r) for r in db.session.execute(select(HumanTask.__table__)
                                                      .where(HumanTask.instance_id == template.id)).mappings()]
        batch = 5000
        for start in range(0, cases, batch):
            rows, tasks = [], []
            for i in range(start, min(start + batch, cases)):
                instance_id, city, role = case["id"] + 1 + i, cities[i % len(cities)], roles[i % len(roles)]
                rows.append({**case, "id": instance_id, "jurisdiction": city, "started_by": f"firm{i % 500}",
                             "created_at": now - timedelta(minutes=i), "updated_at": now - timedelta(minutes=i)})
                tasks.append({**task, "id": str(uuid.uuid4()), "instance_id": instance_id, "role": role, "lane": role,
                              "jurisdiction": city, "assignee": f"firm{i % 500}" if role == "applicant" else None,
                              "created_at": now - timedelta(minutes=i),
                              "due_at": None if i % 10 == 0 else now + timedelta(hours=(i * 7) % (24 * 365) - 24 * 30)})
            db.session.execute(insert(ProcessInstance.__table__), rows)
            db.session.execute(insert(HumanTask.__table__), tasks)
        unit_types, levels = list(UNIT_TYPES), ["municipal", "municipal", "provincial", "national"]
        assert set(levels) <= set(LEVELS)
        for start in range(0, designations, batch):
            orgs, listed, events = [], [], []
            for i in range(start, min(start + batch, designations)):
                city, unit_type = cities[i % len(cities)], unit_types[i % len(unit_types)]
                level = levels[i % len(levels)]
                if level == "national" and unit_type.startswith("water_saving"):
                    level = "provincial"  # water-saving units have no national level (Art 2)
                ended = i % 10 == 9
                listed_on = date(2019, 1, 1) + timedelta(days=(i * 37) % 2500)
                orgs.append({"id": i + 1, "credit_code": f"9162{i:014d}", "name": f"甘肃绿色制造样本企业{i:05d}有限公司",
                             "jurisdiction": city, "created_at": now})
                listed.append({"id": i + 1, "organisation_id": i + 1, "unit_type": unit_type, "level": level,
                               "status": "revoked" if ended else "listed", "jurisdiction": city,
                               "decision": f"甘工信发〔{listed_on.year}〕{i % 300}号", "listed_on": listed_on,
                               "ended_on": listed_on + timedelta(days=400) if ended else None,
                               "end_reason": "第二十一条：样本" if ended else None, "instance_id": None,
                               "version_id": case["version_id"],
                               "platform_reference": f"MIIT-{i:06d}" if level == "national" else None})
                events.append({"designation_id": i + 1, "at": now, "action": "listed",
                               "reason": listed[-1]["decision"], "instance_id": None, "actor": "bench"})
            db.session.execute(insert(Organisation.__table__), orgs)
            db.session.execute(insert(Designation.__table__), listed)
            db.session.execute(insert(DesignationEvent.__table__), events)
        for table in ("process_instance", "organisation", "designation"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        db.session.commit()
        db.session.execute(text("ANALYZE"))  # fresh statistics, as autovacuum would give a real database
        db.session.commit()


def users(app) -> dict[str, str]:
    """API tokens by name; each account also signs in with PASSWORD."""
    from web.accounts.users import add_user

    with app.app_context():
        return {name: add_user(name, role, city, password=PASSWORD)[1]
                for name, role, city in (("admin", "admin", None), ("prov", "provincial", None),
                                         ("lz", "municipal", "620100"))}


class Client:
    """One browser or API client over plain http (a new connection a request: gunicorn's sync workers close it)."""

    def __init__(self, port: int, token: str | None = None):
        self.port, self.cookies, self.token = port, {}, token

    def request(self, method: str, path: str, body: str | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        response.body = response.read()
        conn.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";", 1)[0].partition("=")
            self.cookies[name] = value
        return response

    def sign_in(self, name: str) -> Client:
        form = self.request("GET", "/login").body.decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        answer = self.request("POST", "/login", urlencode({"username": name, "password": PASSWORD, "csrf_token": csrf}),
                              {"Content-Type": "application/x-www-form-urlencoded"})
        assert answer.status in (302, 303), (name, answer.status)
        return self


def timed(client: Client, path: str, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.request("GET", path)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status == 200, (path, r.status, r.body[:300])
    return times


def at_once(clients: list[Client], path: str, repeat: int) -> list[float]:
    results: list[list[float]] = [[] for _ in clients]

    def run(i):
        results[i] = timed(clients[i], path, repeat)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [t for r in results for t in r]


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=CASES)
    ap.add_argument("--designations", type=int, default=DESIGNATIONS)
    ap.add_argument("--repeat", type=int, default=40, help="requests per client per path")
    args = ap.parse_args()
    url = os.environ.get("BENCH_POSTGRES_URL")
    if not url:
        sys.exit("set BENCH_POSTGRES_URL to a PostgreSQL database the benchmark may wipe")
    url = "postgresql+psycopg://" + url.split("://", 1)[1]
    from engine.model_registry import collect

    app = fresh_app(url, collect([ROOT / "processes"]))
    t0 = time.perf_counter()
    seed(app, args.cases, args.designations)
    tokens = users(app)
    print(f"{args.cases} cases and {args.designations} designations written in {time.perf_counter() - t0:.0f} s")

    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("GREEN_LADDER_ENV", "FLASK_DEBUG", "CLOCK", "SCHEDULER", "WEB_CONCURRENCY")}
    uploads = tempfile.mkdtemp(prefix="gl-bench-")
    env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(32),
                "UPLOAD_DIR": uploads, "GUNICORN_BIND": f"127.0.0.1:{port}",
                # plain http on the loopback, no nginx in front: cookies without the Secure flag
                "SESSION_COOKIE_SECURE": "0"})
    log = open(Path(uploads) / "gunicorn.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    # production's other process: the scheduler, whose job worker runs a large export in the background
    timers = subprocess.Popen([sys.executable, "-m", "flask", "--app", "web", "timers", "run"], cwd=ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if Client(port).request("GET", "/login").status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"gunicorn did not answer; see {log.name}")
            time.sleep(0.3)
        sessions = {name: [Client(port).sign_in(name) for _ in range(4)] for name in ("admin", "prov", "lz")}
        api = {name: [Client(port, tokens[name]) for _ in range(4)] for name in ("admin", "lz")}
        anonymous = [Client(port) for _ in range(4)]
        second = json.loads(api["admin"][0].request("GET", "/api/v1/tasks").body)["next"]
        paths = [
            ("visitor", anonymous, "/public/lists"),
            ("visitor", anonymous, "/public/lists?level=provincial&unit_type=green_factory"),
            ("prov", sessions["prov"], "/registry/"),
            ("prov", sessions["prov"], "/registry/?city=620500&status=listed"),
            ("admin", sessions["admin"], "/inbox/?tab=all"),
            ("lz", sessions["lz"], "/inbox/?tab=role"),
            ("admin", api["admin"], "/api/v1/tasks"),
            ("admin", api["admin"], f"/api/v1/tasks?after={second}"),
            ("admin", api["admin"], "/api/v1/tasks?expand=form"),
            ("admin", api["admin"], "/api/v1/instances"),
            ("lz", api["lz"], "/api/v1/tasks"),
            ("lz", api["lz"], "/api/v1/instances"),
        ]
        for _, clients, path in paths:  # every worker warm (its models parsed, its connections open)
            at_once(clients, path, 3)
        print(f"p50 / p95 in ms over {args.repeat} requests per client; gunicorn "
              f"{os.environ.get('WEB_CONCURRENCY') or 'default'} workers (deploy/gunicorn.conf.py)")
        print(f"  {'user':7} {'path':58} {'1 client':>15} {'4 clients':>15}")
        worst = 0.0
        for user, clients, path in paths:
            one = percentiles(timed(clients[0], path, args.repeat))
            four = percentiles(at_once(clients, path, args.repeat))
            worst = max(worst, four[1])
            shown = path if len(path) <= 58 else path[:55] + "..."
            print(f"  {user:7} {shown:58} {one[0]:6.1f} / {one[1]:6.1f} {four[0]:6.1f} / {four[1]:6.1f}")
        exports = [export(sessions["prov"][0], "/registry.xlsx") for _ in range(3)]
        took, answered, size, background = (statistics.median(e[i] for e in exports) for i in range(4))
        if background:
            print(f"/registry.xlsx ({args.designations} rows, {size // 1024:.0f} kB), in the background: the job page "
                  f"in {answered * 1000:.0f} ms, the file downloaded {took:.2f} s after the request (median of 3)")
        else:
            print(f"/registry.xlsx ({args.designations} rows, {size // 1024:.0f} kB): median of 3 {took:.2f} s "
                  "(goal under 2 s)")
        print(f"worst p95 at 4 clients: {worst:.1f} ms — under 150 ms: {'yes' if worst < 150 else 'NO'}")
    finally:
        for process in (server, timers):
            process.terminate()
        for process in (server, timers):
            process.wait(timeout=60)
        log.close()


def export(client: Client, path: str) -> tuple[float, float, int, bool]:
    """An export as its asker gets it: at once, or (over EXPORT_IN_REQUEST rows) from the job
    page it is sent to, polled as the page polls until the job is done, then downloaded.
    Returns (seconds to the file, seconds to the first answer, bytes, whether in the background)."""
    t0 = time.perf_counter()
    r = client.request("GET", path)
    answered = time.perf_counter() - t0
    if r.status == 200:
        return answered, answered, len(r.body), False
    assert r.status in (302, 303), (path, r.status)
    job = "/" + r.headers["Location"].split("://", 1)[-1].split("/", 1)[-1].lstrip("/")
    while (state := json.loads(client.request("GET", job + ".json").body))["status"] not in ("done", "failed"):
        time.sleep(0.05)
    assert state["status"] == "done", state
    file = client.request("GET", job + "/file")
    assert file.status == 200, (job, file.status)
    return time.perf_counter() - t0, answered, len(file.body), True


if __name__ == "__main__":
    main()
