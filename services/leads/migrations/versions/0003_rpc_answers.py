"""rpc_answers: the answer of each call made for a POST with an Idempotency-Key

Written in the same transaction as the call's effects, so that the gateway can
repeat a call whose answer it lost and get the first answer back instead of a
second effect (docs/decisions/0009-rpc-answers-and-consumer-check.md).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rpc_answers',
    sa.Column('answer_key', sa.String(length=64), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('answer_key', name=op.f('pk_rpc_answers'))
    )
    with op.batch_alter_table('rpc_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rpc_answers_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rpc_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rpc_answers_created_at'))
    op.drop_table('rpc_answers')
