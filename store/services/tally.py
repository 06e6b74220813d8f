"""The raw material of the office's and the technicians' figures, as one mergeable value.

A `Tally` holds what /stats and the digest compute their figures from: counts of the
tickets filed, and the exact durations and ratings behind the medians and averages. It is
filled from ticket rows (`add`), merged with other tallies (`merge`), and stored as JSON
(`to_json` / `from_json`): the day summaries (store.services.summaries) are tallies of the
tickets that can no longer change, one per day and building, and a report adds the
summaries of the days it covers to a tally of the few rows it still reads live. Because
both paths go through `add`, a summary says exactly what the rows said.

Durations are whole microseconds (ints), so merging, storing and sorting stay exact: the
medians are the same timedeltas the rows give.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from store.lifecycle import Status

DONE_STATUSES = frozenset({Status.COMPLETED, Status.CLOSED})
# The ticket columns a figure reads (with the building, through the room): once a ticket
# is in the day summaries none of them may change (tickets.write refuses).
FIGURE_FIELDS = frozenset(
    {
        "status",
        "category_id",
        "room_id",
        "created_at",
        "dispatched_at",
        "accepted_at",
        "completed_at",
        "due_at",
        "rework_count",
        "rating",
        "requester_id",
        "assignee_id",
    }
)
MICROSECOND = timedelta(microseconds=1)


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


@dataclass(frozen=True, slots=True)
class Facts:
    """What a figure reads from one ticket; timestamps aware UTC."""

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

    def add(self, f: Facts, counts: Callable[[datetime | None], bool]) -> None:
        """Add the ticket's contributions whose moment `counts`: its filing (by category
        and current status), its accept (the wait), its completion (the repair time,
        the rating; for the technician only when the job is done)."""
        filed, accepted = counts(f.created), counts(f.accepted)
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
            self.accept.append(micros(wait))
            if tech is not None:
                tech.accept.append(micros(wait))
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

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (short keys: a summary row holds a day of a building)."""
        return {
            "c": dict(self.by_category),
            "s": dict(self.by_status),
            "a": self.accept,
            "r": self.resolution,
            "g": self.ratings,
            "t": {
                str(person_id): [t.accept, t.resolution, t.ratings, t.done, t.reworked, t.overdue]
                for person_id, t in self.techs.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tally:
        return cls(
            Counter(data["c"]),
            Counter(data["s"]),
            list(data["a"]),
            list(data["r"]),
            list(data["g"]),
            {
                int(person_id): TechTally(a, r, g, done, reworked, overdue)
                for person_id, (a, r, g, done, reworked, overdue) in data["t"].items()
            },
        )
