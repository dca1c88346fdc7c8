"""What every layer of the model registry shares: the namespaces and property
names of the documents, the one safe XML parser, and a finding that points at
file, line and element.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
FORM_PROPERTY = "formJsonSchemaFilename"
# The case file (卷宗) beside a user task: `caseFileSections` lists, in order, the sections of
# the case its page shows (e.g. "organisation, evaluation, art18"). The domain names the
# sections it can build in `CASE_FILE_SECTIONS` when the app starts, as it does its operations.
CASE_FILE_PROPERTY = "caseFileSections"
CASE_FILE_SECTIONS: set[str] = set()
FORM_PREFIX = "forms/"
MAX_FILE_BYTES = 2 * 1024 * 1024

# No DTDs, no entities, no network, no billion laughs: uploads come from outside.
SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=False
)


def section_names(value: str | None) -> list[str]:
    """A `caseFileSections` value as names: separated by commas (either width), 、 or spaces."""
    return [n for n in re.split(r"[\s,，、]+", value or "") if n]


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


def element_id_at(doc, line: int | None) -> str | None:
    """The id of the element (or its nearest ancestor with one) written on `line`."""
    node = next((el for el in doc.iter() if el.sourceline == line), None)
    while node is not None and not node.get("id"):
        node = node.getparent()
    return node.get("id") if node is not None else None


def line_of(doc, element_id: str | None) -> int | None:
    if not element_id or doc is None:
        return None
    hits = doc.xpath("//*[@id=$i]", i=element_id)
    return hits[0].sourceline if hits else None
