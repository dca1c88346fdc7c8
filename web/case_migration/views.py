"""Case migration pages and API (案件迁移), for process analysts only: choose a
process and two of its deployed versions, see the dry run case by case, move
the cases that can move, see what happened to each. Thin views over
`engine.case_migration`."""
from __future__ import annotations

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func

from engine import case_migration, jobs
from engine.db import db
from engine.errors import EngineError, Forbidden
from engine.green.models import User
from engine.models import ProcessHead, ProcessInstance
from engine.runtime import ACTIVE

from ..accounts.users import actor_of
from ..api import views as api
from ..cases.views import STATUS
from ..inputs import ID_MAX, record_id
from ..model_texts import model_text
from ..policy import demand
from ..runtime import runtime

bp = Blueprint("case_migration", __name__, template_folder="templates")
api_bp = Blueprint("case_migration_api", __name__, url_prefix="/api/v1")
api_bp.before_request(api._refuse_nul_characters)

OUTCOMES = {
    "movable": _l("可迁移"),
    "migrated": _l("已迁移"),
    "blocked": _l("不能迁移"),
    "skipped": _l("跳过"),
    "failed": _l("失败，未改动"),
}
REASONS = {
    "removed_waiting": _l("正在办理的环节「%(name)s」在目标版本中已删除"),
    "removed_history": _l("已办理的环节「%(name)s」在目标版本中已删除"),
    "changed_in_progress": _l("正在办理的环节「%(name)s」在目标版本中有改动（%(detail)s），须办结后再迁移"),
    "subprocess_removed": _l("正在进行的子流程「%(name)s」在目标版本中已删除"),
    "unplanned": _l("环节「%(name)s」之后的步骤在前一环节办结前无法按目标版本安排"),
    "unaligned": _l("环节「%(name)s」在目标版本中没有对应的环节"),
    "case_failed": _l("案件有出错的环节「%(name)s」，须由管理员重试后再迁移"),
    "finished": _l("案件已结束（%(detail)s）"),
    "same_version": _l("案件已在目标版本上"),
    "other_version": _l("案件在版本 %(detail)s 上，不在源版本上"),
    "other_process": _l("不是本流程的案件"),
    "missing": _l("案件不存在"),
    "conflict": _l("迁移时案件正被他人办理，未改动，请重试"),
    "error": _l("迁移出错，未改动：%(detail)s"),
}


def reason_text(reason) -> str:
    template = REASONS.get(reason.code)
    if template is None:
        return reason.message
    detail = reason.detail or ""
    if reason.code == "other_version":
        detail = detail[:12]
    return str(template) % {"name": reason.name or reason.element or "", "detail": detail}


def _analysts_only():
    demand("cases.migrate")


@bp.before_request
@login_required
def _guard():
    _analysts_only()


def _active_counts(process_id: str | None = None) -> dict:
    """(process, version) -> live cases on it."""
    q = db.select(ProcessInstance.process_id, ProcessInstance.version_id, func.count()).where(
        ProcessInstance.status.in_(ACTIVE)).group_by(ProcessInstance.process_id, ProcessInstance.version_id)
    if process_id is not None:
        q = q.where(ProcessInstance.process_id == process_id)
    return {(p, v): n for p, v, n in db.session.execute(q)}


@bp.get("/migrations/")
def index():
    """The processes, with how many live cases run on versions older than the current one."""
    heads = db.session.scalars(db.select(ProcessHead).order_by(ProcessHead.process_id)).all()
    counts = _active_counts()
    rows = []
    for head in heads:
        live = {v: n for (p, v), n in counts.items() if p == head.process_id}
        rows.append({"process_id": head.process_id, "name": model_text(runtime().registry.process_name(head.process_id, head.version_id)),
                     "versions": len(case_migration.versions_of(head.process_id)),
                     "on_head": live.get(head.version_id, 0),
                     "on_older": sum(n for v, n in live.items() if v != head.version_id)})
    return render_template("case_migration/index.html", rows=rows)


def _versions_or_404(process_id: str):
    head = db.session.get(ProcessHead, process_id)
    if head is None:
        abort(404)
    versions = case_migration.versions_of(process_id)
    counts = _active_counts(process_id)
    return head, versions, {v.id: counts.get((process_id, v.id), 0) for v in versions}


