"""Which open tickets are live work and which are stale, as SQL on the ticket's target:
`due_at` (set at filing, reset by a new round), or the promised date while deferred.

Each clause is a range on `ix_ticket_status_due_queue` / `ix_ticket_status_promised_queue`,
so the everyday queues and job lists seek to the live part of a long history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col

from store.lifecycle import OPEN_STATUSES, Status
from store.models import Ticket

# Open and not deferred: these are late when past `due_at`, a deferred one past its promise.
TARGET_DUE_STATUSES = tuple(s for s in Status if s in OPEN_STATUSES and s is not Status.DEFERRED)
# A ticket still open this long after its target is forgotten, not late: it leaves the
# everyday queues and job lists for the stale list, where a dispatcher closes or revives it.
STALE_AFTER = timedelta(days=90)


def target_branches(
    statuses: Sequence[Status], *, since: datetime | None = None, until: datetime | None = None
) -> list[ColumnElement[bool]]:
    """`targets_between` as its branches, one per target column: each alone a range seek on
    `ix_ticket_status_due_queue` or `ix_ticket_status_promised_queue` (a query that wants
    each read from its index alone reads them as a UNION ALL)."""
    branches: list[ColumnElement[bool]] = []
    by_due: list[Status] = [s for s in statuses if s in TARGET_DUE_STATUSES]
    by_promise: list[Status] = [Status.DEFERRED] if Status.DEFERRED in statuses else []
    for column, kinds in ((col(Ticket.due_at), by_due), (col(Ticket.promised_at), by_promise)):
        if not kinds:
            continue
        terms: list[ColumnElement[bool]] = [col(Ticket.status).in_(kinds)]
        if since is not None:
            terms.append(column >= since)
        if until is not None:
            terms.append(column < until)
        branches.append(and_(*terms))
    return branches


def targets_between(
    statuses: Sequence[Status], *, since: datetime | None = None, until: datetime | None = None
) -> ColumnElement[bool]:
    """Open tickets of `statuses` whose target (`due_at`, or the promise when deferred)
    lies in [since, until): each side a range seek on `ix_ticket_status_due_queue` or
    `ix_ticket_status_promised_queue`. `due_at` is set at filing and `promised_at` on
    deferral, so an open ticket always has the target it is judged by."""
    return or_(*target_branches(statuses, since=since, until=until))


def live_clause(now: datetime) -> ColumnElement[bool]:
    """Open and not stale: what the everyday queues and job lists show."""
    return targets_between(list(OPEN_STATUSES), since=now - STALE_AFTER)


def stale_clause(now: datetime) -> ColumnElement[bool]:
    """Open and past its target by more than STALE_AFTER: the stale list."""
    return targets_between(list(OPEN_STATUSES), until=now - STALE_AFTER)
