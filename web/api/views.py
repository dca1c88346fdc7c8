"""The JSON API, version 1 (接口). Thin views over `engine.Runtime`.

Every route here authenticates with `Authorization: Bearer <token>` and scopes
what it returns by the caller's role and jurisdiction on the server.
"""
from __future__ import annotations

from datetime import datetime
from functools import wraps
from urllib.parse import quote
from uuid import UUID

from flask import Blueprint, current_app, g, jsonify, request, url_for
from sqlalchemy import or_

from engine import clock, deadlines, notifications
from engine.db import db
from engine.errors import EngineError, Forbidden, FormInvalid, NotFound, en, zh
from engine.green import attachments, privacy, rounds, withdrawal
from engine.green import case_file as case_files
from engine.green.roles import JURISDICTIONS
from engine.model_registry import FORM_PREFIX, UnknownProcess
from engine.models import HumanTask, Notification, ProcessInstance
from engine.persistence import plain
from engine.runtime import may_act
from engine.timers import run_until

from .. import paging, personal
from ..accounts.users import TokenRefused, actor_of, user_for_token
from ..case_lists import lists as case_lists
from ..handler import problem, writes
from ..inputs import ID_MAX
from ..model_texts import model_text
from ..policy import may
from ..runtime import runtime
from .openapi import OPENAPI

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PAGE_MAX = 500


@bp.before_request
def _refuse_nul_characters():
    """PostgreSQL text cannot hold U+0000; no user means one, so it is refused up front."""
    raw = request.get_data(cache=True) if request.is_json else b""
    if "\x00" in request.path or any("\x00" in v for v in request.args.values()) \
            or b"\x00" in raw or b"\\u0000" in raw:
        return problem(400, "text may not contain the NUL character (U+0000)")


