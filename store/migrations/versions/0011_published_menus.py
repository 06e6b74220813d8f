"""published menus: the staff command menu last published to each person's chat

At every start the bot sent a setMyCommands (and a menu button) per staff member before
it answered anyone (issue 28). Now it remembers per person a digest of the menu it
published and their newest staff change then, and republishes only when either differs.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 12:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'publishedmenu',
        sa.Column('person_id', sa.Integer(), nullable=False),
        sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('change_id', sa.Integer(), nullable=True),
        sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['person_id'], ['person.id'], name='fk_publishedmenu_person_id_person'
        ),
        sa.PrimaryKeyConstraint('person_id', name='pk_publishedmenu'),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('publishedmenu')
