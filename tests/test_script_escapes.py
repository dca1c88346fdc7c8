"""Ways out of the script sandbox, tried through the API as an analyst would (脚本逃逸语料).

Each attempt is deployed in a diagram (a script task, a gateway condition, a
timer, a due date or a decision-table cell) with the server's secrets set to
known values: it is refused at deploy (422, the element named) or its case
stops in error at run time, and no secret appears in the answer, the case's
data or its error message."""
from __future__ import annotations

import os
from xml.sax.saxutils import escape

import pytest
from conftest import upload

from engine.db import db
from engine.models import ProcessInstance

SECRET_KEY = "sk-canary-7c1e94f0b3d2a8e6"
DATABASE_URL = "postgresql://canary:hunter2-db-canary@db.internal:5432/green"
ENV_CANARY = "env-canary-5d0a9b7e3c21f468"

# (what it tries, where it sits, the text, where it is stopped: "deploy" or "run")
ESCAPES = [
    # match patterns read attributes by string, and capture into any name
    ("match class pattern reads a dunder", "script",
     "match ():\n    case tuple(__class__=c):\n        leak = c", "deploy"),
    ("match hands out str.format", "script",
     "match '':\n    case str(format=f):\n        leak = f('{0.__globals__}', today)", "deploy"),
    ("match captures __builtins__", "script",
     "match {}:\n    case {} as __builtins__:\n        leak = 1", "deploy"),
    ("match mapping pattern", "script", "match {'k': 1}:\n    case {'k': v}:\n        leak = v", "deploy"),
    # the classic walks to every loaded class
    ("tuple subclasses", "script", "leak = ().__class__.__base__.__subclasses__()", "deploy"),
    ("str mro subclasses", "script", "leak = ''.__class__.__mro__[1].__subclasses__()", "deploy"),
    ("os._wrap_close globals", "script",
     "leak = [c for c in ().__class__.__bases__[0].__subclasses__() if c.__name__ == '_wrap_close'][0]"
     ".__init__.__globals__['environ']", "deploy"),
    ("mro() method", "script", "leak = date.mro()", "deploy"),
    # format strings walk attributes
    ("str.format with an attribute field", "script",
     "leak = '{0.__globals__[current_app].config[SECRET_KEY]}'.format(today)", "deploy"),
    ("str.format on a variable", "script", "fmt = '{0.__globals__}'\nleak = fmt.format(today)", "deploy"),
    ("str.format unbound", "script", "leak = str.format('{0.__globals__}', today)", "deploy"),
    ("str.format_map with an index field", "script", "leak = '{x[SECRET_KEY]}'.format_map({'x': 1})", "deploy"),
    ("str.format through map()", "script", "leak = list(map('{0.__globals__}'.format, [today]))", "deploy"),
    ("format() builtin with a field spec", "script", "leak = format(today, '{0.__globals__}')", "run"),
    ("% formatting over vars()", "script", "leak = '%(SECRET_KEY)s' % vars()", "run"),
    ("% formatting over a function's globals", "script", "leak = '%(os)s' % today.__globals__", "deploy"),
    ("f-string with a nested spec reaching attributes", "script",
     "leak = f'{today!r:{today.__globals__}}'", "deploy"),
    ("f-string with a format walk inside", "script", "leak = f'{\"{0.__globals__}\".format(today)}'", "deploy"),
    ("f-string spec from data", "script", "spec = '{0.__globals__}'\nleak = f'{today:{spec}}'", "run"),
    ("string.Formatter reached from data", "script",
     "leak = string.Formatter().vformat('{0.__globals__}', [today], {})", "deploy"),
    # frames and tracebacks lead to module globals without a dunder
    ("generator frame", "script", "leak = (x for x in ()).gi_frame.f_back.f_globals", "deploy"),
    ("generator code", "script", "g = (x for x in [1])\nleak = g.gi_code", "deploy"),
    ("generator send", "script", "g = (x for x in [1])\nleak = g.send(None)", "deploy"),
    ("traceback frame", "script",
     "try:\n    1 / 0\nexcept Exception as e:\n    leak = e.__traceback__.tb_frame.f_globals", "deploy"),
    ("with_traceback", "script", "try:\n    1 / 0\nexcept Exception as e:\n    leak = e.with_traceback(None)", "deploy"),
    ("AttributeError.obj", "script", "try:\n    today.nothing\nexcept Exception as e:\n    leak = e.obj", "deploy"),
    # identifiers are NFKC-normalised by Python
    ("fullwidth eval", "script", "leak = ｅｖａｌ('1')", "run"),
    ("fullwidth underscore dunder", "script", "leak = ()._＿class__", "deploy"),
    ("fullwidth underscore continuing __import__", "script", "leak = _＿import__('os').environ", "deploy"),
    ("fullwidth underscore starting a name", "script", "leak = ＿＿import__('os').environ", "run"),  # not a name
    # definitions that run or capture code
    ("decorator", "script", "@today\ndef f():\n    pass", "deploy"),
    ("class", "script", "class A:\n    pass\nleak = A", "deploy"),
    ("lambda default capturing a helper", "script", "f = lambda x=today: x\nleak = f()", "deploy"),
    ("global", "script", "def f():\n    global leak\n    leak = 1\nf()", "deploy"),
    ("generator function", "script", "def g():\n    yield 1\nleak = list(g())", "deploy"),
    ("positional-only parameter shadowing a guard", "script",
     "def f(_getattr_, /):\n    return _getattr_\nleak = f(1)", "deploy"),
    ("rebinding a guard", "script", "_getattr_ = lambda o, n: o\nleak = 1", "deploy"),
    ("keyword named like a dunder", "script", "leak = dict(__class__=1)", "deploy"),
    ("with statement", "script", "with open('/etc/passwd') as f:\n    leak = 1", "deploy"),
    ("import", "script", "import os\nleak = os.environ", "deploy"),
    ("from import", "script", "from os import environ as leak", "deploy"),
    ("async function", "script", "async def f():\n    pass", "deploy"),
    ("except*", "script", "try:\n    pass\nexcept* Exception:\n    pass", "deploy"),
    # builtins that reach out are not there
    ("vars()", "script", "leak = vars()", "run"),
    ("dir()", "script", "leak = dir(today)", "run"),
    ("globals()", "script", "leak = globals()", "run"),
    ("locals()", "script", "leak = locals()", "run"),
    ("type() three-arg", "script", "leak = type('X', (), {})", "run"),
    ("__import__", "script", "leak = __import__('os').environ", "deploy"),
    ("__builtins__", "script", "leak = __builtins__['open']", "deploy"),
    ("getattr as a key function", "script", "leak = sorted([today], key=getattr)", "run"),
    ("operator-like attribute walk with map", "script", "leak = list(map(getattr, [today], ['__globals__']))", "run"),
    # the helpers and classes passed in
    ("today's globals", "script", "leak = today.__globals__['clock']", "deploy"),
    ("working_days_after's globals", "script", "leak = working_days_after.__globals__", "deploy"),
    ("a helper's code", "script", "leak = next_annual.__code__", "deploy"),
    ("a helper's attribute by an allowed name", "script", "leak = working_days_after.isoformat", "run"),
    ("date's class", "script", "leak = date.__class__", "deploy"),
    ("datetime.strptime", "script", "leak = datetime.strptime('2026', '%Y').tzinfo", "deploy"),
    ("date.today bypasses the case's clock", "script", "leak = date.today()", "deploy"),
    ("a date's __reduce_ex__", "script", "leak = today().__reduce_ex__(2)", "deploy"),
    ("a lambda's globals", "script", "leak = (lambda: 0).__globals__", "deploy"),
    ("a bound method's self", "script", "leak = ''.join.__self__", "deploy"),
    # every other place the engine runs Python
    ("a condition", "condition", "().__class__.__base__.__subclasses__() != []", "deploy"),
    ("a timer expression", "timer", "'P%dD' % len(today.__globals__)", "deploy"),
    ("a due date", "due", "today.__globals__['clock']", "deploy"),
    ("a decision-table output cell", "dmn_out", "today.__globals__", "deploy"),
    ("a decision-table input cell", "dmn_in", "? in today.__globals__", "deploy"),
    ("a decision-table input expression", "dmn_expr", "today.__globals__", "deploy"),
]

