"""Moving running cases between deployed versions (案件迁移): the dry run says,
case by case, whether a case can move and why not; the run moves each case in
its own step, with its inbox, its timers and an audit event, or leaves it be."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from conftest import MODELS, ROOT

from engine import case_migration, clock
from engine.audit import verify
from engine.db import db
from engine.errors import EngineError, Forbidden, NotFound
from engine.models import AuditEvent, HumanTask, InstanceTask, PendingTimer, ProcessInstance
from engine.runtime import Actor
from web.tasks.models import TaskDraft

V1, V2, V3 = (MODELS / f"rectification_v{n}.bpmn" for n in (1, 2, 3))
PROCESS = "rectification_check"
FIRM = Actor("firm", "applicant")
CITY = Actor("lz", "municipal", "620100")
EXPERT = Actor("expert-wang", "expert")
ANALYST = Actor("ana", "analyst")


def deploy(runtime, path, note=None) -> str:
    """Each version deployed under the same file name, as an analyst redeploys a diagram."""
    version, _ = runtime.registry.deploy({"rectification_check.bpmn": path.read_bytes()}, actor="ana", note=note)
    return version.id


def inbox(instance_id) -> list[HumanTask]:
    return db.session.scalars(db.select(HumanTask).where(HumanTask.instance_id == instance_id)
                              .order_by(HumanTask.element)).all()


def do(runtime, instance_id, actor, data=None):
    [task] = inbox(instance_id)
    return runtime.complete(task.id, data or {}, actor)


def case(instance_id) -> ProcessInstance:
    inst = db.session.get(ProcessInstance, instance_id)
    db.session.refresh(inst)
    return inst


def timers(instance_id):
    return db.session.execute(db.select(PendingTimer.task_id, PendingTimer.element, PendingTimer.due_at)
                              .where(PendingTimer.instance_id == instance_id)).all()


def stored_rows(instance_id):
    return dict(db.session.execute(db.select(InstanceTask.task_id, InstanceTask.body)
                                   .where(InstanceTask.instance_id == instance_id)).all())


@pytest.fixture
def cases(runtime):
    """Four cases of version 1, one at each kind of place:
    at_submit: the applicant's plan is due; at_review: the city reviews it;
    in_period: the 30-day rectification period runs (a timer); at_expert: the expert's opinion."""
    v1 = deploy(runtime, V1, "第一版")
    at_expert = runtime.start(PROCESS, {}, FIRM, "620100").id
    do(runtime, at_expert, FIRM)
    do(runtime, at_expert, CITY)
    clock.current().advance(timedelta(days=30, seconds=1))
    runtime.fire_timers(at_expert)
    assert [t.element for t in inbox(at_expert)] == ["Task_expert_opinion"]
    at_submit = runtime.start(PROCESS, {}, FIRM, "620100").id
    at_review = runtime.start(PROCESS, {}, FIRM, "620100").id
    do(runtime, at_review, FIRM, {"plan": "更换除尘设备"})
    in_period = runtime.start(PROCESS, {}, FIRM, "620100").id
    do(runtime, in_period, FIRM, {"plan": "更换除尘设备"})
    do(runtime, in_period, CITY)
    clock.current().advance(timedelta(days=10))  # the period has run for ten of its thirty days
    return {"v1": v1, "at_submit": at_submit, "at_review": at_review, "in_period": in_period, "at_expert": at_expert}


def by_case(report) -> dict:
    return {v.instance_id: v for v in report.cases}


def test_the_dry_run_says_which_cases_can_move_and_why_not(runtime, cases):
    v2 = deploy(runtime, V2, "删去专家意见，增加现场核查")
    before = {i: (stored_rows(i), case(i).revision) for i in (cases["at_submit"], cases["at_expert"])}

    report = case_migration.plan(runtime, ANALYST, PROCESS, cases["v1"], v2)

    verdicts = by_case(report)
    assert report.dry_run and report.counts == {"movable": 3, "migrated": 0, "blocked": 1, "skipped": 0, "failed": 0}
    assert verdicts[cases["at_submit"]].outcome == "movable"
    assert verdicts[cases["at_review"]].outcome == "movable"
    assert verdicts[cases["in_period"]].outcome == "movable"
    assert verdicts[cases["in_period"]].waiting_at == [
        {"element": "Timer_rectification_period", "name": "整改期30日 30-day rectification period"}]
    blocked = verdicts[cases["at_expert"]]
    assert blocked.outcome == "blocked"
    [why] = blocked.reasons
    assert (why.code, why.element) == ("removed_waiting", "Task_expert_opinion")
    assert "no longer has" in why.message and "专家意见" in why.message
    # a dry run writes nothing
    assert {i: (stored_rows(i), case(i).revision) for i in before} == before
    assert all(case(i).version_id == cases["v1"] for i in verdicts)