def authenticated(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return problem(401, "sign in with 'Authorization: Bearer <token>'")
        try:
            user = user_for_token(token.strip())
        except TokenRefused as refused:
            return problem(401, str(refused))
        g.user = user
        g.actor = actor_of(user)
        return view(*args, **kwargs)

    return wrapper


def body_object() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise EngineError("请求体须为 JSON 对象 (the request body must be a JSON object)")
    return body


def _optional_body() -> dict:
    """A body the call may go without; one that is sent is a JSON object."""
    return body_object() if request.data else {}


def _reason_in(body: dict) -> str | None:
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise FormInvalid({"reason": ["须为文本 (must be text)"]})
    return reason


def int_arg(name: str, default: int, lo: int = 0, hi: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise EngineError(f"「{name}」须为整数 ('{name}' must be a whole number)") from None
    if value < lo or (hi is not None and value > hi):
        raise EngineError(f"「{name}」须在 {lo} 与 {hi} 之间 ('{name}' must be between {lo} and {hi})")
    return value


# --------------------------------------------------------------------------- views
def form_url(version_id: str, form: str) -> str:
    return f"{request.script_root}/api/v1/models/{version_id}/forms/{quote(form, safe='')}"


def task_json(t: HumanTask, version_id: str, expand_form: bool = True) -> dict:
    """A task; its form's JSON Schema is named by `form_url` and included in `form` only
    when asked (a list of 500 tasks of one form would otherwise carry it 500 times)."""
    form = runtime().registry.load(version_id).forms.get(t.form) if t.form and expand_form else None
    now = clock.now()
    return {
        "id": t.id, "instance": t.instance_id, "process": t.process_id, "element": t.element,
        "name": t.name, "lane": t.lane, "role": t.role, "jurisdiction": t.jurisdiction,
        "assignee": t.assignee, "subject": t.subject, "form": form, "form_name": t.form,
        "form_url": form_url(version_id, t.form) if t.form else None,
        "created": t.created_at.isoformat(), "due": t.due_at.isoformat() if t.due_at else None,
        # counted on a provisional holiday calendar: it moves when the year's notice is entered
        "due_provisional": t.due_provisional_year is not None,
        "overdue": bool(t.due_at and t.due_at < now),
    }


def instance_json(inst: ProcessInstance, reveal: bool = True, tasks: list[HumanTask] | None = None,
                  expand_form: bool = True) -> dict:
    """A case for the caller. Its personal data is unmasked only for those who handle it and
    only when the case is read on its own (`reveal`), and that read is audited; a list of
    cases carries it masked for everyone. A list hands in each case's `tasks`, read for all
    its cases at once."""
    data = personal.case_data(inst, g.actor, via="api") if reveal else personal.masked_data(inst, g.actor)
    if tasks is None:
        tasks = db.session.scalars(
            db.select(HumanTask).where(HumanTask.instance_id == inst.id).order_by(HumanTask.created_at, HumanTask.id)
        ).all()
    tasks = [t for t in tasks if privacy.sees_task(g.actor, t)]  # an expert: their own reviews only
    return {
        "id": inst.id, "process": inst.process_id, "version": inst.version_id, "status": inst.status,
        "jurisdiction": inst.jurisdiction, "started_by": inst.started_by, "data": data,
        "tasks": [task_json(t, inst.version_id, expand_form) for t in tasks],
        "error": {"message": model_text(inst.error_message), "element": inst.error_element} if inst.status == "error" else None,
        "next_timer": inst.next_timer_at.isoformat() if inst.next_timer_at else None,
        "created": inst.created_at.isoformat(), "updated": inst.updated_at.isoformat(),
        "revision": inst.revision,
    }


def expand_form() -> bool:
    expand = {part.strip() for part in request.args.get("expand", "").split(",") if part.strip()}
    if expand - {"form"}:
        raise EngineError("「expand」只接受 form ('expand' takes: form)")
    return "form" in expand


def list_page(query, keys: list[paging.Key], key_of) -> paging.Page:
    """A page after the `after` cursor (`limit` rows, at most PAGE_MAX). `offset` is still
    read for clients written before cursors, but its cost grows with the offset."""
    limit = int_arg("limit", 100, 1, PAGE_MAX)
    cursor = request.args.get("after") or None
    offset = int_arg("offset", 0, 0, ID_MAX)
    if cursor and offset:
        raise EngineError("「after」与「offset」只能给一个 (give 'after' or 'offset', not both)")
    if offset:
        query = query.offset(offset)
    try:
        return paging.page(db.session, query, keys, cursor, limit, key_of)
    except paging.BadCursor as exc:
        raise EngineError(f"「after」：{zh(str(exc))} ('after': {en(str(exc))})") from None


def listed(name: str, items: list, page: paging.Page):
    """A list's answer: the items and the cursor of the next page (null on the last), the
    next page's address also in a `Link` header (RFC 8288)."""
    response = jsonify({name: items, "next": page.next})
    if page.next:
        args = {k: v for k, v in request.args.items() if k != "offset"}
        response.headers["Link"] = f'<{url_for(request.endpoint, **dict(args, after=page.next))}>; rel="next"'
    return response


@bp.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)


@bp.get("/models/<version_id>/forms/<path:name>")
@authenticated
def model_form(version_id, name):
    """A form's JSON Schema as deployed in a version. A version never changes (its id is the
    hash of its content), so a client may keep the answer for good."""
    try:
        form = runtime().registry.load(version_id).forms.get(name) if len(version_id) <= 64 else None
    except UnknownProcess:
        form = None
    if form is None:
        raise NotFound(f"模型版本 {version_id} 中没有表单 {name!r} (no form {name!r} in model version {version_id})")
    response = jsonify(form)
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response


@bp.post("/models")
@authenticated
def deploy_models():
    if not may(g.actor, "models.deploy"):
        raise Forbidden("只有分析员或管理员可以部署模型 (only an analyst or administrator may deploy models)")
    uploads = request.files.getlist("files")
    if not uploads:
        raise EngineError("请以 multipart 字段「files」上传一个或多个 BPMN/DMN 文件 (send one or more BPMN/DMN files as multipart field 'files')")
    files = {}
    for up in uploads:
        name = (up.filename or "").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
        if not name:
            raise EngineError("每个上传的文件都须有文件名 (every uploaded file needs a file name)")
        files[(FORM_PREFIX + name) if name.endswith(".json") else name] = up.read()
    version, created = runtime().registry.deploy(files, actor=g.actor.name, note=request.form.get("note"))
    warnings = [{**w, "message": model_text(w["message"])} for w in version.warnings or []]
    return jsonify({"version": version.id, "processes": version.processes, "warnings": warnings,
                    "created": created}), (201 if created else 200)


@bp.post("/instances")
@authenticated
def start_instance():
    body = body_object()
    process = body.get("process")
    if not isinstance(process, str) or not process:
        raise EngineError("须给出「process」，即流程标识 ('process' (a process id) is required)")
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise FormInvalid({"data": ["须为 JSON 对象 (must be a JSON object)"]})
    jurisdiction = data.pop("jurisdiction", None)
    if jurisdiction is not None and not isinstance(jurisdiction, str):
        raise FormInvalid({"data/jurisdiction": ["须为辖区名称 (must be a jurisdiction's name)"]})
    if jurisdiction is not None and jurisdiction not in JURISDICTIONS:
        raise FormInvalid({"data/jurisdiction": [f"未知的辖区「{jurisdiction}」 (unknown jurisdiction '{jurisdiction}')"]})
    if process in rounds.ROUNDS and process in dict(runtime().startable(g.actor)):  # who may not start it learns nothing
        rounds.refuse_second_round(process)
    inst = runtime().start(process, data, g.actor, jurisdiction)
    return jsonify(instance_json(inst)), 201


def _visible_instance(instance_id: int) -> ProcessInstance:
    inst = db.session.get(ProcessInstance, instance_id)
    # Another city's case answers exactly like a missing one: its existence is not disclosed.
    if inst is None or not runtime().may_see(g.actor, instance_id):
        raise NotFound(f"办件 {instance_id} 不存在 (instance {instance_id} does not exist)")
    return inst


@bp.get("/instances")
@authenticated
def list_instances():
    q = db.select(ProcessInstance).where(runtime().visible_instances(g.actor))
    expand_form()  # a bad `expand` is refused before any work
    if status := request.args.get("status"):
        q = q.where(ProcessInstance.status == status)
    if process := request.args.get("process"):
        q = q.where(ProcessInstance.process_id == process)
    page = list_page(q, INSTANCE_ORDER, lambda row: [row.ProcessInstance.id])
    cases = [row.ProcessInstance for row in page.rows]
    tasks = {c.id: [] for c in cases}
    for t in db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id.in_(tasks))
                                .order_by(HumanTask.created_at, HumanTask.id)):
        tasks[t.instance_id].append(t)
    expand = expand_form()
    return listed("instances", [instance_json(c, reveal=False, tasks=tasks[c.id], expand_form=expand)
                                for c in cases], page)


