"""The raw material of the office's and the technicians' figures, as one mergeable value.

A `Tally` holds what /stats and the digest compute their figures from: counts of the
tickets filed, and the exact durations and ratings behind the medians and averages. It is
filled from ticket rows (`add`), merged with other tallies (`merge`), and stored packed
(`to_bytes` / `from_bytes`): the day summaries (store.reporting.summaries) are tallies of the
tickets that can no longer change, one per day and building, and a report adds the
summaries of the days it covers to a tally of the few rows it still reads live. Because
both paths go through `add`, a summary says exactly what the rows said.

Durations are whole microseconds (ints), so merging, storing and sorting stay exact: the
medians are the same timedeltas the rows give.

The packed form is a format byte, the length of a small JSON head (the two counters) and
the head, then little-endian int64s: how many values the office's three lists hold and how
many technicians there are; per technician its id, its three lists' lengths and its
done / reworked / overdue; then the office's values and each technician's, in that order.
A report adds up a summary row per day and building (a 30-day /stats over a campus: ~920
rows of ~19 technicians each), and reading those values back with `array.frombytes`
costs a fraction of a JSON list of integers (migration 0006 converted the JSON summaries
0005 wrote, with its own copy of both forms).
"""

from __future__ import annotations

import json
import struct
import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from store.lifecycle import Status

DONE_STATUSES = frozenset({Status.COMPLETED, Status.CLOSED})
MICROSECOND = timedelta(microseconds=1)
PACKED_FORMAT = 1
_PREFIX = struct.Struct("<BI")  # format, length of the JSON head
_COUNTS = struct.Struct("<4q")  # values of the office's three lists, technicians


def micros(delta: timedelta) -> int:
    """A duration as whole microseconds."""
    return delta // MICROSECOND


def accept_wait(
    created: datetime, dispatched: datetime | None, accepted: datetime | None
) -> timedelta | None:
    """How long the job waited for a technician: from dispatch (else filing) to accept."""
    if accepted is None:
        return None
    return accepted - (dispatched or created)


def median_of(values: list[int]) -> timedelta | None:
    """The median of microsecond durations (the mean of the middle two for an even count)."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return timedelta(microseconds=ordered[mid])
    return (timedelta(microseconds=ordered[mid - 1]) + timedelta(microseconds=ordered[mid])) / 2


# Once a ticket is in the day summaries, the columns its Facts come from no longer change
# (store.domain.tickets.FIGURE_FIELDS: the aggregate's `write` refuses).
@dataclass(frozen=True, slots=True)
class Facts:
    """What a figure reads from one ticket (the columns store.domain.tickets.FIGURE_FIELDS
    freezes once the ticket is summarized); timestamps aware UTC."""

    status: str
    category: str
    created: datetime
    dispatched: datetime | None
    accepted: datetime | None
    completed: datetime | None
    due: datetime | None
    rework_count: int
    rating: int | None
    requester_id: int
    assignee_id: int | None

    @property
    def counted_rating(self) -> int | None:
        """The rating as the figures count it: a rating of one's own job never does."""
        if self.rating is None or self.requester_id == self.assignee_id:
            return None
        return self.rating


@dataclass(slots=True)
class TechTally:
    """One technician's part: jobs done (completed or closed) and their inputs."""

    accept: list[int] = field(default_factory=list)
    resolution: list[int] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)
    done: int = 0
    reworked: int = 0
    overdue: int = 0  # done after their target

    def merge(self, other: TechTally) -> None:
        self.accept += other.accept
        self.resolution += other.resolution
        self.ratings += other.ratings
        self.done += other.done
        self.reworked += other.reworked
        self.overdue += other.overdue


