"""calendar feed tokens kept only as their SHA-256

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:00:00.000000

Tokens stored in clear are hashed in place, so the calendars subscribed to them
keep working; those of inactive reps are dropped (a deactivated user's feed stops).
"""
import hashlib

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_token_hash', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_reps_calendar_token_hash'), ['calendar_token_hash'])
    reps = sa.table('reps', sa.column('user_id', sa.String), sa.column('active', sa.Boolean),
                    sa.column('calendar_token', sa.String), sa.column('calendar_token_hash', sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(reps.c.user_id, reps.c.calendar_token)
                              .where(reps.c.calendar_token.is_not(None), reps.c.active.is_(True))).all()
    for user_id, token in rows:
        connection.execute(reps.update().where(reps.c.user_id == user_id).values(
            calendar_token_hash=hashlib.sha256(token.encode('utf-8')).hexdigest()))
    with op.batch_alter_table('reps', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_reps_calendar_token'), type_='unique')
        batch_op.drop_column('calendar_token')


def downgrade() -> None:
    # The tokens themselves are gone: every feed needs a new address after a downgrade.
    with op.batch_alter_table('reps', schema=None) as batch_op:
        batch_op.add_column(sa.Column('calendar_token', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_reps_calendar_token'), ['calendar_token'])
        batch_op.drop_constraint(batch_op.f('uq_reps_calendar_token_hash'), type_='unique')
        batch_op.drop_column('calendar_token_hash')
