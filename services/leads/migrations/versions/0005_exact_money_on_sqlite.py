"""exact money on SQLite: amounts stored as integers of cents

SQLite keeps NUMERIC as a float unless the value is a whole number, so
amounts lost digits. ``shared.db.Exact`` stores them there as the integer
``value * 10**scale``; this converts the rows written before. PostgreSQL's
``numeric`` is already exact and is left alone.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 14:00:00.000000
"""
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SCALED = {"leads": [("estimated_value", 2), ("acquisition_cost", 2)], "activities": [("cost", 2)]}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, columns in SCALED.items():
        for column, scale in columns:
            op.execute(f"UPDATE {table} SET {column} = CAST(ROUND({column} * {10 ** scale}) AS INTEGER) "
                       f"WHERE {column} IS NOT NULL")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, columns in SCALED.items():
        for column, scale in columns:
            op.execute(f"UPDATE {table} SET {column} = {column} / {float(10 ** scale)} WHERE {column} IS NOT NULL")
