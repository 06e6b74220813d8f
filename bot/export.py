"""Spreadsheet exports of ticket rows: XLSX for Excel users, CSV for everything else.

Pure functions from `ExportRow`s to bytes; the transport sends them as documents.
Datetimes are shown in the campus zone, because that is the time on everyone's wall.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import astuple, fields
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from store.services.stats import ExportRow

Cell = str | int | float | datetime | None

SHEET_TITLE = "tickets"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
CSV_DATETIME_FORMAT = "%Y-%m-%d %H:%M"
MINUTES_FORMAT = "0.0"
MIN_WIDTH, MAX_WIDTH = 6, 50
DATETIME_WIDTH = 17
UTF8_BOM = "\ufeff"
# A CSV cell starting with one of these is run as a formula by spreadsheet apps; the text
# comes from users (comments, reasons), so it is defused with a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")

COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ExportRow))


def _header_row(headers: Mapping[str, str] | None) -> list[str]:
    """Column titles: the caller's (translated) labels, else the field names."""
    labels = headers or {}
    return [labels.get(name, name) for name in COLUMNS]


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    """Wall-clock time in `zone`, naive, since Excel has no notion of a time zone."""
    return value.astimezone(zone).replace(tzinfo=None)


def _defuse(text: str) -> str:
    """User text that a spreadsheet would evaluate becomes plain text."""
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def _width(value: Cell) -> int:
    """Approximate display width; CJK characters take two columns."""
    if value is None:
        return 0
    if isinstance(value, datetime):
        return DATETIME_WIDTH
    text = str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def to_xlsx(
    rows: Sequence[ExportRow], zone: ZoneInfo, *, headers: Mapping[str, str] | None = None
) -> bytes:
    """One sheet "tickets": a frozen header row, local datetimes and fitted columns."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET_TITLE
    header = _header_row(headers)
    ws.append(header)
    widths = [_width(h) for h in header]
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(astuple(row), start=1):
            if isinstance(value, datetime):
                value = _local(value, zone)
            elif isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)  # openpyxl refuses them
            cell = ws.cell(row=r, column=c, value=value)
            if cell.data_type == "f":
                # User text such as "=HYPERLINK(…)" stays text, never a live formula.
                cell.data_type = "s"
            widths[c - 1] = max(widths[c - 1], _width(value))
    for i, name in enumerate(COLUMNS, start=1):
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = min(max(widths[i - 1] + 2, MIN_WIDTH), MAX_WIDTH)
        number_format = _number_format(name)
        if number_format:
            for (cell,) in ws.iter_rows(min_row=2, min_col=i, max_col=i):
                cell.number_format = number_format
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _number_format(name: str) -> str | None:
    """How a column's numbers are shown, chosen by its field type."""
    if name.endswith("_at"):
        return DATETIME_FORMAT
    if name.endswith("_minutes"):
        return MINUTES_FORMAT
    return None


def _csv_cell(value: object, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _local(value, zone).strftime(CSV_DATETIME_FORMAT)
    if isinstance(value, float):
        return f"{value:.1f}"
    return _defuse(str(value))


def to_csv(
    rows: Sequence[ExportRow], zone: ZoneInfo, *, headers: Mapping[str, str] | None = None
) -> bytes:
    """UTF-8 with a BOM, so Excel shows Chinese names instead of mojibake."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_header_row(headers))
    for row in rows:
        writer.writerow([_csv_cell(value, zone) for value in astuple(row)])
    return (UTF8_BOM + buffer.getvalue()).encode("utf-8")