@bp.get("/cases")
@authenticated
def search_cases():
    """The case search (办件查询) with the page's filters: an official's within what they may see
    (a city its own), an organisation's account its own organisation's cases (我的申报)."""
    if may(g.user, "cases.search"):
        operation = case_lists.search
    elif may(g.user, "cases.mine"):
        operation = case_lists.mine
    else:
        raise Forbidden("该角色不能检索办件 (the role may not search cases)")
    try:
        filters = case_lists.filters_from(request.args)
    except case_lists.FiltersInvalid as exc:
        return problem(400, "the filters are not valid", fields={k: str(v) for k, v in exc.fields.items()})
    limit = int_arg("limit", 100, 1, PAGE_MAX)
    try:
        listing = operation(runtime(), g.actor, filters, request.args.get("after") or None, limit)
    except paging.BadCursor as exc:
        raise EngineError(f"「after」：{zh(str(exc))} ('after': {en(str(exc))})") from None
    return listed("cases", [_case_row_json(row, listing.holders) for row in listing.rows],
                  paging.Page(listing.rows, listing.next))


def _case_row_json(row, holders: dict[str, str]) -> dict:
    case = row.case
    return {
        "id": case.id, "process": case.process_id, "process_name": row.process_name, "status": case.status,
        "jurisdiction": case.jurisdiction, "company": row.company, "credit_code": row.credit_code,
        "created": case.created_at.isoformat(), "updated": case.updated_at.isoformat(),
        "outcome": str(row.outcome) if row.outcome is not None else None,
        "steps": [{"name": s.name, "assignee": s.holder, "assignee_name": holders.get(s.holder) if s.holder else None,
                   "role": s.role, "jurisdiction": s.city, "due": s.due_at.isoformat() if s.due_at else None,
                   "due_provisional": s.due_provisional_year is not None} for s in row.steps],
    }


INSTANCE_ORDER = [paging.Key(ProcessInstance.id, int, descending=True)]  # newest case first
# soonest due first, tasks without a due date last; the uuid makes the order total
TASK_ORDER = [paging.Key(HumanTask.due_at, datetime, nullable=True), paging.Key(HumanTask.created_at, datetime),
              paging.Key(HumanTask.id, str)]
NOTIFICATION_ORDER = [paging.Key(Notification.at, datetime, descending=True),
                      paging.Key(Notification.id, int, descending=True)]


@bp.get(f"/instances/<int(max={ID_MAX}):instance_id>")
@authenticated
def get_instance(instance_id):
    return jsonify(instance_json(_visible_instance(instance_id)))


@bp.get(f"/instances/<int(max={ID_MAX}):instance_id>/file")
@authenticated
def instance_file(instance_id):
    """The case file (卷宗) as the case page shows it to the caller: labelled sections, no raw keys."""
    found = personal.case_file(_visible_instance(instance_id), g.actor, case_files.SECTIONS, via="api")
    return jsonify({"instance": instance_id, "sections": plain(found.sections)})


