"""Layer (b) of validation, SpiffWorkflow's semantic parse, and the lints of
what a diagram means: forms, lanes, gateways, service operations, unreachable
steps, and elements this engine cannot run as drawn.

SpiffWorkflow either refuses such a diagram with an error that names the
wrong place, or runs it differently from the drawing; each finding here says
which element, and why, before a case meets it.
"""
from __future__ import annotations

from collections.abc import Callable

import jsonschema
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from .. import services
from ..errors import en, zh
from .documents import (
    BPMN_NS,
    CASE_FILE_PROPERTY,
    CASE_FILE_SECTIONS,
    FORM_PROPERTY,
    NS,
    SPIFF_NS,
    line_of,
    section_names,
)


def parse(parser, docs: dict, kinds: dict, add: Callable) -> list[str]:
    """Give the documents to SpiffWorkflow's parser; the ids of the processes it could build."""
    processes = []
    for name, doc in docs.items():
        try:
            if kinds[name] == "bpmn":
                parser.add_bpmn_xml(doc, filename=name)
            else:
                parser.add_dmn_xml(doc.getroot(), filename=name)
        except Exception as exc:  # the library raises several kinds for bad models
            _semantic_error(exc, name, docs, add)
    for pid in parser.get_process_ids():
        file = parser.get_process_parser(pid).filename
        try:
            parser.get_spec(pid)
            parser.get_subprocess_specs(pid)
        except Exception as exc:
            _semantic_error(exc, file, docs, add)
        else:
            processes.append(pid)
    return processes


def _semantic_error(exc: Exception, default_file: str | None, docs: dict, add: Callable):
    if isinstance(exc, ValidationException):
        file = exc.file_name or default_file or ""
        element = exc.id or None
        line = exc.line_number or line_of(docs.get(file), element)
        if not line and element:
            for fname, doc in docs.items():
                line = line_of(doc, element)
                if line:
                    file = file or fname
                    break
        add(file, line or None, element, str(exc).split("\n")[0])
    else:
        add(default_file or "", None, None, f"流程解析失败：{type(exc).__name__}: {exc} ({type(exc).__name__}: {exc})")


def lint_forms(name: str, doc, form: Callable[[str], dict | None], add: Callable):
    """Each user task's form exists in forms/ and is a JSON Schema."""
    for prop in doc.iterfind(f".//{{{SPIFF_NS}}}property[@name='{FORM_PROPERTY}']"):
        task = prop.getparent().getparent().getparent()
        form_name = prop.get("value") or ""
        try:
            schema = form(form_name)
        except (ValueError, OSError) as exc:
            add(name, prop.sourceline, task.get("id"), f"表单 {form_name} 不是有效的 JSON：{exc} (form {form_name} is not valid JSON: {exc})")
            continue
        if schema is None:
            add(name, prop.sourceline, task.get("id"), f"表单 {form_name} 在 forms/ 中不存在 (form {form_name} does not exist in forms/)")
            continue
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            add(name, prop.sourceline, task.get("id"), f"表单 {form_name} 不是有效的 JSON Schema：{exc.message} (form {form_name} is not a valid JSON Schema: {exc.message})")


def lint_case_file(name: str, doc, add: Callable):
    """Each section a task's case file names is one the system can build: a misspelt one
    would leave the official without that part of the file, unseen until a case reaches it."""
    for prop in doc.iterfind(f".//{{{SPIFF_NS}}}property[@name='{CASE_FILE_PROPERTY}']"):
        task = prop.getparent().getparent().getparent()
        names = section_names(prop.get("value"))
        if not names:
            add(name, prop.sourceline, task.get("id"), f"{CASE_FILE_PROPERTY} 没有列出任何卷宗部分 ({CASE_FILE_PROPERTY} lists no section)")
        known = ", ".join(sorted(CASE_FILE_SECTIONS)) or "none"
        for section in names:
            if section not in CASE_FILE_SECTIONS:
                add(name, prop.sourceline, task.get("id"),
                    f"{CASE_FILE_PROPERTY}：没有卷宗部分「{section}」（已有：{known}） ({CASE_FILE_PROPERTY}: no case file section '{section}' (known: {known}))")


