"""Files handed in with a case (附件): checked by their content, stored outside
the web root under the SHA-256 of that content."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from engine import clock
from engine.db import db

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
            raise AttachmentRefused(f"{name}：文件超过 {MAX_BYTES // 1024 // 1024} MB")
        if not content:
            raise AttachmentRefused(f"{name}：文件是空的 (empty file)")
        out.append((os.path.basename(name.replace("\\", "/"))[:255] or "file", content, sniff(content)))
    return out


def path_for(upload_dir: str | os.PathLike, sha256: str) -> Path:
    return Path(upload_dir) / sha256[:2] / sha256


def store(upload_dir, instance_id: int, checked: list[tuple[str, bytes, str]], by: str | None) -> list[Attachment]:
    """Write the files and record them in the caller's transaction."""
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
                         sha256=digest, uploaded_at=clock.now(), uploaded_by=by)
        db.session.add(row)
        saved.append(row)
    return saved


def read(upload_dir, attachment: Attachment) -> bytes:
    content = path_for(upload_dir, attachment.sha256).read_bytes()
    if hashlib.sha256(content).hexdigest() != attachment.sha256:
        raise AttachmentRefused(f"attachment {attachment.id} does not match its checksum")
    return content
