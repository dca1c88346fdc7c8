"""The restricted script environment (脚本环境): no way to files, the network or
the server's internals, and a time limit on every script and expression."""
from __future__ import annotations

import time

import pytest
from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment

from engine import scripting
from engine.db import db
from engine.models import ProcessInstance
from engine.runtime import Actor
from engine.scripting import ScriptRefused, ScriptTimeout, make_script_engine, script_globals

ADMIN = Actor("root", "admin")


def evaluate(expression, data=None):
    return make_script_engine().environment.evaluate(expression, dict(data or {}))


def execute(script, data=None):
    context = dict(data or {})
    make_script_engine().environment.execute(script, context)
    return context


@pytest.fixture
def short_limit():
    before = scripting.settings.time_limit
    scripting.configure(0.3)
    yield 0.3
    scripting.configure(before)


# ---------------------------------------------------------------------- escapes
# Each is a known way out of a builtins whitelist; the comment says where it leads.
REFUSED = [
    ("().__class__.__base__.__subclasses__()", "'__class__'"),  # every class loaded: os._wrap_close, its globals
    ("__import__('os').system('id')", "'__import__'"),
    ("__builtins__['open']('/etc/passwd')", "'__builtins__'"),
    ("today.__globals__['clock']", "'__globals__'"),  # a helper's module, and from there sys.modules
    ("(x for x in ()).gi_frame.f_back.f_globals", "'gi_frame'"),  # the engine's frames, without a dunder
    ("'{0.__class__.__init__.__globals__}'.format(today)", "f-string"),  # format strings read attributes
    ("'{0[x]}'.format_map({})", "f-string"),
    ("date.mro()", "'mro'"),
    ("().__ｃlass__", "'__class__'"),  # a fullwidth letter is the same identifier to Python
]


@pytest.mark.parametrize("expression, named", REFUSED)
def test_an_escape_is_refused_before_it_runs(expression, named):
    with pytest.raises(ScriptRefused, match=named):
        evaluate(expression)


def test_the_escapes_work_in_an_unrestricted_environment():
    """The refusals above are what stands between a script and the interpreter's internals."""
    plain = TaskDataEnvironment(script_globals())
    subclasses = plain.evaluate("().__class__.__base__.__subclasses__()", {})
    assert any(c.__name__ == "_wrap_close" for c in subclasses)  # os.system is one step away
    assert "__builtins__" in plain.evaluate("(x for x in ()).gi_frame.f_globals", {})


@pytest.mark.parametrize("script", [
    "import os",
    "from pathlib import Path",
    "try:\n    1 / 0\nexcept Exception as e:\n    frame = e.__traceback__.tb_frame",
    "def f():\n    yield 1\ng = f()\nfr = g.gi_frame",
])
def test_a_script_with_an_escape_is_refused(script):
    with pytest.raises(ScriptRefused):
        execute(script)


@pytest.mark.parametrize("expression", ["open('/etc/passwd')", "getattr((), '_' + '_class_' + '_')",
                                        "type(1)", "vars()", "globals()", "eval('1')", "exec('x = 1')",
                                        "compile('1', 's', 'eval')", "breakpoint()", "input()"])
def test_builtins_that_reach_out_are_not_there(expression):
    with pytest.raises(NameError):
        evaluate(expression)


def test_ordinary_scripts_still_work():
    assert evaluate("'{} 年 {}'.format(2026, '公示')") == "2026 年 公示"
    assert evaluate("f'{score:.1f} 分'", {"score": 88}) == "88.0 分"
    assert evaluate("sorted(set(x % 3 for x in range(10)))") == [0, 1, 2]
    assert execute("total = sum(s['score'] for s in scores)\nfirst = scores[0]['name']",
                   {"scores": [{"name": "甲", "score": 80}, {"name": "乙", "score": 90}]})["total"] == 170
    assert evaluate("working_days_after(date(2026, 4, 30), 1)").isoformat() == "2026-05-06"


def test_a_range_too_long_to_walk_is_refused():
    with pytest.raises(ValueError, match="longer than"):
        evaluate("sum(range(10 ** 12))")


# ---------------------------------------------------------------------- the time limit
def test_a_runaway_loop_stops_at_the_limit(short_limit):
    began = time.thread_time()  # the processor's time, as the limit counts it: a loaded machine's clock is not
    with pytest.raises(ScriptTimeout, match="time limit of 0.3 s"):
        execute("n = 0\nwhile True:\n    n += 1")
    assert time.thread_time() - began < 2
    with pytest.raises(ScriptTimeout):
        evaluate("sum(1 for a in range(10 ** 4) for b in range(10 ** 4))")
    assert execute("x = 1 + 1")["x"] == 2  # the next script runs normally


