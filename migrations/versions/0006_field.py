"""field: voice clips on needs and their steps; every stored phone in one canonical form

Revision ID: 0006_field
Revises: 0005_checkin
Create Date: 2026-11-29

Phones: every phone column is read with the app's one reader (``app.phones.normalize_phone``,
libphonenumber's rules), and a value it reads differently (full-width digits …) is rewritten as
the 11 ASCII digits. A value it cannot read, or whose canonical form another account already holds
(``users.phone`` is unique), is left as it was and counted in the log. Closed accounts' "10…"
placeholders are not phones and are left alone.
"""
import logging

import sqlalchemy as sa
from alembic import op

from app.phones import normalize_phone

# revision identifiers, used by Alembic.
revision = '0006_field'
down_revision = '0005_checkin'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.migration.0006_field")

# (table, column, unique): every column that holds a phone number.
PHONE_COLUMNS = (
    ("users", "phone", True),
    ("resident_households", "phone", False),
    ("needs", "contact_phone", False),
    ("notice_objections", "contact_phone", False),
)
# privacy_rights.CLOSED_PHONE_PREFIX: an erased account's placeholder, not a phone.
CLOSED_PHONE_PREFIX = "10"


def _normalise_phones(conn: sa.Connection) -> None:
    for table_name, column_name, unique in PHONE_COLUMNS:
        table = sa.table(table_name, sa.column("id", sa.Integer), sa.column(column_name, sa.String))
        column = table.c[column_name]
        rows = conn.execute(sa.select(table.c.id, column).where(column.is_not(None))).all()
        taken = {value for _, value in rows} if unique else set()
        changed = left = 0
        for row_id, value in rows:
            number = normalize_phone(value)
            if number == value:
                continue
            if number is None:
                if not (table_name == "users" and value.isascii() and value.startswith(CLOSED_PHONE_PREFIX)):
                    left += 1
                continue
            if unique and number in taken:  # another account holds the canonical number
                left += 1
                continue
            conn.execute(sa.update(table).where(table.c.id == row_id).values({column_name: number}))
            taken.add(number)
            changed += 1
        log.info("0006_field: %s.%s: %d normalised, %d left as they were (not a mainland mobile "
                 "number, or already held by another account)", table_name, column_name, changed, left)


def upgrade():
    op.create_table('voice_clips',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('mime', sa.String(length=32), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('duration_ms > 0 AND duration_ms <= 61000', name=op.f('ck_voice_clips_duration_range')),
    sa.CheckConstraint('size_bytes > 0', name=op.f('ck_voice_clips_has_size')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_voice_clips_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_clips')),
    sa.UniqueConstraint('sha256', name=op.f('uq_voice_clips_sha256'))
    )
    with op.batch_alter_table('need_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voice_clip_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_need_events_voice_clip_id_voice_clips'), 'voice_clips', ['voice_clip_id'], ['id'])

    # A need is filled by text or by voice: empty text only with a recording (SQLite: batch mode
    # copies the table with its other constraints; PostgreSQL alters it in place).
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voice_clip_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_needs_voice_clip_id_voice_clips'), 'voice_clips', ['voice_clip_id'], ['id'])
        batch_op.drop_constraint(batch_op.f('ck_needs_text_length'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_needs_text_length'),
            'length(text) <= 500 AND (length(text) > 0 OR voice_clip_id IS NOT NULL)')

    _normalise_phones(op.get_bind())


def downgrade():
    # Phones stay canonical: the old form of a rewritten number is not kept, and nothing needs it.
    # A need left by voice alone gets words, so the old CHECK holds.
    needs = sa.table('needs', sa.column('text', sa.String), sa.column('voice_clip_id', sa.Integer))
    op.execute(sa.update(needs).where(needs.c.text == '').values(text='（语音留言）'))
    with op.batch_alter_table('needs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_needs_text_length'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_needs_text_length'), 'length(text) > 0 AND length(text) <= 500')
        batch_op.drop_constraint(batch_op.f('fk_needs_voice_clip_id_voice_clips'), type_='foreignkey')
        batch_op.drop_column('voice_clip_id')

    with op.batch_alter_table('need_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_need_events_voice_clip_id_voice_clips'), type_='foreignkey')
        batch_op.drop_column('voice_clip_id')

    op.drop_table('voice_clips')
