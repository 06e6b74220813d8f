"""Parsing and checking a locations CSV (`campus,building,floor,room,code`). Pure: no I/O.

Every bad row is reported with its line number, so an operator fixes the file in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from store.db import max_length, table_of
from store.deeplink import room_payload_or_none
from store.errors import LocationImportError
from store.models import Building, Campus, Room
from store.text import csv_lines

COLUMNS = ("campus", "building", "floor", "room", "code")
# A room code goes into deep links, file names (`repairbot qr`) and typed answers: letters
# (any script), digits, "-", "_" and "." only, never starting with a dot, never "..".
_CODE = re.compile(r"[\w-](?:[\w.-]*[\w-])?")


# Column limits, read from the tables themselves.
MAX_LENGTH: dict[str, int] = {
    "campus": max_length(table_of(Campus).c.name),
    "building": max_length(table_of(Building).c.name),
    "floor": max_length(table_of(Room).c.floor),
    "room": max_length(table_of(Room).c.name),
    "code": max_length(table_of(Room).c.code),
}


@dataclass(frozen=True, slots=True)
class LocationRow:
    """One checked row of a locations file; `line` is its line number in the file."""

    campus: str
    building: str
    floor: str
    room: str
    code: str
    line: int = 0

    def data(self) -> tuple[str, str, str, str]:
        """Everything but the code and the line: what a code must agree on."""
        return (self.campus, self.building, self.floor, self.room)


def is_room_code(code: str) -> bool:
    """Letters, digits, "-", "_" and "." only; no leading or trailing dot and no "..", so a
    code is always a safe file-name part."""
    return _CODE.fullmatch(code) is not None and ".." not in code


def _check_row(values: dict[str, str], line: int) -> LocationRow | list[str]:
    # Control characters are reported rather than dropped: the operator can fix the file.
    problems = []
    for column, value in values.items():
        if not value:
            problems.append(f"empty {column}")
        elif len(value) > MAX_LENGTH[column]:
            problems.append(
                f"{column} is {len(value)} characters long; the limit is {MAX_LENGTH[column]}"
            )
        elif any(ch < " " for ch in value):
            problems.append(f"{column} contains a control character")
    if not problems and not is_room_code(values["code"]):
        problems.append(
            f"code {values['code']!r} may hold only letters, digits, '-', '_' and '.' "
            "(not first, not last, never '..')"
        )
    if not problems and room_payload_or_none(values["code"]) is None:
        problems.append(f"code {values['code']} is too long for a QR deep link")
    if problems:
        return problems
    return LocationRow(line=line, **values)


def parse_locations_csv(text: str) -> list[LocationRow]:
    """Parse and check a locations file; LocationImportError lists every bad row."""
    errors: list[tuple[int, str]] = []
    rows: list[LocationRow] = []
    first_by_code: dict[str, LocationRow] = {}
    for item in csv_lines(text, COLUMNS):
        line = item.line
        checked = _check_row(item.values, line) if item.problem is None else [item.problem]
        if isinstance(checked, list):
            errors.extend((line, problem) for problem in checked)
            continue
        first = first_by_code.get(checked.code)
        if first is None:
            first_by_code[checked.code] = checked
            rows.append(checked)
        elif first.data() == checked.data():
            errors.append((line, f"duplicate code {checked.code} (first on line {first.line})"))
        else:
            errors.append(
                (
                    line,
                    f"code {checked.code} is also on line {first.line} with different "
                    f"data ({', '.join(first.data())})",
                )
            )
    if errors:
        raise LocationImportError(errors)
    return rows
