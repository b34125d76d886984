"""Seed the default pipeline.

A frozen copy of the default stages at the time of this revision: later
changes to ``services.sales.domain.DEFAULT_PIPELINE`` must not rewrite it.

Revision ID: 0002
Revises: 0001
"""
import uuid
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

DEFAULT_STAGES = [
    {"key": "prospecting", "name": "Prospecting", "order": 0, "probability": 10, "required_fields": []},
    {"key": "qualification", "name": "Qualification", "order": 1, "probability": 25,
     "required_fields": ["contact_id"]},
    {"key": "proposal", "name": "Proposal", "order": 2, "probability": 50,
     "required_fields": ["amount", "currency", "expected_close_date"]},
    {"key": "negotiation", "name": "Negotiation", "order": 3, "probability": 75,
     "required_fields": ["amount", "currency", "expected_close_date", "next_step"]},
    {"key": "commitment", "name": "Commitment", "order": 4, "probability": 90,
     "required_fields": ["amount", "currency", "expected_close_date", "next_step", "lines"]},
]


def upgrade() -> None:
    pipelines = sa.table("pipelines", sa.column("id", sa.String), sa.column("name", sa.String),
                         sa.column("is_default", sa.Boolean), sa.column("stages", sa.JSON),
                         sa.column("created_at", sa.DateTime(timezone=True)))
    op.bulk_insert(pipelines, [{"id": str(uuid.uuid4()), "name": "Default", "is_default": True,
                                "stages": DEFAULT_STAGES, "created_at": datetime.now(timezone.utc)}])


def downgrade() -> None:
    op.execute("DELETE FROM pipelines WHERE name = 'Default'")
