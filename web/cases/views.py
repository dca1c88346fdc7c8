"""The case page (案件页面): one case's facts, its diagram with where it stands, its
case file (卷宗, as the task pages show it: `engine.green.case_file`) and its audit
timeline, for whoever may see the case; the raw data only for an administrator, folded.

The diagram is the case's own deployed version, drawn in the browser by
bpmn-js from npm, which this blueprint serves out of `node_modules` (only the
files listed in `VENDOR`).
"""
from __future__ import annotations

import json
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from lxml import etree
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.db import db
from engine.errors import Conflict, EngineError, FormInvalid
from engine.green import case_file as case_files
from engine.green import privacy, rounds, withdrawal
from engine.green.models import User
from engine.green.roles import JURISDICTIONS, PERSONAL_ROLES
from engine.model_registry import FORM_PREFIX
from engine.models import AuditEvent, HumanTask, ModelFile, ProcessInstance
from engine.runtime.operations import COMMENT_LENGTH

from .. import personal
from ..accounts.users import actor_of
from ..documents import papers
from ..inputs import ID_MAX
from ..model_texts import model_text, names_in_language
from ..policy import may, require
from ..runtime import runtime
from ..templating import name_in
from .remarks import remark

bp = Blueprint("cases", __name__, template_folder="templates")

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
# The browser files served from node_modules, and nothing else from there.
VENDOR = frozenset({
    "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-js/dist/assets/bpmn-js.css",
})
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

STATUS = {
    "running": _l("办理中"),
    "waiting": _l("等待中"),
    "completed": _l("已办结"),
    "error": _l("出错"),
    "cancelled": _l("已撤销"),
}
ACTIONS = {
    "start": _l("发起"),
    "complete": _l("办理"),
    "claim": _l("认领"),
    "release": _l("退回本角色"),
    "handover": _l("转交"),
    "cancel": _l("撤销"),
    "retry": _l("重试"),
    "timer": _l("定时触发"),
    "message": _l("收到消息"),
    "migrate": _l("迁移到新版本"),
    "error": _l("出错"),
    "withdraw": _l("撤回申请"),
    "end": _l("终止办理"),
    "reassign": _l("指派"),
    "comment": _l("批注"),
}

CASE_ID = f"<int(max={ID_MAX}):instance_id>"


def visible_case(instance_id: int) -> ProcessInstance:
    """The case, if the signed-in user may see it; otherwise 404, exactly as for a missing one."""
    case = db.session.get(ProcessInstance, instance_id)
    if case is None or not runtime().may_see(actor_of(current_user), instance_id):
        abort(404)
    return case


def element_names(case: ProcessInstance) -> dict[str, str]:
    """Element id -> its name in the diagram, for the case's process and its subprocesses."""
    version = runtime().registry.load(case.version_id)
    specs = [version.specs[case.process_id], *version.subprocess_specs[case.process_id].values()]
    return {ts.bpmn_id: model_text(ts.bpmn_name) or ts.bpmn_id
            for spec in specs for ts in spec.task_specs.values() if getattr(ts, "bpmn_id", None)}


def field_labels(case: ProcessInstance) -> tuple[dict[str, str], dict[str, dict]]:
    """The titles the version's forms give their fields and choices, to show the case data readably."""
    labels: dict[str, str] = {}
    choices: dict[str, dict] = {}
    for form in runtime().registry.load(case.version_id).forms.values():
        for name, prop in (form.get("properties") or {}).items():
            if not isinstance(prop, dict):
                continue
            if isinstance(prop.get("title"), str):
                labels.setdefault(name, model_text(prop["title"]))
            for option in [*prop.get("oneOf", []), *prop.get("anyOf", [])]:
                if isinstance(option, dict) and isinstance(option.get("const"), str) and option.get("title"):
                    choices.setdefault(name, {}).setdefault(option["const"], model_text(option["title"]))
    return labels, choices


def diagram_of(case: ProcessInstance) -> ModelFile | None:
    """The BPMN file of the case's own version that defines its process."""
    files = db.session.scalars(db.select(ModelFile).where(ModelFile.version_id == case.version_id)
                               .order_by(ModelFile.name)).all()
    needle = f'id="{case.process_id}"'
    for f in files:
        if f.name.startswith(FORM_PREFIX) or needle not in f.content:
            continue
        root = etree.fromstring(f.content.encode("utf-8"), _SAFE_XML)
        if root.xpath("//b:process[@id=$pid]", namespaces={"b": BPMN_NS}, pid=case.process_id):
            return f
    return None


