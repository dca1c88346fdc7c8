"""The Python environment that BPMN scripts, conditions, timer expressions and
DMN cells run in (脚本环境).

Scripts come from diagrams that only analysts deploy, and still run restricted,
so a slip or a malicious cell cannot reach files, the network, the server's
secrets, or stall the server:

- Every text is checked against an allow-list of syntax before it is compiled
  (`script_check`): no imports, classes, match statements, decorators,
  generator functions..., no name or attribute starting with `_`, and only the
  attributes listed per type of value (`script_limits.ATTRIBUTES`). Builtins are
  a short list (no `open`, `__import__`, `getattr`, `type`, `eval`...).
- The compiled code calls size guards in place of the operators and builtins
  that could build something huge in one C call (`10 ** 10 ** 7`, `'a' * 10 ** 10`,
  `'%0999999999d'`): a value over `SCRIPT_MAX_SIZE` elements or characters or an
  integer over `SCRIPT_MAX_INT_BITS` bits is refused before it is built, and what
  a script leaves in the case's data is measured after it.
- Every evaluation has a time limit (`SCRIPT_TIME_LIMIT` seconds, app config):
  a runaway loop fails the step with a clear error, the case is held for an
  administrator, and the worker is free again.

The limit is a trace-function deadline. `signal.alarm` works only in the main
thread, and steps run in web-server and scheduler threads; a watchdog thread
raising asynchronously into the worker (`PyThreadState_SetAsyncExc`) may land
after the script has returned, in the engine's own code, mid-save. A trace
function runs in the script's own thread and raises inside the script's frame,
so the error takes the normal path of a failing script. It is set only while
a script or expression runs, and it is called for each line of the script's
own frames and each call into Python code. A condition or decision-table cell
on one line without loops (a "straight" frame) would give it one line event,
at its start, and then only its end; so its frame is not traced line by line
and its end is checked when it returns (`_run`): the same outcome, without the
trace calls for its first line and its end, which a decision table would pay
for each cell of each rule it checks. A single C-level operation is not
interrupted by it; that is what the size guards are for.
"""
from __future__ import annotations

import ast
import builtins
import copy
import datetime as _dt
import sys
import sysconfig
import time
import types
from functools import lru_cache
from typing import NamedTuple

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from . import clock, script_check, script_limits, services, statutory_calendar
from .script_check import GUARDS, refusal  # noqa: F401  (refusal: the registry's lint)
from .script_limits import ScriptRefused, ScriptTooLarge, settings  # noqa: F401
from .statutory_calendar import EXPRESSION_HELPERS

# Where SpiffWorkflow looks for the failing line of a script, and how the time limit knows a script's frames.
SCRIPT_FILENAME = "<string>"
DEFAULT_TIME_LIMIT = 2.0  # seconds per script or expression; a legitimate one takes microseconds
# Where a timer keeps when its expression was evaluated, and the provisional years it counted
# on if any: a timer set on a provisional calendar is set again as of then once the year is settled.
TIMER_SET = "timer_set"


def configure(time_limit: float | None, max_size: int | None = None, max_int_bits: int | None = None) -> None:
    settings.time_limit = float(time_limit) if time_limit else None
    settings.max_size = int(max_size or script_limits.DEFAULT_MAX_SIZE)
    settings.max_int_bits = int(max_int_bits or script_limits.DEFAULT_MAX_INT_BITS)


class ScriptTimeout(Exception):
    """A script or expression ran past its time limit (脚本超时)."""


SAFE_BUILTINS = {
    name: getattr(builtins, name)
    for name in (
        "abs all any bool dict divmod enumerate filter float int isinstance "
        "len list map max min reversed set sorted tuple zip "
        "ValueError TypeError KeyError Exception"
    ).split()
}
# the builtins that could build something huge in one call, each size-checked first
SAFE_BUILTINS.update(range=script_limits.guarded_range, str=script_limits.GuardedStr,
                     format=script_limits.guarded_format, sum=script_limits.guarded_sum,
                     round=script_limits.guarded_round)
# The guards the checked code calls are builtins too: a generator or a function a script
# made keeps its builtins, and may run after the script's names have left the data.
SAFE_BUILTINS.update(GUARDS)
# What a case's data must not hold: it would shadow the guards or the builtins in an expression.
_RESERVED_KEYS = frozenset({*GUARDS, "__builtins__"})


