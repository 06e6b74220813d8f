"""Spreadsheet exports of ticket rows: XLSX for Excel users, CSV for everything else.

`ExportFiles` writes both documents to files batch by batch, so a year of a big office
never sits in memory; the transport sends the files as documents. `to_xlsx`/`to_csv` give
the same documents as bytes for a handful of rows. Datetimes are shown in the campus zone,
because that is the time on everyone's wall.
"""

from __future__ import annotations

import csv
import pickle
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self
from zoneinfo import ZoneInfo

from store.reporting.export import ExportRow

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

Cell = str | int | float | datetime | None

SHEET_TITLE = "tickets"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
CSV_DATETIME_FORMAT = "%Y-%m-%d %H:%M"
MINUTES_FORMAT = "0.0"
MIN_WIDTH, MAX_WIDTH = 6, 50
DATETIME_WIDTH = 17
# A CSV cell starting with one of these is run as a formula by spreadsheet apps; the text
# comes from users (comments, reasons), so it is defused with a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
# Control characters an XLSX cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE, which refuses
# them): openpyxl itself is imported only when a sheet is written, since it holds ~25 MiB
# of a bot process that may never export.
_ILLEGAL = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")

# The requester's phone is a column only when an admin asks for it (`/export
# --with-phones`, store.domain.phones.may_export_phones); every other export lacks it.
PHONE_COLUMN = "phone"
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ExportRow) if f.name != PHONE_COLUMN)
WITH_PHONES: tuple[str, ...] = (*COLUMNS, PHONE_COLUMN)
# A row's values in column order. Not dataclasses.astuple, which deep-copies every value
# and was most of the CSV's time on 10,000 rows (bench/reports_at_scale.py).
_values = attrgetter(*COLUMNS)
_values_with_phones = attrgetter(*WITH_PHONES)


def _header_row(columns: Sequence[str], headers: Mapping[str, str] | None) -> list[str]:
    """Column titles: the caller's (translated) labels, else the field names."""
    labels = headers or {}
    return [labels.get(name, name) for name in columns]


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


class ExportFiles:
    """The period's XLSX and CSV, written into `directory` as batches of rows come in.

    `add` writes a batch's CSV lines at once and keeps its sheet values in a spool file,
    growing the column widths; `finish` writes the sheet from the spool, since a sheet's
    column widths come before its rows. Only one batch is ever in memory. Both are
    blocking CPU and disk work: run them in a thread. The caller owns `directory` (and
    removes it); `close` leaves no file open, also after a failure."""

    def __init__(
        self,
        directory: Path,
        stem: str,
        zone: ZoneInfo,
        *,
        headers: Mapping[str, str] | None = None,
        with_phones: bool = False,
    ) -> None:
        self.zone = zone
        self.columns = WITH_PHONES if with_phones else COLUMNS
        self._values = _values_with_phones if with_phones else _values
        self.xlsx_path = directory / f"{stem}.xlsx"
        self.csv_path = directory / f"{stem}.csv"
        self.count = 0
        self._header = _header_row(self.columns, headers)
        self._widths = [_width(h) for h in self._header]
        self._spool_path = directory / f"{stem}.rows"
        # utf-8-sig starts the file with a BOM, so Excel shows Chinese names, not mojibake.
        self._csv_file: IO[str] = self.csv_path.open("w", encoding="utf-8-sig", newline="")
        self._spool: IO[bytes] = self._spool_path.open("wb")
        self._csv = csv.writer(self._csv_file)
        self._csv.writerow(self._header)

    def add(self, rows: Sequence[ExportRow]) -> None:
        """One batch: its CSV lines written, its sheet values spooled."""
        table = [_xlsx_values(self._values(row), self.zone) for row in rows]
        widths = self._widths
        for values in table:
            for c, value in enumerate(values):
                widths[c] = max(widths[c], _width(value))
        pickle.dump(table, self._spool, protocol=pickle.HIGHEST_PROTOCOL)
        self._csv.writerows(
            [_csv_cell(value, self.zone) for value in self._values(row)] for row in rows
        )
        self.count += len(rows)

    def finish(self) -> None:
        """The CSV closed and the XLSX written: both files are complete."""
        self._csv_file.close()
        self._spool.close()
        with self._spool_path.open("rb") as spool:
            _write_xlsx(
                self.xlsx_path,
                self.columns,
                self._header,
                self._widths,
                self.count,
                _spooled(spool),
            )
        self._spool_path.unlink()

    def close(self) -> None:
        """No file left open (the directory's owner removes the files)."""
        self._csv_file.close()
        self._spool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _spooled(spool: IO[bytes]) -> Iterator[list[Cell]]:
    """The sheet values `ExportFiles.add` spooled, row by row, one batch in memory."""
    while True:
        try:
            table: list[list[Cell]] = pickle.load(spool)  # noqa: S301 - our own file, just written
        except EOFError:
            return
        yield from table


