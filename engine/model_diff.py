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
"""
from __future__ import annotations

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


def elements(content: bytes | str) -> dict[str, tuple[str, str | None, dict]]:
    """id -> (kind, name, facts) for the model elements of one BPMN or DMN file."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    root = etree.fromstring(data, _SAFE)
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
    old = elements(before) if before is not None else {}
    new = elements(after) if after is not None else {}
    changes: list[Change] = []
    for eid in sorted(old.keys() - new.keys()):
        kind, label, _ = old[eid]
        changes.append(Change(name, eid, kind, label, "removed"))
    for eid in sorted(new.keys() - old.keys()):
        kind, label, _ = new[eid]
        changes.append(Change(name, eid, kind, label, "added"))
    for eid in sorted(old.keys() & new.keys()):
        kind, label, facts_old = old[eid]
        _, label_new, facts_new = new[eid]
        details = [{"what": key, "before": facts_old.get(key), "after": facts_new.get(key)}
                   for key in sorted(facts_old.keys() | facts_new.keys())
                   if facts_old.get(key) != facts_new.get(key)]
        if details:
            changes.append(Change(name, eid, kind, label_new or label, "changed", details))
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
