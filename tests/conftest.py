from pathlib import Path

import pytest
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine

from crm_testkit.helpers import signed_context
from shared.config import load_settings, nameko_config
from tests import probe
from tests.helpers import GUARD_REPORT


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
    with ClusterRpcProxy({"AMQP_URI": probe_env["amqp_uri"], "serializer": "json"}, timeout=20,
                         context_data=signed_context()) as proxy:
        yield proxy


def pytest_terminal_summary(terminalreporter):
    """What the guard tests covered (routes x principals x owners, cases), for the record."""
    if GUARD_REPORT:
        terminalreporter.section("guard tests")
        for line in GUARD_REPORT:
            terminalreporter.write_line(line)


class Suite:
    """Every installed service as a real process plus the gateway app (Flask test
    client), on real RabbitMQ and PostgreSQL or the SQLite default (``backend``)."""

    def __init__(self, env: dict, client, admin_key: str, sessions):
        self.env, self.client, self.admin_key, self.sessions = env, client, admin_key, sessions
        self.processes: dict = {}
        self.backend = "postgresql"
        self.log_prefix = "crm-e2e"

    def headers(self, key=None, **extra):
        return {"Authorization": f"Bearer {key or self.admin_key}", **extra}

    def start(self, name="leads"):
        import subprocess
        from shared.launcher import service_argv
        log = open(f"/tmp/{self.log_prefix}-{name}.log", "ab")
        self.processes[name] = subprocess.Popen(service_argv(name), env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT)
        return self.processes[name]

    def wait_ready(self):
        """Until /readyz is 200 and names every running service: their routes are known."""
        from crm_testkit.helpers import wait_for

        def ready():
            answer = self.client.get("/readyz")
            return answer.status_code == 200 and set(self.processes) <= set(answer.get_json()["services"])
        wait_for(ready, timeout=60,
                 message=f"the suite to be ready (last: {self.client.get('/readyz').get_json()})")

    def kill(self, name="leads", sig=9):
        proc = self.processes.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop_all(self):
        for name in list(self.processes):
            self.kill(name, sig=15)


BACKENDS = ("postgresql", "sqlite")


def suite_env(backend: str, throwaway, amqp_uri: str, data_dir: Path | None = None) -> dict:
    """The environment of a suite on ``backend``: PostgreSQL throwaway databases,
    or the embedded default (a SQLite file per service and the gateway in ``data_dir``)."""
    names = ("leads", "sales", "finance", "gateway")
    if backend == "postgresql":
        urls = {n: throwaway.database(f"e2e_{n}") for n in names}
    elif backend == "sqlite":
        urls = {n: f"sqlite:///{data_dir / (n + '.db')}" for n in names}
    else:
        raise ValueError(f"unknown backend {backend!r}; one of {BACKENDS}")
    env = {"AMQP_URI": amqp_uri,
           **{f"{n.upper()}_DATABASE_URL": url for n, url in urls.items()},
           "CRM_RETRY_DELAYS": "0.5,1", "CRM_RELAY_POLL_INTERVAL": "0.2",
           "GATEWAY_RPC_TIMEOUT": "5", "GATEWAY_RATE_LIMIT": "100000/minute",
           "GATEWAY_AUTH_FAILURE_LIMIT": "100000/minute", "FINANCE_ISSUE_INTERVAL": "0.5"}
    if data_dir is not None:
        env["CRM_DATA_DIR"] = str(data_dir)
    return env


def start_suite(overrides: dict, backend: str = "postgresql") -> Suite:
    """Migrate, start every installed service as a process and build the gateway app
    on the environment ``os.environ + overrides``; :func:`stop_suite` undoes it."""
    import os
    from sqlalchemy.orm import sessionmaker
    from gateway.app import create_app
    from gateway.identity import ensure_admin_key, new_key_string
    from gateway.settings import load_gateway_settings
    from shared.db import make_engine
    from shared.migrate import upgrade
    from shared.plugins import discover_services
    from shared.topology import declare_consumer_queues
    import gateway

    env = {**os.environ, **overrides}
    settings = load_settings(env)
    manifests = discover_services()
    upgrade(Path(gateway.__file__).parent / "migrations", settings.database_url("gateway"))
    for name, manifest in manifests.items():
        upgrade(manifest.migrations, settings.database_url(name))
    declare_consumer_queues(settings.amqp_uri, manifests, settings.retry_delays)
    sessions = sessionmaker(make_engine(settings.database_url("gateway")), expire_on_commit=False)
    key = new_key_string()
    ensure_admin_key(sessions, key)
    app = create_app(settings, load_gateway_settings(env))
    made = Suite(env, app.test_client(), key, sessions)
    made.app, made.backend = app, backend
    made.log_prefix = "crm-e2e" if backend == "postgresql" else f"crm-e2e-{backend}"
    try:
        for name in manifests:
            made.start(name)
        made.wait_ready()
    except BaseException:
        stop_suite(made)
        raise
    return made


def stop_suite(made: Suite) -> None:
    made.stop_all()
    made.app.extensions["crm"].close()
    made.sessions.kw["bind"].dispose()


@pytest.fixture(scope="session")
def suite(throwaway, amqp_uri):
    """The suite on PostgreSQL, shared by the end-to-end tests of one run."""
    import os
    overrides = suite_env("postgresql", throwaway, amqp_uri)
    saved = {k: os.environ.get(k) for k in overrides}
    os.environ.update(overrides)
    try:
        made = start_suite(overrides)
    except BaseException:
        _restore(saved)
        raise
    yield made
    stop_suite(made)
    _restore(saved)


def _restore(saved: dict) -> None:
    import os
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def sqlite_suite(throwaway, tmp_path_factory):
    """The same suite on the embedded default: every database a SQLite file in a
    data dir of its own, and a vhost of its own (its services answer only it).
    It leaves ``os.environ`` alone, so it can run beside :func:`suite`; it lives
    for one test module, so its two service processes do not outlive their use."""
    data_dir = tmp_path_factory.mktemp("crm-sqlite-data")
    made = start_suite(suite_env("sqlite", throwaway, throwaway.vhost("sqlite"), data_dir), backend="sqlite")
    yield made
    stop_suite(made)


def suite_on(request, postgresql_suite):
    """The suite for ``request.param``: the shared one on PostgreSQL, or this module's
    on SQLite. A module whose tests should all run on both backends overrides
    ``suite`` with it (tests that need PostgreSQL then say
    ``@pytest.mark.parametrize("suite", ["postgresql"], indirect=True)``)::

        @pytest.fixture(scope="module", params=BACKENDS)
        def suite(request, suite):
            return suite_on(request, suite)
    """
    return postgresql_suite if request.param == "postgresql" else request.getfixturevalue("sqlite_suite")


@pytest.fixture(scope="module", params=BACKENDS)
def any_suite(request):
    """The end-to-end suite on each backend in turn: PostgreSQL (the shared
    :func:`suite`), then the SQLite default. pytest groups a module's tests by
    backend, so at most one extra suite runs at a time."""
    return request.getfixturevalue("suite" if request.param == "postgresql" else "sqlite_suite")
