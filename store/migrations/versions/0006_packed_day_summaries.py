"""day summaries packed: `daysummary.tally` (bytes) in place of `daysummary.figures` (JSON)

A report reads one summary row per day and building of its period (a 30-day /stats over a
campus: ~1,000 rows, ~2 KB each). Reading their JSON lists of microsecond integers back
was a quarter of the report's time at a million tickets; the packed form
(`Tally.to_bytes`: a small JSON head, then int64 values) reads back ~25x faster.

The rows are converted in place, a thousand at a time in key order, so nothing has to be
summarized again and the roll-up job carries on where it was. On SQLite the last step
rebuilds the (small) daysummary table to drop the old column; the ticket table is not
touched. The downgrade converts back.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 08:00:00

"""
from typing import Any, Callable, Sequence, Union

from alembic import op
import sqlalchemy as sa

from store.reporting.tally import Tally


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CHUNK = 1000


def _convert(
    source: sa.ColumnClause[Any], target: sa.ColumnClause[Any], change: Callable[[Any], Any]
) -> None:
    """Fill `target` from `source` on every row, CHUNK rows per statement, in key order."""
    table = sa.table(
        'daysummary', sa.column('day', sa.Date()), sa.column('building_id'), source, target
    )
    bind = op.get_bind()
    key = sa.tuple_(table.c.day, table.c.building_id)
    last: tuple[Any, Any] | None = None
    while True:
        query = (
            sa.select(table.c.day, table.c.building_id, source)
            .order_by(table.c.day, table.c.building_id)
            .limit(CHUNK)
        )
        if last is not None:
            after = sa.tuple_(sa.literal(last[0], sa.Date()), sa.literal(last[1]))
            query = query.where(key > after)
        rows = bind.execute(query).all()
        if not rows:
            return
        bind.execute(
            table.update()
            .where(table.c.day == sa.bindparam('d'), table.c.building_id == sa.bindparam('b'))
            .values({target.name: sa.bindparam('v')}),
            [{'d': day, 'b': building, 'v': change(value)} for day, building, value in rows],
        )
        last = (rows[-1][0], rows[-1][1])


def _swap(
    old: sa.ColumnClause[Any], new: sa.ColumnClause[Any], change: Callable[[Any], Any]
) -> None:
    """Replace column `old` by `new`, each row's value converted by `change`."""
    with op.batch_alter_table('daysummary') as batch:
        batch.add_column(sa.Column(new.name, new.type, nullable=True))
    _convert(old, new, change)
    with op.batch_alter_table('daysummary') as batch:
        batch.drop_column(old.name)
        batch.alter_column(new.name, existing_type=new.type, nullable=False)


def upgrade() -> None:
    """Upgrade schema."""
    _swap(
        sa.column('figures', sa.JSON()),
        sa.column('tally', sa.LargeBinary()),
        lambda figures: Tally.from_json(figures).to_bytes(),
    )


def downgrade() -> None:
    """Downgrade schema."""
    _swap(
        sa.column('tally', sa.LargeBinary()),
        sa.column('figures', sa.JSON()),
        lambda packed: Tally.from_bytes(packed).to_json(),
    )
