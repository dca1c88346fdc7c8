"""Bulk work (批量办理): claim, hand over or complete several tasks of the inbox at once.

The user ticks tasks in the inbox and picks an action; a confirmation page lists them (and, to
complete them, shows their one shared form, filled once); then each task is its own step and
transaction, through the same runtime operation as one task, so one refused (completed
meanwhile, someone else's, its data not good for it) leaves the others done. The result page
says, task by task, done or refused and why. Completions run as a background job (engine.jobs):
its page shows them done one by one, then the same result.
"""
from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine import jobs
from engine.db import db
from engine.errors import Conflict, EngineError, Forbidden, FormInvalid, NotFound
from engine.forms import ROWS_FROM
from engine.green import attachments
from engine.green.models import User
from engine.models import HumanTask, ProcessInstance
from engine.persistence import plain
from engine.runtime import may_act

from .. import formrender
from ..accounts.users import actor_of
from ..runtime import runtime
from ..tasks.views import _note_schema
from .views import BULK_CAP

bp = Blueprint("bulk", __name__, template_folder="templates", url_prefix="/inbox/bulk")
ACTIONS = ("claim", "handover", "complete")
_SHOWN = ("id", "name", "element", "instance_id", "assignee", "form")


class Selection:
    """The tasks ticked, as this user may act on them now, and what cannot go ahead."""

    def __init__(self, action: str, ids: list[str], actor):
        self.action, self.actor = action, actor
        self.problem: str | None = None
        self.schema = self.real_schema = None
        ids = list(dict.fromkeys(i for i in ids if i))  # each once, in the order ticked
        if not ids:
            self.problem, self.tasks, self.ids = _("请先勾选要处理的事项。"), [], []
            return
        if len(ids) > BULK_CAP:
            self.problem, self.tasks, self.ids = _("一次最多处理 %(n)s 项，您选择了 %(m)s 项。", n=BULK_CAP, m=len(ids)), [], []
            return
        rows = {t.id: t for t in db.session.scalars(db.select(HumanTask).where(HumanTask.id.in_(ids)))}
        # a task gone meanwhile or not his stays in the list, to be reported as refused
        self.ids = ids
        # plain copies: each step commits, which expires (and for a completed task, deletes) the rows
        self.tasks = [SimpleNamespace(**{c: getattr(rows[i], c) for c in _SHOWN}) for i in ids
                      if i in rows and may_act(actor, rows[i])]
        if action == "complete" and self.tasks:
            self._shared_form()

    def _shared_form(self) -> None:
        forms = {t.form for t in self.tasks}
        if len(forms) > 1:
            self.problem = _("所选事项的表单不同，不能一起办理；请只勾选同一表单的事项。")
            return
        first = self.tasks[0]
        version = db.session.scalar(db.select(ProcessInstance.version_id).where(ProcessInstance.id == first.instance_id))
        self.real_schema = runtime().registry.load(version).forms.get(first.form) if first.form else None
        self.schema = self.real_schema if self.real_schema is not None else _note_schema()
        props = (self.schema.get("properties") or {}).values()
        if any(isinstance(p, dict) and (attachments.is_file_field(p) or p.get(ROWS_FROM)) for p in props):
            # a file or an item-by-item table belongs to one case: such a form is filled task by task
            self.problem = _("此表单含附件或逐项填写的表格，须逐件办理。")


def _selection() -> Selection:
    action = request.form.get("action")
    if action not in ACTIONS:
        abort(400)
    return Selection(action, request.form.getlist("task"), actor_of(current_user))


def _colleague(name: str | None):
    user = db.session.scalar(db.select(User).where(User.name == name)) if name else None
    return actor_of(user) if user is not None else None


def _confirmation(selection: Selection, form=None, status: int = 200):
    if form is None and selection.schema is not None:
        form = formrender.build(selection.schema)
    ids = [t.id for t in selection.tasks]
    instances = {t.instance_id for t in selection.tasks}
    cases = {c.id: c for c in db.session.scalars(db.select(ProcessInstance).where(ProcessInstance.id.in_(instances)))} \
        if instances else {}
    return render_template("inbox/bulk_confirm.html", selection=selection, ids=ids, form=form, cases=cases,
                           to=request.form.get("to", ""), cap=BULK_CAP), status


@bp.post("/confirm")
@login_required
def confirm():
    """The tasks ticked, listed for a last look; with the shared form when they are to be completed."""
    selection = _selection()
    if selection.action == "handover" and _colleague(request.form.get("to")) is None:
        selection.problem = _("没有这位同事。")
    if selection.problem or not selection.tasks:
        selection.problem = selection.problem or _("所选事项都已不在您的待办中。")
        return _confirmation(selection, status=422)
    return _confirmation(selection)