def test_moved_cases_follow_the_new_version_and_keep_their_place(runtime, cases):
    v2 = deploy(runtime, V2)
    period_timer = timers(cases["in_period"])
    review_task = inbox(cases["at_review"])[0]
    runtime.assign(review_task.id, CITY, CITY)  # claimed before the migration

    report = case_migration.run(runtime, ANALYST, PROCESS, cases["v1"], v2)

    verdicts = by_case(report)
    assert not report.dry_run
    assert {i: v.outcome for i, v in verdicts.items()} == {
        cases["at_submit"]: "migrated", cases["at_review"]: "migrated", cases["in_period"]: "migrated",
        cases["at_expert"]: "blocked"}
    for moved in ("at_submit", "at_review", "in_period"):
        assert case(cases[moved]).version_id == v2
    assert case(cases["at_expert"]).version_id == cases["v1"]

    # the inbox entry is the same row, still claimed; the timer keeps its due time
    [still] = inbox(cases["at_review"])
    assert (still.id, still.assignee, still.due_at) == (review_task.id, "lz", review_task.due_at)
    assert timers(cases["in_period"]) == period_timer

    # the new version's steps: after the review comes the site visit; after the period, verification
    do(runtime, cases["at_review"], CITY)
    assert [t.element for t in inbox(cases["at_review"])] == ["Task_site_visit"]
    [(_, _, due)] = period_timer
    clock.current().set(due)  # the period ends when it would have: not restarted by the migration
    runtime.fire_timers(cases["in_period"])
    assert inbox(cases["in_period"]) == []
    clock.current().advance(timedelta(seconds=1))
    runtime.fire_timers(cases["in_period"])
    assert [t.element for t in inbox(cases["in_period"])] == ["Task_verify"]
    do(runtime, cases["in_period"], CITY)
    assert case(cases["in_period"]).status == "completed"
    # the blocked case goes on in version 1, with its expert
    do(runtime, cases["at_expert"], EXPERT)
    assert [t.element for t in inbox(cases["at_expert"])] == ["Task_verify"]


def test_each_moved_case_has_a_migrate_event_and_the_chain_holds(runtime, cases):
    v2 = deploy(runtime, V2)
    case_migration.run(runtime, ANALYST, PROCESS, cases["v1"], v2)
    events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "migrate")
                                .order_by(AuditEvent.instance_id)).all()
    assert [e.instance_id for e in events] == sorted([cases["at_submit"], cases["at_review"], cases["in_period"]])
    detail = json.loads(events[0].detail)
    assert (events[0].actor, detail["from"], detail["to"]) == ("ana", cases["v1"], v2)
    [summary] = db.session.scalars(db.select(AuditEvent).where(AuditEvent.action == "migrate_cases")).all()
    assert json.loads(summary.detail)["blocked"] == [cases["at_expert"]]
    assert verify()[1] == []


def test_a_case_already_on_the_target_or_finished_is_skipped(runtime, cases):
    v2 = deploy(runtime, V2)
    on_v2 = runtime.start(PROCESS, {}, FIRM, "620100").id
    cancelled = cases["at_submit"]
    runtime.cancel(cancelled, FIRM)

    report = case_migration.run(runtime, ANALYST, PROCESS, cases["v1"], v2,
                                instance_ids=[on_v2, cancelled, cases["at_review"], 999999])

    verdicts = by_case(report)
    assert [r.code for r in verdicts[on_v2].reasons] == ["same_version"]
    assert [r.code for r in verdicts[cancelled].reasons] == ["finished"]
    assert [r.code for r in verdicts[999999].reasons] == ["missing"]
    assert {i: v.outcome for i, v in verdicts.items()} == {
        on_v2: "skipped", cancelled: "skipped", cases["at_review"]: "migrated", 999999: "skipped"}
    assert case(on_v2).revision == 1 and case(cancelled).version_id == cases["v1"]
    # the source version's cases that were not named stay where they are
    assert case(cases["in_period"]).version_id == cases["v1"]


