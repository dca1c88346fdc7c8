"""Model registry (模型注册): validate, deploy and load BPMN/DMN model versions.

Validation runs in three layers and reports every finding with file, line and
element: (a) well-formed XML against the BPMN/DMN schemas, (b) SpiffWorkflow's
semantic parse of every executable process, (c) this project's lint. A
deployed version is the content-addressed set of its files, forms included,
and never changes; each version is parsed once per process and kept in memory.
"""
from __future__ import annotations

import ast
import copy
import hashlib
import json
import os
import re
import textwrap
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Iterable

import jsonschema
from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH as BPMN_XSD
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.dmn.specs.model import HitPolicy
from SpiffWorkflow.spiff.parser.process import SPIFF_XSD, SpiffBpmnParser

from . import clock, deadlines, scripting, services, statutory_calendar
from .audit import append as audit
from .db import db
from .models import ModelFile, ModelVersion, ProcessHead
from .scripting import make_script_engine

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
FORM_PROPERTY = "formJsonSchemaFilename"
FORM_PREFIX = "forms/"
MAX_FILE_BYTES = 2 * 1024 * 1024
# SpiffWorkflow names its own entry task "Start"; an element with that id takes its place
# and every case then fails to start.
RESERVED_IDS = frozenset({"Start"})

# No DTDs, no entities, no network, no billion laughs: uploads come from outside.
_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=False
)


@dataclass
class Finding:
    file: str
    line: int | None
    element: str | None
    message: str
    severity: str = "error"

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line or '?'}"
        elem = f" [{self.element}]" if self.element else ""
        return f"{self.severity}: {where}{elem} {self.message}"


class ModelInvalid(Exception):
    def __init__(self, findings: list[Finding]):
        super().__init__("; ".join(str(f) for f in findings if f.severity == "error"))
        self.findings = findings


class UnknownProcess(LookupError):
    pass


@dataclass
class LoadedVersion:
    """A deployed version parsed once: the specs every instance of it shares."""

    id: str
    specs: dict
    subprocess_specs: dict
    forms: dict[str, dict] = field(default_factory=dict)


class _Schemas:
    """The XSD validators, built once per process (lxml compiles them in ~100 ms)."""

    _lock = threading.Lock()
    _bpmn = None
    _dmn: dict = {}

    @classmethod
    def bpmn(cls):
        with cls._lock:
            if cls._bpmn is None:
                schema = etree.parse(BPMN_XSD)
                imp = etree.Element(
                    "{http://www.w3.org/2001/XMLSchema}import", namespace=SPIFF_NS, schemaLocation=SPIFF_XSD
                )
                schema.getroot().insert(0, imp)
                cls._bpmn = etree.XMLSchema(schema)
            return cls._bpmn

    @classmethod
    def dmn(cls, namespace):
        path = DMN_SCHEMAS.get(namespace)
        if path is None:
            return None
        with cls._lock:
            if namespace not in cls._dmn:
                cls._dmn[namespace] = etree.XMLSchema(etree.parse(path))
            return cls._dmn[namespace]


