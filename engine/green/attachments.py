"""Files handed in with a case (附件): checked by their content, stored outside
the web root under the SHA-256 of that content."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from engine import clock
from engine.db import db
from engine.personal import MARK

from .models import Attachment

MAX_BYTES = 10 * 1024 * 1024
MAX_FILES = 5
# what a file's first bytes must be: the name and the browser's word are not trusted
SIGNATURES = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


class AttachmentRefused(ValueError):
    pass


def sniff(content: bytes) -> str:
    for magic, kind in SIGNATURES.items():
        if content.startswith(magic):
            return kind
    raise AttachmentRefused("只接受 PDF、JPG、PNG 文件 (PDF, JPG or PNG only)")


def check(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes, str]]:
    """Each file's name, content and real type; AttachmentRefused names the first problem."""
    files = [(name, content) for name, content in files if name or content]
    if len(files) > MAX_FILES:
        raise AttachmentRefused(f"最多上传 {MAX_FILES} 个文件 (at most {MAX_FILES} files)")
    out = []
    for name, content in files:
        if len(content) > MAX_BYTES:
            raise AttachmentRefused(f"{name}：文件超过 {MAX_BYTES // 1024 // 1024} MB ({name}: larger than {MAX_BYTES // 1024 // 1024} MB)")
        if not content:
            raise AttachmentRefused(f"{name}：文件是空的 ({name}: empty file)")
        out.append((os.path.basename(name.replace("\\", "/"))[:255] or "file", content, sniff(content)))
    return out


def check_evidence(files: list[tuple[str, bytes]], missing: str) -> tuple[list[tuple[str, bytes, str]], str | None]:
    """A public report's evidence (an objection, a complaint): at least one file, each checked;
    returns the checked files and, if they are refused, the reason (`missing` when there are none)."""
    if not files:
        return [], missing
    try:
        return check(files), None
    except AttachmentRefused as exc:
        return [], str(exc)


def path_for(upload_dir: str | os.PathLike, sha256: str) -> Path:
    return Path(upload_dir) / sha256[:2] / sha256


def store(upload_dir, instance_id: int, checked: list[tuple[str, bytes, str]], by: str | None,
          personal: bool = False) -> list[Attachment]:
    """Write the files and record them in the caller's transaction. `personal`: evidence from
    the public or a file field marked personal, which only those handling the case may read."""
    saved = []
    for name, content, kind in checked:
        digest = hashlib.sha256(content).hexdigest()
        target = path_for(upload_dir, digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".part")
            tmp.write_bytes(content)
            os.replace(tmp, target)  # never a half-written file under the final name
        row = Attachment(instance_id=instance_id, original_name=name, content_type=kind, size=len(content),
                         sha256=digest, uploaded_at=clock.now(), uploaded_by=by, personal=personal)
        db.session.add(row)
        saved.append(row)
    return saved


def read(upload_dir, attachment: Attachment) -> bytes:
    content = path_for(upload_dir, attachment.sha256).read_bytes()
    if hashlib.sha256(content).hexdigest() != attachment.sha256:
        raise AttachmentRefused(f"附件 {attachment.id} 与其校验值不符 (attachment {attachment.id} does not match its checksum)")
    return content


# ---------------------------------------------------------------------------- file fields of task forms
# A form field `{"type": "integer", "format": "attachment", "accept": [...], "maxBytes": n}` holds the
# id of a file handed in with the case; the file itself goes up with the form and is kept here.
FORMAT = "attachment"
KIND_NAMES = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPG"}


def is_file_field(prop) -> bool:
    return isinstance(prop, dict) and prop.get("format") == FORMAT


def is_personal_field(prop) -> bool:
    return isinstance(prop, dict) and prop.get(MARK) is True


def accepted_types(prop: dict) -> list[str]:
    accept = prop.get("accept") or list(SIGNATURES.values())
    return [accept] if isinstance(accept, str) else list(accept)


def max_bytes(prop: dict) -> int:
    limit = prop.get("maxBytes")
    return min(limit, MAX_BYTES) if isinstance(limit, int) and limit > 0 else MAX_BYTES


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def check_for_field(prop: dict, name: str, content: bytes) -> tuple[str, bytes, str]:
    """One upload for a file field, checked by its content against the field's types and size."""
    allowed = accepted_types(prop)
    names = "、".join(KIND_NAMES.get(t, t) for t in allowed)
    if not content:
        raise AttachmentRefused(f"{name}：文件是空的 ({name}: empty file)")
    if len(content) > max_bytes(prop):
        raise AttachmentRefused(f"{name}：文件超过 {_size(max_bytes(prop))} ({name}: larger than {_size(max_bytes(prop))})")
    try:
        kind = sniff(content)
    except AttachmentRefused:
        kind = None
    if kind not in allowed:
        raise AttachmentRefused(f"{name}：只接受 {names} 文件 ({name}: {names} only)")
    return os.path.basename(name.replace("\\", "/"))[:255] or "file", content, kind


def submission_problems(schema: dict | None, data: dict, instance_id: int) -> dict[str, list[str]]:
    """Each file field must name a file handed in with this very case, of an accepted type and size
    (the id in a submission is not trusted: it could be another case's)."""
    problems = {}
    for key, prop in ((schema or {}).get("properties") or {}).items():
        if not is_file_field(prop) or key not in data:
            continue
        item = db.session.get(Attachment, data[key]) if isinstance(data[key], int) else None
        if item is None or item.instance_id != instance_id:
            problems[key] = ["附件不属于本案件，请重新上传 (the file is not one of this case's; upload it again)"]
        elif item.content_type not in accepted_types(prop) or item.size > max_bytes(prop):
            problems[key] = ["附件的类型或大小不符合要求 (the file's type or size is not accepted)"]
    return problems
