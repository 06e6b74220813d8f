"""The spreadsheet exports: what Excel opens is what the rows said, in campus time."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter

from bot.export import _ILLEGAL, COLUMNS, ExportFiles, to_csv, to_xlsx
from store.reporting.export import ExportRow

TAIPEI = ZoneInfo("Asia/Taipei")  # UTC+8, no DST: 01:00 UTC is 09:00 local

ROW = ExportRow(
    number="2026-000001",
    status="closed",
    campus="東校區",
    building="E1公寓",
    floor="1",
    room="101",
    room_code="E1-101",
    category="water",
    urgency="normal",
    created_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
    dispatched_at=datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
    accepted_at=datetime(2026, 3, 2, 1, 10, tzinfo=UTC),
    started_at=datetime(2026, 3, 2, 1, 20, tzinfo=UTC),
    completed_at=datetime(2026, 3, 2, 1, 50, tzinfo=UTC),
    closed_at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC),
    technician="王師傅",
    promised_at=None,
    defer_reason=None,
    rework_count=0,
    urge_count=1,
    rating=5,
    rating_comment="修得很快，謝謝！",
    accept_minutes=10.0,
    resolution_minutes=50.0,
)
OPEN_ROW = replace(
    ROW,
    number="2026-000002",
    status="deferred",
    floor="-1",
    completed_at=None,
    closed_at=None,
    promised_at=datetime(2026, 3, 20, 16, 30, tzinfo=UTC),
    defer_reason='=HYPERLINK("http://evil")',
    rating=None,
    rating_comment='line one\nline two, with "quotes"\x07',
    resolution_minutes=None,
)


def test_xlsx_loads_back_with_headers_rows_and_local_times() -> None:
    data = to_xlsx([ROW, OPEN_ROW], TAIPEI, headers={"number": "單號", "technician": "技師"})
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["tickets"]
    ws = wb["tickets"]
    header = [c.value for c in ws[1]]
    assert header[0] == "單號"
    assert header[COLUMNS.index("technician")] == "技師"
    assert header[COLUMNS.index("campus")] == "campus"  # no label given: the field name
    assert ws.freeze_panes == "A2"
    assert ws.max_row == 3
    first = dict(zip(COLUMNS, (c.value for c in ws[2]), strict=True))
    assert first["number"] == "2026-000001"
    assert (first["campus"], first["building"], first["technician"]) == (
        "東校區",
        "E1公寓",
        "王師傅",
    )
    # Excel datetimes carry no zone: the wall-clock time in Taipei is what is stored.
    assert first["created_at"] == datetime(2026, 3, 2, 9, 0)
    assert first["completed_at"] == datetime(2026, 3, 2, 9, 50)
    assert ws.cell(row=2, column=COLUMNS.index("created_at") + 1).number_format == (
        "yyyy-mm-dd hh:mm"
    )
    assert (first["accept_minutes"], first["resolution_minutes"], first["rating"]) == (10, 50, 5)
    assert first["rating_comment"] == "修得很快，謝謝！"
    second = dict(zip(COLUMNS, (c.value for c in ws[3]), strict=True))
    assert second["completed_at"] is None and second["rating"] is None
    assert second["promised_at"] == datetime(2026, 3, 21, 0, 30)  # next day in Taipei
    assert second["floor"] == "-1"
    # User text that looks like a formula is kept as text, not evaluated.
    assert second["defer_reason"] == '=HYPERLINK("http://evil")'
    assert ws.cell(row=3, column=COLUMNS.index("defer_reason") + 1).data_type == "s"
    # A control character openpyxl cannot store is dropped instead of failing the export.
    assert second["rating_comment"] == 'line one\nline two, with "quotes"'
    widths = {ws.column_dimensions[c].width for c in ("A", "J", "V")}
    assert all(w and w > 6 for w in widths)
    last = get_column_letter(len(COLUMNS))
    assert ws.auto_filter.ref == f"A1:{last}3"  # Excel's filter arrows over every row
    minutes = ws.cell(row=2, column=COLUMNS.index("accept_minutes") + 1)
    assert minutes.number_format == "0.0"


def test_xlsx_with_no_rows_is_a_header_only_sheet() -> None:
    ws = load_workbook(io.BytesIO(to_xlsx([], TAIPEI)))["tickets"]
    assert ws.max_row == 1
    assert [c.value for c in ws[1]] == list(COLUMNS)


def test_csv_has_a_bom_and_round_trips_through_csv_reader() -> None:
    data = to_csv([ROW, OPEN_ROW], TAIPEI)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(COLUMNS)
    assert len(rows) == 3
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert (first["building"], first["technician"]) == ("E1公寓", "王師傅")
    assert first["created_at"] == "2026-03-02 09:00"
    assert first["closed_at"] == "2026-03-02 10:00"
    assert (first["accept_minutes"], first["rating"]) == ("10.0", "5")
    second = dict(zip(COLUMNS, rows[2], strict=True))
    assert second["completed_at"] == "" and second["rating"] == ""
    assert second["promised_at"] == "2026-03-21 00:30"
    assert second["rating_comment"] == 'line one\nline two, with "quotes"\x07'
    assert second["floor"] == "-1"  # a number stays a number
    # A formula from user text would run when Excel opens the file: it is defused.
    assert second["defer_reason"] == '\'=HYPERLINK("http://evil")'


def test_csv_uses_given_headers() -> None:
    data = to_csv([], TAIPEI, headers={"number": "單號"})
    assert data.decode("utf-8-sig").splitlines()[0].split(",")[:2] == ["單號", "status"]


def test_files_written_batch_by_batch_fit_every_row(tmp_path: Path) -> None:
    wide = replace(OPEN_ROW, technician="技師" * 15)  # 60 columns wide, in the last batch
    with ExportFiles(tmp_path, "march", TAIPEI) as files:
        files.add([ROW])
        files.add([])
        files.add([OPEN_ROW, wide])
        files.finish()
    assert files.count == 3
    ws = load_workbook(files.xlsx_path)["tickets"]
    assert [c.value for c in ws["A"]][1:] == ["2026-000001", "2026-000002", "2026-000002"]
    technician = get_column_letter(COLUMNS.index("technician") + 1)
    assert ws.column_dimensions[technician].width == 50  # the widest row, capped
    assert ws.auto_filter.ref == f"A1:{get_column_letter(len(COLUMNS))}4"
    with files.csv_path.open(encoding="utf-8-sig", newline="") as f:
        assert len(list(csv.reader(f))) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["march.csv", "march.xlsx"]


def test_the_characters_dropped_from_a_sheet_are_those_openpyxl_refuses() -> None:
    # bot.export keeps its own copy, so that openpyxl is imported only to write a sheet.
    assert _ILLEGAL.pattern == ILLEGAL_CHARACTERS_RE.pattern
