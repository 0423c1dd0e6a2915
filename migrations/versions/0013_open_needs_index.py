"""open needs index: the open needs by submission (the dispatch queue and the overdue list;
users by name is in 0011_list_indexes)

Revision ID: 0013_open_needs_index
Revises: 0012_member_years
Create Date: 2026-11-30 20:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_open_needs_index'
down_revision = '0012_member_years'
branch_labels = None
depends_on = None

# The open needs not hidden (app/models/needs.py: OPEN_NEEDS, as it was written here).
OPEN_NEEDS = "status IN ('submitted', 'accepted', 'in_progress') AND hidden_at IS NULL"


def upgrade():
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.create_index('ix_needs_open_submitted', ['submitted_at'], unique=False,
                              postgresql_where=sa.text(OPEN_NEEDS), sqlite_where=sa.text(OPEN_NEEDS))


def downgrade():
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.drop_index('ix_needs_open_submitted')
