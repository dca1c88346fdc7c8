"""The task page (办理页面): a task's case, instructions and history, its case file
(卷宗: the sections its diagram names, see `engine.green.case_file`) beside its form, to
submit or to save as a draft (草稿).

Thin over the engine: the form is the task's JSON Schema, checked again by
`Runtime.complete`; who may open a task is `may_act`, decided on the server.
A task the user may not act on answers exactly like a missing one (404).

Forms that remember (回填): a task the case comes back to (退回补正) opens with what was
submitted there last and the remarks of whoever sent it back; what the system knows
(`x-known`, `x-choices`: engine/green/known_fields.py) is filled in or offered as a list;
after a submission, the case's next task opens at once when it is the same user's.
"""
from __future__ import annotations

import json
from datetime import timedelta
from uuid import UUID

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from SpiffWorkflow.exceptions import TaskNotFoundException
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from engine import clock
from engine.db import db, writing
from engine.errors import Busy, Conflict, EngineError, Forbidden, FormInvalid, NotFound
from engine.forms import ROWS_FROM
from engine.green import attachments, known_fields, privacy
from engine.green import case_file as case_files
from engine.green.experts import Expert
from engine.green.models import Attachment, User
from engine.green.notices import Objection, PublicNotice
from engine.model_registry import FORM_PROPERTY
from engine.models import AuditEvent, HumanTask, ProcessInstance
from engine.runtime import may_act
from engine.runtime.operations import COMMENT_LENGTH

from .. import formrender, personal
from ..accounts.users import actor_of
from ..cases.remarks import remark
from ..cases.views import _page as case_page
from ..inputs import record_id
from ..model_texts import model_text
from ..runtime import runtime
from .models import TaskDraft

bp = Blueprint("tasks", __name__, template_folder="templates", url_prefix="/tasks")

NOTE = "note"  # the one field of a task without a form
RETURN_STEP_SLACK = timedelta(seconds=5)  # a step's audit event follows the tasks it made by this much at most
# What each audit action is called in a case's history.
ACTIONS = {
    "start": _l("发起"), "complete": _l("办理"), "claim": _l("认领"), "release": _l("退回待认领"),
    "handover": _l("转交"), "cancel": _l("撤销"), "retry": _l("重试"), "timer": _l("定时触发"),
    "message": _l("收到消息"), "error": _l("出错"), "reassign": _l("指派"), "comment": _l("批注"),
}


def _note_schema() -> dict:
    return {"type": "object", "properties": {
        NOTE: {"title": _("办理意见"), "type": "string", "maxLength": 4000,
               "description": _("此事项没有表单，可填写说明（选填）。")}}}


def _visible_task(task_id: str) -> HumanTask | None:
    """The inbox entry if this user may act on it; None when no task waits
    under this id; 404 when it is someone else's (its existence is not disclosed)."""
    try:
        UUID(task_id)
    except ValueError:
        abort(404)
    task = db.session.get(HumanTask, task_id)
    if task is not None and not may_act(actor_of(current_user), task):
        abort(404)
    return task


def _gone_meanwhile():
    flash(_("该事项已由他人办理或已不再等待办理。"), "error")
    return redirect(url_for("inbox.index"), 303)


def _spec(version, process_id: str, element: str):
    """The BPMN element's task spec in a deployed version (for its name and documentation)."""
    specs = [version.specs.get(process_id)]
    specs += list((version.subprocess_specs.get(process_id) or {}).values())
    for spec in specs:
        if spec is not None and element in spec.task_specs:
            return spec.task_specs[element]
    return None


@bp.errorhandler(404)
def _gone(exc):
    return render_template("tasks/task.html", task=None), 404


