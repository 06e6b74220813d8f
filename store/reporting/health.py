"""Figures for the operator's monitoring (the ops listener's /metrics): cheap, no people.

Read on a scrape, at most every few seconds (bot/metrics.py caches them): one GROUP BY
over the open statuses, answered from a status-led index, never the ticket rows.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col

from store.lifecycle import OPEN_STATUSES
from store.models import Ticket
from store.uow import UnitOfWork


async def open_by_status(uow: UnitOfWork) -> dict[str, int]:
    """Open tickets per open status (every open status present, 0 when none)."""
    async with uow.reading():
        rows = (
            await uow.session.execute(
                sa_select(col(Ticket.status), func.count())
                .where(col(Ticket.status).in_(sorted(OPEN_STATUSES)))
                .group_by(col(Ticket.status))
            )
        ).all()
    counts = {str(status): 0 for status in sorted(OPEN_STATUSES)}
    for status, count in rows:
        counts[str(status)] = int(count)
    return counts