@bp.post(f"/instances/<int(max={ID_MAX}):instance_id>/cancel")
@authenticated
def cancel_instance(instance_id):
    _visible_instance(instance_id)
    return jsonify(instance_json(runtime().cancel(instance_id, g.actor, _reason_in(_optional_body()))))


@bp.post(f"/instances/<int(max={ID_MAX}):instance_id>/withdraw")
@authenticated
def withdraw_instance(instance_id):
    """The applicant withdraws its application before the city decides: {"reason": ...}."""
    return jsonify(instance_json(withdrawal.withdraw(runtime(), instance_id, g.actor, _reason_in(body_object()))))


@bp.post(f"/instances/<int(max={ID_MAX}):instance_id>/end")
@authenticated
def end_instance(instance_id):
    """An official of the case's city, or the province, ends a stalled case: {"reason": ...}."""
    return jsonify(instance_json(withdrawal.end(runtime(), instance_id, g.actor, _reason_in(body_object()))))


@bp.post(f"/instances/<int(max={ID_MAX}):instance_id>/retry")
@authenticated
def retry_instance(instance_id):
    _visible_instance(instance_id)
    body = _optional_body()
    return jsonify(instance_json(runtime().retry(instance_id, g.actor, body.get("data"), _reason_in(body))))


@bp.post(f"/instances/<int(max={ID_MAX}):instance_id>/messages")
@authenticated
def send_message(instance_id):
    _visible_instance(instance_id)
    body = body_object()
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise EngineError("须给出「name」，即消息名称 ('name' (the message name) is required)")
    payload = body.get("payload", {})
    if not isinstance(payload, dict):
        raise FormInvalid({"payload": ["须为 JSON 对象 (must be a JSON object)"]})
    return jsonify(instance_json(runtime().send_message(instance_id, name, payload, g.actor)))


@bp.get("/tasks")
@authenticated
def list_tasks():
    # each task with its case's version, in the same statement: the form is named per version
    q = db.select(HumanTask, ProcessInstance.version_id).join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id) \
        .where(runtime().visible_tasks(g.actor))
    expand = expand_form()
    if request.args.get("instance") is not None:
        q = q.where(HumanTask.instance_id == int_arg("instance", 0, 0, ID_MAX))
    if process := request.args.get("process"):
        q = q.where(HumanTask.process_id == process)
    if role := request.args.get("role"):
        q = q.where(HumanTask.role == role)
    overdue = request.args.get("overdue")
    if overdue is not None:
        if overdue not in ("true", "false", "1", "0"):
            raise EngineError("「overdue」须为 true 或 false ('overdue' must be true or false)")
        now = clock.now()
        q = q.where(HumanTask.due_at < now) if overdue in ("true", "1") else \
            q.where(or_(HumanTask.due_at.is_(None), HumanTask.due_at >= now))
    page = list_page(q, TASK_ORDER, lambda row: [row.HumanTask.due_at, row.HumanTask.created_at, row.HumanTask.id])
    return listed("tasks", [task_json(row.HumanTask, row.version_id, expand) for row in page.rows], page)


@bp.post("/tasks/<task_id>/attachments")
@authenticated
@writes
def upload_attachment(task_id):
    """A file for one of the task's file fields (multipart `field` and `file`), checked by its
    content against the field's types and size and kept with the case: the answer's `id` is
    what the field takes when the task is completed."""
    try:
        entry = db.session.get(HumanTask, str(UUID(task_id)))
    except ValueError:
        entry = None
    if entry is None or not may_act(g.actor, entry):
        raise NotFound(f"事项 {task_id} 不在等待你办理 (task {task_id} is not waiting for you)")
    schema = runtime().registry.load(
        db.session.get(ProcessInstance, entry.instance_id).version_id).forms.get(entry.form or "") or {}
    field = request.form.get("field", "")
    prop = (schema.get("properties") or {}).get(field)
    if not attachments.is_file_field(prop):
        raise FormInvalid({"field": [f"「{field}」不是本事项表单的文件字段 ('{field}' is not a file field of this task's form)"]})
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise FormInvalid({"file": ["请以 multipart 字段「file」上传文件 (send the file as multipart 'file')"]})
    try:
        checked = attachments.check_for_field(prop, upload.filename, upload.read())
    except attachments.AttachmentRefused as exc:
        raise FormInvalid({field: [str(exc)]}) from None  # web.handler: in the reader's language
    [row] = attachments.store(current_app.config["UPLOAD_DIR"], entry.instance_id, [checked], by=g.actor.name,
                              personal=attachments.is_personal_field(prop))
    db.session.flush()  # the row's id, for the answer
    return jsonify({"id": row.id, "name": row.original_name, "content_type": row.content_type, "size": row.size,
                    "sha256": row.sha256}), 201


