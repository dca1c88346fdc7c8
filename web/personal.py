"""Personal data on the pages and in the API (个人信息): each reader gets a case's
data, its evidence and its objections masked or not as `engine.green.privacy`
decides, and every answer that shows them unmasked is audited.

The reads a request makes are noted as it goes and written in one transaction of
their own when its answer is ready, before it leaves: a page that only reads still
leaves its trace, the page is rendered from objects no commit has expired, and an
answer whose reads could not be recorded is not sent (it becomes an error)."""
from __future__ import annotations

from flask import g

from engine import personal
from engine.db import db, writing
from engine.green import case_file as case_files
from engine.green import privacy
from engine.models import ProcessInstance
from engine.runtime import Actor

from .runtime import runtime


def marks(case: ProcessInstance) -> personal.Marks:
    known = g.setdefault("personal_marks", {})  # a list of cases asks once per version, not once per case
    if case.version_id not in known:
        rt = runtime()
        known[case.version_id] = personal.marks_for(rt.registry, case.version_id, rt.role_of)
    return known[case.version_id]


def _record(actor: Actor, instance_id: int, **what) -> None:
    """Note a read; what one page shows of a case (its data, its file, its objections) is one event."""
    reads = g.setdefault("personal_reads", [])
    for reader, case_id, noted in reads:
        if (reader, case_id, noted.get("via")) == (actor.name, instance_id, what.get("via")):
            for key, value in what.items():
                if isinstance(value, list) and isinstance(noted.get(key), list):
                    noted[key] = noted[key] + [v for v in value if v not in noted[key]]
                else:
                    noted.setdefault(key, value)
            return
    reads.append((actor.name, instance_id, what))


def _write_reads(response):
    reads = g.pop("personal_reads", None)
    if reads:
        with writing():
            for reader, instance_id, what in reads:
                personal.record_read(reader, instance_id, **what)
    return response


def init_app(app) -> None:
    app.after_request(_write_reads)


def case_data(case: ProcessInstance, actor: Actor, via: str) -> dict:
    """The case's data for this reader; an unmasked read of its personal fields is audited."""
    data, opened = privacy.case_data(actor, case, marks(case))
    if opened:
        _record(actor, case.id, via=via, fields=opened)
    return data


def masked_data(case: ProcessInstance, actor: Actor) -> dict:
    """The case's data with every personal field masked, whoever reads it (lists of cases);
    an expert's list shows only what they review."""
    scoped = privacy.reviewer_scope(actor, case)
    if scoped is not None:
        return scoped
    data = case.data if isinstance(case.data, dict) else {}
    return personal.masked(data, personal.present(data, marks(case)))


def case_file(case: ProcessInstance, actor: Actor, sections, via: str, subject: dict | None = None):
    """The case file (卷宗) for this reader; the personal fields and files it shows unmasked are audited."""
    found = case_files.build(runtime(), case, actor, sections, subject)
    if found.opened or found.evidence:
        _record(actor, case.id, via=via, fields=found.opened,
                **({"attachments": found.evidence} if found.evidence else {}))
    return found


def objections(case: ProcessInstance, actor: Actor, rows: list, via: str) -> list[dict]:
    """The objections to a round's notice as this reader sees them (Art 15)."""
    views = [privacy.objection_view(actor, case, o) for o in rows]
    opened = [v["id"] for v in views if not v["masked"]]
    if opened:
        _record(actor, case.id, via=via, objections=opened)
    return views


def may_download(item, actor: Actor) -> bool:
    """Whether the file may be sent to this reader; sending personal evidence is audited."""
    case = db.session.get(ProcessInstance, item.instance_id)
    if case is None or not runtime().may_see(actor, case.id) or not privacy.may_read_evidence(actor, case, item):
        return False
    if item.personal:
        _record(actor, case.id, via="download", attachment=item.id)
    return True
