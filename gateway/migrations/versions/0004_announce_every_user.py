"""announce every existing user once, so rosters that arrive later know them

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:30:00.000000

Services keep a roster of users from ``gateway.user_changed`` (sales since
its migration 0004). Users made before a service's roster existed were never
announced to it: this writes one ``gateway.user_changed`` per user into the
outbox, which the gateway's relay publishes. Rosters upsert, so the users a
roster already knows are only written again as they are.
"""
from alembic import op
import sqlalchemy as sa

from gateway.contracts import PUBLISHED_EVENTS
from shared.db import event_row
from shared.events import EventCatalog, make_event

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

USER_COLUMNS = ("id", "name", "role", "team_id", "branch_id", "partner_id", "territory", "segments",
                "sources", "active")


def upgrade() -> None:
    bind = op.get_bind()
    users = sa.Table("users", sa.MetaData(), autoload_with=bind)
    outbox = sa.Table("outbox", sa.MetaData(), autoload_with=bind)
    rows = bind.execute(sa.select(*(users.c[name] for name in USER_COLUMNS))).mappings().all()
    user_changed = EventCatalog(PUBLISHED_EVENTS).contract("gateway.user_changed", 1)
    events = [event_row(make_event(user_changed, {
        "user_id": row["id"], **{name: row[name] for name in USER_COLUMNS[1:7]},
        "segments": list(row["segments"] or []), "sources": list(row["sources"] or []),
        "active": bool(row["active"])})) for row in rows]
    if events:
        bind.execute(outbox.insert(), events)


def downgrade() -> None:
    pass  # announcements already published cannot be taken back; nothing to undo
