"""evaluation totals: each member's activities of all kinds per year (the evaluation sheet ranks
every member of a node by it in SQL)

Revision ID: 0011_evaluation_totals
Revises: 0010_aggregates
Create Date: 2026-11-30 19:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_evaluation_totals'
down_revision = '0010_aggregates'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('agg_member_activity_totals',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('activities', sa.Integer(), server_default='0', nullable=False),
    sa.Column('authored', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_agg_member_activity_totals_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', 'year', name=op.f('pk_agg_member_activity_totals'))
    )
    # The totals of the per-kind figures kept since 0010 (app/services/aggregates.py keeps both
    # from now on; ``flask recount-counters`` compares them with a recount from the activities).
    op.execute(
        "INSERT INTO agg_member_activity_totals (member_id, year, activities, authored)"
        " SELECT member_id, year, sum(activities), sum(authored) FROM agg_member_activity_years"
        " GROUP BY member_id, year")


def downgrade():
    op.drop_table('agg_member_activity_totals')