def markers(case: ProcessInstance) -> dict[str, list[str]]:
    """Where the case stands, by diagram element: completed, active (ready human
    tasks, waiting timers and messages, running subprocesses), overdue (ready
    tasks past their time limit) and failed (a script or decision in error)."""
    workflow = runtime().read_workflow(case.id)
    done, active, failed = set(), set(), set()
    for wf in (workflow, *list(workflow.subprocesses.values())):
        for task in list(wf.tasks.values()):
            spec = task.task_spec
            element = getattr(spec, "bpmn_id", None)
            if not element:  # the engine's own Start, End and *.EndJoin
                continue
            state = task.state
            if state == TaskState.COMPLETED:
                done.add(element)
            elif (state == TaskState.READY and spec.manual) or state in (TaskState.WAITING, TaskState.STARTED):
                active.add(element)
            elif state == TaskState.ERROR:
                failed.add(element)
    overdue = set(db.session.scalars(db.select(HumanTask.element).where(
        HumanTask.instance_id == case.id, HumanTask.due_at < clock.now())))
    # A task done before and waiting again (a return for correction) shows where it is now.
    done -= active | failed
    return {"completed": sorted(done), "active": sorted(active), "overdue": sorted(overdue), "failed": sorted(failed)}


@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def new():
    """Start a case of a procedure the user's role starts (新建办件), e.g. the
    province opening the year's round, a city nominating a candidate."""
    actor = actor_of(current_user)
    startable = runtime().startable(actor)
    if request.method == "GET":
        return render_template("cases/case_new.html", startable=startable)
    process_id = request.form.get("process", "")
    if process_id not in dict(startable):
        abort(403)  # refused on the server, whatever the page offered
    try:
        rounds.refuse_second_round(process_id)
        case = runtime().start(process_id, {}, actor, actor.jurisdiction)
    except EngineError as exc:
        flash(model_text(exc.message), "error")
        return render_template("cases/case_new.html", startable=startable), 422
    mine = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == case.id,
                                                           runtime().visible_tasks(actor)).limit(1))
    flash(_("已发起“%(name)s”，编号 %(id)s。", name=dict(startable)[process_id], id=case.id), "info")
    return redirect(url_for("tasks.view", task_id=mine) if mine else url_for("cases.show", instance_id=case.id), 303)


@bp.get(f"/cases/{CASE_ID}")
@login_required
def show(instance_id):
    return _page(visible_case(instance_id))


@bp.post(f"/cases/{CASE_ID}/retry")
@login_required
@require("cases.retry")
def retry(instance_id):
    """An administrator runs a case in error again (重试), after correcting its data
    (a JSON object of the names to set) with the reason, both audited by the engine."""
    visible_case(instance_id)
    raw, reason = request.form.get("data", "").strip(), request.form.get("reason", "")
    entries = {"data": raw, "reason": reason}
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return _page(visible_case(instance_id), retry={**entries, "errors": {
            "data": [_("更正数据须为 JSON 对象，例如 {\"experts\": [\"张三\", \"李四\"]}。")]}}), 422
    try:
        case = runtime().retry(instance_id, actor_of(current_user), data, reason)
    except FormInvalid as exc:
        errors = {"reason": [_("更正数据时须写明原因。")]} if "reason" in exc.fields else \
            {"data": [f"{k}: {'; '.join(v)}" for k, v in exc.fields.items()]}
        return _page(visible_case(instance_id), retry={**entries, "errors": errors}), 422
    except Conflict as exc:
        flash(model_text(exc.message), "error")
        return redirect(url_for(".show", instance_id=instance_id), 303)
    if case.status == "error":
        flash(_("已重试，案件仍然出错。"), "error")
    else:
        flash(_("已重试，案件继续办理。"), "info")
    return redirect(url_for(".show", instance_id=instance_id), 303)