def test_a_step_under_way_that_changed_keeps_the_case_on_its_version(runtime, cases):
    v3 = deploy(runtime, V3, "提交整改方案限10日")
    report = case_migration.run(runtime, ANALYST, PROCESS, cases["v1"], v3)
    verdicts = by_case(report)
    [why] = verdicts[cases["at_submit"]].reasons
    assert (why.code, why.element, why.detail) == ("changed_in_progress", "Task_submit_plan", "extensions")
    assert verdicts[cases["at_submit"]].outcome == "blocked"
    assert case(cases["at_submit"]).version_id == cases["v1"]
    assert inbox(cases["at_submit"])[0].due_at is None
    # the step is done with in the other cases: they move, and the expert is still there in version 3
    assert verdicts[cases["at_expert"]].outcome == "migrated"
    do(runtime, cases["at_expert"], EXPERT)
    assert [t.element for t in inbox(cases["at_expert"])] == ["Task_verify"]


def test_a_failure_in_one_case_rolls_back_that_case_only(runtime, cases):
    v2 = deploy(runtime, V2)
    victim = cases["in_period"]
    before = (stored_rows(victim), case(victim).revision, timers(victim), case(victim).audit_hash)

    def crash(c):
        if c.id == victim:
            raise RuntimeError("disk full")

    runtime.before_commit = crash
    try:
        report = case_migration.run(runtime, ANALYST, PROCESS, cases["v1"], v2)
    finally:
        runtime.before_commit = None

    verdicts = by_case(report)
    assert verdicts[victim].outcome == "failed" and "disk full" in verdicts[victim].reasons[0].message
    assert (stored_rows(victim), case(victim).revision, timers(victim), case(victim).audit_hash) == before
    assert case(victim).version_id == cases["v1"]
    assert verdicts[cases["at_submit"]].outcome == verdicts[cases["at_review"]].outcome == "migrated"
    # the case still runs on version 1: the period ends and the expert is asked
    clock.current().advance(timedelta(days=20, seconds=1))
    runtime.fire_timers(victim)
    assert [t.element for t in inbox(victim)] == ["Task_expert_opinion"]


def test_only_an_analyst_migrates_and_the_versions_must_fit(runtime, cases):
    v2 = deploy(runtime, V2)
    for actor in (Actor("root", "admin"), CITY, FIRM, Actor("prov", "provincial")):
        with pytest.raises(Forbidden):
            case_migration.plan(runtime, actor, PROCESS, cases["v1"], v2)
        with pytest.raises(Forbidden):
            case_migration.run(runtime, actor, PROCESS, cases["v1"], v2)
    with pytest.raises(EngineError, match="same"):
        case_migration.plan(runtime, ANALYST, PROCESS, v2, v2)
    with pytest.raises(NotFound):
        case_migration.plan(runtime, ANALYST, PROCESS, cases["v1"], "0" * 64)
    other, _ = runtime.registry.deploy({name: (ROOT / "processes" / name).read_bytes() for name in (
        "municipal_creation.bpmn", "evaluation_indicators.dmn", "evaluation_pass_marks.dmn", "agency_yearly_cap.dmn",
        "art18_exclusions.dmn")})
    with pytest.raises(NotFound, match="no deployed version"):
        case_migration.plan(runtime, ANALYST, PROCESS, cases["v1"], other.id)
    assert all(case(i).version_id == cases["v1"] for k, i in cases.items() if k != "v1")


def test_a_draft_and_a_reminder_stay_with_the_moved_task(runtime, cases, app):
    v2 = deploy(runtime, V2)
    task = inbox(cases["at_review"])[0]
    db.session.add(TaskDraft(task_id=task.id, user_name="lz", values={"opinion": "同意"}, saved_at=clock.now()))
    db.session.commit()
    case_migration.run(runtime, ANALYST, PROCESS, cases["v1"], v2, instance_ids=[cases["at_review"]])
    draft = db.session.get(TaskDraft, (task.id, "lz"))
    assert draft is not None and draft.values == {"opinion": "同意"}