def lint_lanes(name: str, doc, role_of: Callable, add: Callable):
    for lane in doc.iterfind(".//bpmn:lane", NS):
        if role_of(lane.get("name")) is None:
            add(name, lane.sourceline, lane.get("id"),
                f"泳道「{lane.get('name') or ''}」没有指定已知角色；其事项只有系统管理员可以办理 (lane '{lane.get('name') or ''}' names no known role; only an administrator can act on its tasks)",
                "warning")


def lint_gateways(name: str, doc, add: Callable):
    for gw in doc.iterfind(".//bpmn:exclusiveGateway", NS):
        if len(gw.findall("bpmn:outgoing", NS)) > 1 and not gw.get("default"):
            add(name, gw.sourceline, gw.get("id"),
                "排他网关没有默认流向；任何条件都不成立时办件将出错中止 (exclusive gateway has no default flow; a case stops with an error when no condition holds)",
                "warning")


def lint_service_operations(name: str, doc, add: Callable):
    for op in doc.iterfind(f".//{{{SPIFF_NS}}}serviceTaskOperator"):
        if op.get("id") not in services.OPERATIONS:
            task = op.getparent().getparent()
            known = ", ".join(sorted(services.OPERATIONS)) or "none"
            add(name, op.sourceline, task.get("id"), f"没有服务操作「{op.get('id')}」（已有：{known}） (no service operation '{op.get('id')}' (known: {known}))")


def lint_connections(name: str, doc, add: Callable):
    """A step no sequence flow leads to is never reached; one none leaves ends its path unseen.
    Each is an analyst's slip (a flow deleted or reconnected by mistake), found before a case meets it."""
    for container in [*doc.iterfind(".//bpmn:process", NS), *doc.iterfind(".//bpmn:subProcess", NS),
                      *doc.iterfind(".//bpmn:transaction", NS)]:
        process = container if etree.QName(container).localname == "process" else next(
            a for a in container.iterancestors() if etree.QName(a).localname == "process")
        if process.get("isExecutable") != "true":
            continue  # drawn for the reader only: named once by the lint below
        flows = container.findall("bpmn:sequenceFlow", NS)
        targets = {f.get("targetRef") for f in flows}
        sources = {f.get("sourceRef") for f in flows}
        for node in container:
            if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
                continue
            kind = etree.QName(node).localname
            if kind not in _FLOW_NODES or node.get("isForCompensation") == "true" \
                    or node.get("triggeredByEvent") == "true":
                continue
            label = node.get("name") or node.get("id")
            if kind != "startEvent" and node.get("id") not in targets:
                add(name, node.sourceline, node.get("id"),
                    f"没有顺序流通向「{label}」：办件永远到不了这里 (no sequence flow leads to '{label}': a case never reaches it)")
            if kind != "endEvent" and node.get("id") not in sources:
                add(name, node.sourceline, node.get("id"),
                    f"没有顺序流从「{label}」离开：路径在此结束，却没有结束事件 (no sequence flow leaves '{label}': the path ends there without an end event)",
                    "warning")


def lint_unsupported(name: str, doc, add: Callable):
    """Elements a diagram drawn elsewhere may carry that this engine cannot run, or would run
    differently from what the drawing says: each named with the reason, not left to fail in a case."""
    processes = doc.findall("bpmn:process", NS)
    runnable = [p for p in processes if p.get("isExecutable") == "true"]
    for process in processes:
        if process.get("isExecutable") != "true":
            add(name, process.sourceline, process.get("id"),
                "流程不可执行（isExecutable 不为 true）：只画出而不会运行；要运行请设置 isExecutable=\"true\" (process is not executable (isExecutable is not true): it is drawn but never runs; "
                "set isExecutable=\"true\" to run it)", "warning" if runnable else "error")
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        qname = etree.QName(el)
        # an event definition is marked on its event, the shape the analyst sees
        where = el if el.get("id") and not qname.localname.endswith("EventDefinition") else el.getparent()
        if qname.namespace == BPMN_NS and qname.localname in UNSUPPORTED:
            add(name, el.sourceline, where.get("id"), UNSUPPORTED[qname.localname])
        elif qname.namespace == BPMN_NS and qname.localname.endswith("EventDefinition"):
            _lint_event_definition(name, el, where, add)
        elif qname.namespace == BPMN_NS and qname.localname == "scriptTask":
            fmt = (el.get("scriptFormat") or "python").strip().lower()
            if fmt not in ("python", "text/x-python", "py"):
                add(name, el.sourceline, el.get("id"),
                    f"脚本格式「{el.get('scriptFormat')}」无法运行：本系统的脚本为 Python (script format '{el.get('scriptFormat')}' cannot run: scripts here are Python)")
        elif qname.namespace == BPMN_NS and qname.localname == "conditionExpression":
            text = (el.text or "").strip()
            if text.startswith(("${", "#{")) or (el.get("language") or "python").lower() not in (
                    "python", "text/x-python"):
                add(name, el.sourceline, where.get("id"),
                    f"条件 {text!r} 不是 Python 表达式（其他引擎的 JUEL/FEEL/JavaScript）；请用 Python 按办件数据书写，如 score >= 80 (condition {text!r} is not a Python expression (JUEL/FEEL/JavaScript from another "
                    "engine); write it in Python over the case data, e.g. score >= 80)")
        for attr in el.attrib:
            aq = etree.QName(attr)
            if aq.namespace in FOREIGN_NAMESPACES:
                hint = FOREIGN_HINTS.get(aq.localname, "本系统不读取它 (nothing here reads it)")
                add(name, el.sourceline, where.get("id"),
                    f"本引擎忽略 {FOREIGN_NAMESPACES[aq.namespace]}:{aq.localname}=\"{el.get(attr)}\"；{zh(hint)} ({FOREIGN_NAMESPACES[aq.namespace]}:{aq.localname}=\"{el.get(attr)}\" is ignored by "
                    f"this engine; {en(hint)})", "warning")


