"""The model registry (模型注册): deploy and load BPMN/DMN model versions.

A deployed version is the content-addressed set of its files, forms included,
and never changes; each version is parsed once per process and kept in memory.
What is deployed is first validated (see `validation`), and the same files are
validated once per process.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from .. import clock, store
from ..audit import append as audit
from ..db import db
from ..models import ModelFile, ModelVersion, ProcessHead
from .documents import BPMN_NS, FORM_PREFIX, SAFE_PARSER, ModelInvalid
from .validation import Validation


class UnknownProcess(LookupError):
    pass


@dataclass
class LoadedVersion:
    """A deployed version parsed once: the specs every instance of it shares."""

    id: str
    specs: dict
    subprocess_specs: dict
    forms: dict[str, dict] = field(default_factory=dict)


def version_hash(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


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


_CHECKED: dict[tuple, Validation] = {}
_CHECKED_LOCK = threading.Lock()
_CHECKED_KEEP = 64
# Parsed versions, by id. An id is the hash of every file in the version, forms included, so a
# parse is good for any registry in the process that meets the same id (each test's app, each
# database the same version is deployed to); a worker has one registry and gains nothing.
_PARSED: dict[str, LoadedVersion] = {}
_PARSED_KEEP = 32


class Registry:
    """Deployed versions, and the parsed spec of each kept in memory."""

    def __init__(self, forms_dir: str | os.PathLike | None, role_of: Callable[[str | None], str | None]):
        self.forms_dir = Path(forms_dir) if forms_dir else None
        self.role_of = role_of
        self._loaded: dict[str, LoadedVersion] = {}
        self._lock = threading.Lock()

    def forget_parsed(self) -> None:
        """Parse each version again at its next use, in this registry and the process's cache:
        SpiffWorkflow changes a parsed spec as cases run on it (the first time an event
        subprocess is triggered it is connected to its process's start and end), so only a
        new parse shows how a case runs on spec objects no case has used."""
        with self._lock:
            self._loaded.clear()
            _PARSED.clear()

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
        # one column through the step path's reads: every start asks, and the ORM object
        # was expired by each commit and loaded whole again (a quarter of a start)
        found = store.SELECT_HEAD.first(store.conn(), {"id": process_id})
        if found is None:
            raise UnknownProcess(process_id)
        return found[0]

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
            loaded = self._loaded.get(version_id) or _PARSED.get(version_id)
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
            root = etree.fromstring(content, SAFE_PARSER)
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
            _PARSED[version_id] = loaded
            while len(_PARSED) > _PARSED_KEEP:
                _PARSED.pop(next(iter(_PARSED)))
        return loaded
