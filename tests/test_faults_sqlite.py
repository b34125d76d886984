"""The embedded default under concurrent writers: 16 clients writing at once to
the SQLite files of the gateway, leads and sales (the services and the gateway
as ``crm up`` starts them, over HTTP) never get a 5xx ("database is locked"),
and every lead answered 201 exists exactly once. ``python -m bench.sqlite_writers``
is the 60-second version."""
from __future__ import annotations

import pytest

from bench import sqlite_writers

pytestmark = pytest.mark.faults


def test_sixteen_writers_on_sqlite_get_no_server_error_and_lose_nothing():
    load, check = sqlite_writers.run(writers=16, seconds=15)
    load.report(check)
    total = load.totals()
    assert total["requests"] > 200
    assert (total["5xx"], total["no answer"]) == (0, 0), load.failures[:10]
    assert load.counts["POST /leads"]["2xx"] == check["created"] > 0
    assert check["missing"] == [] and check["doubled"] == []
