"""Validation of a set of model files (模型校验), in three layers, every finding
with file, line and element: (a) well-formed XML against the BPMN/DMN schemas
(`reading`), (b) SpiffWorkflow's semantic parse (`semantics`), (c) this
project's lint (`semantics`, `scripts`, `time_limits`, `dmn`, `data_flow`).

`Validation` holds what the layers share (the files, the documents read, the
parser, the findings) and runs them in order; each layer is plain functions
that report through `add`.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from lxml import etree
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from . import data_flow, dmn, reading, scripts, semantics, time_limits
from .documents import FORM_PREFIX, Finding


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

    def _run(self):
        for name, content in sorted(self.files.items()):
            if name.startswith(FORM_PREFIX) or name.endswith(".json"):
                continue
            read = reading.read(name, content, self.add)
            if read is not None:
                self.docs[name], self.kinds[name] = read
        for name, doc in list(self.docs.items()):
            if self.kinds[name] == "bpmn" and not reading.check_ids_and_references(name, doc, self.add):
                del self.docs[name]
        self.processes = semantics.parse(self.parser, self.docs, self.kinds, self.add)
        self._data = data_flow.names_set(self.docs, self.kinds, self._form)
        for name, doc in self.docs.items():
            if self.kinds[name] == "bpmn":
                self._lint_bpmn(name, doc)
            else:
                dmn.lint_dmn(name, doc, self.parser, self.add)
        if not self.docs and not self.findings:
            self.add("", None, None, "没有提供 BPMN 或 DMN 文件 (no BPMN or DMN file given)")

    def _lint_bpmn(self, name: str, doc):
        semantics.lint_forms(name, doc, self._form, self.add)
        semantics.lint_case_file(name, doc, self.add)
        semantics.lint_lanes(name, doc, self.role_of, self.add)
        semantics.lint_gateways(name, doc, self.add)
        # first: a refused text is not evaluated by the lints after it
        self._refused |= scripts.lint_scripts(name, doc, self.add)
        time_limits.lint_timers(name, doc, self._refused, self.add)
        time_limits.lint_time_limits(name, doc, self._refused, self.role_of, self.add)
        semantics.lint_unsupported(name, doc, self.add)
        semantics.lint_connections(name, doc, self.add)
        semantics.lint_service_operations(name, doc, self.add)
        data_flow.lint_conditions(name, doc, self._data, self._refused, self.add)
        data_flow.lint_data_objects(name, doc, self.add)

    def _form(self, form_name: str) -> dict | None:
        """A form the files name, from the files or the forms folder; one read from the
        folder joins the files, so it is deployed with the version."""
        key = FORM_PREFIX + form_name
        if key not in self.files and self.forms_dir is not None:
            path = (self.forms_dir / form_name).resolve()
            if path.parent == self.forms_dir.resolve() and path.is_file():
                self.files[key] = path.read_bytes()
        if key not in self.files:
            return None
        return json.loads(self.files[key])
