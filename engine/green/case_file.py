"""The case file (卷宗): what a decision on a case needs, read-only, labelled by the forms that
collected it, beside every task and on the case page.

Which sections a task shows is the diagram's to say (the user task's property
`caseFileSections`, e.g. "candidate, evaluation"), so analysts change it in the modeler;
without it a task shows `DEFAULT`. A section with nothing to show is left out.

What a reader sees follows the rules the rest of the system keeps: the case's data as
`privacy.case_data` gives it to this reader (masked personal fields; an expert only the
candidates assigned to them), files as `privacy.may_read_evidence` allows, and an expert
sees no one else's opinion (Art 15: reviews are independent). The caller audits the personal
fields and files the file shows unmasked (`opened`, `evidence`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from engine import personal
from engine.db import db
from engine.forms import label_of
from engine.model_registry import CASE_FILE_PROPERTY, CASE_FILE_SECTIONS, FORM_PROPERTY, section_names
from engine.models import AuditEvent, ProcessInstance

from . import attachments, exclusions, privacy
from .agencies import EvaluationReport
from .models import Attachment, Designation, DesignationEvent, Organisation, User
from .registrations import Registration
from .roles import PARTY_ROLES

# Every section there is, in the order the case page shows them.
SECTIONS = ("candidate", "organisation", "application", "evaluation", "attachments", "art18", "opinions")
# What a task shows when its diagram names nothing (a candidate is only for the task reviewing it).
DEFAULT = ("organisation", "application", "evaluation", "attachments", "art18", "opinions")
# An expert reads the candidates assigned to them, and nothing else of a round (Art 15).
REVIEWER_SECTIONS = frozenset({"candidate", "evaluation"})
# What a browser may show in place rather than download (the stored type is checked by content).
PREVIEWABLE = frozenset({"application/pdf", "image/png", "image/jpeg"})
# The case's data the organisation section shows, by the names the application forms give them.
ORGANISATION_FIELDS = ("organisation_name", "credit_code", "unit_type")
# Fields the evaluation section shows with their points: not repeated under the application.
SCORED_FIELDS = frozenset({"basic_requirements", "indicators"})


def register() -> None:
    CASE_FILE_SECTIONS.update(SECTIONS)


def sections_of(task_spec) -> tuple[str, ...]:
    """The sections a user task's diagram asks for (unknown names were refused at deploy)."""
    value = ((getattr(task_spec, "extensions", None) or {}).get("properties") or {}).get(CASE_FILE_PROPERTY)
    names = [n for n in section_names(value) if n in SECTIONS] if value is not None else None
    return tuple(names) if names else DEFAULT


@dataclass
class CaseFile:
    sections: list[dict]
    opened: list[str] = field(default_factory=list)  # personal fields shown unmasked
    evidence: list[int] = field(default_factory=list)  # personal files offered

    def section(self, name: str) -> dict | None:
        return next((s for s in self.sections if s["section"] == name), None)


class _Forms:
    """The titles the case version's forms give fields and choices, and which form each task uses."""

    def __init__(self, version, process_id: str):
        self.version = version
        self.process_id = process_id
        self.titles: dict[str, str] = {}
        self.choices: dict[str, dict] = {}
        # a name two forms title differently reads as the case's own procedure's forms call it
        own = {self.form_of(ts) for spec in self._specs() for ts in spec.task_specs.values()}
        for name in sorted(version.forms, key=lambda n: (n not in own, n)):
            self._walk(version.forms[name])

    def _walk(self, node) -> None:
        for key, prop in ((node or {}).get("properties") or {}).items():
            if not isinstance(prop, dict):
                continue
            if label_of(prop):
                self.titles.setdefault(key, label_of(prop))
            for option in [*prop.get("oneOf", []), *prop.get("anyOf", [])]:
                if isinstance(option, dict) and "const" in option and label_of(option):
                    self.choices.setdefault(key, {}).setdefault(str(option["const"]), label_of(option))
            self._walk(prop)
            if isinstance(prop.get("items"), dict):
                self._walk(prop["items"])

    def _specs(self) -> list:
        specs = [self.version.specs.get(self.process_id),
                 *(self.version.subprocess_specs.get(self.process_id) or {}).values()]
        return [s for s in specs if s is not None]

    @staticmethod
    def form_of(task_spec) -> str | None:
        return ((getattr(task_spec, "extensions", None) or {}).get("properties") or {}).get(FORM_PROPERTY)

    def spec(self, element: str | None):
        return next((s.task_specs[element] for s in self._specs() if element in s.task_specs), None)

    def start(self):
        """The process's start event that has a form (what a case is started with), if any."""
        spec = self.version.specs.get(self.process_id)
        return next((ts for ts in (spec.task_specs.values() if spec is not None else ())
                     if type(ts).__name__ == "StartEvent" and self.form_of(ts)), None)

    def choice(self, key: str, value) -> str | None:
        return self.choices.get(key, {}).get(str(value))


