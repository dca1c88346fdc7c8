"""The analysts' modeler (流程建模), as operations a test calls without HTTP.

An analyst opens a file of a deployed version, edits it in the browser,
validates it against the registry's three layers and deploys it. A deployment
is always a whole new version: the files of the version the analyst started
from, with the edited file replaced (or a new file added), so the decision
tables, called processes and forms the diagram relies on go with it. Which
processes' new cases start on it: the edited file's own, and the others of
that version only where it was their newest (a process deployed since in
another version keeps its own newer head).
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass

from lxml import etree

from . import clock, model_diff
from .audit import append as audit
from .db import db
from .model_registry import (
    BPMN_NS,
    FORM_PREFIX,
    MAX_FILE_BYTES,
    SAFE_PARSER,
    Finding,
    ModelInvalid,
    Registry,
    Validation,
)
from .models import AuditEvent, ModelFile, ModelVersion, ProcessHead

FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.(bpmn|dmn)")
PROCESS_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,80}")
MAX_NOTE = 2000


class ModelingError(ValueError):
    """Input the modeler refuses before any validation: a bad file name, no change note..."""


class StaleBase(ModelingError):
    """Someone deployed the same process since the analyst opened it."""


@dataclass
class ProcessEntry:
    process_id: str
    name: str
    file: str | None
    version: ModelVersion


def version_or_none(version_id: str | None) -> ModelVersion | None:
    return db.session.get(ModelVersion, version_id) if version_id else None


def files_of(version_id: str) -> dict[str, bytes]:
    rows = db.session.scalars(db.select(ModelFile).where(ModelFile.version_id == version_id)).all()
    return {f.name: f.content.encode("utf-8") for f in rows}


def _deployment_order() -> dict[str, int]:
    """Version id -> the place of its deployment in the audit log. Two versions deployed in the same
    second (or on a virtual clock that stood still) are still told apart in the order they came."""
    order = {}
    for seq, detail in db.session.execute(db.select(AuditEvent.seq, AuditEvent.detail)
                                          .where(AuditEvent.action == "deploy").order_by(AuditEvent.seq)):
        try:
            order[json.loads(detail)["version"]] = seq
        except (ValueError, KeyError, TypeError):
            continue
    return order


def versions_newest_first() -> list[ModelVersion]:
    order = _deployment_order()
    versions = db.session.scalars(db.select(ModelVersion)).all()
    return sorted(versions, key=lambda v: (order.get(v.id, -1), v.deployed_at), reverse=True)


def latest_version() -> ModelVersion | None:
    versions = versions_newest_first()
    return versions[0] if versions else None


def _processes_in(content: bytes) -> list[tuple[str, str]]:
    """(process id, name) of a BPMN file; the pool's name when the process has none. A file that
    is not well-formed defines none here: the registry's validation refuses it with its line."""
    try:
        root = etree.fromstring(content, SAFE_PARSER)
    except etree.XMLSyntaxError:
        return []
    if etree.QName(root).namespace != BPMN_NS:
        return []
    ns = {"b": BPMN_NS}
    pools = {p.get("processRef"): p.get("name") for p in root.iterfind(".//b:participant", ns)}
    return [(p.get("id"), p.get("name") or pools.get(p.get("id")) or p.get("id"))
            for p in root.iterfind("b:process", ns)]


def processes_of(version_id: str, file_name: str) -> list[str]:
    """The processes one file of a version defines, in file order (none for a decision table)."""
    content = files_of(version_id).get(file_name) if file_name.endswith(".bpmn") else None
    return [pid for pid, _ in _processes_in(content)] if content else []


def file_defining(files: dict[str, bytes], process_id: str) -> str | None:
    for name, content in sorted(files.items()):
        if name.endswith(".bpmn") and f'id="{process_id}"'.encode() in content:
            if any(pid == process_id for pid, _ in _processes_in(content)):
                return name
    return None


def catalogue() -> list[ProcessEntry]:
    """Every process new cases can start, with the version they start on and the file defining it."""
    entries = []
    for head in db.session.scalars(db.select(ProcessHead).order_by(ProcessHead.process_id)).all():
        version = db.session.get(ModelVersion, head.version_id)
        files = files_of(version.id)
        name = file_defining(files, head.process_id)
        label = dict(_processes_in(files[name])).get(head.process_id) if name else None
        entries.append(ProcessEntry(head.process_id, label or head.process_id, name, version))
    return entries


def history(process_id: str) -> list[ModelVersion]:
    """The versions containing a process, newest first."""
    return [v for v in versions_newest_first() if process_id in (v.processes or [])]


