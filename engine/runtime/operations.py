"""What can be done to a case (流程操作): start, complete, assign, cancel, retry,
wake its timers, send it a message.

Each operation checks who may do it, then does it inside one step (see
`step.py`), so its effect, the inbox, the timers and its audit event commit
together. The domain comes in as callables (whose role a lane is, who does a
party's task, what a submission must also satisfy): the runtime never imports it.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowDataException
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import exists, or_, true

from .. import clock, deadlines, notifications, outbox, persistence, store
from ..actors import SYSTEM, Actor, addressed_to, may_act
from ..audit import append as audit
from ..db import db
from ..errors import Conflict, EngineError, Forbidden, FormInvalid, NotFound
from ..forms import accepted_data, refuse_unstorable
from ..model_registry import FORM_PROPERTY, Registry, UnknownProcess
from ..models import HumanTask, ProcessHead, ProcessInstance
from ..scripting import make_script_engine, reserved_names
from . import sync
from .boundary import StepFailed, unset_outputs
from .step import Live, Steps, Unchanged, _boundary, visible_data

ACTIVE = ("running", "waiting", "error")
# A case about an organisation that someone else started (a spot check the province
# opened) names the account acting for that organisation here; its party's tasks go there.
PARTY_ACCOUNT = "party_account"
# A start event's property naming the roles that may start the process, when more
# than the role of its lane may (a revocation is proposed by a city or by the province).
START_ROLES_PROPERTY = "startRoles"
# A start event's property naming the data a case cannot start without (a revocation
# needs its designation and ground); such a process is started from the page that has them.
START_DATA_PROPERTY = "startData"
# A comment (批注) is a remark beside a task, not a document: plain text this long at most.
COMMENT_LENGTH = 2000


class Runtime(Steps):
    def __init__(
        self,
        registry: Registry,
        role_of: Callable[[str | None], str | None],
        party_roles: frozenset[str] = frozenset(),
        province_wide_roles: frozenset[str] = frozenset(),
        task_labels: Callable[[dict], dict] | None = None,
        cache_size: int = 512,
        party_assignee: Callable[[str, dict], str | None] | None = None,
        submission_check: Callable[..., dict] | None = None,
        start_check: Callable[[str, object, Actor, str | None], None] | None = None,
        personal_roles: frozenset[str] = frozenset(),
        supervises: Callable[[Actor, object], bool] | None = None,
    ):
        super().__init__(registry, role_of, cache_size)
        self.party_roles = party_roles
        # roles whose tasks the domain addresses to one person (an expert assigned to a
        # candidate): such a task stays theirs, never released to the role or handed over
        self.personal_roles = personal_roles
        self.province_wide_roles = province_wide_roles
        # from a task's data, the inbox columns unit_type and level
        self.task_labels = task_labels or (lambda data: {})
        # who does a party role's task, from the case data (e.g. the chosen agency's
        # account); None: the case's starter
        self.party_assignee = party_assignee or (lambda role, data: None)
        # checks a form cannot state alone (a file field must name a file of this case):
        # field errors, given (schema, accepted data, instance id, actor=, jurisdiction= of the task)
        self.submission_check = submission_check or (lambda schema, data, instance_id, **_who: {})
        # what the domain asks before any case starts (the party's registration confirmed,
        # a city for a process that needs one): raises, given (process id, spec, actor, jurisdiction)
        self.start_check = start_check or (lambda process_id, spec, actor, jurisdiction: None)
        # whether the actor supervises a task (a city's head its city's tasks of its role): he may
        # assign it to a named colleague although it is not his; given (actor, inbox entry)
        self.supervises = supervises or (lambda actor, entry: False)
        # the party's account is the process's to set (from the designation), never a submission's
        self._reserved = reserved_names() | {PARTY_ACCOUNT}
        # a completion does not set the case's city either: a task's jurisdiction is the case's
        self._not_submitted = self._reserved | {"jurisdiction"}

    def _address(self, task, case: store.Case) -> dict:
        """Who a newly ready task is for: its lane's role; a party's task (or one in no
        lane) goes to the party's account, else to whoever started the case."""
        spec = task.task_spec
        role = self.role_of(spec.lane)
        # the domain may name the one person a task of any role is for (an expert's review)
        assignee = (role and self.party_assignee(role, task.data)) or None
        if assignee is None and (spec.lane is None or role in self.party_roles):
            assignee = task.data.get(PARTY_ACCOUNT) or case.started_by
        return {"role": role, "assignee": assignee, **self.task_labels(task.data)}

    # ------------------------------------------------------------------ who is told
    def _entered(self, case: store.Case, task, entry: dict, now) -> None:
        """A party's task reached a second time: the application came back to its party for
        correction (退回补正), and the party is told."""
        if entry["role"] not in self.party_roles or not _reached_before(task):
            return
        notifications.post(store.conn(), {
            "at": now, "kind": "returned", "instance_id": case.id, "task_id": entry["id"],
            "element": entry["element"], "task_name": entry["name"], "due_at": entry["due_at"],
            "due_provisional": entry["due_provisional_year"] is not None, "role": entry["role"],
            "jurisdiction": entry["jurisdiction"], "assignee": entry["assignee"]})

    def _concluded(self, case: store.Case, wf: BpmnWorkflow, now) -> None:
        """An application (a process its party starts) has ended: its party is told the outcome,
        the end event it reached (已公布, 不予通过, ...)."""
        party = self._applicant(case, wf)
        ends = [t for t in wf.tasks.values() if isinstance(t.task_spec, EndEvent) and t.state == TaskState.COMPLETED]
        if party is None or not ends:
            return
        end = max(ends, key=lambda t: t.last_state_change)
        notifications.post(store.conn(), {
            "at": now, "kind": "decided", "instance_id": case.id, "task_id": str(end.id),
            "element": end.task_spec.bpmn_id or end.task_spec.name,
            "task_name": (end.task_spec.bpmn_name or wf.spec.description or "")[:255] or None, "role": None,
            "jurisdiction": case.jurisdiction, "assignee": party})

    def _applicant(self, case: store.Case, wf: BpmnWorkflow) -> str | None:
        """The party whose application the case is (a process its party starts), else None."""
        if not (self._start_roles(wf.spec) & self.party_roles):
            return None
        return wf.data.get(PARTY_ACCOUNT) or case.started_by

    # ------------------------------------------------------------------ who sees what

    def visible_instances(self, actor: Actor):
        """Cases the actor may see: all for an administrator and province-wide
        roles; otherwise those they started, those with a task for them, and,
        for a city's officials, every case of their city."""
        if actor.is_admin or actor.role in self.province_wide_roles:
            return true()
        conds = [
            ProcessInstance.started_by.in_(actor.accounts),
            exists().where(HumanTask.instance_id == ProcessInstance.id, addressed_to(actor, HumanTask)),
        ]
        if actor.jurisdiction is not None and actor.role not in self.party_roles:
            conds.append(ProcessInstance.jurisdiction == actor.jurisdiction)
        return or_(*conds)

    def visible_tasks(self, actor: Actor):
        return true() if actor.is_admin else addressed_to(actor, HumanTask)

    def may_see(self, actor: Actor, instance_id: int) -> bool:
        return bool(db.session.scalar(db.select(
            exists().where(ProcessInstance.id == instance_id, self.visible_instances(actor)))))

    # ------------------------------------------------------------------ starting
    def startable(self, actor: Actor) -> list[tuple[str, str]]:
        """(process id, name) of the deployed processes the actor's role may start
        (its start event's lane, or its `startRoles`); an administrator: all (a
        process with neither is started by the system, the public intake or an
        administrator only)."""
        out = []
        for head in db.session.scalars(db.select(ProcessHead).order_by(ProcessHead.process_id)):
            spec = self.registry.load(head.version_id).specs.get(head.process_id)
            if spec is None:
                continue
            if _start_data(spec):
                continue
            if actor.is_admin or actor.role in self._start_roles(spec):
                out.append((head.process_id, spec.description or head.process_id))
        return out

    def start(self, process_id: str, data: dict | None, actor: Actor, jurisdiction: str | None = None,
              records: Callable[[store.Case], None] | None = None, party: str | None = None):
        """Start a case. `records` writes domain records that belong to its first
        step (e.g. the evidence handed in with it), in the same transaction.
        `party`: the case's own party when the system starts it for someone
        (a start request); their applicant and agency tasks go to them."""
        data = dict(data or {})
        refuse_unstorable(data)
        bad = [k for k in data if k in self._reserved or k.startswith("_")]
        if bad:
            raise EngineError(f"数据不得设置保留名称：{', '.join(sorted(bad))} (data may not set reserved names: {', '.join(sorted(bad))})")
        if actor.jurisdiction is not None:
            if jurisdiction not in (None, actor.jurisdiction):
                raise Forbidden("只能在本辖区发起办件 (you may only start cases in your own jurisdiction)")
            jurisdiction = actor.jurisdiction
        if jurisdiction is not None:
            data["jurisdiction"] = jurisdiction

        try:
            # the version is looked up inside the step's transaction: on SQLite a read before
            # it would be a transaction of its own
            with self._transaction():
                version = self._version_to_start(process_id, data, actor, jurisdiction)
                wf, case = self._new_case(version, process_id, data, jurisdiction, party or actor.name)
                with store.deferring():
                    with _boundary("start"):
                        self._advance(case, wf, actor)
                    audit(actor.name, "start", instance=case, task=process_id,
                          detail={"in": persistence.plain(data), "error": case.error_message})
                    self._save(case, Live(0, wf, persistence.Snapshot(), {}, {}), created=True)
                if records is not None:
                    records(case)
                if self.before_commit is not None:
                    self.before_commit(case)
                store.commit(db.session)
        except StepFailed as failed:
            # Rolled back; the case is kept as it was given, not yet started, held in `error`
            # with what failed (an administrator corrects its data and retries, or migrates it).
            with self._transaction():
                wf, case = self._new_case(version, process_id, data, jurisdiction, party or actor.name)
                case.error_element, case.error_message = failed.failure.element, failed.failure.text
                with store.deferring():
                    audit(actor.name, "start", instance=case, task=process_id,
                          detail={"in": persistence.plain(data), "error": case.error_message,
                                  "data": failed.failure.names})
                    self._save(case, Live(0, wf, persistence.Snapshot(), {}, {}), created=True)
                if records is not None:
                    records(case)
                store.commit(db.session)
            return case
        if case.next_timer_at is not None and self.after_commit is not None:
            self.after_commit(case.id, case.next_timer_at)
        self.start_requested(outbox.take_requested())
        return case

    def _version_to_start(self, process_id: str, data: dict, actor: Actor, jurisdiction: str | None):
        """The version new cases of a process start on, once `actor` may start one with `data`."""
        try:
            version = self.registry.load(self.registry.latest_version_for(process_id))
        except UnknownProcess:
            raise NotFound(f"没有已部署的流程「{process_id}」 (no deployed process '{process_id}')") from None
        spec = version.specs[process_id]
        start_lane, start_roles = _start_lane(spec), self._start_roles(spec)
        if not actor.is_admin and actor.role not in start_roles:
            raise Forbidden(_start_refusal(process_id, start_lane, start_roles))
        self.start_check(process_id, spec, actor, jurisdiction)
        missing = [k for k in _start_data(spec) if data.get(k) in (None, "", [], {})]
        if missing:
            raise FormInvalid({k: [f"{process_id} cannot start without {k}"] for k in missing})
        return version

    def _new_case(self, version, process_id: str, data: dict, jurisdiction: str | None,
                  started_by: str) -> tuple[BpmnWorkflow, store.Case]:
        """A new case's workflow, given its data and not yet run, and its row."""
        wf = BpmnWorkflow(version.specs[process_id], version.subprocess_specs[process_id],
                          script_engine=make_script_engine())
        wf.task_tree.set_data(**data)
        now = clock.now()
        case = store.Case(
            id=0, process_id=process_id, version_id=version.id, status="running", jurisdiction=jurisdiction,
            started_by=started_by, created_at=now, updated_at=now, revision=0, error_message=None,
            error_element=None, next_timer_at=None, audit_hash=None,
        )
        [case.id] = store.INSERT_CASE.returned(store.conn(), {
            "process_id": process_id, "version_id": version.id, "status": "running",
            "jurisdiction": jurisdiction, "started_by": started_by, "created_at": now, "updated_at": now,
            "revision": 0, "shell": "{}", "serializer_version": persistence.SERIALIZER_VERSION, "data": {},
        })
        return wf, case

    def _start_roles(self, spec) -> frozenset[str]:
        """Who may start a process besides an administrator: the roles its start event
        names in `startRoles`, else the role of the start event's lane. Empty when it
        has neither: no role may then (an unlaned diagram is not an open door)."""
        event = _start_event(spec)
        named = (event.extensions.get("properties", {}).get(START_ROLES_PROPERTY) if event is not None
                 and hasattr(event, "extensions") else None)
        if named:
            return frozenset(r for r in (self.role_of(n) for n in named.replace(",", " ").split()) if r)
        lane = _start_lane(spec)
        return frozenset({self.role_of(lane)}) if lane else frozenset()

    # ------------------------------------------------------------------ people's tasks
    def complete(self, task_id: str, data, actor: Actor) -> store.Case:
        principal = []  # whose task it was, when a substitute does it on her behalf

        def waiting_case() -> store.Case:
            case = store.case_of_entry(task_id) if _is_uuid(task_id) else None
            if case is None:
                done_in = store.case_of_task(task_id) if _is_uuid(task_id) else None
                if done_in is not None and (self.may_see(actor, done_in) or self._was_for(actor, done_in, task_id)):
                    raise Conflict("该事项已办结或不再等待办理 (this task has already been completed or is no longer waiting)")  # e.g. the loser
                raise NotFound(f"事项 {task_id} 不在等待任何人办理 (task {task_id} is not waiting for anyone)")
            entry = case.entry[1]
            if not may_act(actor, entry):  # as for a missing task: its existence is not disclosed
                raise NotFound(f"事项 {task_id} 不在等待你办理 (task {task_id} is not waiting for you)")
            principal[:] = [actor.acting_for(entry.assignee)]
            return case

        with self._step(waiting_case, actor, "complete") as (case, live):
            task = sync.find_task(live.workflow, task_id)
            if task is None or task.state != TaskState.READY or not task.task_spec.manual:
                raise Conflict("该事项已办结或不再等待办理 (this task has already been completed or is no longer waiting)")
            version = self.registry.load(case.version_id)
            form_name = task.task_spec.extensions.get("properties", {}).get(FORM_PROPERTY)
            schema = version.forms.get(form_name) if form_name else None
            accepted = accepted_data(schema, data, self._not_submitted, context=task.data)
            problems = self.submission_check(schema, accepted, case.id, actor=actor,
                                             jurisdiction=case.jurisdiction or sync.task_jurisdiction(task))
            if problems:
                raise FormInvalid(problems)
            before = live.saved_data()
            limit = task.internal_data.get(deadlines.KEY)
            task.set_data(**accepted)
            try:
                task.run()
            except WorkflowDataException:
                _refuse_unset_outputs(task, schema)
                raise  # what the task must set is not the submitter's to give: the case's error
            self._advance(case, live.workflow, actor)
            case.data = persistence.plain(visible_data(live.workflow))
            audit(actor.name, "complete", instance=case, task=task.task_spec.bpmn_id,
                  detail={"in": persistence.plain(accepted), "out": _changed(before, case.data),
                          "error": case.error_message, **_on_behalf(principal[0] if principal else None)})
            if limit and limit.get("from"):
                store.INSERT_HANDLING_TIME(store.conn(), {
                    "instance_id": case.id, "process_id": case.process_id, "element": task.task_spec.bpmn_id,
                    "jurisdiction": case.jurisdiction, "began_at": datetime.fromisoformat(limit["from"]),
                    "due_at": datetime.fromisoformat(limit["due"]), "done_at": clock.now()})
        return case

    def _was_for(self, actor: Actor, instance_id: int, task_id: str) -> bool:
        """Whether a task no longer waiting was one the actor could act on: the loser of two
        completions by a party (an agency) no longer sees the case once its task is done, and
        is still told 409, not 404. Only the loser's path reads the case for this."""
        case = store.case_for_step(instance_id)
        task = sync.find_task(self._load(case).workflow, task_id) if case is not None else None
        if task is None or not task.task_spec.manual:
            return False
        who = self._address(task, case)
        return may_act(actor, store.Addressee(who["role"], who["assignee"],
                                              case.jurisdiction or sync.task_jurisdiction(task)))

    def assign(self, task_id: str, actor: Actor, to: Actor | None) -> None:
        """Claim (to=actor), release (to=None) or hand over (to=a colleague) a
        task of a role; or, by a supervisor (`supervises`), assign a task that is
        not his to a named colleague (reassign). A task that belongs to the case's
        own party, or was addressed to one person, is not passed around."""
        entry = store.inbox_entry(task_id) if _is_uuid(task_id) else None
        if entry is None:
            raise NotFound(f"事项 {task_id} 不在等待任何人办理 (task {task_id} is not waiting for anyone)")
        if entry.role is None or entry.role in self.party_roles:
            raise Conflict("该事项由本案申报方办理，不能认领或转交 (this task belongs to the case's own party and cannot be claimed or handed over)")
        if entry.role in self.personal_roles and entry.assignee is not None:
            raise Conflict("该事项指定由一人办理，不能退回或转交 (this task was addressed to one person and cannot be released or handed over)")
        supervising = not (actor.is_admin or may_act(actor, entry)) and self.supervises(actor, entry)
        if not (actor.is_admin or may_act(actor, entry) or supervising):  # as for a missing task (see `complete`)
            raise NotFound(f"事项 {task_id} 不在等待你办理 (task {task_id} is not waiting for you)")
        if supervising and to is None:
            raise Forbidden("督办人只能把事项指派给指定的同事；退回待认领由办理人自己操作 (a supervisor assigns a task to a named colleague; only its holder releases it)")
        if to is not None and not (to.role == entry.role and (entry.jurisdiction is None or to.jurisdiction in
                                                              (None, entry.jurisdiction))):
            raise Forbidden(f"{to.name} 不属于该事项的角色和辖区 ({to.name} is not of this task's role and jurisdiction)")
        with self._step(entry.instance_id, actor, "assign") as (case, live):
            current = store.inbox_entry(task_id)
            if current is None:
                raise Conflict("该事项已办结或不再等待办理 (this task has already been completed or is no longer waiting)")
            if current.assignee != entry.assignee:
                raise Conflict("其他人已先认领或转交该事项，请刷新页面 (someone else claimed or handed over this task meanwhile; reload)")
            store.conn().execute(store.ASSIGN, {"b_id": task_id, "assignee": to.name if to else None})
            if supervising:
                action = "reassign"
            else:
                action = "release" if to is None else ("claim" if to.name == actor.name else "handover")
            if action in ("handover", "reassign"):  # the colleague is told the task is now theirs (转办)
                notifications.post(store.conn(), {
                    "at": clock.now(), "kind": "handover", "instance_id": case.id, "task_id": task_id,
                    "element": entry.element, "task_name": entry.name, "due_at": entry.due_at,
                    "due_provisional": entry.due_provisional_year is not None, "role": entry.role,
                    "jurisdiction": entry.jurisdiction, "assignee": to.name})
            audit(actor.name, action, instance=case, task=entry.element,
                  detail={"task": task_id, "from": entry.assignee, "to": to.name if to else None,
                          **_on_behalf(actor.acting_for(entry.assignee))})

    def comment(self, task_id: str, text: str, actor: Actor) -> None:
        """A comment (批注) on a waiting task, kept in its case's history: by anyone who
        may see the case, plain text of at most COMMENT_LENGTH characters."""
        entry = store.inbox_entry(task_id) if _is_uuid(task_id) else None
        if entry is None or not (may_act(actor, entry) or self.may_see(actor, entry.instance_id)):
            raise NotFound(f"事项 {task_id} 不在等待任何人办理 (task {task_id} is not waiting for anyone)")
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            raise FormInvalid({"text": ["write the comment"]})
        if len(text) > COMMENT_LENGTH:
            raise FormInvalid({"text": [f"a comment has at most {COMMENT_LENGTH} characters"]})
        refuse_unstorable({"text": text})
        with self._step(entry.instance_id, actor, "comment") as (case, live):
            audit(actor.name, "comment", instance=case, task=entry.element,
                  detail={"task": task_id, "text": text})

    # ------------------------------------------------------------------ the case as a whole
    def cancel(self, instance_id: int, actor: Actor, reason: str | None = None, action: str = "cancel",
               allowed: Callable[[store.Case, BpmnWorkflow], None] | None = None) -> store.Case:
        """Stop a case for good. `allowed`, when given, is the domain's own rule for who
        may and when (an applicant withdrawing, an official ending a stalled case): it
        raises, inside the step, instead of the starter-or-administrator rule; `action`
        is the audit event's name."""
        refuse_unstorable({"reason": reason})
        with self._step(instance_id, actor, action) as (case, live):
            if allowed is None and not actor.is_admin and case.started_by not in actor.accounts:
                raise Forbidden("只有系统管理员或本案发起人可以撤销本案 (only an administrator or the case's starter may cancel it)")
            if case.status not in ACTIVE:
                raise Conflict(f"本案状态为 {case.status} (the case is {case.status})")
            if allowed is not None:
                allowed(case, live.workflow)
            live.workflow.cancel()
            case.status = "cancelled"
            audit(actor.name, action, instance=case, detail={"reason": reason})
            party = self._applicant(case, live.workflow)
            if party is not None and party not in actor.accounts:  # ended by an official: the party is told why
                notifications.post(store.conn(), {
                    "at": clock.now(), "kind": "ended", "instance_id": case.id,
                    "task_id": str(live.workflow.task_tree.id), "element": action,
                    "task_name": (reason or "")[:255] or None, "role": None, "jurisdiction": case.jurisdiction,
                    "assignee": party})
        return case

    def retry(self, instance_id: int, actor: Actor, data: dict | None = None, reason: str | None = None
              ) -> store.Case:
        """Run the failed element again, after its cause (data or model) is fixed. `data`
        corrects the case's data first; a correction needs its `reason` (both audited).

        A task SpiffWorkflow marked failed is reset and run again, the correction on top
        of its data. A case held in error by a step that was rolled back (or that nothing
        could move) stands where it was before that step: the correction goes to the
        tasks it stands at (ready or waiting), its due timers fire, and the engine runs on
        from there. A message whose step was rolled back is sent again by its sender."""
        if not actor.is_admin:
            raise Forbidden("只有系统管理员可以重试出错的办件 (only an administrator may retry a failed case)")
        patch = accepted_data(None, data or {}, self._reserved)
        reason = (reason or "").strip() or None
        refuse_unstorable({"reason": reason})
        if patch and reason is None:
            raise FormInvalid({"reason": ["say why the case's data is corrected"]})
        with self._step(instance_id, actor, "retry") as (case, live):
            wf = live.workflow
            failed = wf.get_tasks(state=TaskState.ERROR)
            if not failed and case.status != "error":
                raise Conflict("本案没有出错的步骤 (the case has no failed step)")
            element = failed[0].task_spec.bpmn_id if failed else case.error_element
            for task in failed:
                wf.reset_from_task_id(task.id)
                # the reset task inherits its parent's data again; the correction goes on top
                task.data.update(patch)
            if not failed:
                for task in wf.get_tasks(state=TaskState.READY | TaskState.WAITING):
                    task.data.update(patch)
                case.error_message = case.error_element = None
                wf.refresh_timers()  # a timer that fell due while the case was held fires now
            self._advance(case, wf, actor)
            audit(actor.name, "retry", instance=case, task=element,
                  detail={"in": persistence.plain(patch), "reason": reason, "error": case.error_message})
        return case

    def fire_timers(self, instance_id: int, actor: Actor = SYSTEM) -> store.Case:
        """Wake an instance: every timer now due fires, through the same step path as a person."""
        with self._step(instance_id, actor, "timer") as (case, live):
            now = clock.now()
            fired = [_timer_element(live, t) for t, at in live.timers.items() if at < now]
            alerts = any(at is not None and at <= now for alert in live.ready.values() for at in alert)
            if case.status not in ACTIVE or not (fired or alerts):
                raise Unchanged  # woken early, or twice: nothing to do, nothing written
            live.workflow.refresh_timers()
            self._advance(case, live.workflow, actor)
            sent = sync.send_alerts(case, live, now)
            # each element once: a multi-instance's timers fire together (every silent city's on 1 April),
            # and fifteen copies of one name outgrow the audit's column on PostgreSQL
            audit(actor.name, "timer", instance=case, task=",".join(sorted(set(fired)))[:255] or None,
                  detail={"alerts": sent} if sent else None)
        return case

    # ------------------------------------------------------------------ messages
    def send_message(self, instance_id: int, name: str, payload: dict | None, actor: Actor) -> store.Case:
        refuse_unstorable(payload or {})
        with self._step(instance_id, actor, "message") as (case, live):
            if case.status not in ACTIVE:
                raise Conflict(f"本案状态为 {case.status} (the case is {case.status})")
            self._may_send(live.workflow, name, actor)
            try:
                live.workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload or {}))
            except WorkflowException as exc:  # nothing in the case waits for this message now
                raise Conflict(f"本案现在没有等待消息「{name}」的步骤 (nothing in the case waits for the message '{name}' now: {exc})") from None
            self._advance(case, live.workflow, actor)
            audit(actor.name, "message", instance=case, task=name, detail={"in": persistence.plain(payload or {})})
        return case

    def _may_send(self, wf: BpmnWorkflow, name: str, actor: Actor) -> None:
        """A message that a catching event in a lane waits for is the lane's role's
        to send (an incident report is the city's, not the unit's); events outside
        any lane take a message from whoever may see the case."""
        if actor.is_admin:
            return
        roles = {self.role_of(t.task_spec.lane) if t.task_spec.lane else None for t in _catching(wf, name)}
        if roles and None not in roles and actor.role not in roles:
            raise Forbidden(f"只有 {', '.join(sorted(roles))} 可以向本案发送「{name}」 (only {', '.join(sorted(roles))} may send '{name}' to this case)")

    def awaits_message(self, instance_id: int, name: str) -> bool:
        """Whether something in the case waits for message `name` now (a page offers to send it only then)."""
        return bool(_catching(self.read_workflow(instance_id), name))