class _Reading:
    """One reader's view of one case, shared by the sections."""

    def __init__(self, runtime, case: ProcessInstance, actor, subject: dict | None):
        self.runtime, self.case, self.actor, self.subject = runtime, case, actor, subject
        self.version = runtime.registry.load(case.version_id)
        self.forms = _Forms(self.version, case.process_id)
        self.marks = personal.marks_for(runtime.registry, case.version_id, runtime.role_of)
        self.data, self.opened = privacy.case_data(actor, case, self.marks)
        self.reviewer = privacy.reviewer_scope(actor, case) is not None
        self.evidence: list[int] = []
        self._files: dict[int, Attachment | None] = {}
        self._completions: list[dict] | None = None

    # ------------------------------------------------------------------ values as a form shows them
    def file(self, attachment_id) -> dict | None:
        if not isinstance(attachment_id, int) or isinstance(attachment_id, bool):
            return None
        if attachment_id not in self._files:
            self._files[attachment_id] = db.session.get(Attachment, attachment_id)
        item = self._files[attachment_id]
        if item is None or item.instance_id != self.case.id or not privacy.may_read_evidence(self.actor, self.case, item):
            return None
        if item.personal:
            self.evidence.append(item.id)
        return {"id": item.id, "name": item.original_name, "size": item.size, "content_type": item.content_type,
                "uploaded_at": item.uploaded_at, "preview": item.content_type in PREVIEWABLE}

    def value(self, key: str, prop: dict, value) -> dict:
        """One field's value as the page shows it: a choice by its title, a file by name with its
        link, a table by its columns' titles, a yes/no as such."""
        if attachments.is_file_field(prop):
            return {"kind": "file", "file": self.file(value), "raw": value}
        if isinstance(value, bool):
            return {"kind": "bool", "value": value}
        if isinstance(value, list):
            items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
            columns = items.get("properties") if isinstance(items.get("properties"), dict) else None
            if columns and all(isinstance(row, dict) for row in value):
                keys = [k for k in columns if any(k in row for row in value)]
                return {"kind": "table", "columns": [label_of(columns[k]) or k for k in keys],
                        "rows": [[self.value(k, columns[k], row.get(k)) for k in keys] for row in value]}
            return {"kind": "list", "items": [self.value(key, items, v) for v in value]}
        if isinstance(value, dict):
            props = prop.get("properties") if isinstance(prop.get("properties"), dict) else {}
            return {"kind": "fields", "fields": [self.field(k, props.get(k) or {}, v) for k, v in value.items()]}
        if value is None or value == "":
            return {"kind": "empty"}
        shown = self.forms.choice(key, value)
        return {"kind": "text", "value": shown if shown is not None else str(value)}

    def field(self, key: str, prop: dict, value) -> dict:
        # a field no form titles (a task without a form takes a note) is named by the page
        return {"key": key, "label": label_of(prop) or self.forms.titles.get(key),
                **self.value(key, prop, value)}

    def form_fields(self, schema: dict, data: dict, skip=frozenset()) -> list[dict]:
        props = (schema or {}).get("properties") or {}
        return [self.field(k, p, data[k]) for k, p in props.items()
                if isinstance(p, dict) and k in data and k not in skip and data[k] not in (None, "", [], {})]

    # ------------------------------------------------------------------ the case's steps
    def completions(self) -> list[dict]:
        """Each user task completed in the case, oldest first: who, when, which step, its form,
        whether a party (the applicant, the agency) or an authority did it, and what it submitted."""
        if self._completions is None:
            self._completions = self._read_completions()
        return self._completions

    def _read_completions(self) -> list[dict]:
        events = db.session.scalars(db.select(AuditEvent).where(
            AuditEvent.instance_id == self.case.id, AuditEvent.action.in_(("start", "complete")))
            .order_by(AuditEvent.seq)).all()
        names = dict(db.session.execute(db.select(User.name, User.display_name).where(
            User.name.in_({e.actor for e in events if e.actor}), User.display_name.is_not(None))).all())
        readable = privacy.readable(self.actor, self.case, self.marks)
        out = []
        for e in events:
            submitted = (json.loads(e.detail or "{}") or {}).get("in") or {}
            if e.action == "start" and not submitted:
                continue  # a case opened empty (a round): nothing was handed in
            spec = self.forms.start() if e.action == "start" else self.forms.spec(e.task)
            form = self.forms.form_of(spec)
            held = [p for p in personal.present(submitted, self.marks) if p not in readable]
            out.append({"at": e.at, "actor": e.actor, "by": names.get(e.actor, e.actor), "element": e.task,
                        "step": getattr(spec, "bpmn_name", None) or e.task, "form": form,
                        # what a case starts with (an application, a report) is its material, whoever hands it in
                        "party": e.action == "start" or self.runtime.role_of(getattr(spec, "lane", None)) in PARTY_ROLES,
                        "data": personal.masked(submitted, held) if held else submitted})
        return out


