"""The load test of bench/ against the gateway served over real HTTP."""
from __future__ import annotations

import threading

from werkzeug.serving import make_server

from bench.loadtest import LoadTest
from bench.client import Api


def test_load_test_mixes_reads_and_writes_and_finds_each_lead_once(suite):
    server = make_server("127.0.0.1", 0, suite.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        test = LoadTest(Api(f"http://127.0.0.1:{server.server_port}", suite.admin_key), rate=25, seconds=3,
                        read_share=0.5, workers=8)
        test.run()
        check = test.verify()
    finally:
        server.shutdown()
    created = len(test.timings["create"].latencies)
    reads = sum(len(test.timings[k].latencies) for k in ("list", "search", "get"))
    assert created > 5 and reads > 5
    assert all(not t.errors for t in test.timings.values()), {k: t.errors for k, t in test.timings.items()}
    assert check["acknowledged"] == created == check["found"]
    assert check["missing"] == [] and check["doubled"] == []
    assert test.report(check) is True
