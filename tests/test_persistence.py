"""How a running workflow is stored: what a task's data holds comes back from its rows as it
went in, whichever JSON library wrote them (engine/persistence.py)."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from lxml import etree
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from engine import clock, persistence
from engine.models import ProcessInstance

LINE = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="http://example.org">
<bpmn:process id="line" isExecutable="true">
<bpmn:startEvent id="start"/><bpmn:userTask id="fill" name="Fill"/><bpmn:userTask id="check" name="Check"/>
<bpmn:endEvent id="end"/>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
<bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="check"/>
<bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="end"/>
</bpmn:process></bpmn:definitions>"""


def _workflow():
    parser = SpiffBpmnParser()
    parser.add_bpmn_xml(etree.ElementTree(etree.fromstring(LINE)), "line.bpmn")
    spec, subprocesses = parser.get_spec("line"), parser.get_subprocess_specs("line")
    wf = BpmnWorkflow(spec, subprocesses)
    wf.do_engine_steps()
    return wf, spec, subprocesses


def _ready(wf):
    [task] = wf.get_tasks(state=TaskState.READY, manual=True)
    return task


def _stored(wf, before=None) -> tuple[str, dict]:
    changes = persistence.diff(wf, before)
    return changes.shell, changes.upserts


def test_what_json_lacks_comes_back_from_the_rows_as_it_went_in():
    wf, spec, subprocesses = _workflow()
    held = {
        "decided_on": date(2027, 2, 10),  # Spring Festival, as a statutory helper gives it
        "received_at": datetime(2026, 12, 31, 23, 59, 30, 123456, tzinfo=clock.SHANGHAI),
        "window": timedelta(days=5, seconds=30),
        "names": ["兰州绿源制造有限公司", "quote \" and backslash \\ and a tab\t"],
        "score": 77.47,
        "nested": {"level": {"deeper": [1, 2.5, None, True]}},
    }
    _ready(wf).set_data(**held)
    shell, rows = _stored(wf)
    restored, _ = persistence.restore(shell, rows, spec, subprocesses)
    assert {k: _ready(restored).data[k] for k in held} == held
    assert isinstance(_ready(restored).data["received_at"], datetime)


def test_an_integer_past_64_bits_is_kept_too():
    wf, spec, subprocesses = _workflow()
    _ready(wf).set_data(big=2**70, on=date(2027, 1, 1))  # orjson cannot write it: the standard library does
    shell, rows = _stored(wf)
    restored, _ = persistence.restore(shell, rows, spec, subprocesses)
    assert (_ready(restored).data["big"], _ready(restored).data["on"]) == (2**70, date(2027, 1, 1))


def test_a_step_writes_only_what_changed_and_the_rest_is_read_back_unchanged():
    wf, spec, subprocesses = _workflow()
    shell, rows = _stored(wf)
    restored, snapshot = persistence.restore(shell, rows, spec, subprocesses)
    _ready(restored).set_data(opinion="同意")
    _ready(restored).run()
    restored.do_engine_steps()
    changes = persistence.diff(restored, snapshot)
    assert 0 < len(changes.upserts) < len(rows)
    again, _ = persistence.restore(changes.shell, {**rows, **changes.upserts}, spec, subprocesses)
    assert _ready(again).task_spec.bpmn_id == "check"
    assert _ready(again).data["opinion"] == "同意"
    assert [t.state for t in again.get_tasks()] == [t.state for t in restored.get_tasks()]


def test_rows_the_standard_library_wrote_with_nan_are_still_read():
    """Before orjson wrote the rows, the standard library did, and it writes NaN as a bare
    word that orjson's reader refuses: such a case must still open."""
    wf, spec, subprocesses = _workflow()
    _ready(wf).set_data(ratio=1.0)
    shell, rows = _stored(wf)
    tid = str(_ready(wf).id)
    body = json.loads(rows[tid])
    body["delta"]["updates"]["ratio"] = float("nan")  # (a task's data is a delta against its parent's)
    rows[tid] = json.dumps(body)
    assert "NaN" in rows[tid]
    restored, _ = persistence.restore(shell, rows, spec, subprocesses)
    ratio = _ready(restored).data["ratio"]
    assert ratio != ratio  # NaN


