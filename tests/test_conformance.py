"""Engine conformance (引擎一致性): the persisted engine runs a model exactly as plain
SpiffWorkflow does.

Each case runs one small diagram from `tests/conformance/` twice, step by step and in
lockstep on the same virtual clock:

* in memory: SpiffBpmnParser + BpmnWorkflow with the project's script engine, driven
  directly (`task.run()`, `refresh_timers()`, `send_event()`);
* through `engine.runtime.Runtime`: deployed by the registry, driven through
  `start`/`complete`/`fire_timers`/`send_message`, with the live-workflow cache
  dropped after every step so the next step restores the case from the database.

After every step both runs must agree on the case status, the case data, the ready
human tasks (with each task's data), the pending timers and their due times, the
completed elements and the state of every task. On the persisted side, the workflow
still cached after a step must equal the one restored from the database (so a save is
lossless), and the inbox and timer tables must match the restored workflow.
Each case also asserts a few expected facts of its own (path taken, key data), so
two runs that are wrong in the same way still fail.

The `refused_*` diagrams are what the engine refuses by design (SpiffWorkflow would run
them differently from the drawing, or not at all): each is deployed over the API and must
be refused with its file, line, element and reason.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from conftest import upload
from lxml import etree
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.db import db
from engine.errors import Conflict, FormInvalid
from engine.models import HumanTask, ModelVersion, PendingTimer, ProcessInstance
from engine.runtime import Actor, boundary
from engine.scripting import make_script_engine

DIAGRAMS = Path(__file__).resolve().parent / "conformance"
# SpiffWorkflow's own converters, to compare what a task keeps besides JSON (an event-based
# gateway keeps the events it has seen) as its serialiser writes it.
CONVERTERS = BpmnWorkflowSerializer.configure(SPIFF_CONFIG)
ACTOR = Actor("tester", "admin")


# ---------------------------------------------------------------------- steps
@dataclass(frozen=True)
class Complete:
    """Complete the one ready human task of `element` (whose data matches `where`)."""

    element: str
    data: dict = field(default_factory=dict)
    where: dict | None = None
    then: tuple[str, ...] | None = None  # the ready human tasks expected afterwards
    status: str | None = None  # the case status expected afterwards


@dataclass(frozen=True)
class Wait:
    """Move the clock on, then wake the case's timers."""

    delta: timedelta
    then: tuple[str, ...] | None = None
    status: str | None = None


@dataclass(frozen=True)
class Send:
    """Deliver a message. `refused`: nothing waits for it, so both runs must refuse it
    and the stored case must not change."""

    name: str
    payload: dict = field(default_factory=dict)
    refused: bool = False
    then: tuple[str, ...] | None = None
    status: str | None = None


@dataclass
class Case:
    id: str
    files: tuple[str, ...]
    process: str
    start: dict
    steps: list
    status: str = "completed"
    data: dict = field(default_factory=dict)  # must hold in the final data
    absent: tuple[str, ...] = ()  # keys the final data must not have
    path: tuple[str, ...] = ()  # elements that must have completed (repeat one to require it n times)
    not_path: tuple[str, ...] = ()  # elements that must not have completed
    first_ready: tuple[str, ...] | None = None  # ready human tasks right after start
    sent: tuple = ()  # (message, payload) the case sent out of the process, in order


def H(hours: float) -> timedelta:
    return timedelta(hours=hours)


EXPERTS = {"experts": ["expert_a", "expert_b", "expert_c"]}
REVIEWERS = {"reviewers": ["chen", "li", "wang"]}
METERS = {
    "submitted_on": "2027-02-27",
    "meters": [{"site": "north", "kwh": 1200}, {"site": "south", "kwh": 800}, {"site": "north", "kwh": 350}],
}

