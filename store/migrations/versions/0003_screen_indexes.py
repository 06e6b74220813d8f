"""indexes for every screen at a million tickets

Plain CREATE INDEX ops, not batch mode: on SQLite a batch can rebuild the whole ticket
table, which takes minutes at a million rows; an index build only reads it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 15:13:25.938213

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index('ix_ticket_assignee_status', 'ticket', ['assignee_id', 'status'], unique=False)
    op.create_index('ix_ticket_filed_by_newest', 'ticket', ['filed_by_id', 'id'], unique=False)
    op.create_index('ix_ticket_requester_newest', 'ticket', ['requester_id', 'id'], unique=False)
    op.create_index('ix_ticket_status_due', 'ticket', ['status', 'due_at'], unique=False)
    op.create_index('ix_ticket_status_promised', 'ticket', ['status', 'promised_at'], unique=False)
    op.create_index(
        'ix_ticket_status_backlog',
        'ticket',
        ['status', 'room_id', 'assignee_id', 'due_at', 'promised_at', 'number'],
        unique=False,
    )
    op.create_index(
        'ix_ticketfollower_person_ticket', 'ticketfollower', ['person_id', 'ticket_id'], unique=False
    )
    op.create_index(
        'ix_followup_open',
        'followup',
        ['ticket_id'],
        unique=False,
        sqlite_where=sa.text('resolved_at IS NULL'),
        postgresql_where=sa.text('resolved_at IS NULL'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_followup_open', table_name='followup')
    op.drop_index('ix_ticketfollower_person_ticket', table_name='ticketfollower')
    op.drop_index('ix_ticket_status_backlog', table_name='ticket')
    op.drop_index('ix_ticket_status_promised', table_name='ticket')
    op.drop_index('ix_ticket_status_due', table_name='ticket')
    op.drop_index('ix_ticket_requester_newest', table_name='ticket')
    op.drop_index('ix_ticket_filed_by_newest', table_name='ticket')
    op.drop_index('ix_ticket_assignee_status', table_name='ticket')