def test_a_time_is_stored_on_sqlite_as_sqlalchemy_stores_it_and_reads_back_in_beijing_time():
    """Pages filter and order by times written over the years, by this type and by SQLAlchemy's
    own processor before it: the text must be the same to the character, or an inbox would sort
    a due date written today before one written last year."""
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text
    from sqlalchemy.dialects.sqlite import DATETIME

    from engine.models import Aware

    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", Aware))
    table.metadata.create_all(engine)
    sqlalchemy_text = DATETIME().bind_processor(engine.dialect)
    moments = [datetime(2026, 12, 31, 23, 59, 30, 123456, tzinfo=clock.SHANGHAI),  # New Year's Eve in Beijing
               datetime(2027, 2, 6, 8, 0, tzinfo=clock.SHANGHAI)]  # whole seconds: the microseconds still written
    moments.append(moments[1].astimezone(UTC))  # the moment just bound again, given in another zone
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": i, "at": at} for i, at in enumerate(moments)])
        stored = conn.execute(text("SELECT at FROM t ORDER BY id")).scalars().all()
        back = conn.execute(select(table.c.at).order_by(table.c.id)).scalars().all()
        with pytest.raises(Exception, match="naive"):
            conn.execute(insert(table), {"id": 9, "at": datetime(2027, 1, 1)})
    assert stored == [sqlalchemy_text(at.astimezone(UTC).replace(tzinfo=None)) for at in moments]
    assert stored[0] == "2026-12-31 15:59:30.123456" and stored[1] == stored[2] == "2027-02-06 00:00:00.000000"
    assert back == moments and all(b.utcoffset() == timedelta(hours=8) for b in back)


def test_a_time_reads_back_in_beijing_time_whoever_wrote_it_and_in_whatever_zone():
    """What this process wrote is read back without converting again (`Aware._read_back`):
    what it gives must be what the conversion gives, for a time given in another zone
    and for a text another writer left (an older row, another worker)."""
    from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text

    from engine.models import Aware

    engine = create_engine("sqlite://")
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", Aware))
    table.metadata.create_all(engine)
    in_beijing = datetime(2027, 1, 1, 0, 0, 1, tzinfo=clock.SHANGHAI)
    in_utc = datetime(2027, 1, 1, 0, 0, 2, 500, tzinfo=UTC)
    in_tokyo = datetime(2027, 1, 1, 0, 0, 3, tzinfo=timezone(timedelta(hours=9)))
    with engine.begin() as conn:
        conn.execute(insert(table), [{"id": 1, "at": in_beijing}, {"id": 2, "at": in_utc}, {"id": 3, "at": in_tokyo}])
        conn.execute(text("INSERT INTO t (id, at) VALUES (4, '2019-10-01 02:00:00.000000')"))  # never bound here
        back = conn.execute(select(table.c.at).order_by(table.c.id)).scalars().all()
        again = conn.execute(select(table.c.at).order_by(table.c.id)).scalars().all()
    expected = [in_beijing, in_utc, in_tokyo, datetime(2019, 10, 1, 10, 0, tzinfo=clock.SHANGHAI)]
    for got in (back, again):
        assert got == expected
        assert all(b.tzinfo is clock.SHANGHAI for b in got)
        assert [b.isoformat() for b in got] == [e.astimezone(clock.SHANGHAI).isoformat() for e in expected]


def test_case_data_is_stored_compact_with_chinese_as_it_is_and_older_rows_read_alike(app, runtime):
    """A JSON column (a case's data) is written by orjson: compact, Chinese kept as it is (what a
    person reading the database sees); rows the standard library wrote before, with spaces and
    escaped Chinese, or NaN, are read as they were."""
    from sqlalchemy import text

    from engine.actors import Actor
    from engine.db import db, json_text, json_value

    runtime.registry.deploy({"line.bpmn": LINE}, actor="t")
    case = runtime.start("line", {"organisation_name": "兰州绿源制造有限公司"}, Actor("root", "admin"))
    stored = db.session.execute(text("SELECT CAST(data AS TEXT) FROM process_instance WHERE id = :i"),
                                {"i": case.id}).scalar_one()
    assert '"organisation_name":"兰州绿源制造有限公司"' in stored
    assert db.session.get(ProcessInstance, case.id).data["organisation_name"] == "兰州绿源制造有限公司"

    held = {"organisation_name": "兰州绿源制造有限公司", "score": 77.47, "items": [1, None, True]}
    assert json_value(json.dumps(held)) == held  # as the standard library wrote it, \\u-escaped
    assert json_value('{"ratio": NaN}')["ratio"] != json_value('{"ratio": NaN}')["ratio"]
    assert json_value(json_text({"big": 2**70})) == {"big": 2**70}  # orjson cannot: the standard library does
    with pytest.raises(TypeError):
        json_text({"when": date(2027, 1, 1)})  # as before: the caller converts dates first