CASES = [
    # -- exclusive gateway
    Case("exclusive-approve", ("exclusive_gateway.bpmn",), "cf_exclusive", {"unit": "U1"},
         [Complete("Task_decide", {"decision": "approve"}, then=())],
         data={"outcome": "approved", "decision": "approve", "unit": "U1"},
         path=("Script_approve", "End_approved"), not_path=("Script_reject", "Task_rework"),
         first_ready=("Task_decide",)),
    Case("exclusive-reject", ("exclusive_gateway.bpmn",), "cf_exclusive", {"unit": "U1"},
         [Complete("Task_decide", {"decision": "reject"}, then=())],
         data={"outcome": "rejected"}, path=("Script_reject", "End_rejected"),
         not_path=("Script_approve", "Task_rework")),
    Case("exclusive-default-loops-back", ("exclusive_gateway.bpmn",), "cf_exclusive", {"unit": "U1"},
         [Complete("Task_decide", {"decision": "unsure"}, then=("Task_rework",)),
          Complete("Task_rework", {"note": "added meter data"}, then=("Task_decide",)),
          Complete("Task_decide", {"decision": "approve"}, then=())],
         data={"outcome": "approved", "note": "added meter data"},
         path=("Task_decide", "Task_decide", "Gateway_decision", "Gateway_decision", "Task_rework",
               "Script_approve"), not_path=("Script_reject",)),
    # -- parallel gateway
    Case("parallel-fork-join", ("parallel_gateway.bpmn",), "cf_parallel", {},
         [Complete("Task_water", {"water_score": 30}, then=("Task_energy",)),
          Complete("Task_energy", {"energy_score": 55}, then=())],
         data={"total": 85, "energy_score": 55, "water_score": 30},
         path=("Task_energy", "Task_water", "Gateway_join", "Script_total"),
         first_ready=("Task_energy", "Task_water")),
    # -- inclusive gateway
    Case("inclusive-two-of-three", ("inclusive_gateway.bpmn",), "cf_inclusive", {"unit": "U5"},
         [Complete("Task_apply", {"amount": 250000, "emissions": True, "exports": False},
                   then=("Task_environment", "Task_finance")),
          Complete("Task_environment", {"environment_ok": True}, then=("Task_finance",)),
          Complete("Task_finance", {"finance_ok": False}, then=())],
         data={"results": {"finance": False, "environment": True, "customs": None},
               "signed_off": ["environment", "finance"], "review_count": 2},
         path=("Task_finance", "Task_environment", "Script_summary"),
         not_path=("Task_customs", "Script_no_review")),
    Case("inclusive-none-takes-default", ("inclusive_gateway.bpmn",), "cf_inclusive", {"unit": "U5"},
         [Complete("Task_apply", {"amount": 500, "emissions": False, "exports": False}, then=())],
         data={"results": {"finance": None, "environment": None, "customs": None},
               "signed_off": [], "review_count": 0, "reviews": []},
         path=("Script_no_review", "Script_summary"),
         not_path=("Task_finance", "Task_environment", "Task_customs")),
    # -- multi-instance
    Case("multi-instance-parallel", ("multi_instance_parallel.bpmn",), "cf_mi_parallel", EXPERTS,
         [Complete("Task_expert_review", {"score": 90}, where={"expert": "expert_b"}),
          Complete("Task_expert_review", {"score": 70}, where={"expert": "expert_c"}),
          Complete("Task_expert_review", {"score": 80}, where={"expert": "expert_a"}, then=())],
         data={"average": 80.0, "scores": [90, 70, 80], **EXPERTS}, path=("Task_expert_review", "Script_average"),
         first_ready=("Task_expert_review",) * 3),
    Case("multi-instance-sequential", ("multi_instance_sequential.bpmn",), "cf_mi_sequential", REVIEWERS,
         [Complete("Task_sign", {"opinion": "agree"}, where={"reviewer": "chen"}, then=("Task_sign",)),
          Complete("Task_sign", {"opinion": "disagree"}, where={"reviewer": "li"}, then=("Task_sign",)),
          Complete("Task_sign", {"opinion": "agree"}, where={"reviewer": "wang"}, then=())],
         data={"opinions": ["agree", "disagree", "agree"], "agreed": 2}, path=("Script_count",),
         first_ready=("Task_sign",)),
    # -- call activity
    Case("call-activity", ("call_parent.bpmn", "call_child.bpmn"), "cf_call_parent", {"unit": "U7"},
         [Complete("Task_inspect", {"findings": 1}, then=("Task_confirm",)),
          Complete("Task_confirm", {"confirmed": True}, then=())],
         data={"grade": "pass", "request": {"unit": "U7", "items": 2}, "confirmed": True},
         path=("Script_prepare", "Call_inspection", "Task_inspect", "Script_grade", "Task_confirm"),
         first_ready=("Task_inspect",)),
    # -- boundary timers
    Case("timer-interrupting-fires", ("boundary_timer_interrupting.bpmn",), "cf_timer_interrupting", {},
         [Wait(H(0.5), then=("Task_review",)),
          Wait(H(1), then=("Task_escalation",)),
          Complete("Task_escalation", {"ruling": "extend"}, then=())],
         data={"path": "escalated", "ruling": "extend"},
         path=("Timer_deadline", "Script_mark_overdue", "Task_escalation", "End_escalated"),
         not_path=("Task_review", "Script_on_time"), first_ready=("Task_review",)),
    Case("timer-interrupting-cancelled", ("boundary_timer_interrupting.bpmn",), "cf_timer_interrupting", {},
         [Wait(H(0.25), then=("Task_review",)),
          Complete("Task_review", {"verdict": "ok"}, then=()),
          Wait(H(2), then=())],
         data={"path": "on_time", "verdict": "ok"}, path=("Task_review", "Script_on_time"),
         not_path=("Timer_deadline", "Script_mark_overdue", "Task_escalation")),
    Case("timer-non-interrupting-fires", ("boundary_timer_non_interrupting.bpmn",),
         "cf_timer_non_interrupting", {"reviewer": "zhao"},
         [Wait(H(1.5), then=("Task_review",)),
          Complete("Task_review", {"verdict": "approve"}, then=())],
         data={"closed": "approve", "reviewer": "zhao"},
         path=("Timer_reminder", "Script_remind", "End_reminded", "Task_review", "Script_close")),
    Case("timer-non-interrupting-cancelled", ("boundary_timer_non_interrupting.bpmn",),
         "cf_timer_non_interrupting", {"reviewer": "zhao"},
         [Complete("Task_review", {"verdict": "approve"}, then=()),
          Wait(H(3), then=())],
         data={"closed": "approve"}, path=("Task_review", "Script_close"),
         not_path=("Timer_reminder", "Script_remind")),
    # -- messages
    Case("message-catch", ("message_catch.bpmn",), "cf_message_catch", {"threshold": 60},
         [Send("inspection_result", {"passed": True, "score": 99}, refused=True, then=("Task_submit",)),
          Complete("Task_submit", {"unit": "U3"}, then=()),
          Send("inspection_result", {"passed": True, "score": 75, "inspector": "王工"}, then=())],
         data={"passed": True, "inspection": {"passed": True, "score": 75, "inspector": "王工"}, "unit": "U3"},
         path=("Catch_inspection_result", "Script_record")),
    Case("boundary-message-interrupts", ("boundary_message.bpmn",), "cf_boundary_message", {},
         [Send("withdraw", {"reason": "merged with another unit"}, then=())],
         data={"outcome": "withdrawn: merged with another unit"},
         path=("Message_withdrawn", "Script_withdraw", "End_withdrawn"),
         not_path=("Task_review", "Script_decided")),
    Case("boundary-message-not-sent", ("boundary_message.bpmn",), "cf_boundary_message", {},
         [Complete("Task_review", {"verdict": "listed"}, then=()),
          Send("withdraw", {"reason": "too late"}, refused=True, then=())],
         data={"outcome": "decided: listed"}, path=("Task_review", "Script_decided"),
         not_path=("Message_withdrawn", "Script_withdraw")),
    # -- event subprocesses
    Case("event-subprocess-message", ("event_subprocess.bpmn",), "cf_event_subprocess", {},
         [Send("complaint", {"text": "noise at night"}, then=("Task_main",)),
          Send("complaint", {"text": "dust"}, then=("Task_main",)),
          Complete("Task_main", {"decision": "keep"}, then=())],
         data={"closed_as": "decided", "decision": "keep"},
         path=("Script_log_complaint", "Script_log_complaint", "Task_main", "Script_close", "End_case"),
         absent=("last_complaint", "complaint")),
    Case("event-subprocess-timer-while-open", ("event_subprocess_timer.bpmn",), "cf_event_subprocess_timer", {},
         [Wait(H(1), then=("Task_main",), status="running"),
          Wait(H(1.5), then=("Task_main",), status="running"),
          Complete("Task_main", {"decision": "keep"}, then=())],
         data={"closed_as": "decided"},
         path=("Script_remind", "Task_main", "Script_close")),
    Case("event-subprocess-timer-outlives-main", ("event_subprocess_timer.bpmn",), "cf_event_subprocess_timer", {},
         [Complete("Task_main", {"decision": "keep"}, then=(), status="waiting"),
          Wait(H(1), then=(), status="waiting"),
          Wait(H(1.5), then=())],
         data={"closed_as": "decided"},
         path=("Task_main", "Script_close", "Script_remind")),
    # -- script tasks
    Case("script-tasks", ("script_task.bpmn",), "cf_script", METERS, [],
         data={"total": 2350, "by_site": {"north": 1550, "south": 800}, "largest": "north",
               "grade": "B", "deadline": "2027-03-29"},
         path=("Script_totals", "Script_grade"), first_ready=()),
    # -- business rule task (DMN)
    *[Case(f"business-rule-{level}-{'first' if first else 'again'}", ("business_rule.bpmn", "award_by_level.dmn"),
           "cf_business_rule", {},
           [Complete("Task_level", {"level": level, "first_time": first}, then=())],
           data={"award": award, "tier": tier, "notice": f"{level}: {award} yuan"},
           path=("Rule_award", "Script_notice"))
      for level, first, award, tier in [
          ("national", True, 500000, "gold"),
          ("national", False, 200000, "gold"),
          ("municipal_plus", True, 100000, "silver"),
          ("county", False, 0, "none"),
      ]],
    # -- signals (thrown inside the case: the engine takes no signal from outside)
    Case("signal-throw-catch", ("signal_throw_catch.bpmn",), "cf_signal", {"notice_ends": "2027-04-15"},
         [Complete("Task_publish_notice", {"channel": "website"}, then=())],
         data={"objections_until": "2027-04-15", "notice": {"ends_on": "2027-04-15"}},
         path=("Throw_notice_published", "Catch_notice_published", "Script_open_objections", "Gateway_join"),
         first_ready=("Task_publish_notice",)),
    Case("signal-boundary-interrupts", ("signal_boundary.bpmn",), "cf_signal_boundary", {},
         [Complete("Task_applicant", {"withdraw": True}, then=())],
         data={"outcome": "withdrawn"},
         path=("Throw_withdrawn", "Signal_withdrawn_caught", "Script_withdrawn", "End_withdrawn"),
         not_path=("Task_review", "Script_decided"), first_ready=("Task_applicant", "Task_review")),
    Case("signal-boundary-not-thrown", ("signal_boundary.bpmn",), "cf_signal_boundary", {},
         [Complete("Task_applicant", {"withdraw": False}, then=("Task_review",)),
          Complete("Task_review", {"verdict": "listed"}, then=())],
         data={"outcome": "decided: listed"}, path=("End_applicant_kept", "Script_decided"),
         not_path=("Throw_withdrawn", "Signal_withdrawn_caught", "Script_withdrawn")),
    Case("signal-event-subprocess", ("signal_event_subprocess.bpmn",), "cf_signal_event_subprocess", {"unit": "U9"},
         [Complete("Task_draft", {"change": "quota 5 to 4"}, then=("Task_review",)),
          Complete("Task_review", {"verdict": "ok"}, then=())],
         data={"change": "quota 5 to 4", "verdict": "ok"},
         path=("Throw_rules_changed", "Start_rules_changed", "Script_log_change", "Task_review")),
    # -- escalation events
    Case("escalation-minor-does-not-interrupt", ("escalation.bpmn",), "cf_escalation", {"unit": "U2"},
         [Complete("Task_inspect", {"severity": "minor"}, then=("Task_sign_report",)),
          Complete("Task_sign_report", {"signed": True}, then=())],
         data={"result": "passed", "signed": True},
         path=("Throw_minor", "Escalation_minor_caught", "Script_note_minor", "Task_sign_report", "Script_passed"),
         not_path=("Escalation_serious_caught", "Task_province_rules")),
    Case("escalation-serious-interrupts", ("escalation.bpmn",), "cf_escalation", {"unit": "U2"},
         [Complete("Task_inspect", {"severity": "serious"}, then=("Task_province_rules",)),
          Complete("Task_province_rules", {"ruling": "suspend"}, then=())],
         data={"ruling": "suspend"}, absent=("result",),
         path=("End_serious", "Escalation_serious_caught", "Task_province_rules", "End_escalated"),
         not_path=("Task_sign_report", "Script_passed", "Escalation_minor_caught")),
    # -- errors: error end events caught by error boundary events
    Case("error-boundary-caught", ("error_boundary.bpmn",), "cf_error_boundary", {},
         [Complete("Task_check_documents", {"missing": ["energy audit"]}, then=("Task_supplement",)),
          Complete("Task_supplement", {"supplied": ["energy audit"]}, then=())],
         data={"accepted": True, "supplied": ["energy audit"]},
         path=("End_documents_missing", "Error_caught", "Task_supplement", "Script_accept"),
         not_path=("Sub_end",)),
    Case("error-boundary-not-thrown", ("error_boundary.bpmn",), "cf_error_boundary", {},
         [Complete("Task_check_documents", {"missing": []}, then=())],
         data={"accepted": True}, path=("Sub_end", "Sub_completeness", "Script_accept"),
         not_path=("End_documents_missing", "Error_caught", "Task_supplement")),
    Case("error-from-call-activity", ("error_call_parent.bpmn", "error_call_child.bpmn"), "cf_error_call_parent",
         {"quota": 5},
         [Complete("Task_confirm_places", {"used": 6}, then=())],
         data={"status_note": "waiting list"},
         path=("End_over_quota", "Error_over_quota_caught", "Script_waiting_list"),
         not_path=("Script_recommend", "Child_end")),
    Case("call-activity-without-error", ("error_call_parent.bpmn", "error_call_child.bpmn"), "cf_error_call_parent",
         {"quota": 5},
         [Complete("Task_confirm_places", {"used": 3}, then=())],
         data={"status_note": "recommended with 2 places left", "remaining": 2},
         path=("Child_end", "Call_quota_check", "Script_recommend"), not_path=("Script_waiting_list",)),
    # -- event-based gateway
    Case("event-gateway-message-first", ("event_based_gateway.bpmn",), "cf_event_gateway", {},
         [Complete("Task_request_materials", {"asked_for": "meter data"}, then=(), status="waiting"),
          Wait(H(1), then=(), status="waiting"),
          Send("materials_supplemented", {"files": ["a.pdf", "b.pdf"]}, then=())],
         data={"outcome": "received 2 files"}, path=("Catch_materials", "Script_received"),
         not_path=("Timer_limit", "Script_lapsed")),
    Case("event-gateway-timer-first", ("event_based_gateway.bpmn",), "cf_event_gateway", {},
         [Complete("Task_request_materials", {"asked_for": "meter data"}, then=(), status="waiting"),
          Wait(H(2.5), then=()),
          Send("materials_supplemented", {"files": ["late.pdf"]}, refused=True, then=())],
         data={"outcome": "lapsed"}, path=("Timer_limit", "Script_lapsed"),
         not_path=("Catch_materials", "Script_received")),
    # -- transaction and cancel
    Case("transaction-completes", ("transaction.bpmn",), "cf_transaction", {"award": 500000, "unit": "U4"},
         [Complete("Task_approve_payment", {"approved": True}, then=())],
         data={"ledger": "paid 500000"}, path=("Script_prepare_payment", "Tx_end", "Script_paid"),
         not_path=("End_cancel", "Cancel_caught", "Script_cancelled")),
    Case("transaction-cancelled", ("transaction.bpmn",), "cf_transaction", {"award": 500000, "unit": "U4"},
         [Complete("Task_approve_payment", {"approved": False}, then=())],
         data={"ledger": "payment cancelled"}, path=("End_cancel", "Cancel_caught", "Script_cancelled"),
         not_path=("Tx_end", "Script_paid")),
    # -- terminate end event
    Case("terminate-ends-parallel-work", ("terminate_end.bpmn",), "cf_terminate", {},
         [Complete("Task_ecology_review", {"veto": True}, then=())],
         data={"outcome": "vetoed by ecology"}, path=("Script_vetoed", "End_terminate"),
         not_path=("Task_energy_review", "Script_passed"), first_ready=("Task_ecology_review", "Task_energy_review")),
    Case("terminate-not-reached", ("terminate_end.bpmn",), "cf_terminate", {},
         [Complete("Task_ecology_review", {"veto": False}, then=("Task_energy_review",)),
          Complete("Task_energy_review", {"ok": True}, then=())],
         data={"outcome": "passed"}, path=("Gateway_join", "Script_passed"), not_path=("End_terminate",)),
    # -- timers: cycle, start event, date and duration catch events
    Case("timer-cycle-fires-three-times", ("timer_cycle.bpmn",), "cf_timer_cycle", {"unit": "U6"},
         [Wait(H(1.25), then=("Task_report_rectification",)),
          Wait(H(1), then=("Task_report_rectification",)),
          Wait(H(1), then=("Task_report_rectification",)),
          Wait(H(5), then=("Task_report_rectification",)),
          Complete("Task_report_rectification", {"report": "done"}, then=())],
         data={"closed": True, "report": "done"},
         path=("Script_remind", "Script_remind", "Script_remind", "End_reminded", "Script_close")),
    Case("timer-cycle-cut-short", ("timer_cycle.bpmn",), "cf_timer_cycle", {"unit": "U6"},
         [Wait(H(1.5), then=("Task_report_rectification",)),
          Complete("Task_report_rectification", {"report": "done"}, then=()),
          Wait(H(4), then=())],
         data={"closed": True}, path=("Script_remind", "Script_close")),
    Case("timer-start-event", ("timer_start.bpmn",), "cf_timer_start", {"unit": "U8"},
         [Wait(H(0.5), then=(), status="waiting"),
          Wait(H(0.75), then=("Task_file",), status="running"),
          Complete("Task_file", {"table": "2026 dynamic table"}, then=())],
         data={"table": "2026 dynamic table", "unit": "U8"}, path=("Start_window_opens", "Task_file"),
         first_ready=()),
    Case("timer-date-then-duration", ("timer_date.bpmn",), "cf_timer_date", {"opens_on": "2026-03-31T09:00:00+08:00"},
         [Wait(timedelta(days=28), then=(), status="waiting"),
          Wait(timedelta(days=1, hours=1), then=()),
          Wait(timedelta(hours=23), then=()),
          Wait(timedelta(hours=1.5), then=("Task_close",)),
          Complete("Task_close", {}, then=())],
         data={"stage": "open"}, path=("Timer_opens_on", "Script_opened", "Timer_one_day", "Task_close"),
         first_ready=()),
    # -- data objects and io specifications
    Case("data-objects", ("data_objects.bpmn",), "cf_data_objects", {"unit": "U3"},
         [Complete("Task_confirm_report", {"confirmed": True}, then=())],
         data={"grade": "A", "confirmed": True, "data_objects": {"inspection_report": {"unit": "U3", "score": 82}}},
         path=("Script_write_report", "Task_confirm_report", "Script_grade"), not_path=("Script_low",),
         first_ready=("Task_confirm_report",)),
    Case("io-spec-on-task", ("io_spec_task.bpmn",), "cf_io_spec_task", {"unit": "U1"},
         [Complete("Task_enter_figures", {"energy_use": 1200, "output_value": 5000}, then=("Task_review",)),
          Complete("Task_review", {"accepted": True}, then=())],
         data={"intensity": 0.24, "accepted": True}, absent=("ratio", "energy_use", "unit"),
         path=("Script_intensity", "Task_review")),
    Case("io-spec-of-called-process", ("io_spec_parent.bpmn", "io_spec_child.bpmn"), "cf_io_spec_parent",
         {"indicators": {"energy": 30, "water": 25, "waste": 20}, "unit": "U2"},
         [Complete("Task_expert_remark", {"remark": "meters calibrated"}, then=("Task_accept_score",)),
          Complete("Task_accept_score", {"accepted": True}, then=())],
         data={"score": 75, "unit": "U2"}, absent=("remark",),
         path=("Task_expert_remark", "Script_score", "Call_score", "Task_accept_score")),
    # -- standard loops
    Case("loop-until-accepted", ("standard_loop_after.bpmn",), "cf_loop_after", {},
         [Complete("Task_submit_plan", {"plan_accepted": False, "plan": "v1"}, then=("Task_submit_plan",)),
          Complete("Task_submit_plan", {"plan_accepted": True, "plan": "v2"}, then=())],
         data={"outcome": "accepted", "plan": "v2"}, path=("Task_submit_plan",) * 2 + ("Script_outcome",)),
    Case("loop-stops-at-maximum", ("standard_loop_after.bpmn",), "cf_loop_after", {},
         [Complete("Task_submit_plan", {"plan_accepted": False, "plan": f"v{n}"}, then=("Task_submit_plan",) if n < 3
                   else ()) for n in (1, 2, 3)],
         data={"outcome": "rejected after three plans", "plan": "v3"}, path=("Task_submit_plan",) * 3),
    Case("loop-tested-before-runs-twice", ("standard_loop_before.bpmn",), "cf_loop_before",
         {"visits": [], "required_visits": 2},
         [Complete("Task_sign_off", {}, then=())],
         data={"visits": ["visit 1", "visit 2"]}, first_ready=("Task_sign_off",)),
    Case("loop-tested-before-runs-never", ("standard_loop_before.bpmn",), "cf_loop_before",
         {"visits": [], "required_visits": 0},
         [Complete("Task_sign_off", {}, then=())],
         data={"visits": []}, first_ready=("Task_sign_off",)),
    # -- multi-instance: every input and output form
    Case("multi-instance-cardinality", ("mi_parallel_cardinality.bpmn",), "cf_mi_cardinality", {"inspector_count": 2},
         [Complete("Task_inspect", {"report": {"findings": 3}}, where={"slot": 1}, then=("Task_inspect",)),
          Complete("Task_inspect", {"report": {"findings": 1}}, where={"slot": 0}, then=())],
         data={"findings": 4, "reports": [{"findings": 3}, {"findings": 1}]},
         path=("Task_inspect", "Script_collect"), first_ready=("Task_inspect",) * 2),
    Case("multi-instance-sequential-cardinality", ("mi_sequential_cardinality.bpmn",), "cf_mi_seq_cardinality",
         {"samples_taken": 0},
         [Complete("Task_rounds", {"rounds": 3}, then=())],
         data={"rounds": 3}, path=("Script_sample",) * 3),
    Case("multi-instance-completion-veto", ("mi_parallel_completion.bpmn",), "cf_mi_completion", EXPERTS,
         [Complete("Task_vote", {"vote": "agree"}, where={"expert": "expert_a"}, then=("Task_vote",) * 2),
          Complete("Task_vote", {"vote": "veto"}, where={"expert": "expert_c"}, then=())],
         data={"result": "vetoed", "votes": ["agree", "veto"]}, path=("Script_result",)),
    Case("multi-instance-completion-not-met", ("mi_parallel_completion.bpmn",), "cf_mi_completion", EXPERTS,
         [Complete("Task_vote", {"vote": "agree"}, where={"expert": e}) for e in ("expert_b", "expert_a", "expert_c")],
         data={"result": "passed", "votes": ["agree", "agree", "agree"]}, path=("Script_result",)),
    Case("multi-instance-sequential-completion", ("mi_sequential_completion.bpmn",), "cf_mi_seq_completion",
         {"sites": ["north", "south", "east"]},
         [Complete("Task_check_site", {"violation": False}, where={"site": "north"}, then=("Task_check_site",)),
          Complete("Task_check_site", {"violation": True}, where={"site": "south"}, then=())],
         data={"sites_checked": 2, "violation_found": True, "checks": [False, True]}, path=("Script_result",)),
    Case("multi-instance-dict-and-in-place", ("mi_dict_collections.bpmn",), "cf_mi_dict",
         {"quotas": {"620100": 2, "620200": 1}, "scores": [6, 8, 7]},
         [Complete("Task_city_recommends", {"units": ["U1"]}, where={"places": 1}, then=("Task_city_recommends",)),
          Complete("Task_city_recommends", {"units": ["U2", "U3"]}, where={"places": 2}, then=())],
         data={"recommended": {"620100": ["U2", "U3"], "620200": ["U1"]}, "scores": [60, 80, 70]},
         path=("Script_scale",) * 3),
    Case("multi-instance-subprocess", ("mi_subprocess.bpmn",), "cf_mi_subprocess", {"units": ["U1", "U2"]},
         [Complete("Task_review_unit", {"score": 50}, where={"unit": "U2"}, then=("Task_review_unit",)),
          Complete("Task_review_unit", {"score": 75}, where={"unit": "U1"}, then=())],
         data={"conclusions": ["U2: not listed", "U1: listed"]},  # in the order they finished
         path=("Task_review_unit", "Task_review_unit", "Script_conclude", "Script_conclude"),
         first_ready=("Task_review_unit",) * 2),
    # -- call activities nested three deep
    Case("nested-call-activities", ("nested_call_top.bpmn", "nested_call_middle.bpmn", "nested_call_leaf.bpmn"),
         "cf_nested_top", {"unit": "U5"},
         [Complete("Task_declare", {"declared_level": "provincial"}, then=("Task_city_review",)),
          Complete("Task_city_review", {"recommend": True}, then=())],
         data={"provincial_list": [{"unit": "U5", "declared": "provincial", "recommended": True}]},
         path=("Task_declare", "Call_declaration", "Task_city_review", "Call_city_round", "Script_provincial_list"),
         first_ready=("Task_declare",)),
    # -- manual task; pre- and post-scripts
    Case("manual-task-and-pre-post-scripts", ("manual_task.bpmn",), "cf_manual", {"unit": "U4"},
         [Complete("Task_post_notice", {"posted_at": "gate"}, then=("Task_record_objections",)),
          Complete("Task_record_objections", {"objections": ["noise", "dust"]}, then=())],
         data={"objection_form": "objections to U4", "objection_count": 2, "posted_at": "gate"},
         path=("Task_post_notice", "Task_record_objections"), first_ready=("Task_post_notice",)),
    # -- boundary events on an embedded subprocess
    Case("subprocess-message-boundary-keeps-it", ("subprocess_boundaries.bpmn",), "cf_subprocess_boundaries", {},
         [Send("query", {"text": "which meter?"}, then=("Task_energy_review", "Task_water_review")),
          Complete("Task_water_review", {"water_ok": True}, then=("Task_energy_review",)),
          Complete("Task_energy_review", {"energy_ok": True}, then=())],
         data={"outcome": "reviewed", "energy_ok": True, "water_ok": True},
         path=("Message_query_caught", "Script_log_query", "Sub_join", "Script_reviewed"),
         not_path=("Timer_review_limit", "Script_timed_out"),
         first_ready=("Task_energy_review", "Task_water_review")),
    Case("subprocess-timer-boundary-interrupts", ("subprocess_boundaries.bpmn",), "cf_subprocess_boundaries", {},
         [Complete("Task_water_review", {"water_ok": True}, then=("Task_energy_review",)),
          Wait(H(4.5), then=()),
          Send("query", {"text": "too late"}, refused=True, then=())],
         data={"outcome": "review timed out"}, path=("Task_water_review", "Timer_review_limit", "Script_timed_out"),
         not_path=("Task_energy_review", "Sub_join", "Script_reviewed")),
    # -- messages: correlation, send task, message end event
    Case("message-correlation", ("message_correlation.bpmn",), "cf_correlation", {},
         [Send("sampling_order", {"unit": "U5", "sampler": "李工"}, then=("Task_take_sample",)),
          # a message from outside carries no correlation: once the conversation has a key, it is not caught
          Send("sample_result", {"unit": "U5", "cod": 10}, refused=True, then=("Task_take_sample",)),
          Complete("Task_take_sample", {"cod": 42}, then=())],
         data={"compliant": True, "result": {"unit": "U5", "cod": 42}},
         path=("Receive_sampling_order", "Throw_sample_result", "Catch_sample_result", "Script_judge"),
         first_ready=()),
    Case("send-task-and-message-end", ("send_task.bpmn",), "cf_send", {"unit": "U2"},
         [Complete("Task_decide", {"decision": "listed"}, then=())],
         data={"decision": "listed"}, path=("Send_decision", "End_closed"),
         sent=(("decision_issued", {"unit": "U2", "decision": "listed"}), ("case_closed", {"unit": "U2"}))),
]

