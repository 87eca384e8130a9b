"""Downloadable records (PDF) a resident keeps: of an assessment, of a payment.

Drawn with fpdf2's built-in Helvetica, so no font file ships with the stack. That font covers
Latin-1 only: a record whose text in the resident's language needs another script (Arabic,
Amharic, Hindi, Japanese, Tigrinya) is issued in English, amounts with their ISO 4217 code, and says
so; the page the resident downloaded it from stays in their language. Data written in such a script
(a name in Arabic letters) shows as "?" in the record: shipping a Unicode font is the way out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi.responses import Response
from fpdf import FPDF

from .. import i18n
from ..i18n import _
from ..models import utcnow
from ..money import Money
from .shell import PAGE_HEADERS

PDF_ENCODING = "latin-1"


@dataclass(frozen=True)
class Record:
    title: str
    reference: str
    rows: Sequence[tuple[str, str]]


MoneyText = Callable[[Money], str]
RecordBuilder = Callable[[MoneyText], Record]


def record_pdf(build: RecordBuilder, *, issuer: str, zone: str, now: datetime | None = None) -> bytes:
    """The record `build` makes, in the current language when the font can draw it, else in English."""
    record, note = build(i18n.format_money), None
    if not _drawable(record):
        # Said in English, like the record: the letters of the resident's language are what the font lacks.
        with i18n.use_locale(i18n.DEFAULT_LOCALE):
            record = build(str)
            note = _("This record is in English: its font cannot draw the script of your language.")
    issued = i18n.format_datetime(now or utcnow(), tz=zone, locale=i18n.DEFAULT_LOCALE if note else None)
    with i18n.use_locale(i18n.DEFAULT_LOCALE if note else i18n.current_locale()):
        footer = _("Issued by {issuer} on {moment}. Reference {reference}.").format(
            issuer=issuer, moment=issued, reference=record.reference
        )
    return _draw(_drawable_record(record), footer=_drawable_text(footer), note=note, issuer=_drawable_text(issuer))


def pdf_response(content: bytes, filename: str) -> Response:
    headers = {**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(content, media_type="application/pdf", headers=headers)


def _draw(record: Record, *, footer: str, note: str | None, issuer: str) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_title(record.title)
    pdf.set_author(issuer)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.multi_cell(0, 9, record.title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", size=11)
    with pdf.table(col_widths=(70, 110), first_row_as_headings=False, line_height=7) as table:
        for label, value in record.rows:
            row = table.row()
            row.cell(label)
            row.cell(value)
    pdf.ln(6)
    pdf.set_font("Helvetica", size=9)
    if note:
        pdf.multi_cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, footer, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _drawable(record: Record) -> bool:
    texts = [record.title, record.reference, *(text for row in record.rows for text in row)]
    return all(_encodes(text) for text in texts)


def _encodes(text: str) -> bool:
    try:
        text.encode(PDF_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def _drawable_record(record: Record) -> Record:
    """Data in another script (a name in Arabic letters) would stop the font: such letters show as "?"."""
    return Record(
        title=_drawable_text(record.title),
        reference=_drawable_text(record.reference),
        rows=[(_drawable_text(label), _drawable_text(value)) for label, value in record.rows],
    )


def _drawable_text(text: str) -> str:
    return text.encode(PDF_ENCODING, "replace").decode(PDF_ENCODING)
