"""Gap-free yearly numbers (tickets, follow-ups) from one counter row per series."""

from __future__ import annotations

from sqlmodel import col

from store.models import Counter
from store.uow import UnitOfWork


async def next_number(uow: UnitOfWork, series: str) -> int:
    """Bump and return the counter of `series` (starting it at 1): one upsert, whose row
    lock (PostgreSQL) or write lock (SQLite) makes the number unique."""
    stmt = uow.insert(Counter).values(name=series, last=1)
    result = await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[col(Counter.name)], set_={"last": col(Counter.last) + 1}
        ).returning(col(Counter.last))
    )
    return int(result.scalar_one())
