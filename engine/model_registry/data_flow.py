"""The lint of a diagram's data (数据流检查): what a condition reads that nothing sets, and a
data object read before anything writes it.

SpiffWorkflow finds neither before a case meets it: a gateway or loop condition naming a
name no step sets stops the case with an error (a standard loop or sequential multi-instance
could even wait for ever), and a task reading a data object no earlier task wrote fails
there. Both are warnings, not errors: a case may be started with the data, and a step may
set it in ways a diagram does not say. So the lint is conservative: a name counts as set
when anything in the files deployed together could set it (a called process's steps
included), and where a step may set any name at all (a user task without a form, a service
task whose result lands in the data as a whole) it stays silent about that process.
"""
from __future__ import annotations

import ast
import builtins
import textwrap
from collections.abc import Callable

from lxml import etree

from ..scripting import SAFE_BUILTINS, script_globals
from .documents import BPMN_NS, FORM_PROPERTY, NS, SPIFF_NS

# Set by the engine itself when a case starts (runtime: its jurisdiction, PARTY_ACCOUNT); the
# registry does not import the runtime, which imports it.
ENGINE_SET = frozenset({"jurisdiction", "party_account"})
START_DATA_PROPERTY = "startData"  # runtime.START_DATA_PROPERTY: what a case cannot start without
_HUMAN_TASKS = ("userTask", "manualTask")


class DataNames:
    """What the files deployed together can set, and whether some step may set anything."""

    def __init__(self):
        self.names: set[str] = set(ENGINE_SET)
        self.open_processes: set[str] = set()  # ids of processes where a step may set any name


def names_set(docs: dict, kinds: dict, form: Callable[[str], dict | None]) -> DataNames:
    found = DataNames()
    for name, doc in docs.items():
        if kinds[name] == "bpmn":
            _bpmn_names(doc, form, found)
        else:
            for output in doc.iter():
                if isinstance(output.tag, str) and etree.QName(output).localname == "output" and output.get("name"):
                    found.names.add(output.get("name"))
    return found


def _bpmn_names(doc, form: Callable[[str], dict | None], found: DataNames):
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        q = etree.QName(el)
        if q.namespace == BPMN_NS:
            if q.localname in ("script",):
                found.names |= _assigned(el.text or "")
            elif q.localname in ("dataObject", "dataInput", "dataOutput", "inputDataItem", "outputDataItem"):
                found.names |= {v for v in (el.get("id"), el.get("name")) if v}
            elif q.localname in ("loopDataOutputRef", "loopDataInputRef") and el.text:
                found.names.add(el.text.strip())
            elif q.localname in _HUMAN_TASKS and _form_of(el) is None:
                found.open_processes.add(_process_of(el))  # whatever the person submits is the case's
        elif q.namespace == SPIFF_NS:
            if q.localname in ("preScript", "postScript"):
                found.names |= _assigned(el.text or "")
            elif q.localname in ("messageVariable", "variableName") and el.text:
                found.names.add(el.text.strip())
            elif q.localname == "serviceTaskOperator" and el.get("resultVariable"):
                found.names.add(el.get("resultVariable"))
            elif q.localname == "property" and el.get("name") == START_DATA_PROPERTY:
                found.names |= set((el.get("value") or "").replace(",", " ").split())
            elif q.localname == "property" and el.get("name") == FORM_PROPERTY:
                try:
                    schema = form(el.get("value") or "")
                except (ValueError, OSError):
                    schema = None
                if schema is None:  # named by the lint of forms; what it would submit is unknown
                    found.open_processes.add(_process_of(el))
                found.names |= _schema_fields(schema)


def _form_of(task) -> str | None:
    prop = task.find(f"bpmn:extensionElements/{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"
                     f"[@name='{FORM_PROPERTY}']", NS)
    return prop.get("value") if prop is not None else None


def _process_of(el) -> str | None:
    for a in el.iterancestors():
        if isinstance(a.tag, str) and etree.QName(a).localname == "process":
            return a.get("id")
    return None


def _schema_fields(schema) -> set[str]:
    """Every property name a form's schema declares, at any depth (a form's conditional parts
    included): more than it submits, never fewer."""
    out: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                out |= set(props)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


def _assigned(text: str) -> set[str]:
    try:
        tree = ast.parse(textwrap.dedent(text))
    except SyntaxError:
        return set()  # named by the lint of scripts
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} | {
        n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}


