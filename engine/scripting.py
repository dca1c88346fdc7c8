"""The Python environment that BPMN scripts, conditions, timer expressions and
DMN cells run in (脚本环境).

Scripts come from diagrams that only analysts deploy, and still run restricted,
so a slip or a malicious cell cannot reach files, the network or the server:

- Builtins are a short list (no `open`, `__import__`, `getattr`, `type`, `eval`...).
- Every script is checked before it is compiled: no imports, no names or
  attributes starting with an underscore (`().__class__.__subclasses__()` and the
  like are the way out of a builtins whitelist), no frame or generator
  introspection (`gi_frame.f_globals` reaches a module's globals without a
  dunder), no `str.format` with attribute or index fields (it reads attributes
  too). Ranges are capped, so `sum(range(10**12))` cannot run in C for hours.
- Every evaluation has a time limit (`SCRIPT_TIME_LIMIT` seconds, app config):
  a runaway loop fails the step with a clear error, the case is held for an
  administrator, and the worker is free again.

The limit is a trace-function deadline. `signal.alarm` works only in the main
thread, and steps run in web-server and scheduler threads; a watchdog thread
raising asynchronously into the worker (`PyThreadState_SetAsyncExc`) may land
after the script has returned, in the engine's own code, mid-save. A trace
function runs in the script's own thread and raises inside the script's frame,
so the error takes the normal path of a failing script. Its cost (a clock read
per line of the script, and per call it makes) is nothing next to a step's
database work. A single C-level operation (a huge power, a huge string repeat)
is not interrupted by it; the range cap and the request timeouts of the server
are the backstop there.
"""
from __future__ import annotations

import ast
import builtins
import copy
import datetime as _dt
import string
import sys
import time
from contextlib import contextmanager
from functools import lru_cache

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from . import services
from .calendar import EXPRESSION_HELPERS

# Where SpiffWorkflow looks for the failing line of a script, and how the time limit knows a script's frames.
SCRIPT_FILENAME = "<string>"
DEFAULT_TIME_LIMIT = 2.0  # seconds per script or expression; a legitimate one takes microseconds
MAX_RANGE = 10_000_000


class Settings:
    """What the app configures (SCRIPT_TIME_LIMIT); read at each evaluation."""

    time_limit: float | None = DEFAULT_TIME_LIMIT


settings = Settings()


def configure(time_limit: float | None) -> None:
    settings.time_limit = float(time_limit) if time_limit else None


class ScriptTimeout(Exception):
    """A script or expression ran past its time limit (脚本超时)."""


class ScriptRefused(ValueError):
    """A script uses something the restricted environment does not offer."""


def _range(*args):
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise ValueError(f"range of {len(r)} numbers is longer than {MAX_RANGE} allowed in scripts")
    return r


SAFE_BUILTINS = {
    name: getattr(builtins, name)
    for name in (
        "abs all any bool dict divmod enumerate filter float format int isinstance "
        "len list map max min reversed round set sorted str sum tuple zip "
        "ValueError TypeError KeyError Exception"
    ).split()
}
SAFE_BUILTINS["range"] = _range

# Introspection that leads from any object to frames, code and module globals.
_FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map", "mro"})
_FORBIDDEN_PREFIXES = ("_", "f_", "gi_", "cr_", "ag_", "tb_", "co_")


def _plain_format_string(node) -> bool:
    """'{} 年'.format(x) reads nothing but its arguments; '{0.__class__}' reads attributes."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return False
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(node.value) if f]
    except ValueError:
        return False
    return all("." not in f and "[" not in f for f in fields)


def refusal(source: str, mode: str = "exec") -> str | None:
    """Why the restricted environment refuses this script or expression, or None.
    A syntax error is left to the compiler, whose message names the line."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError:
        return None
    found = []  # (where it ends, why): the first in reading order is reported
    for node in ast.walk(tree):
        where = (getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append((where, "imports are not available in scripts"))
        elif isinstance(node, ast.Name) and node.id.startswith("__"):
            found.append((where, f"the name '{node.id}' is not available in scripts"))
        elif isinstance(node, ast.Attribute):
            attr = node.attr
            if not (attr.startswith(_FORBIDDEN_PREFIXES) or attr in _FORBIDDEN_ATTRIBUTES):
                continue
            if attr in ("format", "format_map"):
                if not _plain_format_string(node.value):
                    found.append((where, "str.format with attribute or index fields is not available in "
                                         "scripts; use an f-string"))
            else:
                found.append((where, f"the attribute '{attr}' is not available in scripts"))
    return min(found)[1] if found else None


@lru_cache(maxsize=2048)
def _compiled(source: str, mode: str):
    why = refusal(source, mode)
    if why is not None:
        raise ScriptRefused(why)
    return compile(source, SCRIPT_FILENAME, mode)


@contextmanager
def time_limit(seconds: float | None):
    """Raise ScriptTimeout inside whatever Python code runs past `seconds`."""
    if not seconds:
        yield
        return
    deadline = time.monotonic() + seconds
    previous = sys.gettrace()

    def tracer(frame, event, arg):
        if time.monotonic() > deadline:
            raise ScriptTimeout(f"the script ran longer than its time limit of {seconds:g} s "
                                "(SCRIPT_TIME_LIMIT); is there a loop that never ends?")
        # Line by line only in the script's own frames (its loops, its generator
        # expressions); library code it calls is checked at each call it makes.
        return tracer if frame.f_code.co_filename == SCRIPT_FILENAME else None

    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


class RestrictedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, each script checked and timed."""

    def evaluate(self, expression, context, external_context=None):
        code = _compiled(expression, "eval")
        my_globals = copy.copy(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        with time_limit(settings.time_limit):
            return eval(code, my_globals)

    def execute(self, script, context, external_context=None):
        code = _compiled(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        my_globals = copy.copy(self.globals)
        my_globals.update(external_context or {})
        context.update(my_globals)
        try:
            with time_limit(settings.time_limit):
                exec(code, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


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


@lru_cache(maxsize=4096)
def _syntax_error(text: str) -> tuple | None:
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return exc.args
    return None


class ScriptEngine(PythonScriptEngine):
    def validate(self, expression):
        # A decision table asks this of each cell of each rule it checks, twice for a
        # comparison such as `>= 80`, on every run; the answer for a text never changes.
        error = _syntax_error(expression)
        if error is not None:
            raise SyntaxError(*error)

    def evaluate(self, task, expression, external_context=None):
        try:
            return super().evaluate(task, expression, external_context)
        except WorkflowTaskException as exc:
            cause = exc.__context__
            if not isinstance(cause, (ScriptTimeout, ScriptRefused)):
                raise
            # SpiffWorkflow's message names the expression only; the case's error must say why
            raise WorkflowTaskException(f"Error evaluating expression '{expression}': {cause}",
                                        task=task, exception=cause) from cause

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
    return ScriptEngine(environment=RestrictedEnvironment(script_globals()))