@dataclass
class VersionFile:
    """A file of a version as its history shows it: what that version did to it."""

    name: str
    change: str  # added | changed | removed | unchanged, against the version listed before it; first


def files_by_version(versions: list[ModelVersion]) -> dict[str, list[VersionFile]]:
    """Each version's files (versions newest first, as `history` gives them), the files it added,
    changed or removed against the next older one first, then those it kept; the oldest's are "first"."""
    contents = {v.id: files_of(v.id) for v in versions}
    grouped = {}
    for at, version in enumerate(versions):
        files = contents[version.id]
        older = contents[versions[at + 1].id] if at + 1 < len(versions) else None
        if older is None:
            grouped[version.id] = [VersionFile(n, "first") for n in sorted(files)]
            continue
        touched = [VersionFile(n, "added" if n not in older else "removed" if n not in files else "changed")
                   for n in sorted(files.keys() | older.keys()) if files.get(n) != older.get(n)]
        kept = [VersionFile(n, "unchanged") for n in sorted(files) if files[n] == older.get(n)]
        grouped[version.id] = touched + kept
    return grouped


def decision_tables(files: dict[str, bytes]) -> list[tuple[str, list[str]]]:
    """Each decision table file (*.dmn) of a version with the names of the decisions it holds."""
    found = []
    for name, content in sorted(files.items()):
        if name.endswith(".dmn"):
            root = etree.fromstring(content, SAFE_PARSER)
            found.append((name, [d.get("name") or d.get("id") for d in root.iter() if isinstance(d.tag, str)
                                 and etree.QName(d).localname == "decision"]))
    return found


def decisions_in(files: dict[str, bytes]) -> list[str]:
    """The decision ids of a version's DMN files, for a business-rule task to call."""
    found = []
    for name, content in sorted(files.items()):
        if name.endswith(".dmn"):
            root = etree.fromstring(content, SAFE_PARSER)
            found += [d.get("id") for d in root.iter() if isinstance(d.tag, str)
                      and etree.QName(d).localname == "decision" and d.get("id")]
    return found


def check_name(file_name: str) -> str:
    if not FILE_NAME.fullmatch(file_name or ""):
        raise ModelingError(f"文件名 {file_name!r} 不允许：只能用字母、数字、_ . -，并以 .bpmn 或 .dmn 结尾 (file name {file_name!r} is not allowed: letters, digits, _ . - and .bpmn or .dmn)")
    return file_name


def _content(xml: bytes | str) -> bytes:
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    if len(data) > MAX_FILE_BYTES:
        raise ModelingError(f"文件大于 {MAX_FILE_BYTES // 1024} KiB (the file is larger than {MAX_FILE_BYTES // 1024} KiB)")
    if not data.strip():
        raise ModelingError("文件为空 (the file is empty)")
    return data


def edited_files(base: ModelVersion | None, file_name: str, xml: bytes | str) -> dict[str, bytes]:
    """The base version's model files with one file replaced or added (its forms come from forms/ again)."""
    files = {n: c for n, c in files_of(base.id).items() if not n.startswith(FORM_PREFIX)} if base else {}
    files[check_name(file_name)] = _content(xml)
    return files


def validate(registry: Registry, base_id: str | None, file_name: str, xml: bytes | str) -> Validation:
    """Every finding of the three layers for the edited file, in the company of the base version's files."""
    base = version_or_none(base_id)
    if base_id and base is None:
        raise ModelingError(f"没有版本 {base_id} (no version {base_id})")
    return registry.check(edited_files(base, file_name, xml))


def findings_json(findings: list[Finding], edited: str | None = None) -> list[dict]:
    """The edited file's findings first (what the analyst just changed), then the other files';
    within each, errors before warnings, in the order of the file."""
    order = {"error": 0, "warning": 1}
    return [f.as_dict() for f in sorted(findings, key=lambda f: (
        f.file != edited, order.get(f.severity, 2), f.file or "", f.line or 0))]