LOOPING_SCRIPT = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://example.org">
<bpmn:process id="runaway" isExecutable="true">
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:scriptTask id="Script_count_forever" name="Count"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
<bpmn:script>n = 0
while n &gt;= 0:
    n += 1</bpmn:script></bpmn:scriptTask>
<bpmn:userTask id="after" name="After"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
<bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Script_count_forever"/>
<bpmn:sequenceFlow id="f2" sourceRef="Script_count_forever" targetRef="after"/>
<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end"/>
</bpmn:process></bpmn:definitions>"""

LOOPING_CONDITION = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://example.org">
<bpmn:process id="heavy_condition" isExecutable="true">
<bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
<bpmn:exclusiveGateway id="Gateway_decide" default="f_no"><bpmn:incoming>f1</bpmn:incoming>
<bpmn:outgoing>f_yes</bpmn:outgoing><bpmn:outgoing>f_no</bpmn:outgoing></bpmn:exclusiveGateway>
<bpmn:endEvent id="end_yes"><bpmn:incoming>f_yes</bpmn:incoming></bpmn:endEvent>
<bpmn:endEvent id="end_no"><bpmn:incoming>f_no</bpmn:incoming></bpmn:endEvent>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="Gateway_decide"/>
<bpmn:sequenceFlow id="f_yes" sourceRef="Gateway_decide" targetRef="end_yes">
<bpmn:conditionExpression>sum(1 for a in range(10 ** 4) for b in range(10 ** 4)) &gt; 0</bpmn:conditionExpression></bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f_no" sourceRef="Gateway_decide" targetRef="end_no"/>
</bpmn:process></bpmn:definitions>"""


def test_a_runaway_script_task_fails_its_step_and_frees_the_worker(runtime, short_limit):
    runtime.registry.deploy({"runaway.bpmn": LOOPING_SCRIPT})
    began = time.thread_time()
    case = runtime.start("runaway", {}, ADMIN)
    assert time.thread_time() - began < 5
    stored = db.session.get(ProcessInstance, case.id)
    assert stored.status == "error" and stored.error_element == "Script_count_forever"
    assert "time limit" in stored.error_message


def test_a_runaway_condition_fails_its_step(runtime, short_limit):
    runtime.registry.deploy({"heavy.bpmn": LOOPING_CONDITION})
    case = runtime.start("heavy_condition", {}, ADMIN)
    stored = db.session.get(ProcessInstance, case.id)
    assert stored.status == "error" and stored.error_element == "Gateway_decide"
    assert "time limit" in stored.error_message


def test_the_limit_is_the_app_setting(app):
    from web import create_app

    before = scripting.settings.time_limit
    try:
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SCRIPT_TIME_LIMIT": 0.75, "TESTING": True})
        assert scripting.settings.time_limit == 0.75
    finally:
        scripting.configure(before)
    assert before == scripting.DEFAULT_TIME_LIMIT == app.config["SCRIPT_TIME_LIMIT"]


def test_a_refused_script_is_a_finding_when_deployed(runtime):
    bad = LOOPING_SCRIPT.replace(b"n = 0\n", b"n = ().__class__\n")
    check = runtime.registry.check({"bad.bpmn": bad})
    [finding] = check.errors
    assert finding.element == "Script_count_forever" and "'__class__'" in finding.message
    bad = LOOPING_CONDITION.replace(b"sum(1", b"'{0.__class__}'.format(1) and sum(1")
    [finding] = runtime.registry.check({"bad.bpmn": bad}).errors
    assert finding.element == "f_yes" and "f-string" in finding.message


def test_a_loop_inside_a_function_the_script_defines_is_stopped_too(short_limit):
    with pytest.raises(ScriptTimeout):
        execute("def spin():\n    while True:\n        pass\nspin()")
    with pytest.raises(ScriptTimeout):
        evaluate("(lambda: [x for x in range(10 ** 6) for y in range(10 ** 6)])()")