@dataclass(slots=True)
class Tally:
    """The office's part (every ticket) and each technician's (their own jobs)."""

    by_category: Counter[str] = field(default_factory=Counter)
    by_status: Counter[str] = field(default_factory=Counter)
    accept: list[int] = field(default_factory=list)
    resolution: list[int] = field(default_factory=list)
    ratings: list[int] = field(default_factory=list)
    techs: dict[int, TechTally] = field(default_factory=dict)

    def add(
        self,
        f: Facts,
        counts: Callable[[datetime | None], bool],
        *,
        filing: bool = True,
        accept: bool = True,
    ) -> None:
        """Add the ticket's contributions whose moment `counts`: its filing (by category
        and current status), its accept (the wait), its completion (the repair time,
        the rating; for the technician only when the job is done). `filing` / `accept`
        False: that part is counted elsewhere (`add_filed`, `add_accept`), not here."""
        filed, accepted = filing and counts(f.created), accept and counts(f.accepted)
        completed = f.completed is not None and counts(f.completed)
        if filed:
            self.by_category[f.category] += 1
            self.by_status[f.status] += 1
        tech = None
        if f.assignee_id is not None and (filed or accepted or completed):
            # Listed for anything of theirs in the period, even with nothing done yet.
            tech = self.techs.get(f.assignee_id) or self.techs.setdefault(
                f.assignee_id, TechTally()
            )
        if accepted:
            wait = accept_wait(f.created, f.dispatched, f.accepted)
            assert wait is not None
            self.add_accept(f.assignee_id, micros(wait))
        if completed:
            assert f.completed is not None
            repair = micros(f.completed - f.created)
            rating = f.counted_rating
            self.resolution.append(repair)
            if rating is not None:
                self.ratings.append(rating)
            if tech is not None and f.status in DONE_STATUSES:
                tech.done += 1
                tech.resolution.append(repair)
                tech.reworked += f.rework_count > 0
                if rating is not None:
                    tech.ratings.append(rating)
                if f.due is not None and f.completed > f.due:
                    tech.overdue += 1

    def add_filed(self, category: str, status: str, assignee_id: int | None, n: int) -> None:
        """`n` filings (counted by the database) of one category, current status and
        assignee: what `add` counts of a filing."""
        self.by_category[category] += n
        self.by_status[status] += n
        if assignee_id is not None and assignee_id not in self.techs:
            self.techs[assignee_id] = TechTally()

    def add_accept(self, assignee_id: int | None, wait: int) -> None:
        """One accept wait (µs): what `add` counts of an accept."""
        self.accept.append(wait)
        if assignee_id is not None:
            tech = self.techs.get(assignee_id) or self.techs.setdefault(assignee_id, TechTally())
            tech.accept.append(wait)

    def merge(self, other: Tally) -> Tally:
        """Add `other` into this tally; returns self."""
        self.by_category.update(other.by_category)
        self.by_status.update(other.by_status)
        self.accept += other.accept
        self.resolution += other.resolution
        self.ratings += other.ratings
        for person_id, part in other.techs.items():
            self.techs.setdefault(person_id, TechTally()).merge(part)
        return self

    @property
    def empty(self) -> bool:
        return not (self.by_category or self.accept or self.resolution or self.techs)

    def to_bytes(self) -> bytes:
        """The packed form (see the module's docstring)."""
        head = json.dumps(
            {"c": dict(self.by_category), "s": dict(self.by_status)}, separators=(",", ":")
        ).encode()
        techs = list(self.techs.items())
        values = array(
            "q", [len(self.accept), len(self.resolution), len(self.ratings), len(techs)]
        )
        for pid, t in techs:
            values.extend(
                (
                    pid,
                    len(t.accept),
                    len(t.resolution),
                    len(t.ratings),
                    t.done,
                    t.reworked,
                    t.overdue,
                )
            )
        values.extend(self.accept)
        values.extend(self.resolution)
        values.extend(self.ratings)
        for _, t in techs:
            values.extend(t.accept)
            values.extend(t.resolution)
            values.extend(t.ratings)
        if sys.byteorder != "little":
            values.byteswap()
        return _PREFIX.pack(PACKED_FORMAT, len(head)) + head + values.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Tally:
        return cls.sum_packed([data])

    @classmethod
    def sum_packed(cls, parts: Iterable[bytes]) -> Tally:
        """The sum of packed tallies, added up as arrays: a /stats for 30 days adds ~920
        summary rows of ~19 technicians each. Merging them as lists cost ~35 µs of Python
        per row; this inner loop is written out for speed (~10 µs)."""
        by_category: dict[str, int] = {}
        by_status: dict[str, int] = {}
        oa, orr, og = array("q"), array("q"), array("q")
        techs: dict[int, list[Any]] = {}  # accept, resolution, ratings, done, reworked, overdue
        for data in parts:
            version, size = _PREFIX.unpack_from(data)
            if version != PACKED_FORMAT:
                raise ValueError(f"a tally packed in format {version}, not {PACKED_FORMAT}")
            start = _PREFIX.size + size
            head = json.loads(data[_PREFIX.size : start])
            for key, n in head["c"].items():
                by_category[key] = by_category.get(key, 0) + n
            for key, n in head["s"].items():
                by_status[key] = by_status.get(key, 0) + n
            body = memoryview(data)[start:]
            na, nr, ng, nt = _COUNTS.unpack_from(body)
            table = array("q")
            pos = _COUNTS.size + 56 * nt
            table.frombytes(body[_COUNTS.size : pos])
            if sys.byteorder != "little":
                table.byteswap()
            e1, e2 = pos + 8 * na, pos + 8 * na + 8 * nr
            oa.frombytes(body[pos:e1])
            orr.frombytes(body[e1:e2])
            pos = e2 + 8 * ng
            og.frombytes(body[e2:pos])
            cells = table.tolist()
            for i in range(0, 7 * nt, 7):
                pid, na, nr, ng, done, reworked, overdue = cells[i : i + 7]
                entry = techs.get(pid)
                if entry is None:
                    entry = techs[pid] = [array("q"), array("q"), array("q"), 0, 0, 0]
                e1, e2 = pos + 8 * na, pos + 8 * na + 8 * nr
                entry[0].frombytes(body[pos:e1])
                entry[1].frombytes(body[e1:e2])
                pos = e2 + 8 * ng
                entry[2].frombytes(body[e2:pos])
                entry[3] += done
                entry[4] += reworked
                entry[5] += overdue
            if pos != len(body):
                raise ValueError(f"a packed tally with {len(body) - pos} bytes not accounted for")
        return cls(
            Counter(by_category),
            Counter(by_status),
            _as_list(oa),
            _as_list(orr),
            _as_list(og),
            {
                pid: TechTally(_as_list(a), _as_list(r), _as_list(g), done, reworked, overdue)
                for pid, (a, r, g, done, reworked, overdue) in techs.items()
            },
        )


