"""Root test set-up: eventlet first, then a throwaway vhost and databases per run.

Plain pytest does not monkey-patch eventlet (only ``nameko run``/``nameko
test`` do), and a half-patched process hangs; so this must stay the first
import of the test session. Every run gets its own RabbitMQ vhost and its own
PostgreSQL databases, deleted afterwards, so a dead run's consumers cannot
steal the next run's messages.
"""
import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import os  # noqa: E402
import subprocess  # noqa: E402
import uuid  # noqa: E402

import psycopg2  # noqa: E402
import pytest  # noqa: E402

PG_ADMIN = os.environ.get("CRM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBIT_HOST = os.environ.get("CRM_TEST_RABBIT", "guest:guest@127.0.0.1:5672")
RUN_ID = uuid.uuid4().hex[:10]


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def pg_execute(sql: str) -> None:
    conn = psycopg2.connect(PG_ADMIN)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def pg_url(database: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + database


class Throwaway:
    """Creates vhosts and databases for this run and removes them all at the end."""

    def __init__(self):
        self.vhosts: list[str] = []
        self.databases: list[str] = []

    def vhost(self, label: str = "") -> str:
        name = f"crm-test-{RUN_ID}{'-' + label if label else ''}-{len(self.vhosts)}"
        rabbitmqctl("add_vhost", name)
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        self.vhosts.append(name)
        return f"amqp://{RABBIT_HOST}/{name}"

    def database(self, label: str) -> str:
        name = f"crm_test_{RUN_ID}_{label}_{len(self.databases)}"
        pg_execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return pg_url(name)

    def cleanup(self) -> None:
        for name in self.vhosts:
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, timeout=60)
        for name in self.databases:
            try:
                pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg2.Error:
                pass


@pytest.fixture(scope="session")
def throwaway():
    made = Throwaway()
    yield made
    made.cleanup()


@pytest.fixture(scope="session")
def amqp_uri(throwaway):
    """One vhost for the whole run."""
    return throwaway.vhost()


@pytest.fixture
def fresh_amqp_uri(throwaway):
    """A vhost of its own, for tests that must see an empty broker."""
    return throwaway.vhost("t")