def _catching(wf: BpmnWorkflow, name: str) -> list:
    """The events of a workflow and its subprocesses waiting for message `name`. Read from each
    workflow's dict of tasks, as `sync.scan` does: a subprocess's get_tasks walks its tree, and the top
    workflow's walks every subprocess's again."""
    return [task for w in (wf, *wf.subprocesses.values()) for task in w.tasks.values()
            if task.state == TaskState.WAITING
            and isinstance(getattr(task.task_spec, "event_definition", None), MessageEventDefinition)
            and task.task_spec.event_definition.name == name]


def _timer_element(live: Live, task_id: str) -> str:
    try:
        return live.workflow.get_task_from_id(UUID(task_id)).task_spec.bpmn_id
    except Exception:
        return task_id


def _start_refusal(process_id: str, lane: str | None, roles: frozenset[str]) -> str:
    if lane and roles:
        return f"只有泳道「{lane}」的角色可以发起 {process_id} (only the role of lane '{lane}' may start {process_id})"
    if roles:
        return f"只有 {', '.join(sorted(roles))} 可以发起 {process_id} (only {', '.join(sorted(roles))} may start {process_id})"
    return (f"只有系统管理员可以发起 {process_id}：其开始事件不在任何泳道中，也未指定 {START_ROLES_PROPERTY} "
            f"(only an administrator may start {process_id}: its start event lies in no lane "
            f"and names no {START_ROLES_PROPERTY})")