# the element each kind of place is named by
ELEMENT = {"script": "Script_attempt", "condition": "Flow_attempt", "timer": "Timer_attempt",
           "due": "Task_attempt", "dmn_out": "Rule_attempt", "dmn_in": "Rule_attempt",
           "dmn_expr": "Input_attempt"}

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/'
        '20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" '
        'targetNamespace="http://example.org"><bpmn:process id="attempt" isExecutable="true">')
TAIL = "</bpmn:process></bpmn:definitions>"


def _line(*steps: str) -> str:
    """start -> steps... -> a user task -> end, as sequence flows."""
    ids = ["start", *(s.split('id="', 1)[1].split('"', 1)[0] for s in steps), "Task_after", "end"]
    body = ['<bpmn:startEvent id="start"/>', *steps, '<bpmn:userTask id="Task_after" name="After"/>',
            '<bpmn:endEvent id="end"/>']
    body += [f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
             for i, (a, b) in enumerate(zip(ids, ids[1:]))]
    return HEAD + "".join(body) + TAIL


def diagram(kind: str, text: str) -> list[tuple[str, bytes]]:
    t = escape(text)
    if kind == "script":
        return [("attempt.bpmn", _line(f'<bpmn:scriptTask id="Script_attempt" name="Attempt">'
                                       f'<bpmn:script>{t}</bpmn:script></bpmn:scriptTask>').encode())]
    if kind == "timer":
        return [("attempt.bpmn", _line(f'<bpmn:intermediateCatchEvent id="Timer_attempt"><bpmn:timerEventDefinition>'
                                       f'<bpmn:timeDuration>{t}</bpmn:timeDuration></bpmn:timerEventDefinition>'
                                       '</bpmn:intermediateCatchEvent>').encode())]
    if kind == "due":
        return [("attempt.bpmn", _line(
            '<bpmn:userTask id="Task_attempt" name="Due"><bpmn:extensionElements><spiffworkflow:properties>'
            f'<spiffworkflow:property name="dueDate" value="{escape(text, {chr(34): "&quot;"})}"/>'
            '</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>').encode())]
    if kind == "condition":
        return [("attempt.bpmn", (
            HEAD + '<bpmn:startEvent id="start"/><bpmn:exclusiveGateway id="Gateway_attempt" default="f_no"/>'
            '<bpmn:userTask id="Task_yes" name="Yes"/><bpmn:userTask id="Task_no" name="No"/>'
            '<bpmn:endEvent id="end_yes"/><bpmn:endEvent id="end_no"/>'
            '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="Gateway_attempt"/>'
            '<bpmn:sequenceFlow id="Flow_attempt" sourceRef="Gateway_attempt" targetRef="Task_yes">'
            f'<bpmn:conditionExpression>{t}</bpmn:conditionExpression></bpmn:sequenceFlow>'
            '<bpmn:sequenceFlow id="f_no" sourceRef="Gateway_attempt" targetRef="Task_no"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="Task_yes" targetRef="end_yes"/>'
            '<bpmn:sequenceFlow id="f4" sourceRef="Task_no" targetRef="end_no"/>' + TAIL).encode())]
    expression, entry, output = "level", '"a"', '"fine"'
    if kind == "dmn_expr":
        expression = t
    elif kind == "dmn_in":
        entry = t
    else:
        output = t
    table = (
        '<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
        'id="Definitions_attempt" name="Attempt" namespace="http://example.org"><decision id="attempt_table" '
        'name="Attempt"><decisionTable id="DecisionTable_attempt" hitPolicy="UNIQUE">'
        f'<input id="Input_attempt" label="Level"><inputExpression id="InputExpression_attempt" typeRef="string">'
        f'<text>{expression}</text></inputExpression></input><output id="Output_attempt" label="Out" name="out" '
        f'typeRef="string"/><rule id="Rule_attempt"><inputEntry id="In_attempt"><text>{entry}</text></inputEntry>'
        f'<outputEntry id="Out_attempt"><text>{output}</text></outputEntry></rule></decisionTable></decision>'
        '</definitions>')
    task = ('<bpmn:businessRuleTask id="Decide_attempt" name="Decide"><bpmn:extensionElements>'
            '<spiffworkflow:calledDecisionId>attempt_table</spiffworkflow:calledDecisionId>'
            '</bpmn:extensionElements></bpmn:businessRuleTask>')
    return [("attempt.bpmn", _line(task).encode()), ("attempt_table.dmn", table.encode())]