# ---------------------------------------------------------------------------- the sections
def _candidate(r: _Reading) -> dict | None:
    """The candidate an expert reviews (the review task's item), or those assigned to the reader."""
    if r.subject:
        found = [r.subject]
    elif r.reviewer:
        found = r.data.get("assigned_candidates") or []
    else:
        return None
    candidates = []
    for c in found:
        designation = db.session.get(Designation, c["designation_id"]) if c.get("designation_id") else None
        candidates.append({"name": c.get("name"), "credit_code": c.get("credit_code"), "unit_type": c.get("unit_type"),
                           "jurisdiction": c.get("jurisdiction"), "reason": c.get("reason"),
                           "designation": {"listed_on": designation.listed_on, "decision": designation.decision,
                                           "level": designation.level} if designation is not None else None})
    return {"candidates": candidates} if candidates else None


def _organisation(r: _Reading) -> dict | None:
    """The organisation the case is about: as the application named it, and as the register and
    its registration know it, with its designations (current and ended) and their history."""
    code, about = r.data.get("credit_code"), None
    if not isinstance(code, str) or not code:  # a case about a designation (a revocation, a spot check)
        held = r.data.get("designation_id")
        about = db.session.get(Designation, held) if isinstance(held, int) and not isinstance(held, bool) else None
        if about is None:
            return None
        code = about.organisation.credit_code
    org = db.session.scalar(db.select(Organisation).where(Organisation.credit_code == code.upper()))
    registration = db.session.scalar(db.select(Registration).where(Registration.credit_code == code.upper()))
    fields = [{"key": k, "label": r.forms.titles.get(k) or k, **r.value(k, {}, r.data[k])}
              for k in ORGANISATION_FIELDS if r.data.get(k) not in (None, "")]
    designations = []
    for d in (org.designations if org is not None else []):
        events = db.session.scalars(db.select(DesignationEvent).where(DesignationEvent.designation_id == d.id)
                                    .order_by(DesignationEvent.id)).all()
        designations.append({"unit_type": d.unit_type, "level": d.level, "status": d.status, "listed_on": d.listed_on,
                             "ended_on": d.ended_on, "end_reason": d.end_reason, "decision": d.decision,
                             "history": [{"at": e.at, "action": e.action, "reason": e.reason} for e in events]})
    return {"fields": fields, "name": r.data.get("organisation_name") or (org.name if org else None),
            "credit_code": code, "unit_type": r.data.get("unit_type") or (about.unit_type if about else None),
            "jurisdiction": (org.jurisdiction if org else None) or r.case.jurisdiction,
            "legal_representative": registration.legal_representative if registration else None,
            "address": registration.address if registration else None,
            "current": [d for d in designations if d["status"] == "listed"],
            "ended": [d for d in designations if d["status"] != "listed"]}


def _application(r: _Reading, shown: set[str]) -> dict | None:
    """What the party (the applicant, its agency) handed in, by form, as the case holds it now."""
    groups, seen = [], set()
    skip = (SCORED_FIELDS if "evaluation" in shown else frozenset()) | (
        set(ORGANISATION_FIELDS) if "organisation" in shown else set())
    for done in reversed(r.completions()):  # the latest submission of each form
        if not done["party"] or not done["form"] or done["form"] in seen:
            continue
        seen.add(done["form"])
        schema = r.version.forms.get(done["form"]) or {}
        fields = r.form_fields(schema, r.data, skip)
        if fields:
            groups.append({"title": label_of(schema) or done["step"], "step": done["step"], "by": done["by"],
                           "at": done["at"], "fields": fields})
    return {"groups": list(reversed(groups))} if groups else None


def _evaluation(r: _Reading) -> dict | None:
    """The evaluation report as scored (Art 17): every indicator with its value, points, baseline
    and leading value, the basic requirements and thresholds that veto, the score and verdict."""
    query = db.select(EvaluationReport).order_by(EvaluationReport.id.desc())
    if r.subject or r.reviewer:
        codes = [c.get("credit_code") for c in (_candidate(r) or {}).get("candidates", [])]
        reports = [db.session.scalar(query.where(EvaluationReport.credit_code == c).limit(1)) for c in codes if c]
        reports = [x for x in reports if x is not None]
    else:
        reports = db.session.scalars(query.where(EvaluationReport.instance_id == r.case.id).limit(1)).all()
    if not reports:
        return None
    count = db.session.scalar(db.select(db.func.count()).select_from(EvaluationReport).where(
        EvaluationReport.instance_id == r.case.id)) or 0
    return {"reports": [_report(r, x) for x in reports], "submissions": count}


