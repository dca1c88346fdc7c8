"""How a running workflow is stored (实例状态的持久化).

SpiffWorkflow's own serialiser writes the whole workflow, spec included, as
one document. We store the spec once per model version (the registry), the
workflow's small "shell" on the instance row, and each task as its own row;
after a step only the tasks that changed are written again. A task changes
when its state or its children change, when its parent changes (its data is
stored as a delta against the parent's), or, while it is under way, when its
data does. A finished or predicted task's data only changes with its state.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

import orjson
from SpiffWorkflow import task as spiff_task
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, TaskConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SERIALIZER_VERSION
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from .db import json_value, remembered

# A restore parses each task's id, parent and children from text: four UUIDs a task,
# a quarter of a restore's time, and the same ids come back at every restore of a case
# (a web worker whose cache missed). And back: a save names every task of the case (its
# order, its fingerprint's key), and `str(UUID)` formats the number anew each time
# (about 1 µs, sixty times a step). A request names its task by its text, and the step
# finds it by the same id: a text this process wrote is known without parsing it.
_UUIDS: dict[str, UUID] = {}
_TEXTS: dict[UUID, str] = {}
_KEEP = 200_000


def as_uuid(text: str) -> UUID:
    found = _UUIDS.get(text)
    return found if found is not None else remembered(_UUIDS, text, UUID(text), _KEEP)


def _text(tid: UUID) -> str:
    found = _TEXTS.get(tid)
    if found is None:
        found = remembered(_TEXTS, tid, str(tid), _KEEP)
        remembered(_UUIDS, found, tid, _KEEP)
    return found


_MILLISECONDS = (1 << 48) - 1
_RAND_B = (1 << 62) - 1


def time_ordered_task_id() -> UUID:
    """A task id that begins with its creation time: UUID version 7 (RFC 9562), 48 bits of
    Unix milliseconds, then 74 random bits (as unguessable as a link needs to be)."""
    rand = int.from_bytes(os.urandom(10), "big")
    return UUID(int=(time.time_ns() // 1_000_000 & _MILLISECONDS) << 80 | 0x7 << 76
                | (rand >> 62 & 0xFFF) << 64 | 0b10 << 62 | rand & _RAND_B)


def name_tasks_in_time_order() -> None:
    """Make SpiffWorkflow name new tasks with `time_ordered_task_id`. Its random ids (uuid4)
    sent every new task row to a random page of each index on task ids (the task rows' own,
    the inbox's key): a start's 25 task rows wrote 25 index pages of the 53 pages its commit
    wrote on SQLite with a few thousand cases (on PostgreSQL each such page is also written
    whole to the log after a checkpoint). Ids that begin with their time go where the last
    ones went. SpiffWorkflow 3.2 offers no seam for task ids: `Task.__init__` calls its
    module's `uuid4()`, replaced here once; calling it again changes nothing. Ids already
    stored stay as they are."""
    spiff_task.uuid4 = time_ordered_task_id


class _TaskConverter(TaskConverter):
    """SpiffWorkflow's task converter (its `from_dict`, line for line) with the ids from `as_uuid`."""

    def from_dict(self, dct, workflow):
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=as_uuid(dct["id"]))
        task._parent = as_uuid(dct["parent"]) if dct["parent"] is not None else None
        task._children = [as_uuid(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = self.registry.restore(dct["internal_data"])
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        if delta and task.parent is not None:
            data = DeepMerge.merge({}, task.parent.data)
            data.update(self.registry.restore(delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                if key in data:
                    del data[key]
        else:
            data = self.registry.restore(dct["data"])
        task.data = data
        return task


class _ShellConverter(BpmnWorkflowConverter):
    """The top workflow without its spec (the registry holds it) and without
    its tasks (stored one row each)."""

    def to_dict(self, workflow):
        return {
            "data": self.registry.clean(workflow.data),
            "correlations": workflow.correlations,
            "last_task": _text(workflow.last_task.id) if workflow.last_task is not None else None,
            "success": workflow.success,
            "completed": workflow.completed,
            "root": _text(workflow.task_tree.id),
            "bpmn_events": self.registry.convert(workflow.bpmn_events),
        }

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], as_uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(as_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_CONFIG = dict(SPIFF_CONFIG)
_CONFIG[BpmnWorkflow] = _ShellConverter
_CONFIG[Task] = _TaskConverter
_REGISTRY = BpmnWorkflowSerializer.configure(_CONFIG)
# Statutory helpers give dates; SpiffWorkflow's registry knows datetimes only.
_REGISTRY.register(date, lambda d: {"value": d.isoformat()}, lambda v: date.fromisoformat(v["value"]))
_ENCODER = create_encoder(_REGISTRY)

# The stored JSON is written and read by orjson: a step writes the case's shell and its changed
# tasks, a restore reads every task, and orjson does each in a fifth to a tenth of the standard
# library's time (bench/engine.py). It is the same JSON: what JSON lacks goes through the
# registry as SpiffWorkflow's encoder sends it (dates and times, durations, sets), and what
# orjson cannot write (an integer over 64 bits) or read (NaN, as the standard library wrote it)
# falls back to the standard library. One difference: a UUID in task data is stored as its
# text, as SpiffWorkflow itself keeps task ids in task data; the scripts cannot make one.
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


# what SpiffWorkflow's encoder does with a value JSON lacks, as orjson's fallback
_registered = _ENCODER().default


def _dumps(obj) -> str:
    try:
        return orjson.dumps(obj, default=_registered, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(obj, cls=_ENCODER, separators=(",", ":"), ensure_ascii=False)


def _task_body(task) -> str:
    """A task row: what SpiffWorkflow's task converter writes (its data as a delta
    against its parent's), with the values of registered types (dates, ids) left
    to the encoder, as SpiffWorkflow's own `serialize_json` does, rather than
    copied into a converted tree first: the copy was a third of a save."""
    parent = task.parent
    if parent is None or not task.data:
        # (a task not yet reached holds no data: stored as such, its row does not depend on its
        # parent's, and is not written again when the parent's data changes; see `diff`)
        data, delta = task.data, {}
    else:
        data, delta = {}, {"updates": DeepMerge.get_updated_keys(parent.data, task.data),
                           "deletions": DeepMerge.get_deleted_keys(parent.data, task.data)}
    return _dumps({
        "id": _text(task.id),
        "parent": _text(task._parent) if parent is not None else None,
        "children": [_text(child) for child in task._children],
        "last_state_change": task.last_state_change,
        "state": task.state,
        "task_spec": task.task_spec.name,
        "triggered": task.triggered,
        "internal_data": _REGISTRY.clean(task.internal_data),
        "data": data,
        "delta": delta,
        "typename": "Task",
    })


# A task that is under way can change its data without changing state: a parallel
# multi-instance task gathers each finished instance's output into its data.
_ACTIVE = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR


def _plain_value(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def plain(obj):
    """Task data as plain JSON values (dates as ISO text, callables dropped), as
    the API shows it and the audit log records it."""
    obj = _REGISTRY.clean(obj) if isinstance(obj, dict) else obj
    try:
        return orjson.loads(orjson.dumps(obj, default=_plain_value, option=_ORJSON_OPTIONS))
    except orjson.JSONEncodeError:
        return json.loads(json.dumps(obj, default=_plain_value, ensure_ascii=False))


def _fingerprint(task) -> tuple:
    state = task._state  # (the `state` property is a call, and a save asks it of every task)
    fp = (state, task.last_state_change, tuple(task._children), task.triggered)
    if state & _ACTIVE:
        return fp + (hash(_dumps([task.data, task.internal_data])),)
    return fp


@dataclass
class Snapshot:
    """What is in the database for one instance, as of its current revision; `orders`:
    each workflow's task ids as the shell lists them, with the ids they were written from
    (most steps add no task, and the list is then taken as it is); `standalone`: the tasks
    whose rows hold their data whole, not as a delta against their parent's."""

    fingerprints: dict[str, tuple] = field(default_factory=dict)
    orders: dict[str, tuple[list, list[str]]] = field(default_factory=dict)
    standalone: set[str] = field(default_factory=set)


@dataclass
class Changes:
    shell: str
    upserts: dict[str, str]
    deletes: list[str]
    snapshot: Snapshot


def _workflows(workflow):
    """The top workflow and every subprocess, parents first."""
    yield "", workflow
    for sp_id, sp in workflow.subprocesses.items():
        yield _text(sp_id), sp


def diff(workflow: BpmnWorkflow, before: Snapshot | None) -> Changes:
    """Serialise what changed since `before` (everything when it is None)."""
    known = before.fingerprints if before else {}
    orders_before = before.orders if before else {}
    standalone = set(before.standalone) if before else set()
    orders: dict[str, tuple[list, list[str]]] = {}
    shell = _REGISTRY.convert_to_dict["BpmnWorkflow"](workflow)
    shell["task_order"] = {}
    subprocesses = {}
    upserts: dict[str, str] = {}
    fingerprints: dict[str, tuple] = {}
    moved: set[str] = set()
    for key, wf in _workflows(workflow):
        if key:
            sub = {
                "typename": "BpmnSubWorkflow",
                "data": _REGISTRY.clean(wf.data),
                "correlations": wf.correlations,
                "last_task": _text(wf.last_task.id) if wf.last_task is not None else None,
                "success": wf.success,
                "completed": wf.completed,
                "root": _text(wf.task_tree.id),
                "parent_task_id": _text(wf.parent_task_id),
                "spec": wf.spec.name,
            }
            subprocesses[key] = sub
        ids = list(wf.tasks)
        kept = orders_before.get(key)
        order = kept[1] if kept is not None and kept[0] == ids else [_text(tid) for tid in ids]
        orders[key] = (ids, order)
        for sid, task in zip(order, wf.tasks.values()):
            fp = _fingerprint(task)
            fingerprints[sid] = fp
            # A task's data is stored as a delta against its parent's: when the parent moved
            # (and so may have new data), the child is written again too, unless its row holds
            # its data whole (a task not yet reached holds none). One level is enough: the
            # grandchild's delta is against the child's data, which did not change.
            if known.get(sid) != fp:
                moved.add(sid)
                upserts[sid] = _task_body(task)
            elif (moved and sid not in standalone and task._parent is not None
                  and _text(task._parent) in moved):
                upserts[sid] = _task_body(task)
            else:
                continue
            if task.data and task._parent is not None:
                standalone.discard(sid)
            else:
                standalone.add(sid)
        shell["task_order"][key] = order
    shell["subprocesses"] = subprocesses
    deletes = [sid for sid in known if sid not in fingerprints]
    standalone.difference_update(deletes)
    return Changes(_dumps(shell), upserts, deletes, Snapshot(fingerprints, orders, standalone))


def restore(shell_json: str, task_rows: dict[str, str], spec, subprocess_specs) -> tuple[BpmnWorkflow, Snapshot]:
    shell = json_value(shell_json)
    bodies = {tid: json_value(body) for tid, body in task_rows.items()}
    standalone = {tid for tid, body in bodies.items() if not body.get("delta")}
    order = shell.pop("task_order")
    shell["tasks"] = {tid: bodies[tid] for tid in order[""]}
    subprocesses = shell.pop("subprocesses")
    for key, sub in subprocesses.items():
        sub["tasks"] = {tid: bodies[tid] for tid in order[key]}
    shell["subprocesses"] = subprocesses
    converter = _REGISTRY.convert_from_dict["BpmnWorkflow"]
    workflow = converter(shell, spec=spec, subprocess_specs=subprocess_specs)
    snapshot = Snapshot({_text(t.id): _fingerprint(t) for _, wf in _workflows(workflow) for t in wf.tasks.values()},
                        standalone=standalone)
    return workflow, snapshot


__all__ = ["SERIALIZER_VERSION", "Snapshot", "Changes", "diff", "restore", "name_tasks_in_time_order"]
