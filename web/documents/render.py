"""A document (文书) laid out as a PDF, with a Chinese font embedded (only the characters used).

The same paper gives the same bytes every time: the PDF's creation date is the document's
own date from the record, and fpdf2 derives the file's identifier from its content, so a
receipt printed again years later is the one filed then.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import WrapMode
from fpdf.fonts import FontFace

from engine.clock import SHANGHAI

# Debian's fonts-wqy-microhei (`make fonts`); DOCUMENT_FONT in the app's config names another
DEFAULT_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
FAMILY = "cjk"


class FontMissing(RuntimeError):
    """The Chinese font the documents embed is not where the configuration says."""


@dataclass(frozen=True)
class Paper:
    """What a document says, in its order: who issues it, its title and number, to whom, the
    body's paragraphs, the signature and the date."""

    issuer: str
    title: str
    dated: date
    paragraphs: list[str]
    number: str | None = None  # 文号
    addressee: str | None = None
    table: list[list[str]] = field(default_factory=list)  # a list of units, header row first
    widths: tuple[int, ...] = ()  # the table's columns, relative


def chinese_date(day: date) -> str:
    """2026年12月5日: the form dates take in Chinese documents."""
    return f"{day.year}年{day.month}月{day.day}日"


def font_file(path: str | None) -> Path:
    font = Path(path or DEFAULT_FONT)
    if not font.is_file():
        raise FontMissing(f"the document font {font} is missing: install Debian's fonts-wqy-microhei "
                          "(make fonts) or set DOCUMENT_FONT to a TrueType font with Chinese characters")
    return font


def pdf(paper: Paper, font: Path) -> bytes:
    doc = FPDF(format="A4")
    doc.set_creation_date(datetime.combine(paper.dated, time(), SHANGHAI))
    doc.set_title(paper.title)
    doc.set_author(paper.issuer)
    doc.set_margins(25, 25, 25)
    doc.set_auto_page_break(True, 25)
    options = {"collection_font_number": 0} if font.suffix.lower() == ".ttc" else {}
    doc.add_font(FAMILY, fname=str(font), **options)
    doc.add_page()
    doc.set_font(FAMILY, size=20)
    doc.set_text_color(180, 0, 0)
    doc.multi_cell(0, 12, paper.issuer, align="C", new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    doc.set_text_color(0, 0, 0)
    if paper.number:
        doc.set_font(FAMILY, size=12)
        doc.multi_cell(0, 9, paper.number, align="C", new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    doc.ln(4)
    doc.set_font(FAMILY, size=16)
    doc.multi_cell(0, 10, paper.title, align="C", new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    doc.ln(4)
    doc.set_font(FAMILY, size=12)
    if paper.addressee:
        doc.multi_cell(0, 8, f"{paper.addressee}：", new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    for paragraph in paper.paragraphs:
        doc.multi_cell(0, 8, "\u3000\u3000" + paragraph, new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    if paper.table:
        doc.ln(2)
        doc.set_font(FAMILY, size=10)
        # the font has no bold: headings are shaded instead
        with doc.table(text_align="LEFT", line_height=6, col_widths=paper.widths or None,
                       headings_style=FontFace(emphasis="", fill_color=(230, 230, 230))) as table:
            for row in paper.table:
                cells = table.row()
                for value in row:
                    cells.cell(value)
        doc.set_font(FAMILY, size=12)
    doc.ln(10)
    doc.multi_cell(0, 8, paper.issuer, align="R", new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    doc.multi_cell(0, 8, chinese_date(paper.dated), align="R", new_x="LMARGIN", new_y="NEXT", wrapmode=WrapMode.CHAR)
    return bytes(doc.output())
