from pathlib import Path

import pytest
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine

from shared.config import load_settings, nameko_config
from tests import probe


@pytest.fixture
def probe_env(monkeypatch, throwaway, fresh_amqp_uri):
    """Environment for the kernel tests: own vhost, own databases, quick retries."""
    urls = {"probe": throwaway.database("probe"), "probe_consumer": throwaway.database("probe_consumer")}
    monkeypatch.setenv("AMQP_URI", fresh_amqp_uri)
    monkeypatch.setenv("PROBE_DATABASE_URL", urls["probe"])
    monkeypatch.setenv("PROBE_CONSUMER_DATABASE_URL", urls["probe_consumer"])
    monkeypatch.setenv("CRM_RETRY_DELAYS", "0.2,0.4")
    monkeypatch.setenv("CRM_RELAY_POLL_INTERVAL", "0.2")
    engines = {name: create_engine(url) for name, url in urls.items()}
    for engine in engines.values():
        probe.metadata.create_all(engine)
    probe.FAILURES.update(remaining=0, always=set(), started=[])
    yield {"amqp_uri": fresh_amqp_uri, "engines": engines, "urls": urls}
    for engine in engines.values():
        engine.dispose()


@pytest.fixture
def start_service():
    """Start a nameko container for a service class; all are killed at teardown."""
    started = []

    def start(cls):
        container = ServiceContainer(cls, nameko_config(load_settings()))
        container.start()
        started.append(container)
        return container

    yield start
    for container in reversed(started):
        container.kill()


@pytest.fixture
def rpc_proxy(probe_env):
    with ClusterRpcProxy({"AMQP_URI": probe_env["amqp_uri"], "serializer": "json"}, timeout=20) as proxy:
        yield proxy


class Suite:
    """The leads service as a real process plus the gateway app, on real
    RabbitMQ and PostgreSQL; shared by the end-to-end tests of one run."""

    def __init__(self, env: dict, client, admin_key: str, sessions):
        self.env, self.client, self.admin_key, self.sessions = env, client, admin_key, sessions
        self.processes: dict = {}

    def headers(self, key=None, **extra):
        return {"Authorization": f"Bearer {key or self.admin_key}", **extra}

    def start(self, name="leads"):
        import subprocess
        from shared.launcher import service_argv
        log = open(f"/tmp/crm-e2e-{name}.log", "ab")
        self.processes[name] = subprocess.Popen(service_argv(name), env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT)
        return self.processes[name]

    def wait_ready(self):
        from tests.helpers import wait_for
        wait_for(lambda: self.client.get("/readyz").status_code == 200, timeout=60,
                 message="the suite to be ready")

    def kill(self, name="leads", sig=9):
        proc = self.processes.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop_all(self):
        for name in list(self.processes):
            self.kill(name, sig=15)


@pytest.fixture(scope="session")
def suite(throwaway, amqp_uri):
    import os
    from sqlalchemy.orm import sessionmaker
    from gateway.app import create_app
    from gateway.identity import ensure_admin_key, new_key_string
    from shared.db import make_engine
    from shared.migrate import upgrade
    from shared.plugins import discover_services
    from shared.topology import declare_consumer_queues
    import gateway

    overrides = {"AMQP_URI": amqp_uri,
                 "LEADS_DATABASE_URL": throwaway.database("e2e_leads"),
                 "SALES_DATABASE_URL": throwaway.database("e2e_sales"),
                 "GATEWAY_DATABASE_URL": throwaway.database("e2e_gateway"),
                 "CRM_RETRY_DELAYS": "0.5,1", "CRM_RELAY_POLL_INTERVAL": "0.2",
                 "CRM_RPC_TIMEOUT": "5", "CRM_RATE_LIMIT": "100000/minute"}
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    settings = load_settings()
    manifests = discover_services()
    upgrade(Path(gateway.__file__).parent / "migrations", settings.database_url("gateway"))
    for name, manifest in manifests.items():
        upgrade(manifest.migrations, settings.database_url(name))
    declare_consumer_queues(amqp_uri, manifests, settings.retry_delays)
    sessions = sessionmaker(make_engine(settings.database_url("gateway")), expire_on_commit=False)
    key = new_key_string()
    ensure_admin_key(sessions, key)
    app = create_app(settings)
    made = Suite(dict(os.environ), app.test_client(), key, sessions)
    made.app = app
    for name in manifests:
        made.start(name)
    made.wait_ready()
    yield made
    made.stop_all()
    app.extensions["crm"].relay.stop()
    app.extensions["crm"].rpc.close()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
