"""What the engine refuses, as exceptions the web layer maps to HTTP answers.

A message meant for people is written "中文 (English)": the engine knows no reader, and the
pages show the reader's half (web.model_texts.model_text). `halves` finds the two; a message
built from another one puts that one's halves into its own (`zh`, `en`)."""
import re

_HAN = re.compile("[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
# an English half: at least two English words (not a unit such as "(kgce/t)" or a file name)
_WORDS = re.compile(r"[A-Za-z]{2,}[^A-Za-z]+[A-Za-z]{2,}")


def halves(text: str) -> tuple[str, str] | None:
    """The two halves of a message written "中文 (English)", or None. The English half is the
    bracket that closes the text, matched from the end, so it may hold brackets, code, file
    names and quoted element names (Chinese ones too) of its own."""
    text = text.rstrip()
    if not text.endswith(")"):
        return None
    depth = 0
    for at in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[at], 0)
        if depth == 0:
            break
    else:
        return None
    zh_half, en_half = text[:at], text[at + 1:-1].strip()
    if not zh_half[-1:].isspace() or not _HAN.search(zh_half) or not _WORDS.search(en_half):
        return None
    if len(_HAN.findall(en_half)) >= len(re.findall(r"[A-Za-z]", en_half)):  # "企业 (含 ISO 50001 认证)": one text
        return None
    return zh_half.strip(), en_half


def zh(message: str) -> str:
    """The Chinese half of a message (the whole of one that is not a pair), to build another."""
    pair = halves(message)
    return pair[0] if pair else message


def en(message: str) -> str:
    """The English half of a message (the whole of one that is not a pair), to build another."""
    pair = halves(message)
    return pair[1] if pair else message


class EngineError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(EngineError):
    status = 404


class Forbidden(EngineError):
    status = 403


class Conflict(EngineError):
    """The task is no longer ready, or another step on the instance won."""

    status = 409


class Busy(EngineError):
    """Another write held the database past the wait (SQLite's lock, PostgreSQL's lock or
    deadlock): nothing was written, and the same request may simply be sent again."""

    status = 503
    retry_after = 5  # seconds, as the answer's Retry-After says

    def __init__(self, message: str = "系统繁忙，未能保存，请稍后重试 (the system is busy and nothing was saved; "
                                      "please try again in a moment)"):
        super().__init__(message)


class FormInvalid(EngineError):
    status = 422

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("提交的数据与该事项的表单不符 (the submitted data does not match the task's form)")
        self.fields = fields
