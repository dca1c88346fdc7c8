"""Excel downloads (.xlsx) of the officials' lists: sheets with a header row and
column widths, sent as a dated attachment."""
from __future__ import annotations

import io
from string import ascii_uppercase

from flask import send_file
from openpyxl import Workbook

from engine import clock

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook() -> Workbook:
    """An empty book: its sheets come from `sheet`."""
    book = Workbook()
    book.remove(book.active)
    return book


def sheet(book: Workbook, title: str, header: list, widths: tuple[int, ...]):
    """A new sheet at the end of the book, with its header row and column widths."""
    ws = book.create_sheet(title[:31])  # Excel refuses longer sheet names (an English one may be)
    ws.append(header)
    for column, width in zip(ascii_uppercase, widths):
        ws.column_dimensions[column].width = width
    return ws


def download(book: Workbook, stem: str):
    """The book as `<stem>-<today>.xlsx`."""
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return send_file(out, as_attachment=True, download_name=f"{stem}-{clock.now().date().isoformat()}.xlsx",
                     mimetype=XLSX)