def version_hash(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def _element_id_at(doc, line: int | None) -> str | None:
    """The id of the element (or its nearest ancestor with one) written on `line`."""
    node = next((el for el in doc.iter() if el.sourceline == line), None)
    while node is not None and not node.get("id"):
        node = node.getparent()
    return node.get("id") if node is not None else None


def _line_of(doc, element_id: str | None) -> int | None:
    if not element_id or doc is None:
        return None
    hits = doc.xpath("//*[@id=$i]", i=element_id)
    return hits[0].sourceline if hits else None


class Validation:
    """All findings for one set of files, and the parser that read them."""

    def __init__(self, files: dict[str, bytes], forms_dir: Path | None, role_of: Callable):
        self.files = dict(files)
        self.forms_dir = forms_dir
        self.role_of = role_of
        self.findings: list[Finding] = []
        self.docs: dict[str, etree._ElementTree] = {}
        self.kinds: dict[str, str] = {}
        self.parser = SpiffBpmnParser()
        self.processes: list[str] = []
        self._refused: set = set()  # (element, text) already reported as refused: not evaluated
        self._run()

    @property
    def errors(self):
        return [f for f in self.findings if f.severity == "error"]

    def add(self, file, line, element, message, severity="error"):
        self.findings.append(Finding(file, line, element, message, severity))

    # -- layer (a): XML and schema
    def _read(self, name: str, content: bytes):
        if len(content) > MAX_FILE_BYTES:
            self.add(name, None, None, f"file is larger than {MAX_FILE_BYTES // 1024} KiB")
            return
        try:
            doc = etree.ElementTree(etree.fromstring(content, _SAFE_PARSER))
        except etree.XMLSyntaxError as e:
            self.add(name, e.lineno, None, f"not well-formed XML: {e.msg}")
            return
        if doc.docinfo.internalDTD is not None or doc.docinfo.doctype:
            self.add(name, 1, None, "DOCTYPE declarations are not allowed in model files")
            return
        root = doc.getroot()
        ns = etree.QName(root).namespace
        if ns == BPMN_NS:
            kind, schema = "bpmn", _Schemas.bpmn()
        elif ns in DMN_SCHEMAS:
            kind, schema = "dmn", _Schemas.dmn(ns)
        else:
            self.add(name, root.sourceline, None, f"not a BPMN 2.0 or DMN document (root element {root.tag})")
            return
        if not schema.validate(doc):
            for entry in schema.error_log:
                self.add(name, entry.line, _element_id_at(doc, entry.line), entry.message)
            return
        self.docs[name] = doc
        self.kinds[name] = kind

    # -- layer (b): SpiffWorkflow's semantic parse
    def _semantic_error(self, exc: Exception, default_file: str | None = None):
        if isinstance(exc, ValidationException):
            file = exc.file_name or default_file or ""
            element = exc.id or None
            line = exc.line_number or _line_of(self.docs.get(file), element)
            if not line and element:
                for fname, doc in self.docs.items():
                    line = _line_of(doc, element)
                    if line:
                        file = file or fname
                        break
            self.add(file, line or None, element, str(exc).split("\n")[0])
        else:
            self.add(default_file or "", None, None, f"{type(exc).__name__}: {exc}")

    def _check_ids_and_references(self, name, doc) -> bool:
        """Flows and attachments must point at elements of their own process.
        SpiffWorkflow finds these too, but names the wrong element."""
        ok = True
        for process in doc.iterfind(".//bpmn:process", NS):
            ids = {el.get("id") for el in process.iter() if el.get("id")}
            for el in process.iter():
                if el.get("id") in RESERVED_IDS:
                    self.add(name, el.sourceline, el.get("id"),
                             f"the id '{el.get('id')}' is reserved by the engine; give this element another id")
                    ok = False
            refs = [(el, attr) for el in process.iter()
                    for attr in ("sourceRef", "targetRef", "attachedToRef", "default")
                    if etree.QName(el).localname in ("sequenceFlow", "boundaryEvent", "exclusiveGateway",
                                                     "inclusiveGateway", "complexGateway")
                    and el.get(attr) is not None]
            for el, attr in refs:
                if el.get(attr) not in ids:
                    self.add(name, el.sourceline, el.get("id"),
                             f"{attr} '{el.get(attr)}' is not an element of process '{process.get('id')}'")
                    ok = False
        return ok

    def _parse(self):
        for name, doc in list(self.docs.items()):
            if self.kinds[name] == "bpmn" and not self._check_ids_and_references(name, doc):
                del self.docs[name]
        for name, doc in self.docs.items():
            try:
                if self.kinds[name] == "bpmn":
                    self.parser.add_bpmn_xml(doc, filename=name)
                else:
                    self.parser.add_dmn_xml(doc.getroot(), filename=name)
            except Exception as exc:  # the library raises several kinds for bad models
                self._semantic_error(exc, name)
        for pid in self.parser.get_process_ids():
            file = self.parser.get_process_parser(pid).filename
            try:
                self.parser.get_spec(pid)
                self.parser.get_subprocess_specs(pid)
            except Exception as exc:
                self._semantic_error(exc, file)
            else:
                self.processes.append(pid)

    # -- layer (c): project lint
    def _form(self, form_name: str) -> dict | None:
        key = FORM_PREFIX + form_name
        if key not in self.files and self.forms_dir is not None:
            path = (self.forms_dir / form_name).resolve()
            if path.parent == self.forms_dir.resolve() and path.is_file():
                self.files[key] = path.read_bytes()
        if key not in self.files:
            return None
        return json.loads(self.files[key])

    def _lint_bpmn(self, name: str, doc):
        for prop in doc.iterfind(f".//{{{SPIFF_NS}}}property[@name='{FORM_PROPERTY}']"):
            task = prop.getparent().getparent().getparent()
            form_name = prop.get("value") or ""
            try:
                schema = self._form(form_name)
            except (ValueError, OSError) as exc:
                self.add(name, prop.sourceline, task.get("id"), f"form {form_name} is not valid JSON: {exc}")
                continue
            if schema is None:
                self.add(name, prop.sourceline, task.get("id"), f"form {form_name} does not exist in forms/")
                continue
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as exc:
                self.add(name, prop.sourceline, task.get("id"), f"form {form_name} is not a valid JSON Schema: {exc.message}")
        for lane in doc.iterfind(".//bpmn:lane", NS):
            if self.role_of(lane.get("name")) is None:
                self.add(
                    name, lane.sourceline, lane.get("id"),
                    f"lane '{lane.get('name') or ''}' names no known role; only an administrator can act on its tasks",
                    "warning",
                )
        for gw in doc.iterfind(".//bpmn:exclusiveGateway", NS):
            if len(gw.findall("bpmn:outgoing", NS)) > 1 and not gw.get("default"):
                self.add(
                    name, gw.sourceline, gw.get("id"),
                    "exclusive gateway has no default flow; a case stops with an error when no condition holds",
                    "warning",
                )
        self._lint_scripts(name, doc)  # first: a refused text is not evaluated by the lints after it
        self._lint_timers(name, doc)
        self._lint_time_limits(name, doc)
        self._lint_unsupported(name, doc)
        self._lint_connections(name, doc)
        for op in doc.iterfind(f".//{{{SPIFF_NS}}}serviceTaskOperator"):
            if op.get("id") not in services.OPERATIONS:
                task = op.getparent().getparent()
                known = ", ".join(sorted(services.OPERATIONS)) or "none"
                self.add(name, op.sourceline, task.get("id"),
                         f"no service operation '{op.get('id')}' (known: {known})")

    def _lint_scripts(self, name, doc):
        """Every text the engine runs as Python (scripts, conditions, timers, due dates, service
        parameters, multi-instance expressions) that the restricted environment would refuse."""
        for el, text, mode in _python_texts(doc):
            why = scripting.refusal(text, mode)
            if why is not None:
                self._refused.add((el, text))
                owner = el
                while owner is not None and owner.get("id") is None:
                    owner = owner.getparent()
                self.add(name, el.sourceline, owner.get("id") if owner is not None else None, f"script refused: {why}")

    def _lint_connections(self, name, doc):
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
                    self.add(name, node.sourceline, node.get("id"),
                             f"no sequence flow leads to '{label}': a case never reaches it")
                if kind != "endEvent" and node.get("id") not in sources:
                    self.add(name, node.sourceline, node.get("id"),
                             f"no sequence flow leaves '{label}': the path ends there without an end event",
                             "warning")

    def _lint_unsupported(self, name, doc):
        """Elements a diagram drawn elsewhere may carry that this engine cannot run, or would run
        differently from what the drawing says: each named with the reason, not left to fail in a case."""
        processes = doc.findall("bpmn:process", NS)
        runnable = [p for p in processes if p.get("isExecutable") == "true"]
        for process in processes:
            if process.get("isExecutable") != "true":
                self.add(name, process.sourceline, process.get("id"),
                         "process is not executable (isExecutable is not true): it is drawn but never runs; "
                         "set isExecutable=\"true\" to run it", "warning" if runnable else "error")
        for el in doc.iter():
            if not isinstance(el.tag, str):
                continue
            qname = etree.QName(el)
            # an event definition is marked on its event, the shape the analyst sees
            where = el if el.get("id") and not qname.localname.endswith("EventDefinition") else el.getparent()
            if qname.namespace == BPMN_NS and qname.localname in UNSUPPORTED:
                self.add(name, el.sourceline, where.get("id"), UNSUPPORTED[qname.localname])
            elif qname.namespace == BPMN_NS and qname.localname == "scriptTask":
                fmt = (el.get("scriptFormat") or "python").strip().lower()
                if fmt not in ("python", "text/x-python", "py"):
                    self.add(name, el.sourceline, el.get("id"),
                             f"script format '{el.get('scriptFormat')}' cannot run: scripts here are Python")
            elif qname.namespace == BPMN_NS and qname.localname == "conditionExpression":
                text = (el.text or "").strip()
                if text.startswith(("${", "#{")) or (el.get("language") or "python").lower() not in (
                        "python", "text/x-python"):
                    self.add(name, el.sourceline, where.get("id"),
                             f"condition {text!r} is not a Python expression (JUEL/FEEL/JavaScript from another "
                             "engine); write it in Python over the case data, e.g. score >= 80")
            for attr in el.attrib:
                aq = etree.QName(attr)
                if aq.namespace in FOREIGN_NAMESPACES:
                    self.add(name, el.sourceline, where.get("id"),
                             f"{FOREIGN_NAMESPACES[aq.namespace]}:{aq.localname}=\"{el.get(attr)}\" is ignored by "
                             f"this engine; {FOREIGN_HINTS.get(aq.localname, 'nothing here reads it')}", "warning")

    def _lint_time_limits(self, name, doc):
        engine = make_script_engine()
        for prop in doc.iterfind(f".//{{{SPIFF_NS}}}property"):
            key, value = prop.get("name"), (prop.get("value") or "").strip()
            task = prop.getparent().getparent().getparent()
            where = (name, prop.sourceline, task.get("id"))
            if key == deadlines.DUE_PROPERTY and (prop, value) in self._refused:
                continue
            if key == deadlines.DUE_PROPERTY:
                try:
                    deadlines.moment(engine.environment.evaluate(value, {}), clock.now())
                except NameError as exc:
                    self.add(*where, f"{key} {value} depends on case data ({getattr(exc, 'name', '')}); "
                                     "checked when the task becomes ready", "warning")
                except statutory_calendar.CalendarNotCovered as exc:  # the calendar never stops a deployment
                    self.add(*where, f"{key} {value}: {exc}", "warning")
                except Exception as exc:
                    self.add(*where, f"{key} {value} does not give a due date: {exc}")
            elif key == deadlines.REMIND_PROPERTY:
                try:
                    deadlines.moment(value.strip('"'), clock.now())
                except Exception:
                    self.add(*where, f"{key} {value} is not an ISO duration such as P7D")
            elif key == deadlines.ESCALATE_PROPERTY and self.role_of(value) is None:
                self.add(*where, f"{key} '{value}' names no known role")
            elif key == "startRoles":  # runtime.START_ROLES_PROPERTY: who may start the process
                unknown = [r for r in value.replace(",", " ").split() if self.role_of(r) is None]
                if unknown or not value:
                    self.add(*where, f"{key} '{value}' must name known roles (unknown: {', '.join(unknown)})")

    def _lint_timers(self, name, doc):
        engine = make_script_engine()
        for kind in ("timeDate", "timeDuration", "timeCycle"):
            for expr in doc.iterfind(f".//bpmn:timerEventDefinition/bpmn:{kind}", NS):
                event = expr.getparent().getparent()
                text = (expr.text or "").strip()
                if (expr, text) in self._refused:
                    continue
                try:
                    value = engine.environment.evaluate(text, {})
                except NameError as exc:
                    missing = getattr(exc, "name", "") or ""
                    if re.fullmatch(r"R?\d*/?P[\dYMWDTHS.]+|\d{4}-\d\d-\d\d.*", missing):
                        self.add(name, expr.sourceline, event.get("id"),
                                 f"timer expression {text} is Python: quote it, as \"{text}\"")
                    else:
                        self.add(name, expr.sourceline, event.get("id"),
                                 f"timer expression {text} depends on case data ({missing}); checked when it runs",
                                 "warning")
                    continue
                except statutory_calendar.CalendarNotCovered as exc:
                    self.add(name, expr.sourceline, event.get("id"), f"timer expression {text}: {exc}", "warning")
                    continue
                except Exception as exc:
                    self.add(name, expr.sourceline, event.get("id"), f"timer expression {text} does not evaluate: {exc}")
                    continue
                if not isinstance(value, str) or not _looks_like_iso_time(value, kind):
                    self.add(name, expr.sourceline, event.get("id"),
                             f"timer expression {text} gives {value!r}, not an ISO 8601 {kind}")

    def _lint_dmn(self, name, doc):
        engine = make_script_engine()
        cells_ok = True
        dmn = etree.QName(doc.getroot()).namespace
        for expression in doc.iter(f"{{{dmn}}}inputExpression"):
            text_el = expression.find(f"{{{dmn}}}text")
            text = (text_el.text or "").strip() if text_el is not None else ""
            why = scripting.refusal(text, "eval") if text else None
            if why is not None:
                column = expression.getparent()
                self.add(name, expression.sourceline, column.get("id"), f"script refused: {why}")
                cells_ok = False
        for rule in doc.iter(f"{{{dmn}}}rule"):
            for cell in rule:
                text_el = cell.find(f"{{{dmn}}}text")
                text = (text_el.text or "").strip() if text_el is not None else ""
                if not text or text == "-":
                    continue
                kind = etree.QName(cell).localname
                candidates = [text] if kind == "outputEntry" else [text, f"v {text}", text.replace("?", "v")]
                runs = next((c for c in candidates if _compiles(engine, c)), None)
                if runs is None:
                    self.add(name, cell.sourceline, rule.get("id"), f"{kind} '{text}' is not a valid expression")
                    cells_ok = False
                    continue
                why = scripting.refusal(runs, "eval")
                if why is not None:
                    self.add(name, cell.sourceline, rule.get("id"), f"script refused: {kind} '{text}': {why}")
                    cells_ok = False
        if cells_ok:
            self._try_dmn_on_a_sample(name, doc, engine)

    def _try_dmn_on_a_sample(self, name, doc, engine):
        """Evaluate each decision table once, on inputs taken from its own rules:
        an entry that cannot be compared with its column's values fails here
        rather than in a running case."""
        for decision_id, dmn_parser in self.parser.dmn_parsers.items():
            if dmn_parser.filename != name:
                continue
            try:
                dmn_parser.parse()
                table = dmn_parser.decision.decisionTables[0]
            except Exception as exc:
                self.add(name, _line_of(doc, decision_id), decision_id, f"decision cannot be read: {exc}")
                continue
            sample = {}
            for column, inp in enumerate(table.inputs):
                if not (inp.expression or "").isidentifier():
                    continue
                literals = [rule.inputEntries[column].lhs[0] for rule in table.rules
                            if rule.inputEntries[column].lhs and rule.inputEntries[column].lhs[0]]
                sample[inp.expression] = next((v for v in map(_literal, literals) if v is not _NOT_LITERAL), None)
            workflow = SimpleNamespace(script_engine=engine, spec=SimpleNamespace(file=name))
            workflow.top_workflow = workflow
            task = SimpleNamespace(data=dict(sample), workflow=workflow, task_spec=SimpleNamespace(
                name=decision_id, bpmn_id=decision_id, bpmn_name=decision_id, description=""))
            every_rule = copy.copy(table)  # a unique-hit table would stop at its first match
            every_rule.hit_policy = HitPolicy.COLLECT.value
            try:
                DMNEngine(every_rule).result(task)
            except Exception as exc:
                message = " ".join([str(exc).strip(), *getattr(exc, "__notes__", [])])
                row = re.search(r"row (\d+)", message)
                rule = next((r for r in table.rules if row and str(r.row_number) == row.group(1)), None)
                if rule is None:  # an output cell: its error names the expression, not the row
                    rule = next((r for r in table.rules for out in r.outputEntries
                                 if out.text and f"'{out.text}'" in message), None)
                element = rule.id if rule is not None else decision_id
                self.add(name, _line_of(doc, element), element, f"fails on the sample {sample}: {message}")

    def _run(self):
        for name, content in sorted(self.files.items()):
            if name.startswith(FORM_PREFIX) or name.endswith(".json"):
                continue
            self._read(name, content)
        self._parse()
        for name, doc in self.docs.items():
            (self._lint_bpmn if self.kinds[name] == "bpmn" else self._lint_dmn)(name, doc)
        if not self.docs and not self.findings:
            self.add("", None, None, "no BPMN or DMN file given")


_NOT_LITERAL = object()

_FLOW_NODES = frozenset({
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "businessRuleTask", "sendTask", "receiveTask",
    "callActivity", "subProcess", "transaction", "exclusiveGateway", "inclusiveGateway", "parallelGateway",
    "eventBasedGateway", "complexGateway", "intermediateCatchEvent", "intermediateThrowEvent", "startEvent", "endEvent",
})
# BPMN elements SpiffWorkflow 3.2 as run here cannot execute as drawn, with the reason an analyst reads.
UNSUPPORTED = {
    "complexGateway": "complex gateway is not supported by the engine (SpiffWorkflow 3.2); "
                      "use an inclusive or exclusive gateway with conditions",
    "compensateEventDefinition": "compensation events are not supported: the engine would treat this event "
                                 "as a plain event and compensate nothing; model the undo steps explicitly",
    "linkEventDefinition": "link events are not supported: the engine would treat this as a plain event "
                           "and the flow would not jump; draw the sequence flow instead",
    "conditionalEventDefinition": "conditional events are not supported here: nothing re-evaluates the "
                                  "condition while a case waits; use an exclusive gateway, a timer or a message",
    "dataStoreReference": "data stores are not supported: keep data in the case or in a service operation",
}
# Extension attributes of other engines (Camunda 7/8, Flowable, Activiti) that this engine never reads.
FOREIGN_NAMESPACES = {
    "http://camunda.org/schema/1.0/bpmn": "camunda",
    "http://activiti.org/bpmn": "activiti",
    "http://flowable.org/bpmn": "flowable",
    "http://camunda.org/schema/zeebe/1.0": "zeebe",
}
FOREIGN_HINTS = {
    "assignee": "a task goes to the role its lane names",
    "candidateGroups": "a task goes to the role its lane names",
    "candidateUsers": "a task goes to the role its lane names",
    "formKey": "name the form with the property formJsonSchemaFilename",
    "dueDate": "set the spiffworkflow property dueDate",
    "class": "name a service operation with spiffworkflow:serviceTaskOperator",
    "expression": "name a service operation with spiffworkflow:serviceTaskOperator",
    "delegateExpression": "name a service operation with spiffworkflow:serviceTaskOperator",
    "type": "name a service operation with spiffworkflow:serviceTaskOperator",
    "topic": "name a service operation with spiffworkflow:serviceTaskOperator",
    "decisionRef": "name the decision with spiffworkflow:calledDecisionId",
    "resultVariable": "the decision's output columns become case data",
    "asyncBefore": "every step commits on its own",
    "asyncAfter": "every step commits on its own",
}


_EXEC = {f"{{{BPMN_NS}}}script", f"{{{SPIFF_NS}}}preScript", f"{{{SPIFF_NS}}}postScript"}
_EVAL = {f"{{{BPMN_NS}}}{tag}" for tag in ("conditionExpression", "timeDate", "timeDuration", "timeCycle",
                                           "loopCardinality", "completionCondition")}
_PYTHON_SCRIPT = ("python", "text/x-python", "py")


def _python_texts(doc):
    """(element, text, mode) of each text in a BPMN document that runs as Python; the value of an
    attribute (a due date, a service parameter) is given with its element."""
    for el in doc.iter(*_EXEC, *_EVAL):
        if el.tag == f"{{{BPMN_NS}}}script" and \
                (el.getparent().get("scriptFormat") or "python").strip().lower() not in _PYTHON_SCRIPT:
            continue  # named by the lint of unsupported elements
        text = textwrap.dedent(el.text or "")
        yield el, (text if el.tag in _EXEC else text.strip()), "exec" if el.tag in _EXEC else "eval"
    for prop in doc.iterfind(f".//{{{SPIFF_NS}}}property[@name='{deadlines.DUE_PROPERTY}']"):
        yield prop, (prop.get("value") or "").strip(), "eval"
    for param in doc.iterfind(f".//{{{SPIFF_NS}}}parameter"):
        yield param, (param.get("value") or "").strip(), "eval"


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return _NOT_LITERAL


def _compiles(engine, text) -> bool:
    try:
        engine.validate(text)
        return True
    except SyntaxError:
        return False


def _looks_like_iso_time(value: str, kind: str) -> bool:
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition as T

    try:
        if kind == "timeDate":
            T.get_datetime(value)
        elif kind == "timeDuration":
            T.parse_iso_duration(value)
        else:
            T.parse_iso_recurring_interval(value)
        return True
    except Exception:
        return False


def _connect_loop_children(spec):
    """A multi-instance task learns that an instance finished through an event its
    instances' step fires. SpiffWorkflow connects it when it creates the first
    instance, on the spec object of that moment; a case restored onto a freshly
    parsed spec (after a restart, or moved to another version) with instances
    under way would wait forever. Connect it up front, as SpiffWorkflow's own spec
    deserializer does."""
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, LoopTask) and hasattr(task_spec, "merge_child"):
            child = spec.task_specs.get(task_spec.task_spec)
            if child is not None and not child.completed_event.is_connected(task_spec.merge_child):
                child.completed_event.connect(task_spec.merge_child)


