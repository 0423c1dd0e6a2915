"""home stamps: a random number per member that changes with every write to what their home page
shows, and one shared by every home (member_id 0); a home's data is kept per process under them

Revision ID: 0015_home_stamps
Revises: 0014_member_kinds_index
Create Date: 2026-11-29 22:40:00.000000

"""
import secrets

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015_home_stamps'
down_revision = '0014_member_kinds_index'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'home_stamps',
        sa.Column('member_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('stamp', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('member_id', name=op.f('pk_home_stamps')),
    )
    # The shared stamp (a member without a row reads as 0 until a write to their home gives them one).
    op.bulk_insert(table, [{'member_id': 0, 'stamp': secrets.randbits(62)}])


def downgrade():
    op.drop_table('home_stamps')