PARAMS = [pytest.param(c, id=c.id) for c in CASES]


# ---------------------------------------------------------------------- what we compare
def canon(value):
    """Plain JSON (raises on anything JSON cannot hold)."""
    return json.loads(json.dumps(value, sort_keys=True, ensure_ascii=False))


def _all_tasks(wf: BpmnWorkflow):
    yield from wf.tasks.values()
    for sp in wf.subprocesses.values():
        yield from sp.tasks.values()


def _label(task) -> str:
    return task.task_spec.bpmn_id or task.task_spec.name


def completed_elements(wf: BpmnWorkflow) -> Counter:
    return Counter(t.task_spec.bpmn_id for t in _all_tasks(wf)
                   if t.state == TaskState.COMPLETED and t.task_spec.bpmn_id)


def task_states(wf: BpmnWorkflow) -> Counter:
    return Counter((_label(t), TaskState.get_name(t.state)) for t in _all_tasks(wf))


def ready_human(wf: BpmnWorkflow):
    return wf.get_tasks(state=TaskState.READY, manual=True)


def waiting_timers(wf: BpmnWorkflow) -> list:
    due = []
    for task in wf.get_tasks(state=TaskState.WAITING):
        event = getattr(task.task_spec, "event_definition", None)
        # an event-based gateway waits on its timer itself
        events = event.event_definitions if isinstance(event, MultipleEventDefinition) else [event]
        if any(isinstance(e, TimerEventDefinition) for e in events) and "event_value" in task.internal_data:
            value = task.internal_data["event_value"]
            if isinstance(value, dict):
                value = value["next"]
            at = TimerEventDefinition.get_datetime(value).astimezone(UTC)
            due.append((task.task_spec.bpmn_id, at.isoformat()))
    return sorted(due)


