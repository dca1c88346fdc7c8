"""Service tasks (服务任务): named operations a diagram calls to act on the
system's own records, inside the step that runs them.

A BPMN service task names its operation with `spiffworkflow:serviceTaskOperator
id="designation.list"` and passes parameters as expressions over the case data.
The operation writes through the step's database session, so its records
commit with the step or not at all; what it returns lands in the task's
`resultVariable`. The domain puts its operations in `OPERATIONS` when the app starts.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from .persistence import plain


@dataclass(frozen=True)
class StepContext:
    """Which case's step is running, and for whom: what an operation records as its source."""

    instance_id: int
    process_id: str
    version_id: str
    actor: str | None


current_step: ContextVar[StepContext | None] = ContextVar("current_step", default=None)
# The data of the service task being run: for operations that record a whole form the case
# was given (its fields are too many, and some optional, to pass one parameter each).
current_data: ContextVar[dict | None] = ContextVar("current_data", default=None)
OPERATIONS: dict[str, Callable[[dict, StepContext], dict]] = {}


class ServiceError(ValueError):
    """An operation refused its input; the step fails and the case is held for an administrator."""


def task_data() -> dict:
    """The running service task's data (read-only by convention)."""
    data = current_data.get()
    if data is None:
        raise ServiceError("该操作读取办件数据，只能在服务任务中运行 (this operation reads the case's data and can only run inside a service task)")
    return data


def call(operation_name: str, operation_params: dict | None) -> str:
    """Run an operation for the current step; the JSON text SpiffWorkflow expects back."""
    fn = OPERATIONS.get(operation_name)
    if fn is None:
        raise ServiceError(f"没有服务操作「{operation_name}」 (no service operation '{operation_name}')")
    step = current_step.get()
    if step is None:
        raise ServiceError(f"「{operation_name}」只能在办件的步骤中运行 ('{operation_name}' can only run inside a case's step)")
    params = {name: p["value"] for name, p in (operation_params or {}).items()}
    return json.dumps(plain(fn(params, step)), ensure_ascii=False)
