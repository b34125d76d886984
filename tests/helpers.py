"""Small helpers shared by the cross-service tests."""
from __future__ import annotations

import time

import eventlet


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
