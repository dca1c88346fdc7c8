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
    g.setdefault("personal_reads", []).append((actor.name, instance_id, what))


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


def case_view(case: ProcessInstance, actor: Actor, files: list, via: str) -> tuple[dict, list, int]:
    """The case page's data and files for this reader, and how many personal files it may not
    see; one audit event covers what it shows unmasked."""
    data, opened = privacy.case_data(actor, case, marks(case))
    shown = [f for f in files if privacy.may_read_evidence(actor, case, f)]
    evidence = [f.id for f in shown if f.personal]
    if opened or evidence:
        _record(actor, case.id, via=via, fields=opened, **({"attachments": evidence} if evidence else {}))
    return data, shown, len(files) - len(shown)


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