def status_of(wf: BpmnWorkflow) -> str:
    if wf.is_completed():
        return "completed"
    if wf.get_tasks(state=TaskState.ERROR):
        return "error"
    return "running" if ready_human(wf) else "waiting"


def visible_data(wf: BpmnWorkflow) -> dict:
    """A finished case's data is the workflow's; a running one's adds its last task's."""
    data = dict(wf.data)
    if not wf.is_completed() and wf.last_task is not None:
        data.update(wf.last_task.data)
    return canon(data)


def full_dump(wf: BpmnWorkflow) -> dict:
    """Everything a restore must bring back, keyed by task id (same ids on both sides)."""
    def workflow(w):
        return {"data": canon(w.data), "last_task": str(w.last_task.id) if w.last_task else None,
                "completed": w.completed, "success": w.success, "correlations": canon(w.correlations)}

    out = {"top": workflow(wf), "subprocesses": {str(k): workflow(v) for k, v in wf.subprocesses.items()},
           "bpmn_events": len(wf.bpmn_events), "tasks": {}}
    for task in _all_tasks(wf):
        out["tasks"][str(task.id)] = {
            "spec": task.task_spec.name, "workflow": str(task.workflow.task_tree.id),
            "state": TaskState.get_name(task.state), "parent": str(task._parent),
            "children": [str(c) for c in task._children], "triggered": task.triggered,
            "last_state_change": task.last_state_change,
            "data": canon(task.data), "internal_data": canon(CONVERTERS.convert(task.internal_data)),
        }
    return out