@bp.post("/tasks/<task_id>/complete")
@authenticated
def complete_task(task_id):
    body = body_object()
    inst = runtime().complete(task_id, body.get("data", {}), g.actor)
    return jsonify(instance_json(inst))


@bp.post("/tasks/<task_id>/comments")
@authenticated
def comment_task(task_id):
    text = body_object().get("text")
    try:
        entry = db.session.get(HumanTask, str(UUID(task_id)))
    except ValueError:
        entry = None
    if entry is not None and not privacy.sees_task(g.actor, entry):  # an expert: his own reviews only
        raise NotFound(f"事项 {task_id} 不在等待任何人办理 (task {task_id} is not waiting for anyone)")
    runtime().comment(task_id, text if isinstance(text, str) else "", g.actor)
    return jsonify({"task": task_id, "text": text.strip()}), 201


# --------------------------------------------------------------------------- the virtual clock
def _virtual_clock_only():
    if not current_app.config["CLOCK"] == "virtual" or not clock.current().virtual:
        raise NotFound("未找到 (not found)")
    if not g.actor.is_admin:
        raise Forbidden("只有管理员可以查看或拨动时钟 (only an administrator may read or move the clock)")


@bp.get("/clock")
@authenticated
def read_clock():
    _virtual_clock_only()
    return jsonify({"now": clock.now().isoformat(), "virtual": True})


@bp.post("/clock")
@authenticated
def move_clock():
    """Move the virtual clock: {"advance": "P30D"} or {"to": "2027-04-16T00:00:00+08:00"}.
    Every timer that falls due on the way fires, in order, before this returns."""
    _virtual_clock_only()
    body = body_object()
    now = clock.now()
    try:
        if "advance" in body:
            target = deadlines.moment(str(body["advance"]), now)
        elif "to" in body:
            target = datetime.fromisoformat(str(body["to"]))
            if target.tzinfo is None:
                raise ValueError("时间须带时区偏移，如 +08:00 (give the time with its offset, e.g. +08:00)")
        else:
            raise ValueError("须给出「advance」（ISO 时长）或「to」（ISO 时间） (give 'advance' (an ISO duration) or 'to' (an ISO time))")
        fired = run_until(runtime(), target)
    except ValueError as exc:
        raise FormInvalid({"advance" if "advance" in body else "to": [str(exc)]}) from None
    return jsonify({"now": clock.now().isoformat(), "fired": fired})


# --------------------------------------------------------------------------- notifications
@bp.get("/notifications")
@authenticated
def list_notifications():
    actor = g.actor
    q = db.select(Notification, notifications.read_flag(actor).label("read")).where(
        notifications.for_actor(actor, everything=actor.is_admin))
    if request.args.get("unread") in ("true", "1"):
        q = q.where(notifications.unread(actor))
    page = list_page(q, NOTIFICATION_ORDER, lambda row: [row.Notification.at, row.Notification.id])
    sent = notifications.deliveries_of(actor, [row.Notification.id for row in page.rows])
    return listed("notifications", [{
        "id": n.id, "kind": n.kind, "at": n.at.isoformat(), "instance": n.instance_id, "task": n.task_id,
        "element": n.element, "task_name": n.task_name, "due": n.due_at.isoformat() if n.due_at else None,
        "due_provisional": n.due_provisional, "role": n.role, "jurisdiction": n.jurisdiction, "assignee": n.assignee,
        "read": bool(read), "deliveries": sent[n.id],
    } for n, read in ((row.Notification, row.read) for row in page.rows)], page)


@bp.post(f"/notifications/<int(max={ID_MAX}):notification_id>/read")
@authenticated
@writes
def read_notification(notification_id):
    """Read for the caller alone: the role's other officials still see it unread."""
    actor = g.actor
    seen = db.session.scalar(db.select(Notification.id).where(
        Notification.id == notification_id, notifications.for_actor(actor, everything=actor.is_admin)))
    if seen is None:
        raise NotFound(f"通知 {notification_id} 不存在 (notification {notification_id} does not exist)")
    notifications.mark_read(actor, Notification.id == seen)
    return jsonify({"id": seen, "read": True})
