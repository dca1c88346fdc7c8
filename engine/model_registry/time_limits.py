"""The lints of time in a diagram: timer expressions, and the time limits
(due date, reminder, escalation) of human tasks, evaluated once as of now.

A statutory date the calendar cannot count yet is a warning, never an error:
the calendar never stops a deployment (see `engine.statutory_calendar`).
"""
from __future__ import annotations

import re
from collections.abc import Callable

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .. import clock, deadlines, statutory_calendar
from ..errors import en, zh
from ..scripting import make_script_engine
from .documents import NS, SPIFF_NS


def lint_time_limits(name: str, doc, refused: set, role_of: Callable, add: Callable):
    engine = make_script_engine()
    for prop in doc.iterfind(f".//{{{SPIFF_NS}}}property"):
        key, value = prop.get("name"), (prop.get("value") or "").strip()
        task = prop.getparent().getparent().getparent()
        where = (name, prop.sourceline, task.get("id"))
        if key == deadlines.DUE_PROPERTY and (prop, value) in refused:
            continue
        if key == deadlines.DUE_PROPERTY:
            try:
                deadlines.moment(engine.environment.evaluate(value, {}), clock.now())
            except NameError as exc:
                add(*where, f"{key} {value} 取决于办件数据（{getattr(exc, 'name', '')}）；事项待办时再检查 "
                            f"({key} {value} depends on case data ({getattr(exc, 'name', '')}); "
                            "checked when the task becomes ready)", "warning")
            except statutory_calendar.CalendarNotCovered as exc:  # the calendar never stops a deployment
                add(*where, f"{key} {value}：{zh(str(exc))} ({key} {value}: {en(str(exc))})", "warning")
            except Exception as exc:
                add(*where, f"{key} {value} 得不出办理时限：{zh(str(exc))} ({key} {value} does not give a due date: {en(str(exc))})")
        elif key == deadlines.REMIND_PROPERTY:
            try:
                deadlines.moment(value.strip('"'), clock.now())
            except Exception:
                add(*where, f"{key} {value} 不是 P7D 这样的 ISO 时长 ({key} {value} is not an ISO duration such as P7D)")
        elif key == deadlines.ESCALATE_PROPERTY and role_of(value) is None:
            add(*where, f"{key}「{value}」没有指定已知角色 ({key} '{value}' names no known role)")
        elif key == "startRoles":  # runtime.START_ROLES_PROPERTY: who may start the process
            unknown = [r for r in value.replace(",", " ").split() if role_of(r) is None]
            if unknown or not value:
                add(*where, f"{key}「{value}」须指定已知角色（未知：{', '.join(unknown)}） "
                            f"({key} '{value}' must name known roles (unknown: {', '.join(unknown)}))")


def lint_timers(name: str, doc, refused: set, add: Callable):
    engine = make_script_engine()
    for kind in ("timeDate", "timeDuration", "timeCycle"):
        for expr in doc.iterfind(f".//bpmn:timerEventDefinition/bpmn:{kind}", NS):
            event = expr.getparent().getparent()
            text = (expr.text or "").strip()
            if (expr, text) in refused:
                continue
            try:
                value = engine.environment.evaluate(text, {})
            except NameError as exc:
                missing = getattr(exc, "name", "") or ""
                if re.fullmatch(r"R?\d*/?P[\dYMWDTHS.]+|\d{4}-\d\d-\d\d.*", missing):
                    add(name, expr.sourceline, event.get("id"),
                        f"计时器表达式 {text} 是 Python 表达式：请加引号，写作 \"{text}\" (timer expression {text} is Python: quote it, as \"{text}\")")
                else:
                    add(name, expr.sourceline, event.get("id"),
                        f"计时器表达式 {text} 取决于办件数据（{missing}）；运行时再检查 (timer expression {text} depends on case data ({missing}); checked when it runs)",
                        "warning")
                continue
            except statutory_calendar.CalendarNotCovered as exc:
                add(name, expr.sourceline, event.get("id"), f"计时器表达式 {text}：{zh(str(exc))} (timer expression {text}: {en(str(exc))})", "warning")
                continue
            except Exception as exc:
                add(name, expr.sourceline, event.get("id"), f"计时器表达式 {text} 无法求值：{zh(str(exc))} (timer expression {text} does not evaluate: {en(str(exc))})")
                continue
            if not isinstance(value, str) or not _looks_like_iso_time(value, kind):
                add(name, expr.sourceline, event.get("id"),
                    f"计时器表达式 {text} 的结果为 {value!r}，不是 ISO 8601 {kind} (timer expression {text} gives {value!r}, not an ISO 8601 {kind})")


def _looks_like_iso_time(value: str, kind: str) -> bool:
    try:
        if kind == "timeDate":
            TimerEventDefinition.get_datetime(value)
        elif kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(value)
        else:
            TimerEventDefinition.parse_iso_recurring_interval(value)
        return True
    except Exception:
        return False
