"""Long work in the background (后台任务): a large register export and a bulk migration run in
the scheduler process's job worker; their pages show the progress and then the outcome."""
from __future__ import annotations

import io
import re
import time

from click.testing import CliRunner
from factories import LANZHOU, TIANSHUI, designation_row, people
from openpyxl import load_workbook
from test_case_migration_web import PROCESS, two_versions  # noqa: F401 (a fixture)
from webclient import csrf_token, sign_in

from engine import jobs
from engine.db import db
from engine.green.credit_code import check_character
from engine.models import ProcessInstance
from engine.runtime import Actor
from web.accounts.users import deactivate


def code(n: int) -> str:
    first = f"91620100MA{n:07d}"
    return first + check_character(first)


def wait_until_finished(client, job_page, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = client.get(job_page + ".json").get_json()
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"{job_page} did not finish")


def test_a_large_register_is_exported_in_the_background_and_downloaded_from_its_page(app):
    app.config["EXPORT_IN_REQUEST"] = 5  # (a register larger than this goes to the background)
    for n in range(12):
        designation_row(code(n), name=f"兰州第{n}号工厂", city=LANZHOU if n < 8 else TIANSHUI)
    people(("lz", "municipal", LANZHOU), ("ts", "municipal", TIANSHUI))
    lanzhou = app.test_client()
    sign_in(lanzhou, "lz")
    worker = jobs.JobWorker(app)
    worker.start()
    try:
        r = lanzhou.get("/registry.xlsx")
        assert r.status_code == 303
        job_page = r.headers["Location"]
        assert wait_until_finished(lanzhou, job_page) == {
            **lanzhou.get(job_page + ".json").get_json(), "status": "done", "done": 8, "total": 8}
        page = lanzhou.get(job_page).get_data(as_text=True)
        assert "已完成" in page and "共 8 行" in page
        file = lanzhou.get(re.search(r'id="job-file" href="([^"]+)"', page).group(1))
        rows = list(load_workbook(io.BytesIO(file.data)).active.values)
        assert rows[0][0] == "单位名称" and sorted(r[0] for r in rows[1:]) == sorted(f"兰州第{n}号工厂" for n in range(8))
        assert file.headers["Content-Disposition"].startswith("attachment; filename=green-manufacturing-registry-")

        # another official does not see the job, nor its file
        tianshui = app.test_client()
        sign_in(tianshui, "ts")
        assert tianshui.get(job_page).status_code == 404
        assert tianshui.get(job_page + "/file").status_code == 404
        # a register within the limit still comes at once
        assert tianshui.get("/registry.xlsx").status_code == 200

        # the job remembers the language it was asked in
        lanzhou.get("/lang/en?next=/registry/")
        r = lanzhou.get("/registry.xlsx")
        wait_until_finished(lanzhou, r.headers["Location"])
        page = lanzhou.get(r.headers["Location"]).get_data(as_text=True)
        file = lanzhou.get(re.search(r'id="job-file" href="([^"]+)"', page).group(1))
        assert list(load_workbook(io.BytesIO(file.data)).active.values)[0][0] == "Organisation"
    finally:
        worker.shutdown()


def test_a_migration_whose_analyst_was_deactivated_meanwhile_fails_with_the_reason(client, two_versions):
    w = two_versions
    sign_in(client, "ana")
    token = csrf_token(client, f"/models/{PROCESS}/migration/?from={w['v1']}&to={w['v2']}")
    r = client.post(f"/models/{PROCESS}/migration/", data={
        "csrf_token": token, "from": w["v1"], "to": w["v2"], "instance": [str(w["at_review"])]})
    job_page = r.headers["Location"]
    deactivate("ana", Actor("root", "admin"))
    assert jobs.run_next()
    sign_in(client, "root")  # an administrator sees every job
    page = client.get(job_page).get_data(as_text=True)
    assert "失败" in page and "发起迁移的账户 ana 已不能办理" in page and "can no longer act" not in page
    db.session.rollback()
    assert db.session.get(ProcessInstance, w["at_review"]).version_id == w["v1"]


def test_the_command_line_migration_shows_its_progress(app, two_versions):
    w = two_versions
    result = CliRunner().invoke(app.cli, ["cases", "migrate", PROCESS, "--from", w["v1"][:12],
                                                          "--to", w["v2"][:12], "--actor", "ana"])
    assert result.exit_code == 0, result.output
    assert "1 migrated, 1 blocked" in result.stdout
    assert "migrating rectification_check" in result.stderr
    assert f"case {w['at_expert']}: blocked" in result.stderr