def _report(r: _Reading, report: EvaluationReport) -> dict:
    vetoed = set(report.vetoed_by or [])
    basic = [{"code": b.get("requirement"), "label": r.forms.choice("requirement", b.get("requirement"))
              or b.get("requirement"), "met": b.get("met") is True, "note": b.get("note"),
              "vetoed": b.get("requirement") in vetoed} for b in report.basic_requirements or []]
    rows = [{**row, "label": r.forms.choice("indicator", row.get("indicator")) or row.get("indicator"),
             "threshold": "limit" in row, "vetoed": row.get("indicator") in vetoed}
            for row in report.indicators or []]
    return {"id": report.id, "organisation_name": report.organisation_name, "credit_code": report.credit_code,
            "unit_type": report.unit_type, "level": report.level, "mode": report.evaluation_mode,
            "mode_label": r.forms.choice("evaluation_mode", report.evaluation_mode) or report.evaluation_mode,
            "agency": report.agency.name if report.agency is not None else None,
            "score": report.score, "pass_mark": report.pass_mark, "verdict": report.verdict,
            "vetoes": [x for x in basic if x["vetoed"]] + [x for x in rows if x["vetoed"]],
            "basic": basic, "indicators": rows, "submitted_at": report.submitted_at,
            "pdf": r.file(report.attachment_id) if report.instance_id == r.case.id else None}


def _attachments(r: _Reading) -> dict | None:
    rows = db.session.scalars(db.select(Attachment.id).where(Attachment.instance_id == r.case.id)
                              .order_by(Attachment.id)).all()
    files = [f for f in (r.file(i) for i in rows) if f is not None]
    return {"files": files, "withheld": len(rows) - len(files)} if rows else None


def _art18(r: _Reading) -> dict | None:
    """The Art 18 checks the case's steps made (each gate's result as it kept it), and the same
    check as of today, from the periods the diagram's decision table gave."""
    checks = []
    for spec in [*r.version.specs.values(), *(s for subs in r.version.subprocess_specs.values() for s in subs.values())]:
        for ts in spec.task_specs.values():
            if getattr(ts, "operation_name", None) != "exclusions.screen":
                continue
            result = r.data.get(getattr(ts, "result_variable", None) or "")
            if isinstance(result, dict) and "barred_any" in result:
                checks.append({"step": ts.bpmn_name or ts.bpmn_id, "as_of": result.get("as_of"),
                               "barred": bool(result.get("barred_any")), "reasons": result.get("reasons") or []})
    today = None
    years, months = r.data.get("art18_look_back_years"), r.data.get("art18_stoppage_months")
    code, unit_type = r.data.get("credit_code"), r.data.get("unit_type")
    if isinstance(code, str) and years and months and unit_type:
        try:
            found = exclusions.check({"credit_code": code.upper(), "unit_type": unit_type,
                                      "look_back_years": years, "stoppage_months": months})
        except ValueError:  # a credit code or unit type the check cannot read: the recorded checks stand
            found = None
        if found is not None:
            today = {"as_of": found["as_of"], "barred": found["barred"], "reasons": found["reasons"],
                     "window_start": found["window_start"]}
    return {"checks": checks, "today": today} if checks or today else None


def _opinions(r: _Reading) -> dict | None:
    """What the authorities (cities, the province, departments, experts) decided at each step, who
    and when, with the fields their forms asked for."""
    entries = []
    for done in r.completions():
        if done["party"]:
            continue
        schema = (r.version.forms.get(done["form"]) if done["form"] else None) or {}
        entries.append({"step": done["step"], "by": done["by"], "at": done["at"],
                        "fields": r.form_fields(schema, done["data"]) if schema
                        else [r.field(k, {}, v) for k, v in done["data"].items() if v not in (None, "")]})
    return {"entries": entries} if entries else None


def build(runtime, case: ProcessInstance, actor, sections=DEFAULT, subject: dict | None = None) -> CaseFile:
    """The case file for this reader: the sections asked for, in that order, each that has
    something to show. `subject` is the item a task is about (an expert's candidate)."""
    r = _Reading(runtime, case, actor, subject)
    asked = [s for s in sections if s in SECTIONS and (not r.reviewer or s in REVIEWER_SECTIONS)]
    builders = {"candidate": _candidate, "organisation": _organisation, "evaluation": _evaluation,
                "attachments": _attachments, "art18": _art18, "opinions": _opinions,
                "application": lambda reading: _application(reading, set(asked))}
    out = []
    for name in asked:
        content = builders[name](r)
        if content:
            out.append({"section": name, **content})
    return CaseFile(out, r.opened, sorted(set(r.evidence)))
