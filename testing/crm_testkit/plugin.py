"""The suite's pytest plugin: eventlet first, then a throwaway vhost and databases per run.

Loaded through the ``pytest11`` entry point wherever the kit is installed (the
workspace, or a service installed alone with its tests), so every test session
gets it before any conftest. Plain pytest does not monkey-patch eventlet (only
``nameko run``/``nameko test`` do), and a half-patched process hangs; so the
patching comes before anything else this plugin imports. Every run gets its own
RabbitMQ vhost and its own PostgreSQL databases, deleted afterwards, so a dead
run's consumers cannot steal the next run's messages.
"""
import eventlet

eventlet.monkey_patch()

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import os  # noqa: E402

import pytest  # noqa: E402

from crm_testkit.throwaway import Throwaway  # noqa: E402

PG_ADMIN = os.environ.get("CRM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBIT_HOST = os.environ.get("CRM_TEST_RABBIT", "guest:guest@127.0.0.1:5672")


def pytest_addhooks(pluginmanager):
    """nameko's own pytest plugin defines ``amqp_uri`` too, as a vhost per test made
    through the management API; of two plugins' fixtures the one loaded last wins,
    and their load order is the installer's. The kit takes its place: it uses none
    of nameko's fixtures."""
    pluginmanager.set_blocked("pytest_nameko")


@pytest.fixture(scope="session")
def throwaway():
    made = Throwaway("crm-test", PG_ADMIN, RABBIT_HOST)
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
