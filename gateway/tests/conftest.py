"""Fixtures of the gateway tests: real RabbitMQ and PostgreSQL (and the SQLite default:
every test runs on both), each run in its own vhost and database (deleted afterwards),
the gateway app on them, an admin key.

No leads service runs here (its queue does not even exist in the vhost), so the
leads routes answer 503; the cross-service behaviour is in ``tests/``.
"""
from __future__ import annotations

import json
import os
from dataclasses import fields, replace
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from crm_testkit.helpers import http_contract
from crm_testkit.throwaway import Throwaway
import gateway
from gateway.app import create_app
from gateway.identity import ensure_admin_key, new_key_string
from gateway.settings import GatewaySettings
from gateway.tests.helpers import unique
from shared.config import Settings, load_settings
from shared.migrate import upgrade
from shared.plugins import discover_services

PG_ADMIN = os.environ.get("CRM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBIT = os.environ.get("CRM_TEST_RABBIT", "guest:guest@127.0.0.1:5672")
MIGRATIONS = Path(gateway.__file__).parent / "migrations"
JSON = "application/json"
# The gateway's own settings in these tests: quick timeouts, rate limits out of the way.
QUICK = GatewaySettings(rpc_timeout=2.0, rate_limit="100000/minute", auth_failure_limit="100000/minute")


@pytest.fixture(scope="session")
def backends():
    made = Throwaway("crm-gw-test", PG_ADMIN, RABBIT)
    yield made
    made.cleanup()


@pytest.fixture(scope="session", params=["postgresql", "sqlite"])
def gateway_settings(request, backends, tmp_path_factory) -> Settings:
    """Kernel settings of this run: own vhost, own migrated gateway database (PostgreSQL,
    then the SQLite default: every gateway test runs on both), a quick outbox relay."""
    url = backends.database() if request.param == "postgresql" \
        else f"sqlite:///{tmp_path_factory.mktemp('gateway-sqlite') / 'gateway.db'}"
    settings = replace(load_settings({}), amqp_uri=backends.vhost(request.param),
                       database_urls={"gateway": url}, relay_poll_interval=0.2)
    upgrade(MIGRATIONS, settings.database_url("gateway"))
    return settings


def close_app(app) -> None:
    app.extensions["crm"].close()


def with_installed_routes(app):
    """The gateway learns routes from running services; here none runs, so it is given
    the contracts the installed ones would publish (their routes then answer 503)."""
    for manifest in discover_services().values():
        app.extensions["crm"].routes.update(http_contract(manifest.load_service_class()))
    return app


@pytest.fixture
def make_app(gateway_settings):
    """``make_app(**setting_overrides)``: a gateway app of its own, closed after the test;
    each override goes to the kernel's settings or the gateway's, whichever has it."""
    made = []
    own_fields = {f.name for f in fields(GatewaySettings)}

    def make(start_relay: bool = False, **overrides):
        own = {k: v for k, v in overrides.items() if k in own_fields}
        kernel = {k: v for k, v in overrides.items() if k not in own_fields}
        app = with_installed_routes(create_app(replace(gateway_settings, **kernel), replace(QUICK, **own),
                                               start_relay=start_relay))
        made.append(app)
        return app

    yield make
    for app in made:
        close_app(app)


@pytest.fixture(scope="session")
def app(gateway_settings):
    made = with_installed_routes(create_app(gateway_settings, QUICK, start_relay=False))
    yield made
    close_app(made)


@pytest.fixture(scope="session")
def sessions(app) -> sessionmaker:
    return app.extensions["crm"].sessions


@pytest.fixture(scope="session")
def admin_key(sessions) -> str:
    key = new_key_string()
    ensure_admin_key(sessions, key)
    return key


class Client:
    """The Flask test client with an API key and JSON bodies."""

    def __init__(self, flask_client, key: str | None):
        self.raw, self.key = flask_client, key

    def headers(self, key=None, **extra) -> dict:
        key = key or self.key
        return {**({"Authorization": f"Bearer {key}"} if key else {}), **extra}

    def get(self, path, key=None, headers=None, **kw):
        return self.raw.get(path, headers=self.headers(key, **(headers or {})), **kw)

    def post(self, path, body=None, key=None, headers=None, **kw):
        data = json.dumps(body) if body is not None else None
        return self.raw.post(path, data=data, content_type=JSON,
                             headers=self.headers(key, **(headers or {})), **kw)

    def patch(self, path, body, key=None, headers=None):
        return self.raw.patch(path, data=json.dumps(body), content_type=JSON,
                              headers=self.headers(key, **(headers or {})))


@pytest.fixture
def client(app, admin_key) -> Client:
    """Speaks as the admin unless a call passes ``key=``."""
    return Client(app.test_client(), admin_key)


@pytest.fixture
def make_user(client):
    """``make_user(role, **fields) -> (user, key)``: a user made through the admin API."""

    def make(role: str, **fields):
        if role == "partner" and "partner_id" not in fields:
            fields["partner_id"] = client.post("/api/v1/partners", {"name": unique("partner")}).get_json()["id"]
        answer = client.post("/api/v1/users", {"name": unique(role), "role": role, **fields})
        assert answer.status_code == 201, answer.get_json()
        user = answer.get_json()
        key = client.post("/api/v1/api-keys", {"user_id": user["id"], "name": "test"}).get_json()["key"]
        return user, key

    return make
