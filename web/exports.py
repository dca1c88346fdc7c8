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
"""
from __future__ import annotations

import io
from string import ascii_uppercase

from flask import send_file
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.worksheet.worksheet import Worksheet

from engine import clock

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What makes Excel (and LibreOffice) read typed text as a formula; tab and CR as OWASP lists them.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Sheet:
    """A sheet whose rows are data: `append` writes text as text."""

    def __init__(self, worksheet: Worksheet):
        self.worksheet = worksheet

    def append(self, values: list) -> None:
        self.worksheet.append([self._cell(v) if isinstance(v, str) else v for v in values])

    def _cell(self, text: str) -> Cell:
        cell = Cell(self.worksheet)
        # control characters cannot be in the file at all (XML 1.0): shown as �, not a failed download
        cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)
        cell.data_type = "s"  # openpyxl made "=…" a formula and "#N/A" an error code
        if text.startswith(FORMULA_START):
            cell.quotePrefix = True
        return cell


def workbook() -> Workbook:
    """An empty book: its sheets come from `sheet`."""
    book = Workbook()
    book.remove(book.active)
    return book


def sheet(book: Workbook, title: str, header: list, widths: tuple[int, ...]) -> Sheet:
    """A new sheet at the end of the book, with its header row and column widths."""
    ws = book.create_sheet(title[:31])  # Excel refuses longer sheet names (an English one may be)
    for column, width in zip(ascii_uppercase, widths):
        ws.column_dimensions[column].width = width
    rows = Sheet(ws)
    rows.append(header)
    return rows


def download(book: Workbook, stem: str):
    """The book as `<stem>-<today>.xlsx`."""
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return send_file(out, as_attachment=True, download_name=f"{stem}-{clock.now().date().isoformat()}.xlsx",
                     mimetype=XLSX)
