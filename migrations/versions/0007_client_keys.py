"""client keys for the phone's outbox; typed check-in codes

- ``activities.client_key`` and ``diary_entries.client_key``: the key the author's browser made for
  a record, unique per author, so a record the outbox sends twice is stored once (NULL for older
  rows and posts without JavaScript; NULLs never clash);
- ``checkins.method`` may be ``typed`` (the six digits under the kiosk's QR);
- ``checkin_code_guards``: wrong codes typed per member, and the lock they lead to.

Revision ID: 0007_client_keys
Revises: 0006_field
Create Date: 2026-11-29

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_client_keys'
down_revision = '0006_field'
branch_labels = None
depends_on = None

OLD_METHODS = ('kiosk', 'poster', 'manual')
NEW_METHODS = ('kiosk', 'poster', 'manual', 'typed')


def _method(values):
    return sa.Enum(*values, name='method', native_enum=False, create_constraint=True, length=32)


def _set_methods(values):
    # The enum is a VARCHAR with a named CHECK (app/models/base.py enum_column): replace the CHECK.
    # On SQLite the batch recreates the table with the new CHECK and copies the rows.
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_checkins_method'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_checkins_method'), sa.column('method').in_(values)
        )


def upgrade():
    op.create_table('checkin_code_guards',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('failures >= 0', name=op.f('ck_checkin_code_guards_failures_not_negative')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_checkin_code_guards_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_checkin_code_guards'))
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_key', sa.String(length=36), nullable=True))
        batch_op.create_unique_constraint('uq_activities_author_client_key', ['author_member_id', 'client_key'])

    with op.batch_alter_table('diary_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_key', sa.String(length=36), nullable=True))
        batch_op.create_unique_constraint('uq_diary_entries_member_client_key', ['member_id', 'client_key'])

    _set_methods(NEW_METHODS)


def downgrade():
    # Typed check-ins count as kiosk check-ins once the method no longer exists.
    op.execute("UPDATE checkins SET method = 'kiosk' WHERE method = 'typed'")
    _set_methods(OLD_METHODS)

    with op.batch_alter_table('diary_entries', schema=None) as batch_op:
        batch_op.drop_constraint('uq_diary_entries_member_client_key', type_='unique')
        batch_op.drop_column('client_key')

    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_constraint('uq_activities_author_client_key', type_='unique')
        batch_op.drop_column('client_key')

    op.drop_table('checkin_code_guards')
