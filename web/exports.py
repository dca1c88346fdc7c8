"""Excel downloads (.xlsx) of the officials' lists: sheets with a header row and
column widths, sent as a dated attachment.

Every text goes in as text, never as a formula. The names in these lists are typed
by applicants and the public, and openpyxl writes any text starting with `=` as a
formula: an organisation named `=HYPERLINK("http://…","点击")` would reach an
official's Excel as a live link. So each text cell is a string cell (Excel never
evaluates one when it opens the file), and one starting with `= + - @` also gets
Excel's quote prefix, so that editing the cell does not turn it into a formula
either. Unlike OWASP's apostrophe for CSV, which has no cell types, the value
stays exactly the text that was typed: the prefix is a style, shown only in the
formula bar.

A book is write-only (openpyxl's streaming mode): each row goes to a temporary file as
it is appended instead of living as cell objects until the save, so a 10,000-row
registry costs the same memory as a 10-row one and about a third of the time. The
price is that rows are written once, in order: header, then data, nothing revisited.
"""
from __future__ import annotations

import tempfile
from string import ascii_uppercase

from flask import send_file
from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from engine import clock

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What makes Excel (and LibreOffice) read typed text as a formula; tab and CR as OWASP lists them.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Sheet:
    """A sheet whose rows are data: `append` writes text as text."""

    def __init__(self, worksheet: WriteOnlyWorksheet):
        self.worksheet = worksheet

    def append(self, values: list) -> None:
        self.worksheet.append([self._text(v) if isinstance(v, str) else v for v in values])

    def _text(self, text: str):
        # control characters cannot be in the file at all (XML 1.0): shown as �, not a failed download
        text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
        if not text.startswith(FORMULA_START) and text not in ERROR_CODES:
            return text  # openpyxl writes any other text as a string cell already
        # a placeholder place: a streamed sheet sets the real one, but reports a Cell by it first
        cell = Cell(self.worksheet, row=1, column=1)
        cell.value = text
        cell.data_type = "s"  # openpyxl made "=…" a formula and "#N/A" an error code
        if text.startswith(FORMULA_START):
            cell.quotePrefix = True
        return cell


def workbook() -> Workbook:
    """An empty streaming book: its sheets come from `sheet`."""
    return Workbook(write_only=True)


def sheet(book: Workbook, title: str, header: list, widths: tuple[int, ...]) -> Sheet:
    """A new sheet at the end of the book, with its header row and column widths."""
    ws = book.create_sheet(title[:31])  # Excel refuses longer sheet names (an English one may be)
    for column, width in zip(ascii_uppercase, widths):  # before the first row: a streamed sheet writes them first
        ws.column_dimensions[column].width = width
    rows = Sheet(ws)
    rows.append(header)
    return rows


def download(book: Workbook, stem: str):
    """The book as `<stem>-<today>.xlsx`."""
    out = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # a large book spills to disk, not to memory
    book.save(out)
    out.seek(0)
    return send_file(out, as_attachment=True, download_name=f"{stem}-{clock.now().date().isoformat()}.xlsx",
                     mimetype=XLSX)
