"""The boundary of a step (步骤边界): what the engine raised, turned into the case's error.

Whatever SpiffWorkflow, a script or a service operation raises inside a step is one
of two things. Either SpiffWorkflow marked the task it ran as failed (a script or
decision in error): the workflow is consistent, and the step saves it with the case
in `error` (`Steps._advance`). Or it was raised half-way through changing the
workflow (a multi-instance task whose input is not a list raises a `TypeError` while
making its instances; a task whose data output is missing raises after it was marked
complete): nothing of the step may stay, so the step is rolled back and the case's
error is written on its own afterwards (`Steps._record_failure`). `describe` says,
for either, which element failed, with what message and which data names.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task

from ..errors import halves

# What the case is told when it waits on nothing that can come (see `sync.scan`).
NOTHING_MOVES = "本案没有任何步骤可以推进 (nothing can move this case)"


@dataclass
class Failure:
    """What failed in a step: the element, the message and the data names involved."""

    element: str | None
    message: str
    names: list[str] = field(default_factory=list)
    # What the step was (start, complete, retry, timer, message, ...), for the audit event.
    action: str | None = None

    @property
    def text(self) -> str:
        """The case's error message: the exception's, with the data it names."""
        named = f" (data: {', '.join(self.names)})" if self.names else ""
        pair = halves(self.message)
        if pair and named:  # the data in both halves, the message stays a pair
            return f"{pair[0]}（数据：{', '.join(self.names)}） ({pair[1]}{named})"
        return f"{self.message}{named}"


class StepFailed(Exception):
    """Raised out of a step whose work raised half-way: the step rolls back, and the
    failure is recorded on the case as a write of its own."""

    def __init__(self, failure: Failure):
        super().__init__(failure.text)
        self.failure = failure


def failing_task(exc: BaseException) -> Task | None:
    """The task the exception is about: SpiffWorkflow's own when it says, else the
    innermost `my_task` of the traceback (every task spec method takes the task it
    works on by that name, so a TypeError inside one still has its element)."""
    task = getattr(exc, "task", None)
    if isinstance(task, Task):
        return task
    found, tb = None, exc.__traceback__
    while tb is not None:
        candidate = tb.tb_frame.f_locals.get("my_task")
        if isinstance(candidate, Task):
            found = candidate
        tb = tb.tb_next
    return found


def data_names(exc: BaseException, task: Task | None) -> list[str]:
    """The process data the failure is about: the data input or output SpiffWorkflow
    names, a multi-instance task's collections and items, a name a script or condition
    could not find, a key missing from a dict."""
    names: list[str] = []
    for ref in (getattr(exc, "data_input", None), getattr(exc, "data_output", None)):
        if ref is not None and getattr(ref, "bpmn_id", None):
            names.append(ref.bpmn_id)
    spec = task.task_spec if task is not None else None
    if isinstance(spec, MultiInstanceTask) and not names:
        names += [r.bpmn_id for r in (spec.data_input, spec.data_output) if r is not None]
    seen, cause = set(), exc
    while cause is not None and id(cause) not in seen:  # the NameError under "Error evaluating expression"
        seen.add(id(cause))
        if isinstance(cause, NameError) and cause.name:
            names.append(cause.name)
        elif isinstance(cause, KeyError) and cause.args and isinstance(cause.args[0], str):
            names.append(cause.args[0])
        cause = cause.__cause__ or cause.__context__
    return list(dict.fromkeys(names))


def describe(exc: BaseException, action: str | None = None) -> Failure:
    task = failing_task(exc)
    element = getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name if task is not None else None
    message = str(exc).strip() if isinstance(exc, SpiffWorkflowException) else f"{type(exc).__name__}: {exc}"
    return Failure(element, _as_pair(message, exc) or type(exc).__name__, data_names(exc, task), action)


def _as_pair(message: str, exc: BaseException) -> str:
    """A message that quotes a refusal written 中文 (English) ("designation.list: 中文 (English).")
    as a pair itself, what it adds around the refusal in both halves."""
    seen, cause = set(), exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        inner = str(cause).strip()
        pair = halves(inner)
        if pair and inner in message and inner != message:
            before, after = message.split(inner, 1)
            return f"{before}{pair[0]}{after} ({before}{pair[1]}{after})"
        cause = cause.__cause__ or cause.__context__
    return message


def unset_outputs(task: Task) -> list[str]:
    """What a human task must set when it is completed and has not: its io
    specification's outputs, the data objects it writes, its multi-instance output
    item. A completion refused for these is the submission's to correct (a 422)."""
    spec = task.task_spec
    wanted = [ref.bpmn_id for ref in (spec.io_specification.data_outputs if spec.io_specification else [])]
    wanted += [ref.bpmn_id for ref in getattr(spec, "data_output_associations", [])]
    parent = task.parent.task_spec if task.parent is not None else None
    if isinstance(parent, MultiInstanceTask) and parent.output_item is not None:
        wanted.append(parent.output_item.bpmn_id)
    return [name for name in dict.fromkeys(wanted) if name not in task.data]
