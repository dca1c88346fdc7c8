"""The model registry (模型注册): validate, deploy and load BPMN/DMN model versions.

`registry` deploys and loads versions; `validation` runs the layers of checks
(`reading`, `semantics`, `scripts`, `time_limits`, `dmn`) that a version must
pass first; `documents` holds what they share. Callers import from here.
"""
from .documents import (
    BPMN_NS,
    CASE_FILE_PROPERTY,
    CASE_FILE_SECTIONS,
    FORM_PREFIX,
    FORM_PROPERTY,
    MAX_FILE_BYTES,
    SAFE_PARSER,
    SPIFF_NS,
    Finding,
    ModelInvalid,
    section_names,
)
from .registry import LoadedVersion, Registry, UnknownProcess, collect, version_hash
from .validation import Validation

__all__ = ["BPMN_NS", "CASE_FILE_PROPERTY", "CASE_FILE_SECTIONS", "FORM_PREFIX", "FORM_PROPERTY", "MAX_FILE_BYTES", "SAFE_PARSER", "SPIFF_NS", "Finding",
           "LoadedVersion", "ModelInvalid", "Registry", "UnknownProcess", "Validation", "collect", "section_names",
           "version_hash"]
