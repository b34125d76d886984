"""The gateway holds no service code: it serves what the running services publish.

A service that starts while the gateway runs is served at once, its routes in
the OpenAPI document; a new release of it with one more endpoint is served
without touching the gateway; while it is down its routes answer 503 with
Retry-After (the gateway's own keep serving), also from a gateway restarted
meanwhile, which keeps the contracts it saw.
"""
from __future__ import annotations

import pytest
from nameko.containers import ServiceContainer
from sqlalchemy.orm import sessionmaker

from crm_testkit.helpers import wait_for
from gateway.app import create_app
from gateway.identity import ensure_admin_key, new_key_string
from gateway.settings import load_gateway_settings
from shared.config import load_settings, nameko_config
from shared.db import make_engine
from shared.migrate import upgrade
from tests import probe_http

import gateway


@pytest.fixture
def gateway_env(monkeypatch, throwaway, fresh_amqp_uri):
    monkeypatch.setenv("AMQP_URI", fresh_amqp_uri)
    monkeypatch.setenv("GATEWAY_DATABASE_URL", throwaway.database("routes_gateway"))
    monkeypatch.setenv("GATEWAY_RPC_TIMEOUT", "5")
    settings = load_settings()
    upgrade(gateway.__path__[0] + "/migrations", settings.database_url("gateway"))
    engine = make_engine(settings.database_url("gateway"))
    key = new_key_string()
    ensure_admin_key(sessionmaker(engine, expire_on_commit=False), key)
    apps, containers = [], []

    def start_gateway():
        app = create_app(settings, load_gateway_settings())
        apps.append(app)
        assert app.extensions["crm"].feed.wait_listening(10)
        return app.test_client()

    def start_service(release):
        container = ServiceContainer(release, nameko_config(settings))
        container.start()
        containers.append(container)
        return container

    yield {"key": key, "start_gateway": start_gateway, "start_service": start_service}
    for container in containers:
        container.kill()
    for app in apps:
        app.extensions["crm"].close()
    engine.dispose()


def _paths(client, key):
    return client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {key}"}).get_json()["paths"]


def test_a_service_and_its_new_endpoint_are_served_without_touching_the_gateway(gateway_env):
    key = gateway_env["key"]
    auth = {"Authorization": f"Bearer {key}"}
    client = gateway_env["start_gateway"]()
    assert client.get("/api/v1/probe/echo", headers=auth).status_code == 404  # nobody serves it yet

    first = gateway_env["start_service"](probe_http.FirstRelease)
    answer = wait_for(lambda: (lambda a: a if a.status_code != 404 else None)(
        client.get("/api/v1/probe/echo?text=hi", headers=auth)), message="the gateway to learn the probe's routes")
    assert (answer.status_code, answer.get_json()) == (200, {"text": "hi", "role": "admin"})
    assert client.get("/api/v1/probe/echo").status_code == 401  # the gateway still authenticates
    refused = client.get("/api/v1/probe/echo?text=" + "x" * 101, headers=auth)
    assert refused.status_code == 422 and "text" in refused.get_json()["errors"]  # the service validates
    assert refused.mimetype == "application/problem+json" and refused.get_json()["request_id"]
    echo_doc = _paths(client, key)["/api/v1/probe/echo"]["get"]
    assert echo_doc["x-crm-policy"] == "lead.read" and "/api/v1/probe/shout" not in _paths(client, key)
    assert client.get("/api/v1/probe/shout?text=hi", headers=auth).status_code == 404

    first.stop()  # a new release replaces it; the gateway is not touched
    gateway_env["start_service"](probe_http.SecondRelease)
    answer = wait_for(lambda: (lambda a: a if a.status_code == 200 else None)(
        client.get("/api/v1/probe/shout?text=hi", headers=auth)), message="the new endpoint to be served")
    assert answer.get_json() == {"text": "HI", "role": "admin"}
    assert "/api/v1/probe/shout" in _paths(client, key)


def test_routes_of_a_service_that_is_down_answer_503_also_after_a_gateway_restart(gateway_env):
    key = gateway_env["key"]
    auth = {"Authorization": f"Bearer {key}"}
    client = gateway_env["start_gateway"]()
    probe = gateway_env["start_service"](probe_http.FirstRelease)
    wait_for(lambda: client.get("/api/v1/probe/echo", headers=auth).status_code == 200,
             message="the probe to be served")
    probe.stop()

    for gateway_client in (client, gateway_env["start_gateway"]()):  # running, and restarted while it is down
        answer = wait_for(lambda: (lambda a: a if a.status_code == 503 else None)(
            gateway_client.get("/api/v1/probe/echo", headers=auth)), message="a 503 for the stopped service")
        assert answer.headers["Retry-After"] and answer.get_json()["service"] == probe_http.NAME
        assert gateway_client.get("/api/v1/me", headers=auth).status_code == 200  # the gateway's own serve on
        assert "/api/v1/probe/echo" in _paths(gateway_client, key)