def test_a_waiting_step_renamed_moves_and_its_inbox_entry_shows_the_new_name(runtime, cases):
    renamed = V1.read_bytes().replace("审核整改方案 Review the plan".encode(), "审核整改方案及承诺书 Review the plan and pledge".encode()) \
        .replace('name="市级工业和信息化主管部门"'.encode(), b'name="municipal"')  # the same role, by its code
    v4, _ = runtime.registry.deploy({"rectification_check.bpmn": renamed}, actor="ana")
    before = inbox(cases["at_review"])[0]
    report = case_migration.run(runtime, ANALYST, PROCESS, cases["v1"], v4.id, [cases["at_review"]])
    assert [v.outcome for v in report.cases] == ["migrated"]
    db.session.expire_all()
    [after] = inbox(cases["at_review"])
    assert (after.id, after.role, after.jurisdiction) == (before.id, before.role, before.jurisdiction)
    assert (after.name, after.lane) == ("审核整改方案及承诺书 Review the plan and pledge", "municipal")


def test_the_run_looks_again_under_the_lock(runtime, cases):
    """A case the dry run found movable moved on meanwhile, to a step the target
    version no longer has: the run finds that and leaves it."""
    v2 = deploy(runtime, V2)
    assert by_case(case_migration.plan(runtime, ANALYST, PROCESS, cases["v1"], v2))[cases["in_period"]].outcome \
        == "movable"
    clock.current().advance(timedelta(days=20, seconds=1))
    runtime.fire_timers(cases["in_period"])  # the period ended: the expert's opinion is due
    revision = case(cases["in_period"]).revision
    report = case_migration.run(runtime, ANALYST, PROCESS, cases["v1"], v2, [cases["in_period"]])
    [verdict] = report.cases
    assert verdict.outcome == "blocked" and [r.code for r in verdict.reasons] == ["removed_waiting"]
    assert case(cases["in_period"]).revision == revision and case(cases["in_period"]).version_id == cases["v1"]


def test_a_case_that_did_a_step_the_target_lacks_cannot_move_back(runtime, cases):
    v2 = deploy(runtime, V2)
    visited = runtime.start(PROCESS, {}, FIRM, "620100").id  # version 2 is the current one now
    for actor in (FIRM, CITY, CITY):
        do(runtime, visited, actor)
    assert timers(visited) and case(visited).version_id == v2
    fresh = runtime.start(PROCESS, {}, FIRM, "620100").id
    report = case_migration.plan(runtime, ANALYST, PROCESS, v2, cases["v1"])
    verdicts = by_case(report)
    [why] = verdicts[visited].reasons
    assert (why.code, why.element, verdicts[visited].outcome) == ("removed_history", "Task_site_visit", "blocked")
    assert "has done step '现场核查 Site visit'" in why.message
    assert verdicts[fresh].outcome == "movable"


def test_steps_planned_behind_a_call_activity_under_way_keep_the_case(runtime):
    """Behind a subprocess under way the steps are planned already and not planned
    again when it ends: a change there keeps the case; a case past it moves."""
    conformance = ROOT / "tests" / "conformance"
    child = {"call_child.bpmn": (conformance / "call_child.bpmn").read_bytes()}
    parent = (conformance / "call_parent.bpmn").read_bytes()
    v1, _ = runtime.registry.deploy({"call_parent.bpmn": parent, **child})
    archive = parent.replace(b'<bpmn:outgoing>Flow_end</bpmn:outgoing>\n    </bpmn:userTask>', b"""<bpmn:outgoing>Flow_end</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:userTask id="Task_archive" name="Archive"><bpmn:incoming>Flow_end</bpmn:incoming>
      <bpmn:outgoing>Flow_archived</bpmn:outgoing></bpmn:userTask>""").replace(
        b'<bpmn:incoming>Flow_end</bpmn:incoming>\n    </bpmn:endEvent>',
        b'<bpmn:incoming>Flow_archived</bpmn:incoming>\n    </bpmn:endEvent>').replace(
        b'targetRef="End_case" />', b'targetRef="Task_archive" />\n    '
        b'<bpmn:sequenceFlow id="Flow_archived" sourceRef="Task_archive" targetRef="End_case" />')
    admin = Actor("root", "admin")
    inside = runtime.start("cf_call_parent", {"unit": "U7"}, admin).id
    past = runtime.start("cf_call_parent", {"unit": "U8"}, admin).id
    do(runtime, past, admin, {"findings": 1})
    assert [t.element for t in inbox(past)] == ["Task_confirm"]
    v2, _ = runtime.registry.deploy({"call_parent.bpmn": archive, **child})

    verdicts = by_case(case_migration.run(runtime, ANALYST, "cf_call_parent", v1.id, v2.id))

    assert verdicts[inside].outcome == "blocked"
    assert [(r.code, r.element) for r in verdicts[inside].reasons] == [("unplanned", "Task_confirm")]
    assert verdicts[past].outcome == "migrated"
    do(runtime, past, admin, {"confirmed": True})
    assert [t.element for t in inbox(past)] == ["Task_archive"]  # the step the new version added
    do(runtime, inside, admin, {"findings": 2})
    do(runtime, inside, admin, {"confirmed": True})
    assert case(inside).status == "completed"  # on its own version, without the archive step


