"""What changed between two deployed versions (版本差异), element by element.

Each element with an `id` in the model part of a BPMN or DMN file (diagram
layout excluded) is compared by its own content: its attributes and the
text and attributes of its id-less descendants (a timer's expression, a
task's extension properties, a decision cell's text). A child with an id of
its own is compared on its own, so a changed task inside a subprocess marks
the task, not the subprocess; but what is inside an element's
extensionElements is that element's, whatever ids it carries (a service
task's parameter is named by its id), so a changed notice length marks the
service task that has it. An element's incoming and outgoing flows are
compared as a set. Moving a shape only is not a change of the procedure and
is not reported; form files are compared whole.

What an analyst reads comes with each change, in the diagram's words rather
than XPath: `context` says which element it is when it has no name (a flow's
two ends, a decision cell's rule and column), and `shown` gives each changed
value as (aspect, key, before, after): the setting it is (a property such as
dueDate, a parameter, a timer's date, a condition) with references to other
elements replaced by their names.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from lxml import etree

_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                        remove_blank_text=True, remove_comments=True)
# Diagram interchange (layout) of BPMN and DMN: positions are not the procedure.
_LAYOUT_NAMESPACES = frozenset({
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
    "https://www.omg.org/spec/DMN/20191111/DMNDI/",
    "http://www.omg.org/spec/DMN/20180521/DMNDI/",
    "https://www.omg.org/spec/DMN/20191111/DMNDI",
    "http://www.omg.org/spec/DMN/20180521/DI/",
    "http://www.omg.org/spec/DMN/20180521/DC/",
})
_PREFIXES = {
    "http://www.omg.org/spec/BPMN/20100524/MODEL": "bpmn",
    "http://spiffworkflow.org/bpmn/schema/1.0/core": "spiffworkflow",
    "http://www.w3.org/2001/XMLSchema-instance": "xsi",
}


@dataclass
class Change:
    """One element added, removed or changed; `details` lists (what, before, after) for a change."""

    file: str
    element: str
    kind: str
    name: str | None
    change: str  # added | removed | changed
    details: list[dict] = field(default_factory=list)
    context: dict = field(default_factory=dict)
    shown: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


# Attributes whose absence means this value: one editor writes them, another leaves them out
# (dmn-js drops hitPolicy="UNIQUE"), and that is no change of the procedure.
_DEFAULTS = {
    ("decisionTable", "hitPolicy"): "UNIQUE",
    ("decisionTable", "preferredOrientation"): "Rule-as-Row",
    ("boundaryEvent", "cancelActivity"): "true",
    ("process", "isClosed"): "false",
    ("process", "processType"): "None",
    ("startEvent", "isInterrupting"): "true",
    ("subProcess", "triggeredByEvent"): "false",
}


# An element's incoming and outgoing flows are a set: the engine follows each flow's sourceRef and
# targetRef, not this list's order, and a flow deleted and then restored comes back at its end.
_FLOW_LISTS = ("incoming", "outgoing")


def _short(qname: str) -> str:
    q = etree.QName(qname)
    prefix = _PREFIXES.get(q.namespace or "")
    return f"{prefix}:{q.localname}" if prefix and prefix != "bpmn" else q.localname


def _folded(el) -> bool:
    """Parts drawn as part of their element (a timer's definition on its event, a loop marker on its task):
    a change to them is a change of the element an analyst sees."""
    local = etree.QName(el).localname
    return local.endswith("EventDefinition") or local.endswith("LoopCharacteristics")


def _extension(el) -> bool:
    """Inside an element's extensionElements: the element's own settings, not an element on the canvas."""
    return any(etree.QName(a).localname == "extensionElements" for a in el.iterancestors())


def _own(el) -> bool:
    return bool(el.get("id")) and not _folded(el) and not _extension(el)


def _is_layout(el) -> bool:
    return etree.QName(el).namespace in _LAYOUT_NAMESPACES


def _facts(el) -> dict[str, str]:
    """An element's own content: attributes, and what its id-less descendants say, by path."""
    local = etree.QName(el).localname
    facts = {f"@{_short(k)}": v for k, v in el.attrib.items()}
    for (kind, attr), default in _DEFAULTS.items():
        if kind == local:
            facts.setdefault(f"@{attr}", default)
    text = (el.text or "").strip()
    if text:
        facts["text"] = text

    def walk(node, path):
        counts: dict[str, int] = {}
        for child in node:
            if not isinstance(child.tag, str) or _is_layout(child) or _own(child):
                continue
            tag = _short(child.tag)
            if not path and tag in _FLOW_LISTS:
                continue  # told as a set, below
            # properties are told apart by their name, not their position
            key = child.get("name") or (None if _folded(child) else child.get("id"))
            if key:
                step = f"{tag}[{key}]"
            else:
                counts[tag] = counts.get(tag, 0) + 1
                step = tag if counts[tag] == 1 else f"{tag}[{counts[tag]}]"
            here = f"{path}/{step}" if path else step
            for k, v in child.attrib.items():
                if not (k == "id" and _folded(child)):  # a definition's own id is not the procedure
                    facts[f"{here}@{_short(k)}"] = v
            t = (child.text or "").strip()
            if t:
                facts[here] = t
            walk(child, here)

    walk(el, "")
    for tag in _FLOW_LISTS:
        flows = sorted((c.text or "").strip() for c in el if isinstance(c.tag, str) and _short(c.tag) == tag)
        if flows:
            facts[tag] = ", ".join(flows)
    return facts


# The settings an analyst edits, by the last steps of a fact's path: (aspect, key).
_ASPECTS = (
    (r"property\[(?P<key>[^\]]+)\]@value$", "property"),
    (r"parameter\[(?P<key>[^\]]+)\]@value$", "parameter"),
    (r"parameter\[(?P<key>[^\]]+)\]@type$", "parameterType"),
    (r"EventDefinition/(?P<key>time(?:Date|Duration|Cycle))$", "timer"),
    (r"^conditionExpression$", "condition"),
    (r"^script$", "script"),
    (r"^documentation$", "documentation"),
    (r"spiffworkflow:calledDecisionId$", "calledDecision"),
    (r"spiffworkflow:serviceTaskOperator(?:\[[^\]]*\])?@id$", "operation"),
    (r"spiffworkflow:serviceTaskOperator(?:\[[^\]]*\])?@resultVariable$", "resultVariable"),
    (r"^(?P<key>incoming|outgoing)$", "flows"),
    (r"^text$", "text"),
    (r"^inputExpression/text$", "inputExpression"),
    (r"^@name$", "name"),
    (r"^@(?P<key>[\w:]+)$", "attribute"),
)
# attributes that name another element of the file: shown by that element's name
_REFERENCES = {"sourceRef", "targetRef", "default", "attachedToRef"}


def aspect_of(what: str) -> tuple[str, str | None]:
    """The setting a fact's path stands for, e.g. ("property", "dueDate"); ("other", last step) else."""
    for pattern, aspect in _ASPECTS:
        m = re.search(pattern, what)
        if m:
            return aspect, m.groupdict().get("key")
    last = re.split(r"[/@]", what)[-1]
    return "other", re.sub(r"\[.*?\]|^\w+:", "", last) or what


def _labels(root) -> dict[str, str]:
    """id -> what the analyst calls an element: its name, else a flow's two ends, else nothing."""
    names = {el.get("id"): el.get("name") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    labels = {k: v for k, v in names.items() if v}
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).localname == "sequenceFlow" and not el.get("name"):
            src, tgt = el.get("sourceRef"), el.get("targetRef")
            labels[el.get("id")] = f"{names.get(src) or src} → {names.get(tgt) or tgt}"
    return labels


def _context(el, labels: dict[str, str]) -> dict:
    """Where an element without a name sits: a flow's ends, a decision cell's rule and column."""
    local = etree.QName(el).localname
    if local == "sequenceFlow":
        return {"from": labels.get(el.get("sourceRef"), el.get("sourceRef")),
                "to": labels.get(el.get("targetRef"), el.get("targetRef"))}
    if local in ("rule", "inputEntry", "outputEntry"):
        rule = el if local == "rule" else el.getparent()
        table = rule.getparent()
        rules = [r for r in table if isinstance(r.tag, str) and etree.QName(r).localname == "rule"]
        decision = table.getparent()
        found = {"decision": decision.get("name") or decision.get("id"), "rule": rules.index(rule) + 1}
        if local != "rule":
            kind = "input" if local == "inputEntry" else "output"
            cells = [c for c in rule if isinstance(c.tag, str) and etree.QName(c).localname == local]
            columns = [c for c in table if isinstance(c.tag, str) and etree.QName(c).localname == kind]
            at = cells.index(el)
            if at < len(columns):
                column = columns[at]
                expr = "".join(column.itertext()).strip() if kind == "input" else ""
                found["column"] = column.get("label") or column.get("name") or expr or column.get("id")
        return found
    return {}


def _shown(what: str, before, after, labels_before: dict, labels_after: dict) -> dict:
    aspect, key = aspect_of(what)

    def named(value, labels):
        if value is None:
            return None
        if aspect == "flows":
            return ", ".join(labels.get(v.strip(), v.strip()) for v in value.split(","))
        if aspect == "attribute" and key in _REFERENCES:
            return labels.get(value, value)
        return value

    return {"aspect": aspect, "key": key, "before": named(before, labels_before), "after": named(after, labels_after)}


def _root(content):
    if isinstance(content, etree._Element):
        return content
    data = content.encode("utf-8") if isinstance(content, str) else content
    return etree.fromstring(data, _SAFE)


def elements(content) -> dict[str, tuple[str, str | None, dict]]:
    """id -> (kind, name, facts) for the model elements of one BPMN or DMN file (its text or its parsed root)."""
    root = _root(content)
    found = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or _is_layout(el) or el is root:
            continue
        if any(_is_layout(a) for a in el.iterancestors()):
            continue
        eid = el.get("id")
        if _own(el):
            found[eid] = (etree.QName(el).localname, el.get("name"), _facts(el))
    return found


def diff_files(name: str, before: bytes | str | None, after: bytes | str | None) -> list[Change]:
    """The element changes of one model file; a file absent on one side has all its elements added or removed."""
    root_old = _root(before) if before is not None else None
    root_new = _root(after) if after is not None else None
    old = elements(root_old) if root_old is not None else {}
    new = elements(root_new) if root_new is not None else {}
    labels_old = _labels(root_old) if root_old is not None else {}
    labels_new = _labels(root_new) if root_new is not None else {}
    by_id_old = {el.get("id"): el for el in root_old.iter() if isinstance(el.tag, str)} if root_old is not None else {}
    by_id_new = {el.get("id"): el for el in root_new.iter() if isinstance(el.tag, str)} if root_new is not None else {}
    changes: list[Change] = []
    for eid in sorted(old.keys() - new.keys()):
        kind, label, _ = old[eid]
        changes.append(Change(name, eid, kind, label, "removed", context=_context(by_id_old[eid], labels_old)))
    for eid in sorted(new.keys() - old.keys()):
        kind, label, _ = new[eid]
        changes.append(Change(name, eid, kind, label, "added", context=_context(by_id_new[eid], labels_new)))
    for eid in sorted(old.keys() & new.keys()):
        kind, label, facts_old = old[eid]
        _, label_new, facts_new = new[eid]
        details = [{"what": key, "before": facts_old.get(key), "after": facts_new.get(key)}
                   for key in sorted(facts_old.keys() | facts_new.keys())
                   if facts_old.get(key) != facts_new.get(key)]
        if details:
            shown = [_shown(d["what"], d["before"], d["after"], labels_old, labels_new) for d in details]
            changes.append(Change(name, eid, kind, label_new or label, "changed", details,
                                  _context(by_id_new[eid], labels_new), shown))
    return changes


def diff_versions(before: dict[str, bytes], after: dict[str, bytes]) -> list[Change]:
    """Every change from one version's files to another's: model elements, and form files whole."""
    changes: list[Change] = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if name.endswith((".bpmn", ".dmn")):
            changes.extend(diff_files(name, old, new))
        else:
            change = "added" if old is None else "removed" if new is None else "changed"
            changes.append(Change(name, name, "file", None, change))
    return changes
