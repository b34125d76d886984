"""The README's walk, run as written against a fresh `make up`-style suite, twice
(tests/first_hour.py; about 45 s), and the harness's own rules."""
from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests import first_hour


def test_the_readme_walk_runs_twice_on_a_fresh_suite():
    done = subprocess.run([sys.executable, "-m", "tests.first_hour"], cwd=first_hour.ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-8000:]}"
    assert done.stdout.count("FIRST-HOUR WALK DONE") == 2


def test_the_walk_is_the_readme_sections_with_the_expected_failures_marked():
    blocks = first_hour.readme_blocks(first_hour.README.read_text())
    assert [first_hour.is_second_terminal(b) for b in blocks].count(True) == 1
    script = first_hour.walk_script([b for b in blocks if not first_hour.is_second_terminal(b)],
                                    "127.0.0.1:1234")
    assert "KEY=crm_..." not in script and "127.0.0.1:8000" not in script and "127.0.0.1:1234" in script
    assert script.count("expect_status 409") == 1 and script.count("expect_status 422") == 1
    lines = script.splitlines()
    marked = lines.index("expect_status 422")
    assert lines[marked + 1].startswith("curl ") and lines[marked + 3] == "expect_status"


class Answers(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        status = int(self.path.strip("/"))
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def answers():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("block,passes", [
    ("curl -s http://127.0.0.1:8000/200", True),
    ("curl -s http://127.0.0.1:8000/409", False),
    ("curl -s \\\n  http://127.0.0.1:8000/409     # 409, a duplicate", True),
    ("curl -s http://127.0.0.1:8000/422     # 409", False),
    ("X=$(curl -s http://127.0.0.1:8000/500 | cat)", False),
])
def test_an_unannounced_status_fails_the_walk(answers, block, passes):
    script = first_hour.walk_script([block], answers).replace(f"sleep {first_hour.PAUSE}", "")
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode == 0) is passes, done.stderr
    assert ("FIRST-HOUR FAILED" in done.stderr) is not passes