def _start_data(spec) -> list[str]:
    event = _start_event(spec)
    named = event.extensions.get("properties", {}).get(START_DATA_PROPERTY) if event is not None \
        and hasattr(event, "extensions") else None
    return named.replace(",", " ").split() if named else []


def _start_event(spec):
    for ts in spec.task_specs.values():
        if isinstance(ts, StartEvent):
            return ts
    return None


def _start_lane(spec) -> str | None:
    """The lane of the process's start event: the role that may start a case."""
    for ts in spec.task_specs.values():
        if isinstance(ts, StartEvent) and ts.lane:
            return ts.lane
    return None


def _reached_before(task) -> bool:
    """Whether the task's element was done once already in this case (a loop back to it)."""
    spec = task.task_spec
    return any(t.task_spec is spec and t.state == TaskState.COMPLETED for t in task.workflow.tasks.values())


def _is_uuid(value: str) -> bool:
    try:
        persistence.as_uuid(str(value))
        return True
    except ValueError:
        return False


def _refuse_unset_outputs(task, schema: dict | None) -> None:
    """A completion that leaves out data the task must set (its io specification's
    outputs, a data object it writes, its multi-instance output item) is the
    submission's to correct, when the form lets the submitter give it: 422, field named."""
    unset = unset_outputs(task)
    fields = (schema or {}).get("properties") or {}
    if unset and (schema is None or all(name in fields for name in unset)):
        element = task.task_spec.bpmn_id
        raise FormInvalid({name: [f"{element} must set {name}"] for name in unset})


def _on_behalf(principal: str | None) -> dict:
    """What an audit event says of a substitute's act: on whose behalf (代) it was done."""
    return {"on_behalf_of": principal} if principal else {}


def _changed(before: dict, after: dict) -> dict:
    return {k: v for k, v in after.items() if before.get(k) != v}
