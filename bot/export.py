"""Spreadsheet exports of ticket rows: XLSX for Excel users, CSV for everything else.

Pure functions from `ExportRow`s to bytes; the transport sends them as documents.
Datetimes are shown in the campus zone, because that is the time on everyone's wall.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from operator import attrgetter
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

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
# A row's values in column order. Not dataclasses.astuple, which deep-copies every value
# and was most of the CSV's time on 10,000 rows (bench/reports_at_scale.py).
_values = attrgetter(*COLUMNS)


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
    """One sheet "tickets": a frozen header row, local datetimes and fitted columns.

    Written in openpyxl's write-only mode (rows streamed out, no cell objects kept), and
    only cells that need a format or must stay text get a cell object of their own."""
    header = _header_row(headers)
    table = [_xlsx_values(row, zone) for row in rows]
    widths = [_width(h) for h in header]
    for values in table:
        for c, value in enumerate(values):
            widths[c] = max(widths[c], _width(value))
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET_TITLE)
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(
            max(width + 2, MIN_WIDTH), MAX_WIDTH
        )
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(table) + 1}"
    formats = [_number_format(name) for name in COLUMNS]
    ws.append(header)
    for values in table:
        ws.append([_xlsx_cell(ws, value, fmt) for value, fmt in zip(values, formats, strict=True)])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _xlsx_values(row: ExportRow, zone: ZoneInfo) -> list[Cell]:
    """A row's values as the sheet shows them: wall-clock datetimes, clean strings."""
    values: list[Cell] = []
    for value in _values(row):
        if isinstance(value, datetime):
            value = _local(value, zone)
        elif isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)  # openpyxl refuses them
        values.append(value)
    return values


def _xlsx_cell(ws: WriteOnlyWorksheet, value: Cell, number_format: str | None) -> object:
    """The value itself, or a cell carrying its number format or forced to stay text."""
    if isinstance(value, str) and value.startswith("="):
        # User text such as "=HYPERLINK(…)" stays text, never a live formula.
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    if number_format is not None and isinstance(value, (int, float, datetime)):
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = number_format
        return cell
    return value


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
        writer.writerow([_csv_cell(value, zone) for value in _values(row)])
    return (UTF8_BOM + buffer.getvalue()).encode("utf-8")