def _default_choice(head, versions, live):
    """Move to the current version, from the newest older version that still has live cases."""
    older = [v for v in versions if v.id != head.version_id]
    source = next((v for v in older if live.get(v.id)), older[0] if older else None)
    return (source.id if source else None), head.version_id


@bp.get("/models/<process_id>/migration/")
def plan(process_id):
    head, versions, live = _versions_or_404(process_id)
    chosen = request.args.get("from"), request.args.get("to")
    report = error = None
    if not any(chosen):
        chosen = _default_choice(head, versions, live)
    elif all(chosen):
        try:
            report = case_migration.plan(runtime(), actor_of(current_user), process_id, *chosen)
        except EngineError as exc:
            error = model_text(exc.message)
    return render_template("case_migration/plan.html", process_id=process_id,
                           process_name=model_text(runtime().registry.process_name(process_id, head.version_id)), head=head, versions=versions,
                           live=live, source=chosen[0], target=chosen[1], report=report, error=error,
                           outcomes=OUTCOMES, reason_text=reason_text, statuses=STATUS)


@bp.post("/models/<process_id>/migration/")
def run(process_id):
    head, versions, live = _versions_or_404(process_id)
    source, target = request.form.get("from", ""), request.form.get("to", "")
    picked = [record_id(p) for p in request.form.getlist("instance")]
    if None in picked:
        abort(400)
    error = None
    if not picked:
        error = _l("没有选择要迁移的案件。")
    else:
        try:  # what can be refused at once is (who, which versions); the cases move in the background
            case_migration.plan(runtime(), actor_of(current_user), process_id, source, target, picked[:1])
        except EngineError as exc:
            error = model_text(exc.message)
    if error is not None:
        return render_template("case_migration/result.html", process_id=process_id,
                               process_name=model_text(runtime().registry.process_name(process_id, head.version_id)),
                               versions=versions, source=source, target=target, report=None, error=error,
                               outcomes=OUTCOMES, reason_text=reason_text, statuses=STATUS), 400
    job = jobs.submit("case_migration", {"process": process_id, "from": source, "to": target, "instances": picked,
                                         "by": current_user.name}, by=current_user.name)
    return redirect(url_for("jobs.show", job_id=job.id), 303)


@jobs.kind("case_migration")
def _migrate_in_the_background(params: dict, progress) -> dict:
    """A bulk migration as a job: as its starter would (refused if the account no longer may)."""
    user = db.session.scalar(db.select(User).where(User.name == params["by"], User.deactivated_at.is_(None)))
    if user is None:
        raise Forbidden(f"发起迁移的账户 {params['by']} 已不能办理 (the account {params['by']} that started the migration can no longer act)")
    report = case_migration.run(runtime(), actor_of(user), params["process"], params["from"], params["to"],
                                params["instances"], progress=progress)
    return report.as_dict()


def migration_result(result: dict) -> dict:
    """What the job page's partial needs to show a finished migration as the result page does."""
    report = case_migration.MigrationReport.from_dict(result)
    return {"report": report, "outcomes": OUTCOMES, "reason_text": reason_text, "statuses": STATUS,
            "process_name": model_text(runtime().registry.process_name(report.process_id))}


# --------------------------------------------------------------------------- JSON
@api_bp.get("/processes/<process_id>/migration")
@api.authenticated
def api_plan(process_id):
    report = case_migration.plan(runtime(), g.actor, process_id, request.args.get("from", ""),
                                 request.args.get("to", ""), _ids(request.args.getlist("instance")))
    return jsonify(report.as_dict())


@api_bp.post("/processes/<process_id>/migration")
@api.authenticated
def api_run(process_id):
    body = api.body_object()
    instances = body.get("instances")
    if instances is not None and not (isinstance(instances, list) and all(
            isinstance(i, int) and not isinstance(i, bool) and 0 < i <= ID_MAX for i in instances)):
        raise EngineError("'instances' must be a list of case ids")
    source, target = body.get("from"), body.get("to")
    if not isinstance(source, str) or not isinstance(target, str):
        raise EngineError("'from' and 'to' (version ids) are required")
    report = case_migration.run(runtime(), g.actor, process_id, source, target, instances)
    return jsonify(report.as_dict())


def _ids(raw: list[str]):
    if not raw:
        return None
    ids = [record_id(r) for r in raw]
    if None in ids:
        raise EngineError("'instance' must be case ids")
    return ids

