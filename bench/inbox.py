"""Inbox benchmark: page response times with 100,000 open tasks on PostgreSQL.

The task index is filled directly (the inbox reads only the index), spread
over the 15 jurisdictions, the roles and a year of due dates. Prints the
median and 95th percentile of GET /inbox/ for a city official and for the
province, through the app (Flask test client: no network), for the first
page, a filtered page and a deep page.

Run: make bench-inbox   (or BENCH_POSTGRES_URL=... PYTHONPATH=. .venv/bin/python bench/inbox.py [--tasks N])
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fresh import fresh_app  # noqa: E402
from engine import clock  # noqa: E402
from engine.green.roles import JURISDICTIONS  # noqa: E402

LINE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://example.org">
<bpmn:process id="review" isExecutable="true"><bpmn:startEvent id="s"/><bpmn:userTask id="t"/><bpmn:endEvent id="e"/>
<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
</bpmn:process></bpmn:definitions>"""


def fill(app, n: int) -> None:
    from sqlalchemy import insert

    from engine.db import db
    from engine.model_registry import version_hash
    from engine.models import HumanTask, ProcessInstance

    cities = list(JURISDICTIONS)
    roles = ["municipal"] * 6 + ["provincial", "expert", "applicant"]
    now = clock.now()
    with app.app_context():
        version = version_hash({"line.bpmn": LINE})
        batch = 5000
        for start in range(0, n, batch):
            cases, tasks = [], []
            for i in range(start, min(start + batch, n)):
                city = cities[i % len(cities)]
                cases.append({"id": i + 1, "process_id": "review", "version_id": version, "status": "running",
                              "jurisdiction": city, "started_by": f"firm{i % 500}", "created_at": now,
                              "updated_at": now, "revision": 1, "shell": "{}", "serializer_version": "1.5",
                              "data": {}})
                role = roles[i % len(roles)]
                tasks.append({"id": str(uuid.UUID(int=i + 1)), "instance_id": i + 1, "process_id": "review",
                              "element": "t", "name": f"审核 {i}", "lane": role, "role": role, "jurisdiction": city,
                              "assignee": f"firm{i % 500}" if role == "applicant" else None,
                              "form": None, "created_at": now - timedelta(minutes=i),
                              "due_at": now + timedelta(hours=(i * 7) % (24 * 365) - 24 * 30),
                              "overdue_noticed": False})
            db.session.execute(insert(ProcessInstance.__table__), cases)
            db.session.execute(insert(HumanTask.__table__), tasks)
            db.session.commit()
        db.session.execute(db.text("ANALYZE"))  # fresh statistics, as autovacuum would give a real database
        db.session.commit()


def measure(client, path: str, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    url = os.environ.get("BENCH_POSTGRES_URL")
    if not url:
        sys.exit("set BENCH_POSTGRES_URL to a PostgreSQL database the benchmark may wipe")
    app = fresh_app("postgresql+psycopg://" + url.split("://", 1)[1], {"line.bpmn": LINE})
    t0 = time.perf_counter()
    fill(app, args.tasks)
    print(f"{args.tasks} open tasks written in {time.perf_counter() - t0:.0f} s; "
          f"GET /inbox/ over {args.repeat} requests each, milliseconds")
    from web.accounts.users import add_user

    with app.app_context():
        add_user("lz", "municipal", "620100", password="bench-password")
        add_user("prov", "provincial", None, password="bench-password")
    for user, pages in (("lz", ["/inbox/?tab=role", "/inbox/?tab=role&due=overdue", "/inbox/?tab=role&page=20"]),
                        ("prov", ["/inbox/?tab=role", "/inbox/?tab=role&city=620500&due=soon",
                                  "/inbox/?tab=role&page=100"])):
        client = app.test_client()
        app.config["WTF_CSRF_ENABLED"] = False  # the benchmark signs in without reading the form first
        assert client.post("/login", data={"username": user, "password": "bench-password"}).status_code == 302
        app.config["WTF_CSRF_ENABLED"] = True
        for path in pages:
            median, p95 = measure(client, path, args.repeat)
            print(f"  {user:5} {path:42} median {median:6.1f}   p95 {p95:6.1f}")


if __name__ == "__main__":
    main()
