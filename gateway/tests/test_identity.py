"""The identity functions the CLI uses, the relay of user events, and the migrations."""
from __future__ import annotations

import hashlib
import json
import time
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from kombu import Connection, Queue
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from gateway.identity import authenticate, create_user_with_key, ensure_admin_key, new_key_string
from gateway.models import ApiKey, Partner, User, metadata
from gateway.tests.conftest import MIGRATIONS
from gateway.tests.helpers import unique
from shared.db import make_engine
from shared.errors import Conflict
from shared.migrate import upgrade
from shared.outbox import event_exchange


def _admins(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(User).where(User.name == "admin"))


@pytest.mark.parametrize("key", [new_key_string(), "an operator's own admin key 0f9a8b7c6d5e4f3a"])
def test_ensure_admin_key_is_idempotent_for_both_key_shapes(sessions, key):
    ensure_admin_key(sessions, key)
    ensure_admin_key(sessions, key)
    with sessions() as session:
        record, user = authenticate(session, key)
        assert (user.name, user.role, user.active) == ("admin", "admin", True)
        assert str(uuid.UUID(record.id, version=4)) == record.id and key not in record.secret_hash
    assert _admins(sessions) == 1


def test_ensure_admin_key_undoes_a_revocation_and_a_deactivation(client, sessions):
    key = new_key_string()
    ensure_admin_key(sessions, key)
    with sessions() as session:
        record, user = authenticate(session, key)
        key_id, admin_id = record.id, user.id
    other_key = new_key_string()  # keep an admin able to act while the first is locked out
    ensure_admin_key(sessions, other_key)
    client.post(f"/api/v1/api-keys/{key_id}/revoke", key=other_key)
    assert client.get("/api/v1/me", key=key).status_code == 401
    ensure_admin_key(sessions, key)
    assert client.get("/api/v1/me", key=key).status_code == 200
    with sessions() as session:
        session.get(User, admin_id).active = False
        session.commit()
    ensure_admin_key(sessions, key)
    assert client.get("/api/v1/me", key=key).status_code == 200


def test_keys_made_before_uuid_key_ids_still_work(client, sessions):
    user_id = client.get("/api/v1/me").get_json()["user_id"]
    key_id, secret = uuid.uuid4().hex[:16], "s3cret-" + uuid.uuid4().hex
    with sessions() as session:
        session.add(ApiKey(id=key_id, user_id=user_id, name="old", prefix=f"crm_{key_id}",
                           secret_hash=hashlib.sha256(secret.encode()).hexdigest()))
        session.commit()
    assert client.get("/api/v1/me", key=f"crm_{key_id}_{secret}").status_code == 200
    assert client.get("/api/v1/me", key=f"crm_{key_id}_wrong").status_code == 401


def test_create_user_with_key_for_the_cli(client, sessions):
    name = unique("Rep Rita")
    key = create_user_with_key(sessions, role="rep", name=name)
    me = client.get("/api/v1/me", key=key).get_json()
    assert (me["name"], me["role"]) == (name, "rep")
    second = create_user_with_key(sessions, role="rep", name=name)
    assert second != key and client.get("/api/v1/me", key=second).get_json()["user_id"] == me["user_id"]
    with pytest.raises(Conflict):
        create_user_with_key(sessions, role="manager", name=name)
    partner_name = unique("Acme Reseller")
    partner = client.get("/api/v1/me", key=create_user_with_key(sessions, "partner", partner_name)).get_json()
    with sessions() as session:
        assert session.get(Partner, partner["partner_id"]).name == partner_name
        assert session.scalar(select(func.count()).select_from(ApiKey).where(ApiKey.user_id == me["user_id"])) == 2


def test_the_relay_publishes_user_changed_to_the_gateway_exchange(make_app, client):
    app = make_app(start_relay=True)
    with Connection(app.extensions["crm"].settings.amqp_uri) as conn:
        watch = Queue(f"watch-{uuid.uuid4().hex[:8]}", exchange=event_exchange("gateway.events"),
                      routing_key="gateway.user_changed", auto_delete=True)
        watch(conn.default_channel).declare()
        name = unique("relayed")
        answer = app.test_client().post("/api/v1/users", data=json.dumps({"name": name, "role": "rep"}),
                                        content_type="application/json",
                                        headers=client.headers(**{"X-Request-ID": "relay-1"}))
        assert answer.status_code == 201
        messages = conn.SimpleQueue(watch)
        deadline = time.monotonic() + 30
        while True:  # earlier tests' users may come first
            event = json.loads(messages.get(timeout=max(0.1, deadline - time.monotonic())).body)
            if event["payload"]["name"] == name:
                break
        messages.close()
    assert event["event_type"] == "gateway.user_changed" and event["correlation_id"] == "relay-1"
    assert event["payload"]["user_id"] == answer.get_json()["id"]


def _differences(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_models_on_postgresql(gateway_settings):
    assert _differences(gateway_settings.database_url("gateway")) == []


def test_migrations_build_exactly_the_models_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade(MIGRATIONS, url)
    upgrade(MIGRATIONS, url)  # a second run is a no-op
    assert _differences(url) == []
    sessions = sessionmaker(make_engine(url), expire_on_commit=False)
    key = new_key_string()
    ensure_admin_key(sessions, key)
    with sessions() as session:
        assert authenticate(session, key) is not None
    sessions.kw["bind"].dispose()