@bp.route("/<task_id>", methods=["GET", "POST"])
@login_required
def view(task_id):
    task = _visible_task(task_id)
    if task is None:
        if request.method == "POST":  # typed into a page whose task was completed meanwhile
            return _gone_meanwhile()
        abort(404)
    case = db.session.get(ProcessInstance, task.instance_id)
    version = runtime().registry.load(case.version_id)
    real_schema = version.forms.get(task.form) if task.form else None
    schema = real_schema if real_schema is not None else _note_schema()
    actor = actor_of(current_user)
    task_id, name = task.id, task.name or task.element

    if request.method == "GET":
        draft = db.session.get(TaskDraft, (task.id, actor.name))
        earlier = _earlier_submission(task, case)  # its remarks stand beside a draft too
        values = draft.values if draft else formrender.values_of(schema, earlier["data"]) if earlier else None
        form = _form(schema, task, actor, values, context=None if values is not None else _items_for(schema, task))
        return _page(task, case, version, form, draft=draft, earlier=earlier, refilled=bool(earlier and not draft))

    action = request.form.get("action")
    if action not in ("draft", "submit"):
        abort(400)
    submitted, upload_errors = _take_uploads(schema, case, actor)
    values = formrender.raw_values(schema, submitted)

    def busy_page(exc: Busy):  # nothing was saved: the entries stay on the page, to be sent again
        form = _form(schema, task, actor, values, {"$": [model_text(exc.message)]})
        return _page(task, case, version, form, earlier=_earlier_submission(task, case)), 503

    if action == "draft":
        try:
            return _save_draft(task, actor, values, upload_errors)
        except Busy as exc:
            return busy_page(exc)

    data, errors = formrender.validate(real_schema, submitted) if real_schema is not None \
        else formrender.parse(schema, submitted)
    for key, messages in upload_errors.items():  # the refused file's reason, not "required"
        errors[key] = messages
    if not errors:
        try:
            done = runtime().complete(task_id, data, actor)
        except FormInvalid as exc:
            errors = formrender.page_errors(real_schema, submitted, exc.fields)
        except (Conflict, NotFound):
            return _gone_meanwhile()
        except Forbidden:
            raise  # answered by web.handler: 403
        except Busy as exc:
            return busy_page(exc)
        except EngineError as exc:
            errors = {"$": [model_text(exc.message)]}
        else:
            if db.session.scalar(db.select(HumanTask.id).where(HumanTask.id == task_id)) is not None:
                # the step failed and was rolled back: the case is held for an administrator, the task
                # still waits, and the entries stay on the page (the form cannot give what was missing)
                errors = {"$": [_("未能办结：案件在“%(element)s”出错，已交管理员处理：%(message)s",
                                  element=_element_names(version, case.process_id, done.error_element) or "—",
                                  message=model_text(done.error_message or ""))]}
                # as the API answers it: the step was taken (200), and the case is in error
                return _page(task, case, version, _form(schema, task, actor, values, errors))
            # the step removed the inbox entry and its drafts (store.hand_over, or the cascade); make sure
            with writing():
                db.session.execute(delete(TaskDraft).where(TaskDraft.task_id == task_id))
            flash(_("已提交“%(name)s”。", name=name), "info")
            following = _next_task_of(actor, case.id)
            if following is not None:  # the next step is this user's: no detour through the inbox
                return redirect(url_for(".view", task_id=following), 303)
            return redirect(url_for("inbox.index"), 303)
    form = _form(schema, task, actor, values, errors)
    return _page(task, case, version, form, earlier=_earlier_submission(task, case)), 422


def _form(schema: dict, task: HumanTask, actor, values: dict | None, errors: dict | None = None,
          context: dict | None = None):
    """The task's form with what the system knows: the organisation's own entries, and the
    registers' lists (a city's own units are the task's city's)."""
    declared = known_fields.declared(schema)
    known = known_fields.known_values(actor) if any(known_fields.KNOWN in p for _k, _c, p in declared) else {}
    choices = {p[known_fields.CHOICES]: known_fields.choices(p[known_fields.CHOICES], task.jurisdiction)
               for _k, _c, p in declared if known_fields.CHOICES in p}
    return formrender.build(schema, values, errors, context=context, known=known,
                            choices={k: v for k, v in choices.items() if v is not None})


def _next_task_of(actor, instance_id: int) -> str | None:
    """The case's task now waiting that this user acts on: addressed to them (or their
    organisation) first, then one of their role and city. An administrator, who may act on
    any, is not led on."""
    waiting = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == instance_id)
                                 .order_by(HumanTask.created_at, HumanTask.id)).all()
    if actor.is_admin:
        waiting = [t for t in waiting if t.assignee is not None and t.assignee in actor.accounts]
    mine = sorted((t for t in waiting if may_act(actor, t)), key=lambda t: t.assignee is None)
    return mine[0].id if mine else None


def _earlier_submission(task: HumanTask, case: ProcessInstance) -> dict | None:
    """What was submitted at this step of the case before, when the case came back to it, and
    the remarks of whoever sent it back: the step whose completion made this task (a timer
    that did, as a new year's table, sends nothing back). Only a submission by someone who
    could act on this task now: a step done once per city or per expert does not show one
    city's entries to another."""
    events = db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.instance_id == case.id, AuditEvent.action.in_(("complete", "timer"))).order_by(AuditEvent.seq)).all()
    here = [e for e in events if e.task == task.element and e.action == "complete"]
    if not here:
        return None
    last = here[-1]
    submitter = db.session.scalar(db.select(User).where(User.name == last.actor)) if last.actor else None
    if submitter is None or not may_act(actor_of(submitter), task):
        return None
    data = json.loads(last.detail or "{}").get("in")
    if not isinstance(data, dict):
        return None
    # the step is audited just after it made its tasks: the one that made this task is the last before it
    made_by = [e for e in events if e.seq > last.seq and e.at <= task.created_at + RETURN_STEP_SLACK]
    returner = made_by[-1] if made_by and made_by[-1].action == "complete" and made_by[-1].actor != last.actor \
        else None
    return {"data": data, "at": last.at, "remarks": _remarks(case, returner) if returner else None}


