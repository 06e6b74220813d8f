"""backlog indexes: the queues and a technician's jobs read from their indexes alone

With a busy office's backlog (thousands overdue, ~200-360 live jobs per technician at
1,000,000 tickets) the overdue queue and /jobs fetched every matching ticket row to sort
it by urgency and age and check its building. The status-and-target indexes and the
technician's one now carry what those lists sort and filter by, so they are answered
from the index (SQLite "COVERING INDEX", PostgreSQL index-only scans with the id
INCLUDEd), and only the page's tickets are read:

- `ix_ticket_status_due` (status, due_at) becomes `ix_ticket_status_due_queue`
  (status, due_at, urgency, created_at, room_id);
- `ix_ticket_status_promised` (status, promised_at) becomes
  `ix_ticket_status_promised_queue` (status, promised_at, urgency, created_at, room_id);
- `ix_ticket_assignee_targets` (assignee_id, status, due_at, promised_at) becomes
  `ix_ticket_assignee_jobs` (assignee_id, status, due_at, promised_at, urgency,
  created_at).

Each keeps its predecessor's leading columns, so whatever read the old index by its
prefix reads the new one the same way. Plain index ops: on SQLite a batch would rebuild
the whole ticket table.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 14:00:00

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

QUEUE_TAIL = ['urgency', 'created_at', 'room_id']


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index(
        'ix_ticket_status_due_queue',
        'ticket',
        ['status', 'due_at', *QUEUE_TAIL],
        unique=False,
        postgresql_include=['id'],
    )
    op.create_index(
        'ix_ticket_status_promised_queue',
        'ticket',
        ['status', 'promised_at', *QUEUE_TAIL],
        unique=False,
        postgresql_include=['id'],
    )
    op.create_index(
        'ix_ticket_assignee_jobs',
        'ticket',
        ['assignee_id', 'status', 'due_at', 'promised_at', 'urgency', 'created_at'],
        unique=False,
        postgresql_include=['id'],
    )
    op.drop_index('ix_ticket_status_due', table_name='ticket')
    op.drop_index('ix_ticket_status_promised', table_name='ticket')
    op.drop_index('ix_ticket_assignee_targets', table_name='ticket')


def downgrade() -> None:
    """Downgrade schema."""
    op.create_index(
        'ix_ticket_assignee_targets',
        'ticket',
        ['assignee_id', 'status', 'due_at', 'promised_at'],
        unique=False,
    )
    op.create_index('ix_ticket_status_promised', 'ticket', ['status', 'promised_at'], unique=False)
    op.create_index('ix_ticket_status_due', 'ticket', ['status', 'due_at'], unique=False)
    op.drop_index('ix_ticket_assignee_jobs', table_name='ticket')
    op.drop_index('ix_ticket_status_promised_queue', table_name='ticket')
    op.drop_index('ix_ticket_status_due_queue', table_name='ticket')
