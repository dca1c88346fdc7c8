"""Layer (a) of validation: is it a well-formed, schema-valid BPMN or DMN
document, and do its flows point at elements of their own process.

Uploads come from outside, so this layer reads with the safe parser and stops
at the first thing that makes the rest meaningless; SpiffWorkflow's own parse
(layer b) only sees documents that passed here.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH as BPMN_XSD
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import SPIFF_XSD

from .documents import BPMN_NS, MAX_FILE_BYTES, NS, SAFE_PARSER, SPIFF_NS, element_id_at

# SpiffWorkflow names its own entry task "Start"; an element with that id takes its place
# and every case then fails to start.
RESERVED_IDS = frozenset({"Start"})


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


def read(name: str, content: bytes, add: Callable) -> tuple[etree._ElementTree, str] | None:
    """The document and its kind ("bpmn" or "dmn"), or None after adding why not."""
    if len(content) > MAX_FILE_BYTES:
        add(name, None, None, f"文件大于 {MAX_FILE_BYTES // 1024} KiB (file is larger than {MAX_FILE_BYTES // 1024} KiB)")
        return None
    try:
        doc = etree.ElementTree(etree.fromstring(content, SAFE_PARSER))
    except etree.XMLSyntaxError as e:
        add(name, e.lineno, None, f"XML 格式不正确：{e.msg} (not well-formed XML: {e.msg})")
        return None
    if doc.docinfo.internalDTD is not None or doc.docinfo.doctype:
        add(name, 1, None, "模型文件中不允许 DOCTYPE 声明 (DOCTYPE declarations are not allowed in model files)")
        return None
    root = doc.getroot()
    ns = etree.QName(root).namespace
    if ns == BPMN_NS:
        kind, schema = "bpmn", _Schemas.bpmn()
    elif ns in DMN_SCHEMAS:
        kind, schema = "dmn", _Schemas.dmn(ns)
    else:
        add(name, root.sourceline, None, f"不是 BPMN 2.0 或 DMN 文档（根元素为 {root.tag}） (not a BPMN 2.0 or DMN document (root element {root.tag}))")
        return None
    if not schema.validate(doc):
        for entry in schema.error_log:
            add(name, entry.line, element_id_at(doc, entry.line), entry.message)
        return None
    return doc, kind


def check_ids_and_references(name: str, doc, add: Callable) -> bool:
    """Flows and attachments must point at elements of their own process.
    SpiffWorkflow finds these too, but names the wrong element."""
    ok = True
    for process in doc.iterfind(".//bpmn:process", NS):
        ids = {el.get("id") for el in process.iter() if el.get("id")}
        for el in process.iter():
            if el.get("id") in RESERVED_IDS:
                add(name, el.sourceline, el.get("id"),
                    f"标识「{el.get('id')}」为引擎保留；请为该元素另取标识 (the id '{el.get('id')}' is reserved by the engine; give this element another id)")
                ok = False
        refs = [(el, attr) for el in process.iter()
                for attr in ("sourceRef", "targetRef", "attachedToRef", "default")
                if etree.QName(el).localname in ("sequenceFlow", "boundaryEvent", "exclusiveGateway",
                                                 "inclusiveGateway", "complexGateway")
                and el.get(attr) is not None]
        for el, attr in refs:
            if el.get(attr) not in ids:
                add(name, el.sourceline, el.get("id"),
                    f"{attr}「{el.get(attr)}」不是流程「{process.get('id')}」中的元素 ({attr} '{el.get(attr)}' is not an element of process '{process.get('id')}')")
                ok = False
    return _check_data_references(name, doc, add) and ok


def _check_data_references(name: str, doc, add: Callable) -> bool:
    """A data input or output must name data the document declares. SpiffWorkflow reports a
    dangling association as "Cannot resolve dataOutputAssociation <Element ...>" on the task,
    and an input or output set naming nothing not at all (the task then runs without it)."""
    kinds = {el.get("id"): etree.QName(el).localname for el in doc.iter() if isinstance(el.tag, str) and el.get("id")}
    ok = True

    def refuse(at, owner, message):
        nonlocal ok
        while owner is not None and owner.get("id") is None:
            owner = owner.getparent()
        add(name, at.sourceline, owner.get("id") if owner is not None else None, message)
        ok = False

    for ref in doc.iterfind(".//bpmn:dataObjectReference", NS):
        if ref.get("dataObjectRef") and kinds.get(ref.get("dataObjectRef")) != "dataObject":
            refuse(ref, ref, f"data object reference '{ref.get('name') or ref.get('id')}' names no data object "
                             f"'{ref.get('dataObjectRef')}' of this document")
    for path, what in (("bpmn:dataInputAssociation/bpmn:sourceRef", "data input"),
                       ("bpmn:dataOutputAssociation/bpmn:targetRef", "data output")):
        for ref in doc.iterfind(f".//{path}", NS):
            target = (ref.text or "").strip()
            if target not in kinds:
                refuse(ref, ref.getparent().getparent(),
                       f"{what} association {ref.getparent().get('id') or ''} refers to '{target}', which is not an "
                       "element of this document; connect it to a data object reference")
    for path, kind in (("bpmn:inputSet/bpmn:dataInputRefs", "dataInput"),
                       ("bpmn:outputSet/bpmn:dataOutputRefs", "dataOutput")):
        for ref in doc.iterfind(f".//{path}", NS):
            target = (ref.text or "").strip()
            if kinds.get(target) != kind:
                refuse(ref, ref.getparent().getparent().getparent(),
                       f"{'input' if kind == 'dataInput' else 'output'} set {ref.getparent().get('id') or ''} lists "
                       f"'{target}', which is no {'data input' if kind == 'dataInput' else 'data output'} of "
                       "this io specification")
    return ok
