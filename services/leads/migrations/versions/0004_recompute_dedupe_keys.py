"""dedupe keys recomputed: phone numbers in E.164, invisible characters dropped

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:00:00.000000

A phone written nationally ("(22) 555 01 02") was keyed by its digits, so the
same number written internationally was not found as a duplicate; it is now
keyed in E.164 for the region LEADS_DEFAULT_REGION, and zero-width characters no
longer count in company and e-mail keys. The keys of existing leads are
recomputed with the rules of services/leads/domain.py (the rules of the day
the migration runs: keys are derived data, never typed by anyone). Merged
leads keep no keys. Nothing to undo on downgrade: the old code reads these
keys as it reads its own, and rewrites them when a lead is edited.
"""
from alembic import op
import sqlalchemy as sa

from services.leads.domain import dedupe_keys
from services.leads.settings import load_leads_settings


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    leads = sa.table('leads', sa.column('id', sa.String), sa.column('email', sa.String),
                     sa.column('phone', sa.String), sa.column('company', sa.String),
                     sa.column('merged_into_id', sa.String), sa.column('email_norm', sa.String),
                     sa.column('phone_norm', sa.String), sa.column('company_norm', sa.String))
    region = load_leads_settings().default_region
    connection = op.get_bind()
    last = ''
    while True:
        rows = connection.execute(
            sa.select(leads.c.id, leads.c.email, leads.c.phone, leads.c.company, leads.c.email_norm,
                      leads.c.phone_norm, leads.c.company_norm)
            .where(leads.c.id > last, leads.c.merged_into_id.is_(None))
            .order_by(leads.c.id).limit(BATCH)).all()
        if not rows:
            return
        for row in rows:
            keys = dedupe_keys(row.email, row.phone, row.company, region)
            if (keys.email, keys.phone, keys.company) != (row.email_norm, row.phone_norm, row.company_norm):
                connection.execute(leads.update().where(leads.c.id == row.id).values(
                    email_norm=keys.email, phone_norm=keys.phone, company_norm=keys.company))
        last = rows[-1].id


def downgrade() -> None:
    pass
