"""Moving running cases to another deployed version of their process (案件迁移).

A case keeps the version it started on. When an analyst deploys a corrected or
changed procedure, they may move the cases still running on an old version to
the new one, in bulk: first a dry run (`plan`) that says, case by case, whether
it can move and why not; then the migration (`run`), each case in its own step
transaction: the case's stored tasks, its `version_id`, the inbox rows, its
pending timers and a "migrate" audit event commit together, or the case stays
exactly as it was. Nothing here needs HTTP.

Which cases can move is decided with SpiffWorkflow's own spec and workflow
diffs (`SpiffWorkflow.bpmn.util.diff`): a case can move when every step it has
done still exists in the target version, and every step it is on now (a task in
an inbox, a timer or message it waits for) still exists and differs only in the
flows around it, its name or its documentation. A step under way whose form,
time limit, timer, script, role or type changed would carry old promises into
the new version (a time limit computed under the old rule, a form the entries
were made for), so such a case waits until that step is done, or stays.

The steps a case waits on are carried over as they are (see `migrate`): only
what is planned after them is planned again from the new version, so a 30-day
rectification period that has run for 20 days still ends on its day, the inbox
entry (claim, draft, reminders sent) stays the same row, and the pending timer
row does not change.

Report codes, for the pages to word in their language: removed_waiting,
removed_history, changed_in_progress, subprocess_removed, unplanned, unaligned,
case_failed (blocked: a task failed; a case in error whose failing step was rolled back
moves, and stays in error until it is retried on the new version); finished, same_version, other_version, other_process,
missing (skipped); conflict, error (failed).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, update

from . import persistence, store
from .audit import append as audit
from .db import db
from .errors import Conflict, EngineError, Forbidden, NotFound
from .model_registry import LoadedVersion, UnknownProcess
from .models import ModelVersion, ProcessInstance
from .runtime import ACTIVE, Actor, Runtime, Unchanged
from .scripting import make_script_engine

log = logging.getLogger(__name__)
# Who may move cases between versions: the analysts who deploy them.
MIGRATOR_ROLES = frozenset({"analyst"})

# What may differ in a step a case is on now, and the case still move.
_HARMLESS = frozenset({"inputs", "outputs", "documentation", "lookahead", "bpmn_name"})
# Steps a case is on now: its inbox, its timers and messages, a subprocess under way.
_UNDER_WAY = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
# Steps a case has done (or left behind): its history.
_DONE = TaskState.COMPLETED | TaskState.CANCELLED


@dataclass
class Reason:
    """Why a case cannot move, or was left alone: a code, the element it is about
    and its name in the diagram, and a detail (changed attributes, an error)."""

    code: str
    element: str | None = None
    name: str | None = None
    detail: str | None = None

    @property
    def message(self) -> str:
        what = f"'{self.name or self.element}'" if (self.name or self.element) else ""
        return {
            "removed_waiting": f"it is at step {what}, which the target version no longer has",
            "removed_history": f"it has done step {what}, which the target version no longer has",
            "changed_in_progress": f"step {what} is under way and changed in the target version ({self.detail})",
            "subprocess_removed": f"its subprocess {what} is under way and the target version no longer has it",
            "unplanned": f"the steps after {what} cannot follow the target version while an earlier step is under way",
            "unaligned": f"step {what} has no place in the target version",
            "case_failed": f"it has a failed step {what}; an administrator retries it first",
            "finished": f"it is {self.detail}",
            "same_version": "it is already on the target version",
            "other_version": f"it is on version {(self.detail or '')[:12]}, not the source version",
            "other_process": f"it is a case of process '{self.detail}'",
            "missing": "no such case",
            "conflict": f"another action on the case was saved first: {self.detail}",
            "error": f"the migration failed: {self.detail}",
        }.get(self.code, self.code)

    def as_dict(self) -> dict:
        return {**asdict(self), "message": self.message}


@dataclass
class CaseVerdict:
    """One case in a migration report.

    outcome: movable (dry run) or migrated (run); blocked: it cannot move and
    stays; skipped: not a case this migration is about (finished, already on the
    target, on another version); failed: the run tried and rolled the case back."""

    instance_id: int
    outcome: str
    status: str | None = None
    version_id: str | None = None
    jurisdiction: str | None = None
    waiting_at: list[dict] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"instance": self.instance_id, "outcome": self.outcome, "status": self.status,
                "version": self.version_id, "jurisdiction": self.jurisdiction, "waiting_at": self.waiting_at,
                "reasons": [r.as_dict() for r in self.reasons]}


@dataclass
class MigrationReport:
    process_id: str
    from_version: str
    to_version: str
    dry_run: bool
    cases: list[CaseVerdict] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.cases if c.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {o: self.count(o) for o in ("movable", "migrated", "blocked", "skipped", "failed")}

    def as_dict(self) -> dict:
        return {"process": self.process_id, "from": self.from_version, "to": self.to_version,
                "dry_run": self.dry_run, "counts": self.counts, "cases": [c.as_dict() for c in self.cases]}

    @classmethod
    def from_dict(cls, d: dict) -> MigrationReport:
        """A report as `as_dict` gave it (a background job's result), for its page."""
        return cls(d["process"], d["from"], d["to"], d["dry_run"], [CaseVerdict(
            c["instance"], c["outcome"], c["status"], c["version"], c["jurisdiction"], c["waiting_at"],
            [Reason(r["code"], r["element"], r["name"], r["detail"]) for r in c["reasons"]]) for c in d["cases"]])


class CannotMove(Exception):
    def __init__(self, reasons: list[Reason]):
        super().__init__("; ".join(r.message for r in reasons))
        self.reasons = reasons


# --------------------------------------------------------------------------- the decision
def _name(spec) -> str | None:
    return getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name


def _differences(spec_diff, old_spec, state, role_of) -> list[str]:
    """What changed in a step under way beyond what a case on it can carry over.
    A step that waits (an inbox task, a timer, a message) gets the new flows after
    it planned again; one that runs (a subprocess, a multi-instance task, a task
    with boundary events) has its next steps fixed until it ends, so its outgoing
    flows may not change."""
    harmless = _HARMLESS if state & (TaskState.READY | TaskState.WAITING) else _HARMLESS - {"outputs"}
    changes = set(spec_diff.comparisons.get(old_spec) or ()) - harmless
    new_spec = spec_diff.alignment.get(old_spec)
    if "lane" in changes and new_spec is not None and role_of(old_spec.lane) == role_of(new_spec.lane):
        changes.discard("lane")  # a lane renamed, the same role acts
    if "event_definition" in changes and new_spec is not None:
        reg = spec_diff._registry
        old_def, new_def = reg.convert(old_spec.event_definition), reg.convert(new_spec.event_definition)
        if old_def.get("typename", "").endswith("TimerEventDefinition"):
            # a timer's definition carries its element's name; only its expression and kind matter
            old_def.pop("name", None)
            new_def.pop("name", None)
        if old_def == new_def:
            changes.discard("event_definition")
    return sorted(changes)


def _check(spec_diff, workflow_diff, role_of) -> list[Reason]:
    reasons = []
    for task in workflow_diff.removed:
        spec = task.task_spec
        if task.state & _DONE:
            reasons.append(Reason("removed_history", _element(spec), _name(spec)))
        elif task.state & _UNDER_WAY:
            reasons.append(Reason("removed_waiting", _element(spec), _name(spec)))
    for task in workflow_diff.changed:
        if not task.state & _UNDER_WAY:
            continue  # a step done is history: its new definition does not change what was done
        changed = _differences(spec_diff, task.task_spec, task.state, role_of)
        if changed:
            reasons.append(Reason("changed_in_progress", _element(task.task_spec), _name(task.task_spec),
                                  ", ".join(changed)))
    return reasons


def _workflows(wf):
    yield wf
    yield from wf.subprocesses.values()


def _element(spec) -> str:
    return getattr(spec, "bpmn_id", None) or spec.name


def _waiting(wf) -> dict:
    """Tasks the case is on now, by id: what people, timers and messages wait on."""
    return {t.id: t for w in _workflows(wf) for t in w.tasks.values()
            if t.state & (TaskState.READY | TaskState.WAITING)}


def waiting_at(wf) -> list[dict]:
    """The steps a case is on now, for the report: element and name."""
    seen = {}
    for task in _waiting(wf).values():
        spec = task.task_spec
        element = getattr(spec, "bpmn_id", None)
        if element and element not in seen and (spec.manual or task.state == TaskState.WAITING):
            seen[element] = {"element": element, "name": _name(spec)}
    return sorted(seen.values(), key=lambda s: s["element"])


def _diff(workflow, new_spec):
    """SpiffWorkflow's diff of one (sub)workflow against a spec: (SpecDiff, WorkflowDiff)."""
    spec_diff = SpecDiff(persistence._REGISTRY, workflow.spec, new_spec)
    return spec_diff, WorkflowDiff(workflow, spec_diff)


def migrate(wf, target: LoadedVersion, process_id: str, role_of: Callable) -> None:
    """Move one workflow (in memory) onto the target version's spec; raises
    `CannotMove` with the reasons when it cannot (`wf` may then be half moved:
    the caller throws it away)."""
    spec, deps = target.specs[process_id], target.subprocess_specs[process_id]
    top = _diff(wf, spec)
    reasons = _check(*top, role_of)
    subs = {}
    for sp_id, sp in wf.subprocesses.items():
        if sp.spec.name not in deps:
            reasons.append(Reason("subprocess_removed", sp.spec.name, sp.spec.description or sp.spec.name))
            continue
        subs[sp_id] = (_diff(sp, deps[sp.spec.name]), deps[sp.spec.name])
        reasons += _check(*subs[sp_id][0], role_of)
    if reasons:
        raise CannotMove(_unique(reasons))

    last = {w: w.last_task.id for w in _workflows(wf) if w.last_task is not None}
    # SpiffWorkflow's migrate_workflow points every task at its step in the new version
    # and resets the tasks in `reset_mask` to re-plan what follows them. Resetting the
    # steps a case waits on would restart their clocks (a timer counts again from now,
    # a time limit is computed again) and re-plan boundary events and multi-instance
    # tasks differently from a plain run; so only failed tasks are in the mask (a case
    # with one does not move), and `_replan` re-plans just the waiting steps whose
    # following flows changed, keeping their state, data and clocks.
    migrate_workflow(top[1], wf, spec, reset_mask=TaskState.ERROR)
    for sp_id, ((_, sub_diff), sub_spec) in subs.items():
        migrate_workflow(sub_diff, wf.subprocesses[sp_id], sub_spec, reset_mask=TaskState.ERROR)
    wf.subprocess_specs = deps
    # migrate_workflow looks for the last task among the task ids, never finds it, and
    # forgets it: the case's data (which shows the last task's) would look emptied.
    for w, tid in last.items():
        w.last_task = w.tasks.get(tid)
    _replan(wf)
    _check_integrity(wf, spec, deps)


_PLANNED = TaskState.PREDICTED_MASK | TaskState.FUTURE


def _stale(task) -> bool:
    """The steps planned after a task are not the ones its step leads to now."""
    planned = {c.task_spec.name for c in task.children if not c.triggered}
    return bool(planned) and planned != {s.name for s in task.task_spec.outputs}


def _replan(wf):
    """Plan again what follows each waiting step whose path ahead changed; refuse
    when a plan would still be stale (it hangs below a step under way)."""
    for w in _workflows(wf):
        for task in list(w.tasks.values()):
            if task.id not in w.tasks or not task.state & (TaskState.READY | TaskState.WAITING):
                continue
            if any(_stale(t) for t in task if t is task or t.state & _PLANNED):
                task._drop_children(force=True)
                task.task_spec._predict(task, mask=_PLANNED | task.state)
    for w in _workflows(wf):
        for task in w.tasks.values():
            if task.state & _PLANNED and _stale(task):
                raise CannotMove([Reason("unplanned", _element(task.task_spec), _name(task.task_spec))])


def _failed(wf) -> Reason | None:
    """A task SpiffWorkflow marked failed: the case is retried before it moves. A case held in
    error after a step that was rolled back has none (it stands as before that step), so it
    may move to a corrected version and be retried there."""
    for w in _workflows(wf):
        for task in w.tasks.values():
            if task.state == TaskState.ERROR:
                return Reason("case_failed", _element(task.task_spec), _name(task.task_spec))
    return None


def _unique(reasons: list[Reason]) -> list[Reason]:
    """One reason per element and kind (a loop can hold several tasks of one step)."""
    out, seen = [], set()
    for r in reasons:
        if (r.code, r.element) not in seen:
            seen.add((r.code, r.element))
            out.append(r)
    return out


def _check_integrity(wf, spec, deps):
    """Every task must now stand on a step of the target version, and the case
    must read back from what would be stored."""
    for w in _workflows(wf):
        owner = spec if w is wf else deps.get(w.spec.name)
        for task in w.tasks.values():
            if owner is None or owner.task_specs.get(task.task_spec.name) is not task.task_spec:
                raise CannotMove([Reason("unaligned", _element(task.task_spec), _name(task.task_spec))])
    changes = persistence.diff(wf, None)
    persistence.restore(changes.shell, changes.upserts, spec, deps)


# --------------------------------------------------------------------------- dry run and run
MAX_CASES = 5000  # ids named in one request


def _authorize(actor: Actor):
    if actor.role not in MIGRATOR_ROLES:
        raise Forbidden("只有流程分析员可以在版本之间迁移办件 (only a process analyst may migrate cases between versions)")


def versions_of(process_id: str) -> list[ModelVersion]:
    """The deployed versions that define a process, newest first."""
    rows = db.session.scalars(db.select(ModelVersion).order_by(ModelVersion.deployed_at.desc())).all()
    return [v for v in rows if process_id in (v.processes or [])]


def _target(runtime: Runtime, process_id: str, from_version: str, to_version: str) -> LoadedVersion:
    if not from_version or not to_version:
        raise EngineError("请选择迁出的版本和迁入的版本 (choose the version to move cases from and the version to move them to)")
    if from_version == to_version:
        raise EngineError("两个版本相同，请另选目标版本 (the two versions are the same; choose another target version)")
    for vid in (from_version, to_version):
        version = db.session.get(ModelVersion, vid)
        if version is None or process_id not in (version.processes or []):
            raise NotFound(f"流程「{process_id}」没有已部署的版本 {vid[:12]} (process '{process_id}' has no deployed version {vid[:12]})")
    try:
        return runtime.registry.load(to_version)
    except UnknownProcess:  # pragma: no cover - checked just above
        raise NotFound(f"模型版本 {to_version[:12]} (model version {to_version[:12]})") from None


def _candidates(process_id: str, from_version: str, to_version: str, instance_ids):
    """(verdicts already decided, ids to look at): the source version's live cases,
    or the cases named; those that are not this migration's business are skipped."""
    cols = (ProcessInstance.id, ProcessInstance.process_id, ProcessInstance.version_id, ProcessInstance.status,
            ProcessInstance.jurisdiction, ProcessInstance.error_element)
    if instance_ids is None:
        rows = db.session.execute(db.select(*cols).where(
            ProcessInstance.process_id == process_id, ProcessInstance.version_id == from_version,
            ProcessInstance.status.in_(ACTIVE)).order_by(ProcessInstance.id)).all()
    else:
        ids = sorted(set(instance_ids))
        if len(ids) > MAX_CASES:
            raise EngineError(f"每次最多迁移 {MAX_CASES} 件 (name at most {MAX_CASES} cases at a time)")
        found = {r.id: r for r in db.session.execute(db.select(*cols).where(ProcessInstance.id.in_(ids))).all()}
        rows = [found.get(i) or i for i in ids]
    decided, todo = {}, []
    for row in rows:
        if isinstance(row, int):
            decided[row] = CaseVerdict(row, "skipped", reasons=[Reason("missing")])
            continue
        verdict = CaseVerdict(row.id, "", row.status, row.version_id, row.jurisdiction)
        reason = _not_this_migration(row.process_id, row.version_id, row.status, process_id, from_version, to_version)
        if reason is not None:
            verdict.outcome, verdict.reasons = "skipped", [reason]
            decided[row.id] = verdict
        else:
            todo.append(verdict)
    return decided, todo


def _not_this_migration(pid, version, status, process_id, from_version, to_version) -> Reason | None:
    if pid != process_id:
        return Reason("other_process", detail=pid)
    if version == to_version:
        return Reason("same_version", detail=version)
    if version != from_version:
        return Reason("other_version", detail=version)
    if status not in ACTIVE:
        return Reason("finished", detail=status)
    return None


def _ordered(decided: dict, done: list[CaseVerdict]) -> list[CaseVerdict]:
    return sorted([*decided.values(), *done], key=lambda v: v.instance_id)


def plan(runtime: Runtime, actor: Actor, process_id: str, from_version: str, to_version: str,
         instance_ids=None) -> MigrationReport:
    """The dry run (试迁移): for each case, whether it can move and why not. Writes nothing."""
    _authorize(actor)
    target = _target(runtime, process_id, from_version, to_version)
    decided, todo = _candidates(process_id, from_version, to_version, instance_ids)
    for verdict in todo:
        try:
            wf = runtime.read_workflow(verdict.instance_id)  # a copy of its own: the live one stays as it is
        except NotFound:
            verdict.outcome, verdict.reasons = "skipped", [Reason("missing")]
            continue
        wf.script_engine = make_script_engine()
        verdict.waiting_at = waiting_at(wf)
        failed = _failed(wf)
        if failed is not None:
            verdict.outcome, verdict.reasons = "blocked", [failed]
            continue
        try:
            migrate(wf, target, process_id, runtime.role_of)
            verdict.outcome = "movable"
        except CannotMove as no:
            verdict.outcome, verdict.reasons = "blocked", no.reasons
        except Exception as exc:  # the library refused it in a way we did not foresee: it cannot move
            verdict.outcome, verdict.reasons = "blocked", [Reason("error", detail=f"{type(exc).__name__}: {exc}")]
    db.session.commit()
    return MigrationReport(process_id, from_version, to_version, True, _ordered(decided, todo))


def run(runtime: Runtime, actor: Actor, process_id: str, from_version: str, to_version: str,
        instance_ids=None, progress: Callable[[int, int], None] | None = None) -> MigrationReport:
    """Move the cases (迁移): each in its own step, all or nothing per case. A case
    that cannot move, or whose step fails, stays on its version untouched.
    `progress(done, total)` hears of each case tried (a background job's progress bar)."""
    _authorize(actor)
    target = _target(runtime, process_id, from_version, to_version)
    decided, todo = _candidates(process_id, from_version, to_version, instance_ids)
    db.session.commit()
    for n, verdict in enumerate(todo, 1):
        _move_one(runtime, actor, verdict, process_id, from_version, to_version, target)
        if progress is not None:
            progress(n, len(todo))
    report = MigrationReport(process_id, from_version, to_version, False, _ordered(decided, todo))
    with runtime._transaction():
        audit(actor.name, "migrate_cases", detail={
            "process": process_id, "from": from_version, "to": to_version,
            **{o: [v.instance_id for v in report.cases if v.outcome == o] for o in ("migrated", "blocked", "failed")}})
        db.session.commit()
    return report


def _move_one(runtime, actor, verdict: CaseVerdict, process_id, from_version, to_version, target):
    left: list[Reason] = []
    try:
        with runtime._locked_step(verdict.instance_id) as (case, live):
            verdict.status, verdict.version_id = case.status, case.version_id
            # looked at again under the case's lock: someone may have moved or finished it since
            reason = _not_this_migration(case.process_id, case.version_id, case.status, process_id,
                                         from_version, to_version)
            if reason is None:
                reason = _failed(live.workflow)
            if reason is not None:
                left.append(reason)
                raise Unchanged
            verdict.waiting_at = waiting_at(live.workflow)
            migrate(live.workflow, target, process_id, runtime.role_of)
            _rewrite(case, live, to_version)
            audit(actor.name, "migrate", instance=case, detail={
                "process": process_id, "from": from_version, "to": to_version,
                "waiting_at": [w["element"] for w in verdict.waiting_at]})
    except CannotMove as no:
        verdict.outcome, verdict.reasons = "blocked", no.reasons
        return
    except Conflict as exc:
        verdict.outcome, verdict.reasons = "failed", [Reason("conflict", detail=exc.message)]
        return
    except NotFound:
        verdict.outcome, verdict.reasons = "skipped", [Reason("missing")]
        return
    except Exception as exc:
        log.exception("migrating case %s failed; it stays on its version", verdict.instance_id)
        verdict.outcome, verdict.reasons = "failed", [Reason("error", detail=f"{type(exc).__name__}: {exc}")]
        return
    if left:
        verdict.outcome = "blocked" if left[0].code == "case_failed" else "skipped"
        verdict.reasons = left
    else:
        verdict.outcome, verdict.status, verdict.version_id = "migrated", case.status, case.version_id


def _rewrite(case: store.Case, live, to_version: str):
    """Make the step's save write the whole moved case: its tasks stand on other
    specs now, which the per-task change detection does not see."""
    c = store.conn()
    c.execute(delete(store.TASK).where(store.TASK.c.instance_id == case.id))
    live.snapshot = persistence.Snapshot()
    case.version_id = to_version
    # The inbox keeps its rows (claims, drafts, reminders sent); names and lanes follow the new diagram.
    for tid, task in _waiting(live.workflow).items():
        if task.task_spec.manual:
            c.execute(update(store.INBOX).where(store.INBOX.c.id == str(tid)).values(
                name=task.task_spec.bpmn_name, lane=task.task_spec.lane))