def test_a_one_line_expression_past_the_limit_fails_at_its_end():
    """A condition on one line without loops is not traced line by line (there would be
    no line after its first); its end is checked instead, where the trace function would."""
    before = scripting.settings.time_limit
    scripting.configure(0.01)
    try:
        with pytest.raises(ScriptTimeout):
            evaluate("len(sorted(range(10 ** 6), reverse=True)) > 0")  # one call in C: nothing interrupts it
        with pytest.raises(ScriptTimeout) as failed:
            evaluate("len(sorted(range(10 ** 6), reverse=True)) / 0")  # past the limit, the timeout stands in
        assert failed.value.__context__ is None
        assert evaluate("score >= 80 and len(items) > 1", {"score": 85, "items": [1, 2]}) is True
    finally:
        scripting.configure(before)


def _tick():
    pass


def _spin(value):
    began = time.monotonic()
    while time.monotonic() - began < 5:
        _tick()  # a call into Python code: where the trace function checks the time
    return 0


def test_python_code_a_one_line_expression_enters_is_stopped_inside(short_limit):
    """What a one-line condition runs besides its own line is watched as ever: a callable
    the data holds under a builtin's name, a generator a script left in the data."""
    began = time.thread_time()
    with pytest.raises(ScriptTimeout):
        evaluate("len(x) > 0", {"x": [1], "len": _spin})
    with pytest.raises(ScriptTimeout):
        execute("n = len(x)", {"x": [1], "len": _spin})
    data = execute("g = (1 for a in range(10 ** 6) for b in range(10 ** 6))")
    with pytest.raises(ScriptTimeout):
        evaluate("sum(g) > 0", data)
    assert time.thread_time() - began < 4


def test_a_text_is_judged_the_same_each_time_it_is_validated():
    """Decision tables validate each cell on every run (a comparison cell fails as it
    stands and passes with a name before it); the answer is kept per text."""
    engine = make_script_engine()
    for _ in range(2):
        with pytest.raises(SyntaxError):
            engine.validate(">= 80")
        engine.validate("v >= 80")
        engine.validate('"green_park"')


def test_an_expression_reads_the_data_first_and_changes_nothing():
    env = make_script_engine().environment
    data = {"x": 1, "items": [1, 2]}
    assert env.evaluate("x", data, {"x": 2}) == 1  # the task's data before the external context
    assert env.evaluate("y + x", data, {"y": 2}) == 3
    assert env.evaluate("date", data) is script_globals()["date"]
    assert env.evaluate("(z := len(items))", data) == 2
    assert env.evaluate("[i * x for i in items]", data) == [1, 2]
    assert data == {"x": 1, "items": [1, 2]}


@pytest.mark.parametrize("script", [
    "while True:\n    try:\n        n = 1\n    except Exception:\n        continue",
    # each level catches the limit and calls itself again: 2^60 calls if the limit could be caught
    "def f(n):\n    if n == 0:\n        raise ValueError('bottom')\n    try:\n        return f(n - 1)\n"
    "    except Exception:\n        return f(n - 1)\nf(60)",
])
def test_a_script_cannot_catch_the_time_limit_and_go_on(short_limit, script):
    began = time.thread_time()
    with pytest.raises(ScriptTimeout):
        execute(script)
    assert time.thread_time() - began < 3


@pytest.mark.parametrize("script, why", [
    ("try:\n    x = 1\nexcept:\n    x = 2", "bare except"),
    ("def f():\n    try:\n        return f()\n    finally:\n        return f()\nf()", "finally"),
])
def test_what_could_swallow_the_time_limit_is_refused(script, why):
    with pytest.raises(ScriptRefused, match=why):
        execute(script)


def test_a_script_recursing_past_the_depth_limit_is_stopped_uncaught(short_limit):
    """At Python's own limit the RecursionError would be raised inside the trace function,
    which unsets it; the script, catching it, would run on with no time limit."""
    with pytest.raises(ScriptRefused, match="more than 100 deep"):
        execute("def f(n):\n    try:\n        return f(n + 1)\n    except Exception:\n        return 0\nx = f(0)")


def test_the_time_limit_does_not_leave_a_library_lock_taken(short_limit):
    """lunar_python's year cache takes a lock without try/finally; a timeout raised inside it
    would leave every later calendar computation of the process waiting forever."""
    import threading
    from datetime import date

    from engine import statutory_calendar

    for year in (2400, 2700, 3000):  # years not computed yet: most of the time is spent in lunar_python
        with pytest.raises(ScriptTimeout):
            evaluate(f"working_days_after(date({year}, 1, 1), 10 ** 9)")
    worker = threading.Thread(target=statutory_calendar.working_days_after, args=(date(3300, 1, 1), 5), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "the calendar is deadlocked"