def _lint_event_definition(name: str, definition, event, add: Callable):
    """An event definition SpiffWorkflow does not read on this kind of event is dropped
    without a word, and the event runs as a plain one: an error start event would start its
    event subprocess with every case, a signal end event would throw nothing."""
    event_kind = etree.QName(event).localname
    kind = etree.QName(definition).localname.removesuffix("EventDefinition")
    read = _READ_EVENT_DEFINITIONS.get(event_kind)
    if read is None or kind in read:
        return
    label = event.get("name") or event.get("id")
    hint = _UNREAD_HINTS.get((event_kind, kind), f"请改画为本引擎运行的事件（{', '.join(sorted(read))}） "
                                                  f"(draw the event as one this engine runs ({', '.join(sorted(read))}))")
    words_zh, words_en = _EVENT_WORDS[event_kind]
    add(name, definition.sourceline, event.get("id"),
        f"不支持{_KIND_ZH.get(kind, kind)}{words_zh}「{label}」：本引擎（SpiffWorkflow 3.2）会忽略其{_KIND_ZH.get(kind, kind)}定义，"
        f"把它当作普通{words_zh}运行；"
        f"{zh(hint)} ({kind} {words_en} '{label}' is not supported: the engine (SpiffWorkflow 3.2) ignores its "
        f"{kind} definition and would run it as a plain {words_en}; {en(hint)})")


# What SpiffWorkflow 3.2's parser reads on each kind of event (its event parsers' lists);
# compensation, link and conditional are named by UNSUPPORTED above, wherever they are.
_READ_EVENT_DEFINITIONS = {
    "startEvent": {"message", "signal", "timer", "conditional", "compensate", "link"},
    "endEvent": {"message", "cancel", "error", "escalation", "terminate", "compensate", "link", "conditional"},
    "intermediateCatchEvent": {"message", "signal", "timer", "conditional", "compensate", "link"},
    "intermediateThrowEvent": {"message", "signal", "escalation", "compensate", "link", "conditional"},
    "boundaryEvent": {"message", "signal", "timer", "cancel", "error", "escalation", "conditional", "compensate",
                      "link"},
}
_EVENT_WORDS = {"startEvent": ("开始事件", "start event"), "endEvent": ("结束事件", "end event"),
                "intermediateCatchEvent": ("捕获事件", "catch event"), "intermediateThrowEvent": ("抛出事件", "throw event"),
                "boundaryEvent": ("边界事件", "boundary event")}
_KIND_ZH = {"message": "消息", "signal": "信号", "timer": "定时", "conditional": "条件", "compensate": "补偿",
            "link": "链接", "cancel": "取消", "error": "错误", "escalation": "升级", "terminate": "终止"}