def test_a_case_whose_task_failed_is_not_moved(runtime):
    """A task SpiffWorkflow marked failed (a script in error) is retried on its own version first."""
    from test_runtime import SCRIPTED

    v1, _ = runtime.registry.deploy({"share.bpmn": SCRIPTED}, actor="ana")
    admin = Actor("root", "admin")
    failed = runtime.start("share", {"total": 100}, admin).id
    do(runtime, failed, admin, {"count": 0})
    assert case(failed).status == "error"
    v2, _ = runtime.registry.deploy({"share.bpmn": SCRIPTED.replace(b"total / count", b"total / max(count, 1)")},
                                    actor="ana")
    for report in (case_migration.plan(runtime, ANALYST, "share", v1.id, v2.id),
                   case_migration.run(runtime, ANALYST, "share", v1.id, v2.id)):
        verdict = by_case(report)[failed]
        assert verdict.outcome == "blocked" and [(r.code, r.element) for r in verdict.reasons] == \
            [("case_failed", "divide")]
        assert "administrator" in verdict.reasons[0].message
    assert case(failed).version_id == v1.id


# ---------------------------------------------------------------------- every construct the engine runs
def _conformance_params():
    from test_conformance import PARAMS

    return PARAMS


@pytest.mark.parametrize("case", _conformance_params())
def test_moving_a_case_to_an_equal_version_after_every_step_changes_nothing(runtime, case):
    """Each conformance diagram (gateways, multi-instance, call activities, boundary and
    event-subprocess timers, messages, decisions) run in lockstep with plain SpiffWorkflow,
    the stored case moved back and forth between two versions of the same diagram after
    every step: nothing a user or the engine sees may change, and every save restores."""
    from test_conformance import Complete, Memory, Persisted, Wait, _agree, _files

    files = _files(case.files)
    twin = {name: content + b"\n<!-- the same diagram, deployed again -->\n" for name, content in files.items()}
    memory, persisted = Memory(files, case.process), Persisted(runtime, files, case.process)
    versions = [persisted.rt.registry.latest_version_for(case.process)]
    versions.append(runtime.registry.deploy(twin, actor="ana")[0].id)

    def move(where):
        inst = persisted.instance()
        if inst.status not in ("running", "waiting"):
            return
        target = versions[1] if inst.version_id == versions[0] else versions[0]
        report = case_migration.run(runtime, ANALYST, case.process, inst.version_id, target, [inst.id])
        [verdict] = report.cases
        assert verdict.outcome == "migrated", (where, [r.message for r in verdict.reasons])
        assert persisted.instance().version_id == target
        persisted._settled()
        _agree(f"{where}, moved", memory, persisted, None)

    memory.start(case.start)
    persisted.start(case.start)
    move("after start")
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
            continue
        else:
            memory.send(step)
            persisted.send(step)
        _agree(where, memory, persisted, step.then, step.status)
        move(where)
    assert persisted.instance().status == memory.view().status


@pytest.mark.parametrize("case", _conformance_params())
def test_a_case_restored_onto_freshly_parsed_specs_runs_on(runtime, case):
    """A moved case continues on spec objects other than the ones it ran on; so does
    every case after a restart. Each conformance diagram, the parsed versions and the
    live cases dropped before every step, must still run like plain SpiffWorkflow
    (a multi-instance task under way used to wait forever)."""
    from test_conformance import Complete, Memory, Persisted, Wait, _agree, _files

    files = _files(case.files)
    memory, persisted = Memory(files, case.process), Persisted(runtime, files, case.process)
    memory.start(case.start)
    persisted.start(case.start)
    for n, step in enumerate(case.steps, 1):
        runtime.registry.forget_parsed()
        runtime.forget()
        if isinstance(step, Complete):
            memory.complete(step)
            persisted.complete(step)
        elif isinstance(step, Wait):
            clock.current().advance(step.delta)
            memory.wake()
            persisted.wake()
        elif step.refused:
            continue
        else:
            memory.send(step)
            persisted.send(step)
        _agree(f"after step {n}: {step}", memory, persisted, step.then, step.status)