def _write_xlsx(
    path: Path,
    columns: Sequence[str],
    header: list[str],
    widths: list[int],
    count: int,
    table: Iterator[list[Cell]],
) -> None:
    """One sheet "tickets": a frozen header row, local datetimes and fitted columns.

    Written in openpyxl's write-only mode (rows streamed out, no cell objects kept), and
    only cells that need a format or must stay text get a cell object of their own."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET_TITLE)
    try:
        for i, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = min(
                max(width + 2, MIN_WIDTH), MAX_WIDTH
            )
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
        formats = [_number_format(name) for name in columns]
        ws.append(header)
        for values in table:
            ws.append(
                [
                    _xlsx_cell(ws, value, fmt, WriteOnlyCell)
                    for value, fmt in zip(values, formats, strict=True)
                ]
            )
        wb.save(path)
    finally:
        _drop_scratch(ws)


def _drop_scratch(ws: WriteOnlyWorksheet) -> None:
    """openpyxl streams a sheet through a scratch file of its own that `save` removes;
    after a failure it would stay until the process exits."""
    from openpyxl.worksheet._writer import ALL_TEMP_FILES, WorksheetWriter

    # openpyxl offers no other handle on it.
    writer: WorksheetWriter | None = getattr(ws, "_writer", None)
    if writer is not None and writer.out in ALL_TEMP_FILES:
        writer.xf.close()
        writer.cleanup()


def to_xlsx(
    rows: Sequence[ExportRow],
    zone: ZoneInfo,
    *,
    headers: Mapping[str, str] | None = None,
    with_phones: bool = False,
) -> bytes:
    """The XLSX `ExportFiles` writes for `rows`, as bytes."""
    return _as_bytes(rows, zone, headers, sheet=True, with_phones=with_phones)


def to_csv(
    rows: Sequence[ExportRow],
    zone: ZoneInfo,
    *,
    headers: Mapping[str, str] | None = None,
    with_phones: bool = False,
) -> bytes:
    """The CSV `ExportFiles` writes for `rows`, as bytes (UTF-8 with a BOM)."""
    return _as_bytes(rows, zone, headers, sheet=False, with_phones=with_phones)


def _as_bytes(
    rows: Sequence[ExportRow],
    zone: ZoneInfo,
    headers: Mapping[str, str] | None,
    *,
    sheet: bool,
    with_phones: bool,
) -> bytes:
    with tempfile.TemporaryDirectory(prefix="repairbot-export-") as tmp:
        with ExportFiles(
            Path(tmp), "export", zone, headers=headers, with_phones=with_phones
        ) as files:
            files.add(rows)
            if sheet:
                files.finish()
        return (files.xlsx_path if sheet else files.csv_path).read_bytes()


def _xlsx_values(row: Sequence[Any], zone: ZoneInfo) -> list[Cell]:
    """A row's values as the sheet shows them: wall-clock datetimes, clean strings."""
    values: list[Cell] = []
    for value in row:
        if isinstance(value, datetime):
            value = _local(value, zone)
        elif isinstance(value, str):
            value = _ILLEGAL.sub("", value)
        values.append(value)
    return values


def _xlsx_cell(
    ws: WriteOnlyWorksheet, value: Cell, number_format: str | None, make_cell: Callable[..., Any]
) -> object:
    """The value itself, or a cell carrying its number format or forced to stay text
    (`make_cell` is openpyxl's WriteOnlyCell, imported only when a sheet is written)."""
    if isinstance(value, str) and value.startswith("="):
        # User text such as "=HYPERLINK(…)" stays text, never a live formula.
        cell = make_cell(ws, value=value)
        cell.data_type = "s"
        return cell
    if number_format is not None and isinstance(value, (int, float, datetime)):
        cell = make_cell(ws, value=value)
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