def _page(case: ProcessInstance, retry: dict | None = None, problems: dict | None = None, reason: str = "",
          comment: dict | None = None):
    names = element_names(case)
    process_name = model_text(runtime().registry.process_name(case.process_id, case.version_id))
    names.setdefault(case.process_id, process_name)  # a case's start is recorded against its process
    events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.instance_id == case.id)
                                .order_by(AuditEvent.seq)).all()
    # why a case was cancelled, withdrawn or ended, beside that event in the timeline
    reasons = {e.seq: (json.loads(e.detail or "{}") or {}).get("reason") for e in events
               if e.action in ("cancel", "withdraw", "end")}
    # a substitute's act on whose behalf (代), a comment's text (批注), beside that event
    remarks = {e.seq: remark(e) for e in events}
    if actor_of(current_user).role in PERSONAL_ROLES:  # an expert reads his own comments, not his peers' on their reviews
        remarks = {seq: r for seq, r in remarks.items() if "text" not in r} | {
            e.seq: remarks[e.seq] for e in events if e.action == "comment" and e.actor == current_user.name}
    tasks = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == case.id)
                               .order_by(HumanTask.created_at, HumanTask.id)).all()
    actor = actor_of(current_user)
    case_file = personal.case_file(case, actor, case_files.SECTIONS, via="case page")
    # the raw data, under the file and folded, for an administrator repairing a case (it reads it masked)
    labels, choices = field_labels(case) if actor.is_admin else ({}, {})
    data = personal.case_data(case, actor, via="case page") if actor.is_admin else None
    tasks = [t for t in tasks if privacy.sees_task(actor, t)]  # an expert: their own reviews
    closable = (actor.is_admin or actor.role == "provincial") and rounds.may_close_collection(runtime(), case)
    return render_template(
        "cases/case.html", case=case, process_name=process_name, names=names, events=events, tasks=tasks,
        reasons=reasons, remarks=remarks, comment=comment or {"text": "", "error": None},
        comment_length=COMMENT_LENGTH, now=clock.now(), stalled_days=withdrawal.STALLED_DAYS,
        status_label=STATUS.get(case.status, case.status), actions=ACTIONS,
        data=data, labels=labels, choices=choices, case_file=case_file,
        returned_reason=(case.data or {}).get("returned_reason") if isinstance(case.data, dict) else None,
        may_retry=case.status == "error" and may(current_user, "cases.retry"),
        retry=retry or {"data": "", "reason": "", "errors": {}},
        may_withdraw=withdrawal.may_withdraw(actor_of(current_user), case),
        may_end=withdrawal.may_end(actor_of(current_user), case), problems=problems or {}, reason=reason,
        overdue_cities=rounds.overdue_cities(case.id) if closable else None, **_round_cities(case, actor),
        documents=[(k, name_in(papers.TITLES, k)) for k in papers.documents_of(case, actor)],
    )


def _round_cities(case: ProcessInstance, actor) -> dict:
    """A provincial round's cities, each recommended or not, by whom, when, late or not: every
    city for the province, a city its own row."""
    cities = [c for c in rounds.city_recommendations(runtime(), case)
              if actor.jurisdiction is None or c.city == actor.jurisdiction]
    names = {c.by for c in cities if c.by}
    shown = dict(db.session.execute(db.select(User.name, User.display_name).where(User.name.in_(names))).tuples().all()) \
        if names else {}
    return {"round_cities": cities, "round_people": {n: shown.get(n) or n for n in names}}


@bp.post(f"/cases/{CASE_ID}/<any(withdraw, end):action>")
@login_required
def stop(instance_id, action):
    """The applicant withdraws its application, or an official ends a stalled case, with the reason."""
    reason = request.form.get("reason", "")
    operation = withdrawal.withdraw if action == "withdraw" else withdrawal.end
    try:
        operation(runtime(), instance_id, actor_of(current_user), reason)
    except FormInvalid:
        problems = {action: _("请说明理由（至少%(n)s个字）。", n=withdrawal.MIN_REASON)}
        return _page(visible_case(instance_id), problems=problems, reason=reason), 422
    except Conflict as exc:
        return _page(visible_case(instance_id), problems={action: model_text(exc.message)}, reason=reason), 409
    flash(_("申请已撤回。") if action == "withdraw" else _("案件已终止办理。"), "info")
    return redirect(url_for(".show", instance_id=instance_id), 303)


@bp.post(f"/cases/{CASE_ID}/close-collection")
@login_required
def close_collection(instance_id):
    """The province closes the round's collection of recommendations after the deadline
    (关闭推荐收集); the cities that have not recommended are recorded as such."""
    visible_case(instance_id)
    actor = actor_of(current_user)
    if not (actor.is_admin or actor.role == "provincial"):
        abort(403)  # the collection is the province's to close, whatever the page offered
    try:
        missing = rounds.close_collection(runtime(), instance_id, actor)
    except EngineError as exc:  # before the deadline, or every city has recommended meanwhile
        flash(model_text(exc.message), "error")
    else:
        flash(_("推荐收集已关闭；未推荐的市州：%(cities)s。", cities="、".join(name_in(JURISDICTIONS, c) for c in missing)), "info")
    return redirect(url_for("cases.show", instance_id=instance_id), 303)


@bp.get(f"/cases/{CASE_ID}/diagram.xml")
@login_required
def diagram(instance_id):
    found = diagram_of(visible_case(instance_id))
    if found is None:
        abort(404)
    # a deployed version never changes; its names are in the reader's language (the URL names it)
    return Response(names_in_language(found.content), mimetype="application/xml",
                    headers={"Cache-Control": "private, max-age=3600"})


@bp.get(f"/cases/{CASE_ID}/markers.json")
@login_required
def case_markers(instance_id):
    resp = jsonify(markers(visible_case(instance_id)))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/vendor/<path:name>")
def vendor(name):
    """Browser libraries installed by npm (`make` runs `npm ci`); only the listed files."""
    if name not in VENDOR:
        abort(404)
    return send_from_directory(NODE_MODULES, name, max_age=3600)
