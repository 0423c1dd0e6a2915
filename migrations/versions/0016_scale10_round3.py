"""scale 10, round 3: who checked in per station and month (the monthly ledger's 签到党员数); the
needs routed to a member counted per year with their other figures, and those routed to a
central household per year (the evaluation sheets' rankings group no needs per request); users
by name with their id; a month's points rows best first (the admin home's leaders)

Revision ID: 0016_scale10_round3
Revises: 0015_home_stamps
Create Date: 2026-11-30 22:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016_scale10_round3'
down_revision = '0015_home_stamps'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('agg_checkin_member_months',
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('checkins', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_agg_checkin_member_months_member_id_members'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_agg_checkin_member_months_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('station_id', 'month', 'member_id', name=op.f('pk_agg_checkin_member_months'))
    )
    # Counted from the check-ins (app/services/aggregates.py keeps it from now on; ``flask
    # recount-counters`` compares it with a recount).
    from app.services import aggregates

    with op.batch_alter_table('agg_member_years', schema=None) as batch_op:
        for name in ('needs_submitted', 'needs_in_time', 'needs_resolved', 'needs_rated', 'needs_satisfied',
                     'needs_unsatisfied'):
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default='0', nullable=False))
    op.create_table('agg_household_years',
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    *(sa.Column(name, sa.Integer(), server_default='0', nullable=False) for name in (
        'needs_submitted', 'needs_in_time', 'needs_resolved', 'needs_rated', 'needs_satisfied', 'needs_unsatisfied')),
    sa.ForeignKeyConstraint(['household_id'], ['central_households.id'], name=op.f('fk_agg_household_years_household_id_central_households'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('household_id', 'year', name=op.f('pk_agg_household_years'))
    )
    aggregates.recount_all(op.get_bind(), only=['checkin_member_months', 'member_years', 'household_years'])
    # Users by name with their id (PostgreSQL INCLUDE): a search by part of a name walks the index
    # alone, in the list's order.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_name')
        batch_op.create_index('ix_users_name', ['name'], unique=False, postgresql_include=['id'])
    with op.batch_alter_table('agg_points_months', schema=None) as batch_op:
        batch_op.drop_index('ix_agg_points_months_month')
        batch_op.create_index('ix_agg_points_months_month_points', ['month', 'points', 'member_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_name')
        batch_op.create_index('ix_users_name', ['name'], unique=False)
    with op.batch_alter_table('agg_points_months', schema=None) as batch_op:
        batch_op.drop_index('ix_agg_points_months_month_points')
        batch_op.create_index('ix_agg_points_months_month', ['month'], unique=False)
    with op.batch_alter_table('agg_member_years', schema=None) as batch_op:
        for name in ('needs_unsatisfied', 'needs_satisfied', 'needs_rated', 'needs_resolved', 'needs_in_time',
                     'needs_submitted'):
            batch_op.drop_column(name)
    op.drop_table('agg_household_years')
    op.drop_table('agg_checkin_member_months')
