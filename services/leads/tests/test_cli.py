"""The ``crm leads import`` command (leads' own, registered under ``crm.commands``
and run through the kernel's ``crm``) against a small stand-in gateway: the upload
is streamed with progress, the job is followed to its end, and every failure is
one readable line and a non-zero exit."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from shared.cli import main


class StandIn(BaseHTTPRequestHandler):
    """POST /api/v1/leads/imports answers 202 with a Location, and the job then
    makes progress on each GET; ``server.refusal`` makes the POST a problem."""

    def log_message(self, *args):
        pass

    def _send(self, status, body, content_type="application/json", **headers):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        server = self.server
        length = int(self.headers["Content-Length"])
        server.received = b""
        while len(server.received) < length:
            server.received += self.rfile.read(min(65536, length - len(server.received)))
        if server.refusal:
            self._send(*server.refusal, content_type="application/problem+json")
            return
        server.polls = 0
        self._send(202, self._job("processing", 0), Location="/api/v1/leads/imports/job-1")

    def do_GET(self):
        server = self.server
        server.polls += 1
        done = min(server.polls * 400, 1000)
        status = server.final if done == 1000 else "processing"
        self._send(200, self._job(status, done))

    def _job(self, status, processed):
        errors = [{"row": 3, "field": "email", "reason": "not an e-mail address"}] if processed else []
        return {"id": "job-1", "filename": "leads.csv", "status": status, "total_rows": 1000,
                "processed_rows": processed, "imported": processed - len(errors), "rejected": len(errors),
                "errors": errors}


@pytest.fixture
def gateway():
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    server.refusal, server.final, server.polls, server.received = None, "done", 0, b""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def leads_csv(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("company,email\n" + "".join(f"Firma {i},f{i}@example.com\n" for i in range(1000)))
    return path


def run(gateway_url, *args):
    return CliRunner().invoke(main, ["leads", "import", *args, "--url", gateway_url, "--api-key", "crm_x_y"],
                              catch_exceptions=False)


def url_of(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_the_upload_streams_with_progress_and_the_job_is_followed_to_its_end(gateway, leads_csv, monkeypatch):
    monkeypatch.setattr("services.leads.cli.time.sleep", lambda _: None)
    result = run(url_of(gateway), str(leads_csv), "--mapping", '{"company": "company"}')
    assert result.exit_code == 0, result.output
    assert b'name="file"; filename="leads.csv"' in gateway.received
    assert leads_csv.read_bytes() in gateway.received and b'{"company": "company"}' in gateway.received
    assert "uploading" in result.output and "importing" in result.output
    assert "follow it at " + url_of(gateway) + "/api/v1/leads/imports/job-1" in result.output
    assert gateway.polls == 3
    assert "imported 999, rejected 1 of 1000 rows" in result.output
    assert "row 3: email: not an e-mail address" in result.output


def test_a_failed_job_exits_non_zero(gateway, leads_csv, monkeypatch):
    monkeypatch.setattr("services.leads.cli.time.sleep", lambda _: None)
    gateway.final = "failed"
    result = run(url_of(gateway), str(leads_csv))
    assert result.exit_code == 1 and "import job-1 failed" in result.output


def test_a_refusal_is_its_title_detail_and_field_errors_not_raw_json(gateway, leads_csv):
    gateway.refusal = (422, {"type": "about:blank", "title": "Invalid input", "status": 422,
                             "detail": "the file is not valid utf-8 text; save it as UTF-8 CSV",
                             "errors": {"file": "not UTF-8", "mapping": ["not a JSON object"]},
                             "import_id": "job-9"})
    result = run(url_of(gateway), str(leads_csv))
    assert result.exit_code == 1
    assert result.output.splitlines()[-3:] == [
        "Error: 422 Invalid input: the file is not valid utf-8 text; save it as UTF-8 CSV",
        "  file: not UTF-8", "  mapping: not a JSON object"]
    assert "{" not in result.output


def test_an_unreachable_gateway_is_one_line_and_a_non_zero_exit(leads_csv):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run(f"http://127.0.0.1:{port}", str(leads_csv))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines()[-1].startswith(
        f"Error: cannot reach the gateway at http://127.0.0.1:{port}")


def test_where_no_gateway_is_installed_a_key_or_an_address_is_asked_for(leads_csv, tmp_path, monkeypatch):
    monkeypatch.setattr("shared.plugins.discover_gateway", lambda: None)
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    for name in ("CRM_ADMIN_KEY", "CRM_API_KEY", "CRM_URL"):
        monkeypatch.delenv(name, raising=False)
    no_address = CliRunner().invoke(main, ["leads", "import", str(leads_csv)])
    assert no_address.exit_code == 1
    assert no_address.output.strip() == ("Error: no gateway is installed here: "
                                         "give its address (--url or CRM_URL)")
    imported = CliRunner().invoke(main, ["leads", "import", str(leads_csv), "--url", "http://127.0.0.1:9"])
    assert imported.exit_code == 1
    assert "no gateway is installed here (crm-gateway); it makes the admin key: give a key instead" \
        in imported.output
    assert not (tmp_path / "data" / "admin.key").exists()