def test_a_task_not_yet_reached_is_stored_whole_and_not_written_again_when_its_parent_moves():
    """A predicted task holds no data: its row says so, without a delta against its parent's,
    so a step that changes the parent's data does not write the child again (a step of a
    line writes the task done and the task now ready, not the one after). A row written
    before, as a delta deleting the parent's keys, is written again, and reads back empty."""
    wf, spec, subprocesses = _workflow()
    shell, rows = _stored(wf)
    check = next(t for t in wf.tasks.values() if t.task_spec.bpmn_id == "check")
    assert check.data == {} and json.loads(rows[str(check.id)])["delta"] == {}

    def step(rows, opinion):
        restored, snapshot = persistence.restore(shell, rows, spec, subprocesses)
        _ready(restored).set_data(opinion=opinion)
        _ready(restored).run()
        restored.do_engine_steps()
        return restored, persistence.diff(restored, snapshot)

    restored, changes = step(rows, "同意")
    after_check = [t for t in restored.tasks.values() if t.parent is not None and t.parent.id == check.id]
    assert after_check and all(str(t.id) not in changes.upserts for t in after_check)  # not reached: not written
    again, _ = persistence.restore(changes.shell, {**rows, **changes.upserts}, spec, subprocesses)
    assert [t.data for t in again.get_tasks()] == [t.data for t in restored.get_tasks()]

    # as rows were written before: the task after `check` stored as a delta against check's data
    old = dict(rows)
    [after] = [t for t in wf.tasks.values() if t.parent is not None and t.parent.id == check.id]
    body = json.loads(old[str(after.id)])
    body["data"], body["delta"] = {}, {"updates": {}, "deletions": []}
    old[str(after.id)] = json.dumps(body)
    restored, changes = step(old, "同意")
    assert str(after.id) in changes.upserts  # its parent moved, and its row depended on the parent's data
    again, _ = persistence.restore(changes.shell, {**old, **changes.upserts}, spec, subprocesses)
    assert [t.data for t in again.get_tasks()] == [t.data for t in restored.get_tasks()]


def test_a_task_id_this_process_wrote_is_found_from_its_text_and_any_other_text_is_parsed():
    """A request names its task by the text a save wrote: the step finds the task's own id
    (`as_uuid`) without parsing it again; another spelling of it is parsed, and text that is
    no id is refused as before."""
    from uuid import UUID, uuid4

    from engine.persistence import _text, as_uuid

    written = uuid4()
    text = _text(written)
    assert text == str(written) and as_uuid(text) is written
    assert as_uuid(text.upper()) == written
    with pytest.raises(ValueError):
        as_uuid("not-a-task")
    assert isinstance(as_uuid(str(uuid4())), UUID)


def test_a_case_s_task_ids_begin_with_their_time_so_later_cases_sort_after(app, runtime):
    """Task ids are UUIDs of version 7 (`persistence.time_ordered_task_id`): a later case's
    tasks, and its inbox entry, sort after an earlier case's, as text and as stored, so that
    their index entries are written beside the last ones rather than on a random page."""
    import time
    from uuid import UUID

    from engine.actors import Actor
    from engine.db import db
    from engine.models import HumanTask, InstanceTask

    runtime.registry.deploy({"line.bpmn": LINE}, actor="t")
    ids = []
    for _ in range(2):
        case = runtime.start("line", {}, Actor("root", "admin"))
        db.session.commit()
        rows = db.session.scalars(db.select(InstanceTask.task_id).where(InstanceTask.instance_id == case.id)).all()
        [entry] = db.session.scalars(db.select(HumanTask.id).where(HumanTask.instance_id == case.id)).all()
        assert entry in rows and all(UUID(t).version == 7 for t in rows)
        ids.append(rows)
        time.sleep(0.002)  # (the time in an id is in milliseconds)
    assert max(ids[0]) < min(ids[1])
    assert all(abs((UUID(t).int >> 80) - time.time_ns() // 1_000_000) < 60_000 for t in ids[1])  # its time: now