def collect(paths: Iterable[str | os.PathLike]) -> dict[str, bytes]:
    """Read model files from files and folders (folders: *.bpmn and *.dmn)."""
    files: dict[str, bytes] = {}
    for p in map(Path, paths):
        members = sorted([*p.glob("*.bpmn"), *p.glob("*.dmn")]) if p.is_dir() else [p]
        for f in members:
            files[f.name] = f.read_bytes()
    return files


_CHECKED: dict[tuple, "Validation"] = {}
_CHECKED_LOCK = threading.Lock()
_CHECKED_KEEP = 64


class Registry:
    """Deployed versions, and the parsed spec of each kept in memory."""

    def __init__(self, forms_dir: str | os.PathLike | None, role_of: Callable[[str | None], str | None]):
        self.forms_dir = Path(forms_dir) if forms_dir else None
        self.role_of = role_of
        self._loaded: dict[str, LoadedVersion] = {}
        self._lock = threading.Lock()

    def check(self, files: dict[str, bytes]) -> Validation:
        """The three layers' findings for these files. Validation depends only on the
        files and the forms beside them, so the same content is checked once per
        process (deploying processes/ again, or one version to many test databases)."""
        key = (version_hash(files), self._forms_fingerprint(), self.role_of)
        with _CHECKED_LOCK:
            checked = _CHECKED.get(key)
        if checked is None:
            checked = Validation(files, self.forms_dir, self.role_of)
            with _CHECKED_LOCK:
                _CHECKED[key] = checked
                while len(_CHECKED) > _CHECKED_KEEP:
                    _CHECKED.pop(next(iter(_CHECKED)))
        return checked

    def _forms_fingerprint(self) -> tuple:
        if self.forms_dir is None or not self.forms_dir.is_dir():
            return ()
        return tuple(sorted((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in self.forms_dir.iterdir()))

    def deploy(self, files: dict[str, bytes], actor: str | None = None, note: str | None = None,
               moves_head: Callable[[str, str | None], bool] | None = None):
        """Deploy a set of files as one version. Returns (version, created).

        `moves_head(process_id, current_head_version)` says whether new cases of a process start on
        this version from now on (default: every process in it does)."""
        check = self.check(files)
        if check.errors:
            raise ModelInvalid(check.findings)
        # Forms the models use are part of the version: a deployed version never changes under a case.
        content = {n: c for n, c in check.files.items() if n in check.docs or n.startswith(FORM_PREFIX)}
        vid = version_hash(content)
        existing = db.session.get(ModelVersion, vid)
        if existing is not None:
            return existing, False
        version = ModelVersion(
            id=vid,
            deployed_at=clock.now(),
            deployed_by=actor,
            note=note,
            processes=check.processes,
            warnings=[f.as_dict() for f in check.findings],
        )
        version.files = [ModelFile(name=n, content=c.decode("utf-8")) for n, c in sorted(content.items())]
        db.session.add(version)
        for pid in check.processes:
            head = db.session.get(ProcessHead, pid)
            if moves_head is not None and not moves_head(pid, head.version_id if head else None):
                continue
            if head is None:
                db.session.add(ProcessHead(process_id=pid, version_id=vid, updated_at=version.deployed_at))
            else:
                head.version_id, head.updated_at = vid, version.deployed_at
        audit(actor, "deploy", detail={"version": vid, "processes": check.processes, "note": note})
        db.session.commit()
        return version, True

    def latest_version_for(self, process_id: str) -> str:
        head = db.session.get(ProcessHead, process_id)
        if head is None:
            raise UnknownProcess(process_id)
        return head.version_id

    def process_name(self, process_id: str, version_id: str | None = None) -> str:
        """What people call a process: its name in the diagram of a version (by default the one
        new cases start on), else its id."""
        try:
            spec = self.load(version_id or self.latest_version_for(process_id)).specs.get(process_id)
        except UnknownProcess:
            spec = None
        return (spec.description if spec is not None else None) or process_id

    def load(self, version_id: str) -> LoadedVersion:
        with self._lock:
            loaded = self._loaded.get(version_id)
        if loaded is not None:
            return loaded
        version = db.session.get(ModelVersion, version_id)
        if version is None:
            raise UnknownProcess(f"model version {version_id}")
        files = {f.name: f.content.encode("utf-8") for f in version.files}
        parser = SpiffBpmnParser()
        for name, content in files.items():
            if name.startswith(FORM_PREFIX):
                continue
            root = etree.fromstring(content, _SAFE_PARSER)
            if etree.QName(root).namespace == BPMN_NS:
                parser.add_bpmn_xml(etree.ElementTree(root), filename=name)
            else:
                parser.add_dmn_xml(root, filename=name)
        specs = {pid: parser.get_spec(pid) for pid in version.processes}
        subs = {pid: parser.get_subprocess_specs(pid) for pid in version.processes}
        for spec in [*specs.values(), *(s for deps in subs.values() for s in deps.values())]:
            _connect_loop_children(spec)
        forms = {n[len(FORM_PREFIX):]: json.loads(c) for n, c in files.items() if n.startswith(FORM_PREFIX)}
        loaded = LoadedVersion(version_id, specs, subs, forms)
        with self._lock:
            self._loaded[version_id] = loaded
        return loaded
