"""idempotency records expire; none keeps a new API key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:00:00.000000

Answers stored before this revision may hold new API keys in clear (POST
/api/v1/api-keys): they are deleted. Their retries run again, as after expiry.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_records_created_at'), ['created_at'], unique=False)
    records = sa.table('idempotency_records', sa.column('path', sa.String))
    op.execute(records.delete().where(records.c.path.like('/api/v1/api-keys%')))


def downgrade() -> None:
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_records_created_at'))
