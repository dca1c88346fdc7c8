"""A background job's page (后台任务): its progress while it runs (the page reloads itself
every two seconds), then its outcome — a kind's own result partial, or its file to download.
Only whoever started the job, and administrators, see it."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, render_template, send_file
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from engine import jobs
from engine.db import db

from ..inputs import ID_MAX
from ..model_texts import model_text

bp = Blueprint("jobs", __name__, template_folder="templates")

KIND_NAMES = {
    "case_migration": _l("案件迁移"),
    "registry_export": _l("导出名录"),
    "bulk_complete": _l("批量办结"),
}
STATUS_NAMES = {"queued": _l("排队中"), "running": _l("进行中"), "done": _l("已完成"), "failed": _l("失败")}


def export_dir() -> Path:
    """Where export jobs leave their files (EXPORT_DIR; by default the instance folder's exports/)."""
    path = Path(current_app.config.get("EXPORT_DIR") or Path(current_app.instance_path) / "exports")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _own_job(job_id: int) -> jobs.Job:
    job = db.session.get(jobs.Job, job_id)
    if job is None or not (job.created_by == current_user.name or current_user.role == "admin"):
        abort(404)  # another's job is not disclosed
    return job


@bp.get(f"/jobs/<int(max={ID_MAX}):job_id>")
@login_required
def show(job_id):
    job = _own_job(job_id)
    return render_template("jobs/job.html", job=job, kind_name=KIND_NAMES.get(job.kind, job.kind),
                           status_name=STATUS_NAMES.get(job.status, job.status))


@bp.get(f"/jobs/<int(max={ID_MAX}):job_id>.json")
@login_required
def progress(job_id):
    job = _own_job(job_id)
    return jsonify({"id": job.id, "kind": job.kind, "status": job.status, "done": job.done, "total": job.total,
                    "error": model_text(job.error), "result": job.result})


@bp.get(f"/jobs/<int(max={ID_MAX}):job_id>/file")
@login_required
def download(job_id):
    job = _own_job(job_id)
    if job.status != "done" or not (job.result or {}).get("file"):
        abort(404)
    path = export_dir() / job.result["file"]
    if not path.is_file():
        abort(410)  # cleaned up since
    return send_file(path, as_attachment=True, download_name=job.result["download_name"],
                     mimetype=job.result.get("mimetype"))