def office_counts(
    data: bytes, resolution: array[int], heads: dict[bytes, tuple[dict[str, int], int]]
) -> tuple[dict[str, int], int]:
    """The office's part of one packed tally without reading its technicians: the filings
    by category and how many there were; its repair times are appended to `resolution`
    (little-endian, as packed: `as_list` reads them). What the board's charts need of a
    summary row, at a fraction of `from_bytes`'s cost. `heads`: the JSON heads already
    read, by their bytes (a quiet building's days repeat the same few)."""
    version, size = _PREFIX.unpack_from(data)
    if version != PACKED_FORMAT:
        raise ValueError(f"a tally packed in format {version}, not {PACKED_FORMAT}")
    start = _PREFIX.size + size
    raw = data[_PREFIX.size : start]
    counted = heads.get(raw)
    if counted is None:
        head = json.loads(raw)
        counted = heads[raw] = (head["c"], sum(head["s"].values()))
    body = memoryview(data)[start:]
    na, nr, _ng, nt = _COUNTS.unpack_from(body)
    at = _COUNTS.size + 56 * nt + 8 * na
    resolution.frombytes(body[at : at + 8 * nr])
    return counted


def as_list(values: array[int]) -> list[int]:
    """Packed values (little-endian int64s read with `frombytes`) as a list."""
    return _as_list(values)


def _as_list(values: array[int]) -> list[int]:
    if sys.byteorder != "little":
        values.byteswap()
    return values.tolist()


def office_filed_and_resolution(parts: Iterable[bytes]) -> tuple[int, list[int]]:
    """Of the sum of packed tallies, only how many tickets were filed and the office's
    repair times (`by_category`'s total and `resolution`), read without decoding the
    technicians' parts: the board's buildings table adds a month of summary rows per
    building for just these two (a fraction of `sum_packed`'s time)."""
    filed = 0
    resolution = array("q")
    for data in parts:
        version, size = _PREFIX.unpack_from(data)
        if version != PACKED_FORMAT:
            raise ValueError(f"a tally packed in format {version}, not {PACKED_FORMAT}")
        start = _PREFIX.size + size
        filed += sum(json.loads(data[_PREFIX.size : start])["c"].values())
        body = memoryview(data)[start:]
        na, nr, _ng, nt = _COUNTS.unpack_from(body)
        pos = _COUNTS.size + 56 * nt + 8 * na
        resolution.frombytes(body[pos : pos + 8 * nr])
    return filed, _as_list(resolution)