def _reserved_key_in(data: dict) -> None:
    if not data.keys().isdisjoint(_RESERVED_KEYS):
        keys = sorted(data.keys() & _RESERVED_KEYS)
        raise ScriptRefused(f"办件数据含有 {', '.join(map(repr, keys))}，该名称为脚本环境保留；请为该字段改名 (the case data has {', '.join(map(repr, keys))}, a name the script environment "
                            "reserves; rename that field)")


# What an expression stores, or reads other than as a name of its own frame: `:=`, and
# frames of its own (comprehensions, generators, lambdas), which read names as globals.
_NOT_READ_ONLY = (ast.NamedExpr, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)


class _Code(NamedTuple):
    code: types.CodeType
    # One line and no loop in the code's own frame: tracing it line by line would give one
    # line event, at its start (where the deadline cannot have passed). So its frame is not
    # traced; its end, the one other moment the trace function would act, is checked after.
    straight: bool
    # An expression that only reads names, all in its own frame: it can read the task's
    # data in place rather than from a merged copy (see `RestrictedEnvironment.evaluate`).
    read_only: bool


@lru_cache(maxsize=2048)
def _compiled(source: str, mode: str) -> _Code:
    """A script or expression checked, rewritten with its guards, compiled and looked at once per text."""
    original = script_check.parse(source, mode)  # a syntax error is the compiler's, with its line
    nodes = list(ast.walk(original))
    code = compile(script_check.checked(script_check.parse(source, mode)), SCRIPT_FILENAME, mode)
    # the frame's prologue sits on line 0, before the code's first line
    lines = {line for _, _, line in code.co_lines() if line is not None and line >= code.co_firstlineno}
    straight = len(lines) <= 1 and not any(isinstance(n, (ast.For, ast.AsyncFor, ast.While)) for n in nodes)
    read_only = mode == "eval" and not any(isinstance(n, _NOT_READ_ONLY) for n in nodes)
    return _Code(code, straight, read_only)


def _timeout(seconds: float) -> ScriptTimeout:
    return ScriptTimeout(f"the script ran longer than its time limit of {seconds:g} s "
                         "(SCRIPT_TIME_LIMIT); is there a loop that never ends?")


class _Stop(BaseException):
    """What the trace function raises inside the script, carrying the error `_run` raises
    outside it: not an Exception, so that no `except Exception:` of the script can swallow it
    and go on (a recursion that catches and calls itself again would run for 2^1000 steps)."""


# How deep the script's own functions may call each other. Python raises RecursionError near
# 1,000 frames, and at that depth it is raised inside the trace function's own call, which
# unsets it: the script, catching it, would run on with no time limit.
MAX_DEPTH = 100
# Where a call is not interrupted: the standard library and installed packages may hold a lock
# across a call (lunar_python's year cache does, without try/finally: interrupted inside, the
# lock stays taken and every later calendar computation of the process waits forever). The
# time limit acts at the next call into the script, the engine's helpers or the guards.
_FOREIGN = tuple({sysconfig.get_path(p) for p in ("stdlib", "platstdlib", "purelib", "platlib")})


@lru_cache(maxsize=4096)
def _interruptible(filename: str) -> bool:
    # "<frozen importlib._bootstrap>" and the like are the standard library too
    return filename == SCRIPT_FILENAME or not filename.startswith((*_FOREIGN, "<"))


def _run(run, compiled: _Code, *namespaces):
    """`run(code, *namespaces)` (eval or exec), stopped inside whatever Python code the script
    runs past `settings.time_limit` seconds, with ScriptTimeout."""
    seconds = settings.time_limit
    code = compiled.code
    if not seconds:
        return run(code, *namespaces)
    # the script's own time on the processor: a busy server that leaves the thread waiting
    # for a core must not fail a legitimate script (seen in the suite at load 15 on 2 cores)
    clock = time.thread_time
    deadline = clock() + seconds
    straight = compiled.straight
    depth = 0

    def tracer(frame, event, arg):
        nonlocal depth
        if event == "call":
            if clock() > deadline and _interruptible(frame.f_code.co_filename):
                raise _Stop(_timeout(seconds))
            # Line by line only in the script's own frames (its loops, its generator
            # expressions), but for a straight frame; library code it calls is checked
            # at each call it makes.
            if frame.f_code.co_filename != SCRIPT_FILENAME or (straight and frame.f_code is code):
                return None
            depth += 1
            if depth > MAX_DEPTH:
                raise _Stop(ScriptRefused(f"the script's functions call each other more than {MAX_DEPTH} deep"))
            return tracer
        if event == "return":
            depth -= 1
        elif clock() > deadline:
            raise _Stop(_timeout(seconds))
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    stopped = None
    # No call into Python code here while the trace function is set: past the limit, it would
    # raise there, outside the handlers below.
    try:
        result = run(code, *namespaces)
    except _Stop as stop:
        stopped = stop.args[0]  # raised below, outside the script's frames
    except Exception:
        if not straight or clock() <= deadline:
            raise
    else:
        if not straight or clock() <= deadline:
            return result
    finally:
        sys.settrace(previous)
    # For a straight frame past the limit, its end: the timeout in place of its result or
    # failure, as the trace function would have raised it there.
    raise stopped if stopped is not None else _timeout(seconds)


class RestrictedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment, each script checked and timed."""

    def evaluate(self, expression, context, external_context=None):
        compiled = _compiled(expression, "eval")
        if compiled.read_only:
            # It stores nothing and reads names only through its own frame's locals, then its
            # globals: the task's data, then the external context and the globals, as from the
            # merged copy below, without copying the data for each cell of each rule of a table.
            scope = {**self.globals, **external_context} if external_context else self.globals
            _reserved_key_in(context)
            return _run(eval, compiled, scope, context)
        _reserved_key_in(context)
        my_globals = copy.copy(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        return _run(eval, compiled, my_globals)

    def execute(self, script, context, external_context=None):
        compiled = _compiled(script, "exec")
        self.check_for_overwrite(context, external_context or {})
        _reserved_key_in(context)
        my_globals = copy.copy(self.globals)
        my_globals.update(external_context or {})
        context.update(my_globals)
        before = {key: id(value) for key, value in context.items()}
        try:
            _run(exec, compiled, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
            # also when the script failed: the failed step's data is stored with the case's error
            dropped = _trim_oversized(context, before)
        if dropped:
            limit = script_limits.DATA_SIZE_FACTOR * settings.max_size
            raise ScriptTooLarge(f"脚本将使办件数据超过允许的 {limit:,} 个字符（{script_limits.DATA_SIZE_FACTOR} 倍 SCRIPT_MAX_SIZE）；"
                                 f"未保存：{', '.join(dropped)} "
                                 f"(the script would leave the case's data at more than the {limit:,} characters "
                                 f"allowed in scripts ({script_limits.DATA_SIZE_FACTOR} x SCRIPT_MAX_SIZE); "
                                 f"not kept: {', '.join(dropped)})")
        return True


def _trim_oversized(data: dict, before: dict) -> list[str]:
    """Each value was checked as it was built, but a list may hold the same long text a million
    times: stored, it is written out a million times. If the data comes to more than the limit,
    what the script set goes (then any value still too large on its own), so the case's error
    can be stored; returns the names that went."""
    limit = script_limits.DATA_SIZE_FACTOR * settings.max_size
    if script_limits.data_size(data, limit) <= limit:
        return []
    dropped = [key for key, value in data.items() if before.get(key) != id(value)]
    for key in dropped:
        del data[key]
    total = 0
    for key in list(data):
        size = script_limits.text_size(data[key], limit - total + 1)
        if total + size > limit:
            del data[key]
            dropped.append(key)
        else:
            total += size
    return dropped


def script_globals() -> dict:
    """Names every expression may use besides the task's data."""
    return {
        "__builtins__": SAFE_BUILTINS,
        "datetime": _dt.datetime,
        "date": _dt.date,
        "timedelta": _dt.timedelta,
        **EXPRESSION_HELPERS,
    }


@lru_cache(maxsize=1024)
def names_read(expression: str) -> frozenset[str]:
    """The names an expression reads (a timer set from `notice["ends_at"]` reads `notice`)."""
    try:
        return frozenset(n.id for n in ast.walk(ast.parse(expression.strip(), mode="eval")) if isinstance(n, ast.Name))
    except SyntaxError:
        return frozenset()


def reserved_names() -> frozenset[str]:
    """Data keys that would shadow a helper or a guard and break the next script."""
    return frozenset(script_globals()) | _RESERVED_KEYS


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
        if not isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition):
            return self._evaluate(task, expression, external_context)
        with statutory_calendar.noting_provisional() as provisional:
            value = self._evaluate(task, expression, external_context)
        task.internal_data[TIMER_SET] = {"at": clock.now().isoformat(),
                                         **({"provisional": sorted(provisional)} if provisional else {})}
        return value

    def _evaluate(self, task, expression, external_context):
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
