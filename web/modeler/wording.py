"""The words an analyst reads on the modeler's pages for what `engine.model_diff` reports: the kind
of an element, the setting a value is (a property such as dueDate, a timer's date), an unnamed
element by where it sits, and a time limit in working days or a yearly date rather than Python.
The same reading of the statutory helpers as the properties panel's (static/modeler/src/time-fields.js)."""
from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..model_texts import model_text

KINDS = {
    "process": _l("流程"), "lane": _l("泳道"), "userTask": _l("人工任务"), "serviceTask": _l("服务任务"),
    "scriptTask": _l("脚本任务"), "businessRuleTask": _l("决策任务"), "callActivity": _l("调用子流程"),
    "subProcess": _l("子流程"), "sequenceFlow": _l("连线"), "exclusiveGateway": _l("排他网关"),
    "parallelGateway": _l("并行网关"), "inclusiveGateway": _l("包容网关"), "eventBasedGateway": _l("事件网关"),
    "startEvent": _l("开始事件"), "endEvent": _l("结束事件"), "intermediateCatchEvent": _l("中间事件"),
    "intermediateThrowEvent": _l("中间事件"), "boundaryEvent": _l("边界事件"), "message": _l("消息"),
    "decision": _l("决策"), "decisionTable": _l("决策表"), "rule": _l("规则"), "inputEntry": _l("条件单元格"),
    "outputEntry": _l("结果单元格"), "input": _l("输入列"), "output": _l("输出列"), "file": _l("文件"),
}

PROPERTIES = {
    "dueDate": _l("办理时限"), "remindBefore": _l("提前提醒"), "escalateTo": _l("逾期督办"),
    "formJsonSchemaFilename": _l("表单"), "startRoles": _l("可发起的角色"),
}

ASPECTS = {
    "parameter": _l("参数"), "parameterType": _l("参数类型"), "condition": _l("条件"),
    "script": _l("脚本"), "documentation": _l("说明"), "calledDecision": _l("调用的决策表"),
    "operation": _l("服务操作"), "resultVariable": _l("结果变量"), "text": _l("内容"),
    "inputExpression": _l("输入表达式"), "name": _l("名称"),
}
FLOWS = {"incoming": _l("来自的连线"), "outgoing": _l("去向的连线")}
TIMERS = {"timeDate": _l("定时器到期日"), "timeDuration": _l("定时器时长"), "timeCycle": _l("定时器周期")}

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_COUNTED = re.compile(rf"(working_days_after|days_after)\(\s*(today\(\)|{_NAME})\s*,\s*(\d+)\s*\)")
_ANNUAL = re.compile(r"next_annual\(\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)")
_DAYS = re.compile(r"P(\d+)D")


def aspect(shown: dict) -> str:
    """What a changed value is, in words: 办理时限 (dueDate), 参数 working_days, 定时器到期日."""
    kind, key = shown["aspect"], shown["key"]
    if kind == "property":
        label = PROPERTIES.get(key)
        return f"{label} ({key})" if label else _("属性 %(k)s", k=key)
    if kind == "timer":
        return str(TIMERS.get(key, key))
    if kind == "flows":
        return str(FLOWS.get(key, key))
    if kind in ("parameter", "parameterType"):
        return f"{ASPECTS[kind]} {key}"
    if kind in ASPECTS:
        return str(ASPECTS[kind])
    return key or ""


def kind(name: str) -> str:
    return str(KINDS.get(name, name))


def element(change: dict) -> str:
    """An element as the analyst knows it: its name; a flow by its ends; a decision cell by rule and column."""
    if change.get("name"):
        return model_text(change["name"])
    ctx = change.get("context") or {}
    if "from" in ctx:
        return f"{model_text(ctx['from'])} → {model_text(ctx['to'])}"
    if "rule" in ctx:
        where = _("%(d)s 第 %(n)d 条规则", d=model_text(ctx["decision"]), n=ctx["rule"])
        return f"{where} · {model_text(ctx['column'])}" if ctx.get("column") else where
    return kind(change.get("kind", ""))


def time_value(text: str | None) -> str | None:
    """A statutory-helper expression in words (15个工作日), or None when it is something else."""
    if not text:
        return None
    t = text.strip().strip('"')
    wrapped = re.fullmatch(r"end_of_day\((.*)\)", t)
    inner = wrapped.group(1).strip() if wrapped else t
    if m := _COUNTED.fullmatch(inner):
        days = int(m.group(3))
        words = _("%(n)d个工作日", n=days) if m.group(1) == "working_days_after" else _("%(n)d天", n=days)
        return words if m.group(2) == "today()" else _("%(d)s起%(w)s", d=m.group(2), w=words)
    if m := _ANNUAL.fullmatch(inner):
        return _("每年%(m)d月%(d)d日", m=int(m.group(1)), d=int(m.group(2)))
    if m := _DAYS.fullmatch(t):
        return _("%(n)d天", n=int(m.group(1)))
    return None


def values(shown: dict) -> tuple[str | None, str | None]:
    """Before and after, a time limit or timer in words."""
    timed = shown["aspect"] == "timer" or (shown["aspect"] == "property" and shown["key"] in ("dueDate", "remindBefore"))
    if not timed:
        return shown["before"], shown["after"]
    return (time_value(shown["before"]) or shown["before"], time_value(shown["after"]) or shown["after"])
