"""personal data: retention and erasure

`person.seen_at` (last seen writing to the bot; inactivity counts from it; people already
there count as seen at the upgrade),
`person.erased_at` (the person's data was erased; shown as "former user"),
`ticket.photos_removed_at` (retention dropped the ticket's photos), and the
`privacyevent` table (exports and erasures: who asked, counts, no personal data), and
`ix_ticketevent_actor_at` (a person's latest step in one seek) and `ix_outbox_ticket_id`
(the notices about a ticket), so retention never reads the whole history.
Plain added nullable columns: on SQLite no table is rebuilt.

Revision ID: 0010
Revises: 0007 (temporarily; 0008 and 0009 come from other branches: re-chain at merge)
Create Date: 2026-12-07 11:50:00

"""
from datetime import datetime, timezone
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('person', sa.Column('seen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column('person', sa.Column('erased_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column(
        'ticket', sa.Column('photos_removed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
    )
    op.create_table('privacyevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_privacyevent_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacyevent'))
    )
    op.create_index(op.f('ix_privacyevent_person_id'), 'privacyevent', ['person_id'], unique=False)
    op.create_index('ix_ticketevent_actor_at', 'ticketevent', ['actor_id', 'at'], unique=False)
    op.create_index('ix_outbox_ticket_id', 'outbox', ['ticket_id'], unique=False)
    # Nobody knows when existing people last wrote to the bot: they count as seen at the
    # upgrade, so retention never anonymises someone who was active the day before it.
    person = sa.table(
        'person',
        sa.column('telegram_id', sa.BigInteger()),
        sa.column('seen_at', sqlmodel.sql.sqltypes.UTCDateTime()),
    )
    op.execute(
        person.update()
        .where(person.c.telegram_id.is_not(None))
        .values(seen_at=datetime.now(timezone.utc))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_outbox_ticket_id', table_name='outbox')
    op.drop_index('ix_ticketevent_actor_at', table_name='ticketevent')
    op.drop_index(op.f('ix_privacyevent_person_id'), table_name='privacyevent')
    op.drop_table('privacyevent')
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_column('photos_removed_at')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_column('erased_at')
        batch_op.drop_column('seen_at')