@pytest.fixture
def secrets(app, monkeypatch):
    """The server's secrets set to values a leak would show."""
    monkeypatch.setitem(app.config, "SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("DATABASE_URL", DATABASE_URL)
    monkeypatch.setenv("GREEN_LADDER_CANARY", ENV_CANARY)
    # every value of the environment long enough to be a secret and not a path a message may name
    values = {v for v in os.environ.values() if len(v) >= 16 and not v.startswith("/") and ":/" not in v[:6]}
    return {SECRET_KEY, DATABASE_URL, ENV_CANARY, "hunter2-db-canary", *values}


def assert_no_secret(secrets, *texts):
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret leaked: {secret[:12]}..."


def test_the_corpus_is_large_and_covers_every_place_python_runs():
    assert len(ESCAPES) >= 40
    assert {kind for _, kind, _, _ in ESCAPES} == set(ELEMENT)


@pytest.mark.parametrize("label, kind, text, stopped", ESCAPES, ids=[e[0] for e in ESCAPES])
def test_an_escape_is_refused_at_deploy_or_fails_its_case_and_leaks_nothing(
        client, users, secrets, label, kind, text, stopped):
    deployed = upload(client, users("ana", "analyst"), *diagram(kind, text))
    answers = [deployed.get_data(as_text=True)]
    if stopped == "deploy":
        assert deployed.status_code == 422, deployed.json
        refused = [e for e in deployed.json["errors"] if e["element"] == ELEMENT[kind]]
        assert refused and "脚本不予运行" in refused[0]["message"], deployed.json["errors"]
        assert refused[0]["file"].startswith("attempt") and refused[0]["line"]
    else:
        assert deployed.status_code == 201, deployed.json
        admin = users("root", "admin")
        started = client.post("/api/v1/instances", json={"process": "attempt", "data": {}}, headers=admin)
        assert started.status_code == 201, started.json
        case = client.get(f"/api/v1/instances/{started.json['id']}", headers=admin)
        answers += [started.get_data(as_text=True), case.get_data(as_text=True)]
        assert case.json["status"] == "error" and case.json["error"]["element"] == ELEMENT[kind]
        assert case.json["error"]["message"]
        stored = db.session.get(ProcessInstance, started.json["id"])
        answers += [repr(stored.data), stored.error_message or ""]
    assert_no_secret(secrets, *answers)


@pytest.mark.parametrize("key", ["_getattr_", "__builtins__", "_pow_"])
def test_case_data_cannot_shadow_the_guards(client, users, secrets, key):
    """A key of the start data named like a guard (or the builtins) would stand in for it
    in every expression: it is refused before the case starts."""
    upload(client, users("ana", "analyst"), *diagram("script", "total = 1 + 2"))
    r = client.post("/api/v1/instances", json={"process": "attempt", "data": {key: {"open": 1}}},
                    headers=users("root", "admin"))
    assert r.status_code in (400, 422) and key in r.json["error"]
    assert_no_secret(secrets, r.get_data(as_text=True))


def test_an_expression_refuses_data_that_shadows_a_guard():
    """The same below the API: data reaching an expression any other way is refused there."""
    from engine.scripting import ScriptRefused, make_script_engine

    env = make_script_engine().environment
    with pytest.raises(ScriptRefused, match="_getattr_"):
        env.evaluate("x.upper()", {"x": "a", "_getattr_": "b"})
    with pytest.raises(ScriptRefused, match="_mul_"):
        env.execute("y = x * 2", {"x": "a", "_mul_": "b"})
    assert env.evaluate("x.upper()", {"x": "a"}) == "A"