def free_names(expression: str) -> set[str]:
    """The data an expression reads: its names, less those it binds itself (a comprehension's
    variables, a lambda's parameters) and the helpers and builtins every expression has."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return set()  # named by the lint of scripts
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.Lambda) for a in n.args.args}
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return read - bound - _ALWAYS_THERE


_ALWAYS_THERE = frozenset(script_globals()) | frozenset(SAFE_BUILTINS) | frozenset({"True", "False", "None"}) \
    | frozenset(n for n in dir(builtins) if n[0].isupper())  # exception names an expression may mention


# ------------------------------------------------------------------ the lints
_WHAT_ZH = {"condition": "条件", "loop condition": "循环条件", "completion condition": "完成条件",
            "loop cardinality": "循环次数", "input collection": "输入集合"}


def lint_conditions(name: str, doc, known: DataNames, refused: set, add: Callable):
    """A gateway's or loop's condition, a multi-instance's cardinality or input collection, that
    reads a name nothing in the files sets."""
    for el, text, what in _condition_texts(doc):
        if (el, text) in refused or _process_of(el) in known.open_processes:
            continue
        unset = sorted(free_names(text) - known.names)
        if not unset:
            continue
        owner = el
        while owner is not None and owner.get("id") is None:
            owner = owner.getparent()
        names = ", ".join(unset)
        add(name, el.sourceline, owner.get("id") if owner is not None else None,
            f"{_WHAT_ZH[what]} {text.strip()!r} 读取了 {names}，但流程中没有任何步骤设置它（表单字段、脚本、决策、数据输出、消息或发起数据均无）；除非每个办件发起时都带有它，办件将在此处出错中止 ({what} {text.strip()!r} reads {names}, which no step of the process sets (no form field, script, "
            "decision, data output, message or start data); unless every case starts with it, the case stops "
            "here with an error)", "warning")


def _condition_texts(doc):
    for el in doc.iterfind(".//bpmn:sequenceFlow/bpmn:conditionExpression", NS):
        yield el, el.text or "", "condition"
    for el in doc.iterfind(".//bpmn:standardLoopCharacteristics/bpmn:loopCondition", NS):
        yield el, el.text or "", "loop condition"
    for kind, what in (("completionCondition", "completion condition"), ("loopCardinality", "loop cardinality"),
                       ("loopDataInputRef", "input collection")):
        for el in doc.iterfind(f".//bpmn:multiInstanceLoopCharacteristics/bpmn:{kind}", NS):
            yield el, el.text or "", what


def lint_data_objects(name: str, doc, add: Callable):
    """A task reading a data object (a data input association from its reference) that no step
    which can come before it writes: the case stops there with an error."""
    for process in doc.iterfind("bpmn:process", NS):
        if process.get("isExecutable") != "true":
            continue
        ids = {el.get("id"): el for el in process.iterdescendants() if isinstance(el.tag, str) and el.get("id")}
        object_of = {ref.get("id"): ref.get("dataObjectRef")
                     for ref in process.iterfind(".//bpmn:dataObjectReference", NS)}
        writers: dict[str, set[str]] = {}
        for assoc in process.iterfind(".//bpmn:dataOutputAssociation", NS):
            target = assoc.findtext("bpmn:targetRef", namespaces=NS)
            if target in object_of:
                writers.setdefault(object_of[target], set()).add(assoc.getparent().get("id"))
        before = _predecessors(process, ids)
        for assoc in process.iterfind(".//bpmn:dataInputAssociation", NS):
            for source in assoc.iterfind("bpmn:sourceRef", NS):
                obj = object_of.get((source.text or "").strip())
                if obj is None:
                    continue
                task = assoc.getparent()
                if any(a.get("triggeredByEvent") == "true" for a in task.iterancestors()):
                    continue  # an event subprocess may start after any step: what came first is unknown
                if writers.get(obj, set()) & before(task.get("id")):
                    continue
                add(name, assoc.sourceline, task.get("id"),
                    f"「{task.get('name') or task.get('id')}」读取数据对象「{obj}」，但此前没有步骤写入它；除非先有步骤写入，办件将在此处出错中止 ('{task.get('name') or task.get('id')}' reads the data object '{obj}', which no step before it "
                    "writes; the case stops here with an error unless a step writes it first)", "warning")


def _predecessors(process, ids: dict) -> Callable[[str], set[str]]:
    """The steps that can run before a step: back along sequence flows, from a boundary event
    to its activity, out to the subprocess a step is inside, and into the subprocesses met."""
    into: dict[str, set[str]] = {}
    for flow in process.iterfind(".//bpmn:sequenceFlow", NS):
        into.setdefault(flow.get("targetRef"), set()).add(flow.get("sourceRef"))
    for event in process.iterfind(".//bpmn:boundaryEvent", NS):
        into.setdefault(event.get("id"), set()).add(event.get("attachedToRef"))

    def inside(node_id: str) -> set[str]:
        el = ids.get(node_id)
        return {d.get("id") for d in el.iter() if isinstance(d.tag, str) and d.get("id")} if el is not None else set()

    def before(step: str) -> set[str]:
        seen: set[str] = set()
        todo = [step]
        while todo:
            current = todo.pop()
            el = ids.get(current)
            for s in set(into.get(current, ())) - seen:
                seen.add(s)
                seen |= inside(s)  # a subprocess before it: all its steps ran before it
                todo.append(s)
            parent = el.getparent().get("id") if el is not None else None
            if parent in ids and parent not in seen:  # what runs before its subprocess runs before it
                seen.add(parent)
                todo.append(parent)
        return seen

    return before