def deploy(registry: Registry, base_id: str | None, file_name: str, xml: bytes | str, actor: str, note: str):
    """Deploy the edited file as a new version on top of `base_id` (None: the newest version).
    Returns (version, created); raises ModelInvalid with the findings, StaleBase, ModelingError."""
    note = (note or "").strip()
    if not note:
        raise ModelingError("须填写变更说明：说明改了什么、为什么改 (a change note is required: say what changed and why)")
    if len(note) > MAX_NOTE:
        raise ModelingError(f"变更说明超过 {MAX_NOTE} 个字符 (the change note is longer than {MAX_NOTE} characters)")
    base = version_or_none(base_id) if base_id else latest_version()
    if base_id and base is None:
        raise ModelingError(f"没有版本 {base_id} (no version {base_id})")
    files = edited_files(base, file_name, xml)
    own = {pid for pid, _ in _processes_in(files[file_name])} if file_name.endswith(".bpmn") else set()
    unchanged = base is not None and files == {n: c for n, c in files_of(base.id).items()
                                               if not n.startswith(FORM_PREFIX)}
    if base is not None and not unchanged:  # an opened version deployed unchanged is reinstated on purpose
        stale = [pid for pid in own if (head := db.session.get(ProcessHead, pid)) is not None
                 and head.version_id != base.id]
        if file_name.endswith(".dmn") and not any(
                (h := db.session.get(ProcessHead, pid)) is not None and h.version_id == base.id
                for pid in base.processes):
            stale = list(base.processes)
        if stale:
            raise StaleBase(f"在你打开的版本之后，{', '.join(sorted(stale))} 已部署了更新的版本；请打开最新版本再修改 (a newer version of {', '.join(sorted(stale))} was deployed after the one you opened; "
                            "open the newest version and make the change there)")

    def moves_head(pid, current):
        return pid in own or current is None or (base is not None and current == base.id)

    version, created = registry.deploy(files, actor=actor, note=note, moves_head=moves_head)
    if not created:
        _reinstate(version, own, moves_head, actor, note)
    return version, created


def _reinstate(version: ModelVersion, own: set[str], moves_head, actor: str, note: str):
    """The edit gives the content of an earlier version (a change undone): that version, unchanged,
    is again the one new cases of the edited processes start on, and the log says who did it and why."""
    moved = []
    for pid in version.processes:
        head = db.session.get(ProcessHead, pid)
        if head is None or head.version_id == version.id or not moves_head(pid, head.version_id):
            continue
        head.version_id, head.updated_at = version.id, clock.now()
        moved.append(pid)
    if moved:
        audit(actor, "deploy", detail={"version": version.id, "processes": moved, "note": note, "reinstated": True})
        db.session.commit()


def import_file(registry: Registry, file_name: str, xml: bytes | str, actor: str, note: str):
    """A diagram drawn elsewhere (Camunda Modeler, Signavio, bpmn.io) added to the newest version.
    Refused with every finding (unsupported elements named by the lint) when it cannot run here."""
    return deploy(registry, None, file_name, xml, actor, note or f"imported {file_name}")


def diff(from_id: str, to_id: str) -> list[model_diff.Change]:
    return model_diff.diff_versions(files_of(from_id), files_of(to_id))


def zip_of(version_id: str) -> bytes:
    """A version's files laid out as the repository keeps them: processes/*.bpmn|dmn and forms/*.json,
    so a developer can unzip it at the repository's root and commit an analyst's version."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in sorted(files_of(version_id).items()):
            z.writestr(name if name.startswith(FORM_PREFIX) else f"processes/{name}", content)
    return buf.getvalue()


def blank_diagram(process_id: str, name: str) -> str:
    """A new process: one pool, one start event, ready for the analyst to draw on."""
    if not PROCESS_ID.fullmatch(process_id or ""):
        raise ModelingError("流程标识由字母、数字和 _ 组成，以字母开头 (a process id is letters, digits and _, starting with a letter)")
    if db.session.get(ProcessHead, process_id) is not None:
        raise ModelingError(f"流程 {process_id} 已存在：请直接打开它 (a process {process_id} exists already: open it instead)")
    label = (name or process_id).replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
                  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="Definitions_{process_id}" targetNamespace="http://green-ladder.gansu/processes">
  <bpmn:collaboration id="Collaboration_{process_id}">
    <bpmn:participant id="Pool_{process_id}" name="{label}" processRef="{process_id}" />
  </bpmn:collaboration>
  <bpmn:process id="{process_id}" name="{label}" isExecutable="true">
    <bpmn:startEvent id="Start_{process_id}" name="开始 Start" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="Diagram_{process_id}">
    <bpmndi:BPMNPlane id="Plane_{process_id}" bpmnElement="Collaboration_{process_id}">
      <bpmndi:BPMNShape id="Pool_{process_id}_di" bpmnElement="Pool_{process_id}" isHorizontal="true">
        <dc:Bounds x="120" y="80" width="800" height="250" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Start_{process_id}_di" bpmnElement="Start_{process_id}">
        <dc:Bounds x="200" y="187" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


__all__ = ["ModelingError", "StaleBase", "ModelInvalid", "Finding", "catalogue", "history", "files_of",
           "validate", "deploy", "import_file", "diff", "zip_of", "blank_diagram", "decisions_in",
           "decision_tables", "files_by_version"]
