"""day summaries: per day and building, the figures of closed and cancelled tickets

Adds `ticket.summarized` (false for every existing ticket: the roll-up job summarizes the
history batch by batch after the upgrade, and until then the reports read those tickets
live, as before), the partial indexes over the tickets not summarized yet, and the
`daysummary` and `summarystate` tables. Plain ops, not batch mode: on SQLite a batch can
rebuild the whole ticket table, which takes minutes at a million rows; ADD COLUMN with a
constant default is instant on both engines, and an index build only reads the table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 21:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

NOT_SUMMARIZED = {
    'sqlite_where': sa.text('summarized = 0'),
    'postgresql_where': sa.text('summarized = false'),
}


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column(
        'ticket',
        sa.Column('summarized', sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index('ix_ticket_to_summarize', 'ticket', ['status', 'id'], **NOT_SUMMARIZED)
    op.create_index('ix_ticket_live_created', 'ticket', ['created_at'], **NOT_SUMMARIZED)
    op.create_index('ix_ticket_live_accepted', 'ticket', ['accepted_at'], **NOT_SUMMARIZED)
    op.create_index('ix_ticket_live_completed', 'ticket', ['completed_at'], **NOT_SUMMARIZED)
    op.create_table(
        'daysummary',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('building_id', sa.Integer(), nullable=False),
        sa.Column('tickets', sa.Integer(), nullable=False),
        sa.Column('figures', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ['building_id'], ['building.id'], name=op.f('fk_daysummary_building_id_building')
        ),
        sa.PrimaryKeyConstraint('day', 'building_id', name=op.f('pk_daysummary')),
    )
    op.create_table(
        'summarystate',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('zone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_summarystate')),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('summarystate')
    op.drop_table('daysummary')
    op.drop_index('ix_ticket_live_completed', table_name='ticket')
    op.drop_index('ix_ticket_live_accepted', table_name='ticket')
    op.drop_index('ix_ticket_live_created', table_name='ticket')
    op.drop_index('ix_ticket_to_summarize', table_name='ticket')
    op.drop_column('ticket', 'summarized')