@bp.post("/run")
@login_required
def run():
    """Each task its own step: done, or refused with its reason; the others go on."""
    selection = _selection()
    actor = selection.actor
    if selection.problem:
        return _confirmation(selection, status=422)
    to = _colleague(request.form.get("to")) if selection.action == "handover" else None
    if selection.action == "handover" and to is None:
        selection.problem = _("没有这位同事。")
        return _confirmation(selection, status=422)
    data = None
    if selection.action == "complete" and selection.tasks:
        submitted = request.form.to_dict(flat=True)
        data, errors = formrender.validate(selection.real_schema, submitted) if selection.real_schema is not None \
            else formrender.parse(selection.schema, submitted)
        if errors:  # the shared form is wrong for all alike: back to it, entries kept
            values = formrender.raw_values(selection.schema, submitted)
            return _confirmation(selection, formrender.build(selection.schema, values, errors), 422)
    if selection.action == "complete":
        # each completion is a step of the engine: a hundred of them go to the background job worker,
        # and the job's page shows them done one by one, then the result task by task
        job = jobs.submit("bulk_complete", {
            "by": current_user.name, "locale": str(get_locale()), "ids": selection.ids, "data": plain(data),
            "tasks": [{"id": t.id, "name": t.name, "element": t.element, "instance_id": t.instance_id}
                      for t in selection.tasks]}, by=current_user.name)
        return redirect(url_for("jobs.show", job_id=job.id), 303)
    results = carry_out(selection.action, selection.ids, selection.tasks, actor, to=to)
    return render_template("inbox/bulk_result.html", **results)


def carry_out(action: str, ids: list[str], tasks, actor, data=None, to=None, progress=None) -> dict:
    """Each task its own step, in the order ticked: done, or refused with the reason; the others go on."""
    results = []
    waiting = {t.id: t for t in tasks}
    for n, task_id in enumerate(ids, 1):
        task = waiting.get(task_id)
        if task is None:  # completed meanwhile, or never his: refused without a step
            results.append({"id": task_id, "task": None, "done": False,
                            "reason": _("该事项已不在您的待办中（已办结或不在您的办理范围内）。")})
            continue
        # what the page shows of it, read before its step removes it from the index
        result = {"id": task.id, "task": {"name": task.name or task.element, "instance_id": task.instance_id},
                  "done": False, "reason": None}
        try:
            if action == "complete":
                case = runtime().complete(task.id, data, actor)
                if db.session.scalar(db.select(HumanTask.id).where(HumanTask.id == task.id)) is not None:
                    raise EngineError(_("案件出错，已交管理员处理：%(message)s", message=case.error_message or ""))
            else:
                runtime().assign(task.id, actor, actor if action == "claim" else to)
            result["done"] = True
        except EngineError as exc:
            result["reason"] = _reason(exc)
        results.append(result)
        if progress is not None:
            progress(n, len(ids))
    done = sum(r["done"] for r in results)
    return {"action": action, "results": results, "done": done, "refused": len(results) - done}


@jobs.kind("bulk_complete")
def _complete_in_the_background(params: dict, progress) -> dict:
    """A bulk completion as a job: as its starter would (refused if the account can no longer act),
    the reasons in the starter's language."""
    user = db.session.scalar(db.select(User).where(User.name == params["by"], User.deactivated_at.is_(None)))
    if user is None:
        raise Forbidden(f"发起批量办理的账户 {params['by']} 已不能办理 (the account {params['by']} that started the work can no longer act)")
    with force_locale(params["locale"]):
        tasks = [SimpleNamespace(**t) for t in params["tasks"]]
        return carry_out("complete", params["ids"], tasks, actor_of(user), data=params["data"], progress=progress)


def _reason(exc: EngineError) -> str:
    """Why one task was refused, in the page's words."""
    if isinstance(exc, Conflict):
        return _("已由他人办理、认领或转交，或已不再等待办理。")
    if isinstance(exc, NotFound):
        return _("该事项已不在您的待办中（已办结或不在您的办理范围内）。")
    if isinstance(exc, FormInvalid):
        fields = "；".join(f"{k}: {'、'.join(v)}" for k, v in exc.fields.items())
        return _("填写的内容不符合此事项的要求：%(fields)s", fields=fields)
    if isinstance(exc, Forbidden):
        return _("无权办理：%(reason)s", reason=exc.message)
    return exc.message