def _remarks(case: ProcessInstance, event: AuditEvent) -> dict | None:
    """The written entries (an opinion, a reason) of the step that sent the case back, labelled from its form."""
    version = runtime().registry.load(case.version_id)
    spec = _spec(version, case.process_id, event.task or "")
    form_name = (getattr(spec, "extensions", None) or {}).get("properties", {}).get(FORM_PROPERTY)
    schema = version.forms.get(form_name) if form_name else None
    data = json.loads(event.detail or "{}").get("in")
    if schema is None or not isinstance(data, dict):
        return None
    written = [(f.label, f.value) for f in formrender.build(schema, formrender.values_of(schema, data))
               if f.kind in ("text", "textarea") and f.value.strip()]
    if not written:
        return None
    name = db.session.scalar(db.select(User.display_name).where(User.name == event.actor)) if event.actor else None
    return {"by": name or event.actor or "—", "at": event.at, "step": _element_names(version, case.process_id, event.task),
            "entries": written}


@bp.post("/comments", defaults={"task_id": None})  # the case page: the task chosen in the form
@bp.post("/<task_id>/comments")
@login_required
def comment(task_id):
    """A comment (批注) on a waiting task, by anyone who may see its case: back to the task page
    for whoever may act on the task, to the case page for the others; an empty or too long
    comment comes back on that page with the reason and the text kept (422)."""
    task_id = task_id or request.form.get("task", "")
    try:
        UUID(task_id)
    except ValueError:
        abort(404)
    actor = actor_of(current_user)
    task = db.session.get(HumanTask, task_id)
    if task is None or not privacy.sees_task(actor, task) \
            or not (may_act(actor, task) or runtime().may_see(actor, task.instance_id)):
        abort(404)  # an expert comments on his own reviews only
    text = request.form.get("text", "")
    on_task_page = may_act(actor, task) and request.form.get("back") == "task"
    try:
        runtime().comment(task_id, text, actor)
    except FormInvalid as exc:
        message = _("请填写批注。") if not text.strip() else _("批注最多 %(n)s 个字。", n=COMMENT_LENGTH)
        if "text" not in exc.fields:
            message = "；".join(m for ms in exc.fields.values() for m in ms)
        kept = {"text": text, "error": message, "task": task_id}
        case = db.session.get(ProcessInstance, task.instance_id)
        if on_task_page:
            version = runtime().registry.load(case.version_id)
            schema = (version.forms.get(task.form) if task.form else None) or _note_schema()
            return _page(task, case, version, formrender.build(schema), comment=kept), 422
        return case_page(case, comment=kept), 422
    except (Conflict, NotFound):
        return _gone_meanwhile()
    flash(_("已添加批注。"), "info")
    if on_task_page:
        return redirect(url_for(".view", task_id=task_id), 303)
    return redirect(url_for("cases.show", instance_id=task.instance_id, _anchor="timeline"), 303)


def _items_for(schema: dict, task: HumanTask) -> dict | None:
    """The task's own data, when its form has an item-by-item table to fill from it."""
    if not any(isinstance(p, dict) and p.get(ROWS_FROM) for p in (schema.get("properties") or {}).values()):
        return None
    try:
        return runtime().read_workflow(task.instance_id).get_task_from_id(UUID(task.id)).data
    except (NotFound, TaskNotFoundException):  # the task ended meanwhile: the form opens empty and the submission says so
        return None


def _take_uploads(schema: dict, case: ProcessInstance, actor) -> tuple[dict, dict]:
    """The submitted inputs, with each file field's new upload checked by its content and
    stored with the case (so a draft or a refused submission keeps it): the field then
    holds the file's id. A refused file keeps the field's earlier file, with the reason."""
    submitted = request.form.to_dict(flat=True)
    errors = {}
    for key, prop in (schema.get("properties") or {}).items():
        upload = request.files.get(f"{key}__file")
        if not attachments.is_file_field(prop) or upload is None or not upload.filename:
            continue
        try:
            checked = attachments.check_for_field(prop, upload.filename, upload.read())
        except attachments.AttachmentRefused as exc:
            errors[key] = [model_text(str(exc))]
            continue
        with writing():
            [row] = attachments.store(current_app.config["UPLOAD_DIR"], case.id, [checked], by=actor.name,
                                      personal=attachments.is_personal_field(prop))
            db.session.flush()
            submitted[key] = str(row.id)
    return submitted, errors


