"""member kinds index: a member's figures of a year by kind in one index-only lookup (a page of
the households sheet reads its members')

Revision ID: 0014_member_kinds_index
Revises: 0013_open_needs_index
Create Date: 2026-11-30 20:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014_member_kinds_index'
down_revision = '0013_open_needs_index'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('agg_member_activity_years', schema=None) as batch_op:
        batch_op.create_index('ix_agg_member_activity_years_member_year', ['member_id', 'year'], unique=False,
                              postgresql_include=['kind', 'activities', 'authored'])


def downgrade():
    with op.batch_alter_table('agg_member_activity_years', schema=None) as batch_op:
        batch_op.drop_index('ix_agg_member_activity_years_member_year')