def _differences(kept: dict, restored: dict) -> list:
    """What differs between two full dumps, readably: (where, kept, restored)."""
    out = [(k, kept[k], restored.get(k)) for k in kept if k != "tasks" and kept[k] != restored.get(k)]
    for tid in sorted(set(kept["tasks"]) | set(restored["tasks"])):
        a, b = kept["tasks"].get(tid), restored["tasks"].get(tid)
        if a is None or b is None:
            out.append((tid, a, b))
            continue
        out += [(f"{a['spec']} {tid} {f}", a[f], b.get(f)) for f in a if a[f] != b.get(f)]
    return out


@dataclass
class View:
    status: str
    data: dict
    ready: list  # (element, task data) per ready human task
    timers: list  # (element, due in UTC)
    completed: Counter
    states: Counter


def _matches(data: dict, where: dict | None) -> bool:
    return all(data.get(k) == v for k, v in (where or {}).items())


# ---------------------------------------------------------------------- the two runs
class Memory:
    """Plain SpiffWorkflow, nothing stored."""

    def __init__(self, files: dict[str, bytes], process: str):
        parser = SpiffBpmnParser()
        for name, content in files.items():
            if name.endswith(".dmn"):
                parser.add_dmn_str(content, filename=name)
            else:
                parser.add_bpmn_str(content, filename=name)
        self.wf = BpmnWorkflow(parser.get_spec(process), parser.get_subprocess_specs(process),
                               script_engine=make_script_engine())

    def start(self, data):
        self.wf.task_tree.set_data(**data)
        self.wf.do_engine_steps()

    def complete(self, step: Complete):
        [task] = [t for t in ready_human(self.wf)
                  if t.task_spec.bpmn_id == step.element and _matches(t.data, step.where)]
        task.set_data(**step.data)
        task.run()
        self.wf.do_engine_steps()

    def wake(self):
        self.wf.refresh_timers()
        self.wf.do_engine_steps()

    def send(self, step: Send):
        self.wf.send_event(BpmnEvent(MessageEventDefinition(step.name), payload=step.payload))
        self.wf.do_engine_steps()

    def view(self) -> View:
        wf = self.wf
        ready = _sorted((t.task_spec.bpmn_id, canon(t.data)) for t in ready_human(wf))
        return View(status_of(wf), visible_data(wf), ready, waiting_timers(wf),
                    completed_elements(wf), task_states(wf))


