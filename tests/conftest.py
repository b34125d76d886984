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
    probe.FAILURES.update(remaining=0, always=set())
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
