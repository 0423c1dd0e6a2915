"""member years: each member's kept yearly figures side by side (points, activities, visited,
training), one row per member and year — the evaluation sheet ranks every member of a node by
them in SQL

Revision ID: 0012_member_years
Revises: 0011_list_indexes
Create Date: 2026-11-30 19:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_member_years'
down_revision = '0011_list_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('agg_member_years',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('points', sa.Integer(), server_default='0', nullable=False),
    sa.Column('activities', sa.Integer(), server_default='0', nullable=False),
    sa.Column('authored', sa.Integer(), server_default='0', nullable=False),
    sa.Column('visited', sa.Integer(), server_default='0', nullable=False),
    sa.Column('minutes', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_agg_member_years_member_id_members'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('member_id', 'year', name=op.f('pk_agg_member_years'))
    )
    # Side by side from the four aggregates kept since 0010 (app/services/aggregates.py keeps
    # this one with them from now on; ``flask recount-counters`` compares each with a recount).
    op.execute(
        "INSERT INTO agg_member_years (member_id, year, points, activities, authored, visited, minutes)"
        " SELECT member_id, year, sum(points), sum(activities), sum(authored), sum(visited), sum(minutes) FROM ("
        "  SELECT member_id, year, points, 0 AS activities, 0 AS authored, 0 AS visited, 0 AS minutes"
        "  FROM agg_points_years"
        "  UNION ALL SELECT member_id, year, 0, activities, authored, 0, 0 FROM agg_member_activity_years"
        "  UNION ALL SELECT member_id, year, 0, 0, 0, visited, 0 FROM agg_member_visit_years"
        "  UNION ALL SELECT member_id, year, 0, 0, 0, 0, minutes FROM agg_member_training_years"
        " ) AS parts GROUP BY member_id, year")


def downgrade():
    op.drop_table('agg_member_years')