def _sorted(pairs):
    return sorted(pairs, key=lambda p: (p[0], json.dumps(p[1], sort_keys=True)))


class Persisted:
    """The engine: every step through Runtime, every next step from the database."""

    def __init__(self, runtime, files: dict[str, bytes], process: str):
        self.rt = runtime
        self.process = process
        runtime.registry.deploy(files, actor=ACTOR.name, note="conformance")
        self.id = None

    def instance(self) -> ProcessInstance:
        db.session.expire_all()
        return db.session.get(ProcessInstance, self.id)

    def restored(self) -> BpmnWorkflow:
        """The workflow as the database holds it (the cache is empty here)."""
        return self.rt._load(self.instance()).workflow

    def _settled(self):
        """The workflow the step left in the cache must be exactly what a reload gives."""
        inst = self.instance()
        live = self.rt._cached(inst.id, inst.revision)
        assert live is not None, "a successful step leaves its workflow in the cache"
        kept = full_dump(live.workflow)
        self.rt.forget()
        restored = full_dump(self.restored())
        assert restored == kept, f"save and restore lost or changed: {_differences(kept, restored)}"

    def start(self, data):
        self.id = self.rt.start(self.process, dict(data), ACTOR).id
        self._settled()

    def complete(self, step: Complete):
        rows = db.session.scalars(db.select(HumanTask).where(
            HumanTask.instance_id == self.id, HumanTask.element == step.element)).all()
        wf = self.restored()
        [row] = [r for r in rows if _matches(wf.get_task_from_id(UUID(r.id)).data, step.where)]
        self.rt.complete(row.id, dict(step.data), ACTOR)
        self._settled()

    def wake(self):
        self.rt.fire_timers(self.id)
        self._settled()

    def send(self, step: Send):
        self.rt.send_message(self.id, step.name, dict(step.payload), ACTOR)
        self._settled()

    def view(self) -> View:
        inst = self.instance()
        wf = self.restored()
        rows = db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == self.id)).all()
        # The inbox index is exactly the restored workflow's ready human work.
        assert sorted(r.id for r in rows) == sorted(str(t.id) for t in ready_human(wf))
        for r in rows:
            assert r.element == wf.get_task_from_id(UUID(r.id)).task_spec.bpmn_id
        ready = _sorted((r.element, canon(wf.get_task_from_id(UUID(r.id)).data)) for r in rows)
        timers = sorted((t.element, t.due_at.astimezone(UTC).isoformat()) for t in db.session.scalars(
            db.select(PendingTimer).where(PendingTimer.instance_id == self.id)))
        # So is the timer table: one row per waiting timer, due when the workflow says.
        assert timers == waiting_timers(wf)
        due = min((t[1] for t in timers), default=None)
        assert (inst.next_timer_at.astimezone(UTC).isoformat() if inst.next_timer_at else None) == due
        return View(inst.status, canon(inst.data), ready, timers, completed_elements(wf), task_states(wf))