def _show_files(form, case: ProcessInstance) -> None:
    """What each file field holds, by name and size, with its download link (this case's files
    only, and a personal file only for whoever may read it)."""
    actor = actor_of(current_user)
    for f in form.fields:
        attachment_id = record_id(f.value) if f.kind == "file" else None
        item = db.session.get(Attachment, attachment_id) if attachment_id is not None else None
        if item is not None and item.instance_id == case.id and privacy.may_read_evidence(actor, case, item):
            size = f"{item.size / 1024:.0f} KB" if item.size < 1024 * 1024 else f"{item.size / 1048576:.1f} MB"
            f.attachment = {"name": item.original_name, "size": size,
                            "url": url_for("complaints.download", attachment_id=item.id)}


def _save_draft(task: HumanTask, actor, values: dict, upload_errors: dict | None = None):
    task_id = task.id
    try:
        with writing():
            draft = db.session.get(TaskDraft, (task_id, actor.name))
            if draft is None:
                draft = TaskDraft(task_id=task_id, user_name=actor.name)
                db.session.add(draft)
            draft.values, draft.saved_at = values, clock.now()
    except IntegrityError:  # the task was completed meanwhile, and its drafts went with it
        return _gone_meanwhile()
    if upload_errors:
        for messages in upload_errors.values():
            for m in messages:
                flash(m, "error")
    flash(_("草稿已保存。"), "info")
    return redirect(url_for(".view", task_id=task_id), 303)


def _page(task: HumanTask, case: ProcessInstance, version, form, draft=None, earlier=None, refilled=False,
          comment: dict | None = None):
    _show_files(form, case)
    spec = _spec(version, case.process_id, task.element)
    events = db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.instance_id == case.id).order_by(AuditEvent.seq)).all()
    names = dict(db.session.execute(db.select(User.name, User.display_name).where(
        User.name.in_({e.actor for e in events if e.actor}), User.display_name.is_not(None))).all())
    notes = {e.seq: remark(e) for e in events}
    history = [{
        "at": e.at, "actor": names.get(e.actor, e.actor) if e.actor else "—",
        "action": str(ACTIONS.get(e.action, e.action)),
        "element": _element_names(version, case.process_id, e.task), **notes[e.seq],
    } for e in events]
    # the comments on this task, beside it
    comments = [h for e, h in zip(events, history, strict=True) if notes[e.seq].get("on_task") == task.id]
    now = clock.now()
    return render_template(
        "tasks/task.html", task=task, case=case, form=form, draft=draft, history=history, earlier=earlier, refilled=refilled,
        comments=comments, comment=comment or {"text": "", "error": None}, comment_length=COMMENT_LENGTH,
        process_name=model_text(runtime().registry.process_name(case.process_id, case.version_id)),
        instructions=model_text(getattr(spec, "documentation", None)) or "",
        overdue=bool(task.due_at and task.due_at < now),
        objections=_objections(case), pool=_pool_for(task),
        case_file=personal.case_file(case, actor_of(current_user), case_files.sections_of(spec), via="task page",
                                     subject=_review_of(task)),
        # why the case came back to this step (a diagram sets it, e.g. an agency refused under Art 23)
        returned_reason=(case.data or {}).get("returned_reason") if isinstance(case.data, dict) else None,
    )


def _review_of(task: HumanTask) -> dict | None:
    """An expert's review task: the candidate assigned to them (Art 15), the item the task was given."""
    if task.role != "expert":
        return None
    try:
        review = runtime().read_workflow(task.instance_id).get_task_from_id(UUID(task.id)).data.get("_review")
    except (NotFound, TaskNotFoundException):
        return None
    return review if isinstance(review, dict) else None


def _pool_for(task: HumanTask) -> list[Expert] | None:
    """The province's assignment task: the pool, by the numbers its form asks for."""
    if task.form != "expert_assignment.json":
        return None
    return db.session.scalars(db.select(Expert).where(Expert.active.is_(True)).order_by(Expert.id)).all()


def _objections(case: ProcessInstance) -> list[dict]:
    """The objections to the case's closed notice, as this reader may see them (Art 15)."""
    rows = db.session.scalars(db.select(Objection).join(PublicNotice).where(
        PublicNotice.instance_id == case.id, PublicNotice.closed_at.is_not(None)).order_by(Objection.id)).all()
    return personal.objections(case, actor_of(current_user), rows, via="task page") if rows else []


def _element_names(version, process_id: str, elements: str | None) -> str:
    if not elements:
        return ""
    if elements == process_id:
        spec = version.specs.get(process_id)
        return model_text(spec.description if spec is not None else None) or elements
    out = []
    for element in elements.split(","):
        spec = _spec(version, process_id, element)
        out.append(model_text(getattr(spec, "bpmn_name", None)) or element)
    return "、".join(out)

