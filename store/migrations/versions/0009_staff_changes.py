"""staff changes: an append-only record of every grant added or removed, and by whom

`repairbot staff add | remove | import` and the admins' /staff in the chat write one row
per grant they add or remove (issue 24): who it was about, the role and its scope (ids,
and the names as they were), who did it (an admin in the chat; none for the command
line) and through what, and a note of the jobs and follow-ups handed on.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 11:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'staffchange',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('change', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('campus_id', sa.Integer(), nullable=True),
        sa.Column('building_id', sa.Integer(), nullable=True),
        sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('via', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ['actor_id'], ['person.id'], name='fk_staffchange_actor_id_person'
        ),
        sa.ForeignKeyConstraint(
            ['building_id'], ['building.id'], name='fk_staffchange_building_id_building'
        ),
        sa.ForeignKeyConstraint(
            ['campus_id'], ['campus.id'], name='fk_staffchange_campus_id_campus'
        ),
        sa.ForeignKeyConstraint(
            ['person_id'], ['person.id'], name='fk_staffchange_person_id_person'
        ),
        sa.PrimaryKeyConstraint('id', name='pk_staffchange'),
    )
    op.create_index(
        'ix_staffchange_person_id', 'staffchange', ['person_id'], unique=False
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_staffchange_person_id', table_name='staffchange')
    op.drop_table('staffchange')
