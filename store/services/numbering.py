"""Gap-free yearly numbers (tickets, follow-ups) from one counter row per series."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from store.models import Counter
from store.uow import UnitOfWork


async def next_number(uow: UnitOfWork, series: str) -> int:
    """Bump and return the counter of `series`; the UPDATE's row lock makes it unique."""
    bind = uow.session.get_bind()
    insert = pg_insert if bind.dialect.name == "postgresql" else sqlite_insert
    await uow.session.execute(insert(Counter).values(name=series, last=0).on_conflict_do_nothing())
    result = await uow.session.execute(
        update(Counter)
        .where(col(Counter.name) == series)
        .values(last=col(Counter.last) + 1)
        .returning(col(Counter.last))
    )
    return int(result.scalar_one())
