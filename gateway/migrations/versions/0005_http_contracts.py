"""keep the HTTP contract each service last announced

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 18:30:00.000000

The gateway holds no service code: it learns each service's routes from the
contract the service announces on the bus, and keeps the last one here, so
that it starts, and answers 503 for that service's routes, while the service
is down.
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "http_contracts",
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("contract", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_http_contracts")),
    )


def downgrade() -> None:
    op.drop_table("http_contracts")