# ---------------------------------------------------------------------- the test
def _files(names) -> dict[str, bytes]:
    return {n: (DIAGRAMS / n).read_bytes() for n in names}


def _agree(where: str, memory: Memory, persisted: Persisted, then, status=None) -> View:
    mem, per = memory.view(), persisted.view()
    assert per.status == mem.status, where
    assert per.data == mem.data, where
    assert per.ready == mem.ready, where
    assert per.timers == mem.timers, where
    assert per.completed == mem.completed, where
    assert per.states == mem.states, where
    if then is not None:
        assert sorted(e for e, _ in mem.ready) == sorted(then), where
    if status is not None:
        assert mem.status == status, where
    return mem


@pytest.mark.parametrize("case", PARAMS)
def test_persisted_engine_runs_like_plain_spiffworkflow(runtime, case: Case):
    files = _files(case.files)
    check = runtime.registry.check(files)
    assert check.errors == [], [str(f) for f in check.errors]
    assert case.process in check.processes

    # Plain SpiffWorkflow runs on a new parse; so must the engine. The process keeps parsed
    # versions by content, and SpiffWorkflow changes a spec once an event subprocess was
    # triggered on it: the same diagram run by an earlier test (the other database's) would
    # predict one more branch from its start (see Registry.forget_parsed).
    runtime.registry.forget_parsed()
    memory, persisted = Memory(files, case.process), Persisted(runtime, files, case.process)
    memory.start(case.start)
    persisted.start(case.start)
    view = _agree("after start", memory, persisted, case.first_ready)

    for n, step in enumerate(case.steps, 1):
        where = f"after step {n}: {step}"
        if isinstance(step, Complete):
            memory.complete(step)
            persisted.complete(step)
        elif isinstance(step, Wait):
            clock.current().advance(step.delta)
            memory.wake()
            persisted.wake()
        elif step.refused:
            before = persisted.instance().revision
            with pytest.raises(WorkflowException, match="not waiting for"):
                memory.send(step)
            # The engine refuses it as a conflict (HTTP 409), and the refusal changes nothing.
            with pytest.raises(Conflict):
                persisted.send(step)
            assert persisted.instance().revision == before, "a refused message changes nothing"
        else:
            memory.send(step)
            persisted.send(step)
        view = _agree(where, memory, persisted, step.then, step.status)

    # What the case itself says must happen (both runs agree by now).
    assert view.status == case.status
    if case.status == "completed":
        assert memory.wf.is_completed()
        assert view.data == canon(memory.wf.data)
        assert view.ready == [] and view.timers == []
    missing = {k: view.data.get(k, "<missing>") for k, v in case.data.items() if view.data.get(k) != v}
    assert not missing, f"final data differs from the expected {case.data}: {missing}"
    assert [k for k in case.absent if k in view.data] == []
    required = Counter(case.path)
    assert {e: view.completed[e] for e in required if view.completed[e] < required[e]} == {}, \
        f"expected elements did not run (often enough): {dict(required)}"
    assert [e for e in case.not_path if view.completed[e]] == [], "elements ran that should not have"
    # What the case sent out is kept with it, as SpiffWorkflow keeps it, until a caller collects it.
    def messages(wf):
        return [(e.event_definition.name, e.payload) for e in wf.bpmn_events
                if isinstance(e.event_definition, MessageEventDefinition)]
    assert messages(memory.wf) == list(case.sent)
    assert messages(persisted.restored()) == list(case.sent)


# What the engine refuses by design: each diagram is refused when an analyst deploys it, every
# element it cannot run named with its file, line and the reason (element: words of the reason).
REFUSED = {
    "refused_compensation.bpmn": {"Compensate_payment": "不支持补偿事件",
                                  "Throw_compensate": "不支持补偿事件"},
    "refused_link_events.bpmn": {"Link_to_archive": "不支持链接事件",
                                 "Link_archive": "不支持链接事件"},
    "refused_conditional_event.bpmn": {"Catch_under_limit": "此处不支持条件事件"},
    "refused_complex_gateway.bpmn": {"Gateway_two_of_three": "不支持复杂网关"},
    "refused_data_store.bpmn": {"Ref_register": "不支持数据存储"},
    "refused_ad_hoc_subprocess.bpmn": {"AdHoc_evidence": "不支持自由子流程"},
    "refused_error_start_event.bpmn": {"Start_falsified": "不支持错误开始事件「Start_falsified」"},
    "refused_signal_end_event.bpmn": {"End_published": "不支持信号结束事件「Published」"},
}


def test_what_the_engine_cannot_run_is_refused_at_deploy_with_its_reason(client, users):
    # one test for all of them: each is a request, and a test's own set-up costs more on PostgreSQL
    analyst = users("ana", "analyst")
    for name, expected in sorted(REFUSED.items()):
        content = (DIAGRAMS / name).read_bytes()
        r = upload(client, analyst, (name, content))
        assert r.status_code == 422, (name, r.json)
        errors = {}
        for e in r.json["errors"]:
            errors.setdefault(e["element"], []).append(e)
        doc = etree.fromstring(content)
        for element, reason in expected.items():
            [node] = doc.xpath("//*[@id=$i]", i=element)
            named = [e for e in errors.get(element, []) if reason in e["message"]]
            assert named, (name, element, r.json["errors"])
            # on the element's own lines (an event definition is reported where it is written)
            assert all(e["file"] == name and e["line"] in {n.sourceline for n in node.iter()} for e in named), name
    assert db.session.scalar(db.select(db.func.count()).select_from(ModelVersion)) == 0


