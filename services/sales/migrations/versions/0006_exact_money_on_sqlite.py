"""exact money on SQLite: amounts and quantities stored as scaled integers

SQLite keeps NUMERIC as a float unless the value is a whole number, so
amounts lost digits. ``shared.db.Exact`` stores them there as the integer
``value * 10**scale``; this converts the rows written before. PostgreSQL's
``numeric`` is already exact and is left alone.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 14:00:00.000000
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

SCALED = {
    "accounts": [("lifetime_value", 2)],
    "products": [("list_price", 2), ("unit_cost", 2)],
    "account_products": [("quantity", 4)],
    "contracts": [("total", 2), ("cost", 2)],
    "opportunities": [("amount", 2)],
    "activities": [("cost", 2)],
    "opportunity_lines": [("quantity", 4), ("unit_price", 2), ("discount_pct", 2), ("unit_cost", 2)],
    "quotes": [("amount", 2), ("cost", 2)],
}


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
