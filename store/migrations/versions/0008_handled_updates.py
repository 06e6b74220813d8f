"""handled Telegram updates: a redelivered update is skipped, on every instance

`handledupdate` (bot_id, update_id) holds the updates whose handlers have finished;
`handled_at` is indexed for the daily prune (store.delivery.inbox).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 11:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'handledupdate',
        sa.Column('bot_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('handled_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('bot_id', 'update_id', name=op.f('pk_handledupdate')),
    )
    op.create_index(
        op.f('ix_handledupdate_handled_at'), 'handledupdate', ['handled_at'], unique=False
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_handledupdate_handled_at'), table_name='handledupdate')
    op.drop_table('handledupdate')