# ====================================================================== error cases (issue 15)
# Diagrams whose data makes SpiffWorkflow fail (or stop with nothing left to move it). Plain
# SpiffWorkflow raises at an element, or just stops; the engine must fail at the same element
# and say so: the case held in `error` naming the element and the data, its step rolled back
# (no 500, nothing half-written), or, when a completion left out what the task must set, the
# submission refused (422) naming the field with the case unchanged. Then the correction
# (an administrator's retry with corrected data, or the submission again with the field)
# must run on exactly as plain SpiffWorkflow runs the corrected data from the start.
@dataclass
class ErrorCase:
    id: str
    file: str
    process: str
    start: dict
    element: str  # where both runs fail
    names: tuple[str, ...]  # the data the failure is about, named by the engine
    complete: dict | None = None  # the data the one ready task is completed with (None: fails at start)
    refused: tuple[str, ...] = ()  # the completion is refused (422) naming these fields
    stalls: bool = False  # SpiffWorkflow raises nothing: the case just has nothing left to move it
    fix: dict = field(default_factory=dict)  # the correction (retry data, or the fields submitted again)
    then: tuple[str, ...] = ()  # the ready human tasks after the correction


ERROR_CASES = [
    ErrorCase("mi-input-missing", "error_mi_input_missing.bpmn", "cf_err_mi_input_missing", {},
              "Task_review", ("experts",), fix={"experts": ["a", "b"]}, then=("Task_review",) * 2),
    ErrorCase("mi-input-not-a-list", "error_mi_input_not_list.bpmn", "cf_err_mi_input_not_list", {"experts": 5},
              "Task_review", ("experts",), fix={"experts": ["a"]}, then=("Task_review",)),
    ErrorCase("sequential-mi-input-missing", "error_sequential_mi_input_missing.bpmn", "cf_err_seq_mi_input_missing",
              {}, "Task_review", ("experts",), fix={"experts": ["a", "b"]}, then=("Task_review",)),
    ErrorCase("loop-condition-on-unset-data", "error_loop_condition_unset.bpmn", "cf_err_loop_condition", {},
              "Task_tally", ("rounds_left",), fix={"rounds_left": 0}),
    ErrorCase("join-nothing-can-complete", "error_stall_join.bpmn", "cf_err_stall_join", {"desk_only": False},
              "Gateway_join", (), stalls=True),
    ErrorCase("mi-output-item-not-set", "error_mi_output_item_not_set.bpmn", "cf_err_mi_output_item_not_set",
              {"experts": ["a"]}, "Task_review", ("score",), complete={}, refused=("score",), fix={"score": 7}),
    ErrorCase("data-object-not-set", "error_data_object_not_set.bpmn", "cf_err_data_object", {},
              "Task_inspect", ("findings",), complete={}, refused=("findings",), fix={"findings": "no leaks"}),
    ErrorCase("io-spec-output-missing", "error_io_spec_output_missing.bpmn", "cf_err_io_output", {},
              "Task_decide", ("verdict",), complete={"note": "seen"}, refused=("verdict",),
              fix={"verdict": "approve"}),
]


def _memory_failure(run) -> str:
    """Where plain SpiffWorkflow failed: the task its exception names (or, for a TypeError, the
    task spec method's `my_task`)."""
    with pytest.raises(Exception) as raised:  # noqa: B017 - whatever SpiffWorkflow raises is what is compared
        run()
    task = boundary.failing_task(raised.value)
    assert task is not None, f"plain SpiffWorkflow raised without a task: {raised.value!r}"
    return task.task_spec.bpmn_id


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in ERROR_CASES])
def test_a_diagram_that_fails_fails_at_the_same_element_and_recovers_like_plain_spiffworkflow(runtime, case):
    files = _files((case.file,))
    assert runtime.registry.check(files).errors == []
    memory, persisted = Memory(files, case.process), Persisted(runtime, files, case.process)

    if case.complete is None:  # fails (or stalls) on start
        if case.stalls:
            memory.start(case.start)
            assert not memory.wf.is_completed() and ready_human(memory.wf) == [] and waiting_timers(memory.wf) == []
            [waiting] = memory.wf.get_tasks(state=TaskState.WAITING)
            failed_at = waiting.task_spec.bpmn_id
        else:
            failed_at = _memory_failure(lambda: memory.start(case.start))
        persisted.start(case.start)
        inst = persisted.instance()
        assert (inst.status, inst.error_element) == ("error", failed_at) and failed_at == case.element
        assert all(name in inst.error_message for name in case.names), inst.error_message
        if case.stalls:
            assert "nothing can move this case" in inst.error_message
            return
        # rolled back to before the step: nothing of the half-run start was kept
        assert persisted.view().ready == [] and completed_elements(persisted.restored()) == Counter()
        revision = inst.revision
        # an administrator corrects the data and retries: the case runs as if started with it
        persisted.rt.retry(persisted.id, ACTOR, dict(case.fix), reason="the data was incomplete")
        persisted.rt.forget()
        corrected = Memory(files, case.process)
        corrected.start({**case.start, **case.fix})
    else:
        memory.start(case.start)
        persisted.start(case.start)
        _agree("after start", memory, persisted, None)
        step = Complete(ready_human(memory.wf)[0].task_spec.bpmn_id, case.complete)
        failed_at = _memory_failure(lambda: memory.complete(step))
        revision = persisted.instance().revision
        with pytest.raises(FormInvalid) as refused:
            persisted.complete(step)
        assert failed_at == case.element and sorted(refused.value.fields) == sorted(case.refused)
        assert all(case.element in m for ms in refused.value.fields.values() for m in ms)
        inst = persisted.instance()
        assert (inst.status, inst.revision) == ("running", revision), "a refused completion changes nothing"
        # the submitter gives what was missing: the case runs on as plain SpiffWorkflow does with it
        persisted.complete(Complete(step.element, {**case.complete, **case.fix}))
        corrected = Memory(files, case.process)
        corrected.start(case.start)
        corrected.complete(Complete(step.element, {**case.complete, **case.fix}))
    assert persisted.instance().revision > revision
    _agree("after the correction", corrected, persisted, case.then)


def test_every_diagram_is_exercised():
    used = {name for case in CASES for name in case.files} | {case.file for case in ERROR_CASES} | set(REFUSED)
    present = {p.name for p in DIAGRAMS.iterdir() if p.suffix in (".bpmn", ".dmn")}
    assert present == used
