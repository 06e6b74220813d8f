"""day summaries packed: `daysummary.tally` (bytes) in place of `daysummary.figures` (JSON)

A report reads one summary row per day and building of its period (a 30-day /stats over a
campus: ~1,000 rows, ~2 KB each). Reading their JSON lists of microsecond integers back
was a quarter of the report's time at a million tickets; the packed form
(a small JSON head, then int64 values) reads back ~25x faster.

The rows are converted in place, a thousand at a time in key order, so nothing has to be
summarized again and the roll-up job carries on where it was. On SQLite the last step
rebuilds the (small) daysummary table to drop the old column; the ticket table is not
touched. The downgrade converts back.

The two forms are written out here as they were when this revision was made (then
`Tally.to_json` / `from_json` and `to_bytes` / `from_bytes` in store.reporting.tally), so
a later change to the live code cannot change what this revision does.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 08:00:00

"""
import json
import struct
import sys
from array import array
from typing import Any, Callable, Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CHUNK = 1000
PACKED_FORMAT = 1
_PREFIX = struct.Struct('<BI')  # format, length of the JSON head


def _pack(figures: dict[str, Any]) -> bytes:
    """A 0005 JSON summary in the packed form: the JSON head (the two counters), then
    int64s: the office's three list lengths and the number of technicians; per technician
    its id, its three list lengths and done / reworked / overdue; then the office's values
    and each technician's, in that order."""
    head = json.dumps({'c': figures['c'], 's': figures['s']}, separators=(',', ':')).encode()
    techs = [(int(person_id), part) for person_id, part in figures['t'].items()]
    values = array('q', [len(figures['a']), len(figures['r']), len(figures['g']), len(techs)])
    for person_id, (accept, resolution, ratings, done, reworked, overdue) in techs:
        values.extend(
            (person_id, len(accept), len(resolution), len(ratings), done, reworked, overdue)
        )
    values.extend(figures['a'])
    values.extend(figures['r'])
    values.extend(figures['g'])
    for _, (accept, resolution, ratings, *_counts) in techs:
        values.extend(accept)
        values.extend(resolution)
        values.extend(ratings)
    if sys.byteorder != 'little':
        values.byteswap()
    return _PREFIX.pack(PACKED_FORMAT, len(head)) + head + values.tobytes()


def _unpack(packed: bytes) -> dict[str, Any]:
    """A packed summary as the JSON 0005 wrote."""
    version, size = _PREFIX.unpack_from(packed)
    if version != PACKED_FORMAT:
        raise ValueError(f'a tally packed in format {version}, not {PACKED_FORMAT}')
    start = _PREFIX.size + size
    head = json.loads(packed[_PREFIX.size : start])
    numbers = array('q')
    numbers.frombytes(packed[start:])
    if sys.byteorder != 'little':
        numbers.byteswap()
    values = numbers.tolist()
    counts, pos = values[:4], 4

    def take(n: int) -> list[int]:
        nonlocal pos
        pos += n
        return values[pos - n : pos]

    office_accept, office_resolution, office_ratings, tech_count = counts
    table = take(7 * tech_count)
    office = [take(office_accept), take(office_resolution), take(office_ratings)]
    techs: dict[str, list[Any]] = {}
    for i in range(0, 7 * tech_count, 7):
        person_id, accept, resolution, ratings, done, reworked, overdue = table[i : i + 7]
        techs[str(person_id)] = [
            take(accept), take(resolution), take(ratings), done, reworked, overdue
        ]
    if pos != len(values):
        raise ValueError(f'a packed tally with {len(values) - pos} values not accounted for')
    return {
        'c': dict(head['c']),
        's': dict(head['s']),
        'a': office[0],
        'r': office[1],
        'g': office[2],
        't': techs,
    }


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
        _pack,
    )


def downgrade() -> None:
    """Downgrade schema."""
    _swap(
        sa.column('tally', sa.LargeBinary()),
        sa.column('figures', sa.JSON()),
        _unpack,
    )
