"""list indexes: the needs' rates counted from one index; users by name (issue 14)

Revision ID: 0011_list_indexes
Revises: 0010_aggregates
Create Date: 2026-11-29 19:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011_list_indexes'
down_revision = '0010_aggregates'
branch_labels = None
depends_on = None

RATES_COLUMNS = ['submitted_at', 'hidden_at', 'node_id', 'status', 'rating', 'accepted_at', 'first_accept_due_at',
                 'community_id', 'township_id', 'grid_id', 'member_id', 'central_household_id']


def upgrade():
    # The needs dashboard counts a period's needs from this index alone; it leads with
    # submitted_at, so it takes over from the index on that column.
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.create_index('ix_needs_rates', RATES_COLUMNS, unique=False)
        batch_op.drop_index(batch_op.f('ix_needs_submitted_at'))
    # The members list is sorted by name: read in order, not sorted per page.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_name'), ['name'], unique=False)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_name'))
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_needs_submitted_at'), ['submitted_at'], unique=False)
        batch_op.drop_index('ix_needs_rates')
