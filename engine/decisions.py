"""Decision tables (决策表) run from Python: an operation that must follow a DMN
table deployed with the case's model version (the award amounts) asks here, so
the table an analyst edits stays the only place the rule is written, and a case
keeps the table of the version it runs on."""
from __future__ import annotations

import threading
from types import SimpleNamespace

from lxml import etree
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser

from .db import db
from .models import ModelFile
from .scripting import make_script_engine
from .services import ServiceError

_tables: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


def table(version_id: str, decision_id: str):
    """The decision `decision_id` as deployed with a model version (parsed once per version)."""
    key = (version_id, decision_id)
    with _lock:
        if key in _tables:
            return _tables[key]
    files = db.session.scalars(db.select(ModelFile).where(ModelFile.version_id == version_id,
                                                          ModelFile.name.like("%.dmn"))).all()
    parser = BpmnDmnParser()
    for f in files:
        parser.add_dmn_xml(etree.fromstring(f.content.encode("utf-8")), filename=f.name)
    if decision_id not in parser.dmn_parsers:
        raise ServiceError(f"本案的模型版本没有决策表「{decision_id}」；请将其 .dmn 文件与流程图一并部署 (the model version of this case has no decision table '{decision_id}'; deploy "
                           "its .dmn file together with the diagram)")
    dmn = parser.dmn_parsers[decision_id]
    dmn.parse()
    parsed = dmn.decision.decisionTables[0]
    with _lock:
        _tables[key] = parsed
    return parsed


def decide(version_id: str, decision_id: str, facts: dict) -> dict:
    """Run a deployed decision table on `facts`: its outputs, as a business-rule task would get them."""
    workflow = SimpleNamespace(script_engine=make_script_engine(), spec=SimpleNamespace(file=f"{decision_id}.dmn"))
    workflow.top_workflow = workflow
    task = SimpleNamespace(data=dict(facts), workflow=workflow, task_spec=SimpleNamespace(
        name=decision_id, bpmn_id=decision_id, bpmn_name=decision_id, description=""))
    return DMNEngine(table(version_id, decision_id)).result(task)
