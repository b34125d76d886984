"""the roster of users (fed by gateway.user_changed), who drafted each target, a contact's team

Sales learns a record owner's team from its own roster instead of trusting
the client; ``targets.created_by`` lets approval require another person than
the author. Targets drafted before this revision have no known author.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reps',
    sa.Column('user_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('team_id', sa.String(length=36), nullable=True),
    sa.Column('branch_id', sa.String(length=36), nullable=True),
    sa.Column('partner_id', sa.String(length=36), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_reps'))
    )
    op.create_index(op.f('ix_reps_team_id'), 'reps', ['team_id'], unique=False)
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.String(length=36), nullable=True))
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team_id', sa.String(length=36), nullable=True))
        batch_op.create_index(batch_op.f('ix_contacts_team_id'), ['team_id'], unique=False)
    # A contact made from a converted lead is in the team of the account made with it.
    op.execute("UPDATE contacts SET team_id = (SELECT accounts.team_id FROM accounts "
               "WHERE accounts.source_lead_id = contacts.source_lead_id) "
               "WHERE source_lead_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_team_id'))
        batch_op.drop_column('team_id')
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.drop_column('created_by')
    op.drop_index(op.f('ix_reps_team_id'), table_name='reps')
    op.drop_table('reps')
