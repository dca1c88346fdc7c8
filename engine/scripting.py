"""The Python environment that BPMN scripts, conditions, timer expressions and
DMN cells run in (脚本环境).

Imports are blocked by giving scripts a short list of builtins. That is not a
sandbox: only trusted analysts may deploy models with scripts.
"""
from __future__ import annotations

import builtins
import datetime as _dt

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from . import services
from .calendar import EXPRESSION_HELPERS

SAFE_BUILTINS = {
    name: getattr(builtins, name)
    for name in (
        "abs all any bool dict divmod enumerate filter float format int isinstance "
        "len list map max min range reversed round set sorted str sum tuple zip "
        "ValueError TypeError KeyError Exception"
    ).split()
}


def script_globals() -> dict:
    """Names every expression may use besides the task's data."""
    return {
        "__builtins__": SAFE_BUILTINS,
        "datetime": _dt.datetime,
        "date": _dt.date,
        "timedelta": _dt.timedelta,
        **EXPRESSION_HELPERS,
    }


def reserved_names() -> frozenset[str]:
    """Data keys that would shadow a helper and break the next script."""
    return frozenset(script_globals())


class ScriptEngine(PythonScriptEngine):
    def call_service(self, task, operation_name=None, operation_params=None, **_):
        # SpiffWorkflow's own version hides the operation's error behind a NameError of its own
        token = services.current_data.set(task.data)
        try:
            return services.call(operation_name, operation_params)
        except Exception as err:
            raise WorkflowTaskException(f"{operation_name}: {err}", task=task, exception=err) from err
        finally:
            services.current_data.reset(token)


def make_script_engine() -> PythonScriptEngine:
    return ScriptEngine(environment=TaskDataEnvironment(script_globals()))