_UNREAD_HINTS = {
    ("startEvent", "error"): "其事件子流程会随每个办件启动；请在以该错误结束的子流程或调用活动上用错误边界事件捕获 "
                             "(its event subprocess would start with every case; catch the error with an error "
                             "boundary event on the subprocess or call activity that ends with it)",
    ("startEvent", "escalation"): "其事件子流程会随每个办件启动；请在引发升级的子流程上用升级边界事件捕获 "
                                  "(its event subprocess would start with every case; catch the escalation with an "
                                  "escalation boundary event on the subprocess that raises it)",
    ("endEvent", "signal"): "该信号永远不会抛出；请在普通结束事件前用中间抛出事件抛出 "
                            "(the signal would never be thrown; throw it from an intermediate throw event just "
                            "before a plain end event)",
}


_FLOW_NODES = frozenset({
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "businessRuleTask", "sendTask", "receiveTask",
    "callActivity", "subProcess", "transaction", "exclusiveGateway", "inclusiveGateway", "parallelGateway",
    "eventBasedGateway", "complexGateway", "intermediateCatchEvent", "intermediateThrowEvent", "startEvent", "endEvent",
})
# BPMN elements SpiffWorkflow 3.2 as run here cannot execute as drawn, with the reason an analyst reads.
UNSUPPORTED = {
    "complexGateway": "本引擎（SpiffWorkflow 3.2）不支持复杂网关；请用带条件的包容网关或排他网关 "
                      "(complex gateway is not supported by the engine (SpiffWorkflow 3.2); "
                      "use an inclusive or exclusive gateway with conditions)",
    "compensateEventDefinition": "不支持补偿事件：本引擎会把该事件当作普通事件，不做任何补偿；请明确画出撤销步骤 "
                                 "(compensation events are not supported: the engine would treat this event "
                                 "as a plain event and compensate nothing; model the undo steps explicitly)",
    "linkEventDefinition": "不支持链接事件：本引擎会把它当作普通事件，流程不会跳转；请改画顺序流 "
                           "(link events are not supported: the engine would treat this as a plain event "
                           "and the flow would not jump; draw the sequence flow instead)",
    "conditionalEventDefinition": "此处不支持条件事件：办件等待时没有任何机制重新求值该条件；请用排他网关、计时器或消息 "
                                  "(conditional events are not supported here: nothing re-evaluates the "
                                  "condition while a case waits; use an exclusive gateway, a timer or a message)",
    "dataStoreReference": "不支持数据存储：请把数据保存在办件中或服务操作中 "
                          "(data stores are not supported: keep data in the case or in a service operation)",
    "adHocSubProcess": "不支持自由子流程（ad hoc）：本系统无法让人选择办理其中哪些事项，办件进入时会出错；请用包容网关画出其中的事项 "
                       "(ad hoc subprocesses are not supported: nothing here lets a person choose which of its "
                       "tasks to do, and a case entering one fails; draw its tasks with an inclusive gateway)",
}
# Extension attributes of other engines (Camunda 7/8, Flowable, Activiti) that this engine never reads.
FOREIGN_NAMESPACES = {
    "http://camunda.org/schema/1.0/bpmn": "camunda",
    "http://activiti.org/bpmn": "activiti",
    "http://flowable.org/bpmn": "flowable",
    "http://camunda.org/schema/zeebe/1.0": "zeebe",
}
_LANE_HINT = "事项交给其泳道指定的角色办理 (a task goes to the role its lane names)"
_OPERATOR_HINT = ("请用 spiffworkflow:serviceTaskOperator 指定服务操作 "
                  "(name a service operation with spiffworkflow:serviceTaskOperator)")
_COMMIT_HINT = "每个步骤各自提交 (every step commits on its own)"
FOREIGN_HINTS = {
    "assignee": _LANE_HINT,
    "candidateGroups": _LANE_HINT,
    "candidateUsers": _LANE_HINT,
    "formKey": "请用属性 formJsonSchemaFilename 指定表单 (name the form with the property formJsonSchemaFilename)",
    "dueDate": "请设置 spiffworkflow 属性 dueDate (set the spiffworkflow property dueDate)",
    "class": _OPERATOR_HINT,
    "expression": _OPERATOR_HINT,
    "delegateExpression": _OPERATOR_HINT,
    "type": _OPERATOR_HINT,
    "topic": _OPERATOR_HINT,
    "decisionRef": "请用 spiffworkflow:calledDecisionId 指定决策 (name the decision with spiffworkflow:calledDecisionId)",
    "resultVariable": "决策的输出列直接成为办件数据 (the decision's output columns become case data)",
    "asyncBefore": _COMMIT_HINT,
    "asyncAfter": _COMMIT_HINT,
}
