"""The gateway's migrations: 0004 announces the users that existed before it."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

import gateway
from shared.migrate import alembic_config, upgrade

MIGRATIONS = Path(gateway.__file__).parent / "migrations"


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request, backends, tmp_path):
    return backends.database() if request.param == "postgresql" else f"sqlite:///{tmp_path / 'gateway.db'}"


def test_users_made_before_rosters_existed_are_announced_once(url):
    command.upgrade(alembic_config(MIGRATIONS, url), "0003")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, name, role, team_id, segments, sources, active, created_at)"
                              " VALUES ('u-1', 'Ann', 'manager', NULL, '[]', '[\"web\"]', true,"
                              " '2026-01-01 00:00:00')"))
        upgrade(MIGRATIONS, url)
        upgrade(MIGRATIONS, url)  # at head: nothing more
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT event_type, body FROM outbox")).all()
    finally:
        engine.dispose()
    assert [row[0] for row in rows] == ["gateway.user_changed"]
    payload = json.loads(rows[0][1])["payload"]
    assert payload["user_id"] == "u-1" and payload["role"] == "manager" and payload["sources"] == ["web"]
    assert payload["active"] is True
