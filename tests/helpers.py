"""Small helpers shared by the cross-service tests."""
from __future__ import annotations

import time

import eventlet

# One line per guard test (authorization matrix, schemathesis, hostile corpus):
# what it covered, shown at the end of the run by tests/conftest.py.
GUARD_REPORT: list[str] = []


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"):
    """Poll until ``predicate()`` is truthy; fail with ``message`` after ``timeout`` seconds.

    The timeout is a bound on waiting for asynchronous work, not a speed assert.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        eventlet.sleep(interval)


def signed_context(caller=None, ttl: float = 600.0, **extra) -> dict:
    """Context data for a standalone RPC proxy that calls services as the gateway
    would: ``caller`` (a ``Caller``, or None for anonymous) signed with this
    machine's key pair (``CRM_DATA_DIR``), plus ``extra`` entries."""
    from shared import signing
    from shared.config import load_settings
    token = signing.sign(caller, signing.signing_key(load_settings()), ttl)
    return {signing.TOKEN: token, **extra}
