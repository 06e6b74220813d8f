"""the board's lists: repeated faults from one index, a technician's tickets by date

`ix_ticket_created_room` (created_at, room_id): the buildings table
(store.reporting.board_lists) counts, per room, the faults filed in the last 90 days, and
with both columns in the index that is a range read of the index alone, not a fetch of
every ticket row of those 90 days. `ix_ticket_assignee_created` (assignee_id,
created_at): the tickets list filtered by technician (and a technician's own list) is a
range seek in the list's order; SQLite read the technician's whole history from
`ix_ticket_assignee_id` and sorted it (643 ms p95 at 1,000,000 tickets). Plain index
ops: on SQLite a batch would rebuild the whole ticket table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:00:00

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index('ix_ticket_created_room', 'ticket', ['created_at', 'room_id'], unique=False)
    op.create_index(
        'ix_ticket_assignee_created', 'ticket', ['assignee_id', 'created_at'], unique=False
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_ticket_assignee_created', table_name='ticket')
    op.drop_index('ix_ticket_created_room', table_name='ticket')
