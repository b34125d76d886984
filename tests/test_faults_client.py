"""Faults as a client sees them, on the embedded default (SQLite): kill -9 of a
service and of the gateway worker mid-request, a stopped service, a storage fault.

What a client may rely on: a 2xx was done exactly once; anything else is a 503
(with ``Retry-After``) or a 409 "in progress" (with ``Retry-After``) that a retry
with the same ``Idempotency-Key`` turns into the original answer; readiness says
what is wrong; everything comes back by itself. Slow: the fault group
(``pytest -m faults``).
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid

import eventlet
import pytest
import requests
from sqlalchemy import create_engine, func, select

from crm_testkit.helpers import wait_for
from services.leads.models import Lead

pytestmark = pytest.mark.faults
JSON = {"Content-Type": "application/json"}


class Ledger:
    """What the clients were told: the lead id of each acknowledged (2xx) create, by company."""

    def __init__(self, tag: str):
        self.tag = tag
        self.acknowledged: dict[str, str] = {}
        self.unanswered: list[str] = []    # 503, 409 in progress, connection lost: to retry
        self.statuses: list[int] = []
        self.attempted: set[str] = set()
        self.stop = False

    def company(self, worker: int, i: int) -> str:
        return f"Client fault {self.tag} {worker}-{i}"

    @staticmethod
    def key(company: str) -> str:
        return f"idem-{company}"

    def note(self, company: str, status: int | None, body: dict | None) -> None:
        self.statuses.append(status)  # None: the connection was lost
        if status == 201:
            assert self.acknowledged.setdefault(company, body["id"]) == body["id"], company
        else:
            assert status in (None, 409, 503), (status, body)
            if status == 409:
                assert "in progress" in body["detail"], body
            self.unanswered.append(company)


def _post(suite, company: str):
    answer = suite.client.post("/api/v1/leads", data=json.dumps({"company": company}),
                               headers=suite.headers(**JSON, **{"Idempotency-Key": Ledger.key(company)}))
    return answer.status_code, answer.get_json(), answer.headers


def settle(suite, ledger: Ledger, post=None, timeout: float = 120.0) -> None:
    """Retry every unanswered create with its own key until it has a final answer, which
    must be the original one (201, the same lead), never a duplicate or a second lead."""
    post = post or (lambda company: _post(suite, company))
    for company in ledger.unanswered:
        deadline = time.monotonic() + timeout
        while True:
            status, body, headers = post(company)
            if status == 201:
                assert ledger.acknowledged.setdefault(company, body["id"]) == body["id"], company
                break
            assert status in (None, 409, 503), (company, status, body)
            assert time.monotonic() < deadline, f"no final answer for {company}: {status} {body}"
            if status is not None:
                assert "Retry-After" in headers, (status, body)
            eventlet.sleep(min(float((headers or {}).get("Retry-After", 1)), 2.0))
    ledger.unanswered = []


def assert_each_once(suite, ledger: Ledger, post=None) -> None:
    """Every company created exactly once, as the lead its client was given; a retry with
    the same key answers the same lead again."""
    engine = create_engine(suite.env["LEADS_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Lead.company, func.count(), func.min(Lead.id))
                                .where(Lead.company.like(f"Client fault {ledger.tag}%"))
                                .group_by(Lead.company)).all()
    finally:
        engine.dispose()
    assert {c: n for c, n, _ in rows if n != 1} == {}
    assert {c: i for c, _, i in rows} == ledger.acknowledged
    post = post or (lambda company: _post(suite, company))
    for company in list(ledger.acknowledged)[::7]:
        status, body, _ = post(company)
        assert (status, body["id"]) == (201, ledger.acknowledged[company])


def flow(ledger: Ledger, post, workers: int, per_worker: int = 10_000):
    """Clients creating leads, each with its own key, until ``ledger.stop``."""
    def client(worker: int):
        for i in range(per_worker):
            if ledger.stop:
                return
            company = ledger.company(worker, i)
            ledger.attempted.add(company)
            status, body, _ = post(company)
            ledger.note(company, status, body)
            eventlet.sleep(0.01)
    return [eventlet.spawn(client, w) for w in range(workers)]


def readiness(suite) -> dict:
    return suite.client.get("/readyz").get_json()


def test_a_stopped_service_is_503_at_once_and_the_others_keep_serving(sqlite_suite):
    suite = sqlite_suite
    suite.kill("sales", sig=15)
    try:
        for _ in range(3):
            started = time.monotonic()
            answer = suite.client.get("/api/v1/accounts", headers=suite.headers())
            waited = time.monotonic() - started
            body = answer.get_json()
            assert answer.status_code == 503 and "sales service is not running" in body["detail"], body
            assert answer.headers["Retry-After"]
            # Not the RPC timeout (5 s here): the gateway asked RabbitMQ, nobody waited.
            assert waited < float(suite.env["GATEWAY_RPC_TIMEOUT"]) / 2
        ready = suite.client.get("/readyz")
        assert ready.status_code == 503 and "not running" in ready.get_json()["services"]["sales"]
        assert ready.get_json()["services"]["leads"] == "ok"
        lead = suite.client.post("/api/v1/leads", data=json.dumps({"company": f"While sales is down {uuid.uuid4()}"}),
                                 headers=suite.headers(**JSON))
        assert lead.status_code == 201
        assert suite.client.get(f"/api/v1/leads/{lead.get_json()['id']}", headers=suite.headers()).status_code == 200
    finally:
        suite.start("sales")
    suite.wait_ready()
    assert suite.client.get("/api/v1/accounts", headers=suite.headers()).status_code == 200


def test_kill_9_of_leads_mid_request_retries_get_the_original_answers(sqlite_suite):
    suite = sqlite_suite
    ledger = Ledger(uuid.uuid4().hex[:8])
    post = lambda company: _post(suite, company)  # noqa: E731
    clients = flow(ledger, post, workers=4)
    wait_for(lambda: len(ledger.acknowledged) >= 30, message="creates to flow")
    suite.kill("leads", sig=9)
    # Down longer than the RPC timeout: the calls in flight time out (503) rather than
    # being answered by the restarted service, and new ones are refused at once.
    eventlet.sleep(float(suite.env["GATEWAY_RPC_TIMEOUT"]) + 1)
    suite.start("leads")
    suite.wait_ready()
    restarted_at = len(ledger.acknowledged)
    wait_for(lambda: len(ledger.acknowledged) >= restarted_at + 20, message="creates to flow again")
    ledger.stop = True
    for c in clients:
        c.wait()
    assert ledger.unanswered, "the kill should have cut some requests"
    settle(suite, ledger)
    assert set(ledger.acknowledged) == ledger.attempted
    assert_each_once(suite, ledger)


def _chattr(flag: str, *paths) -> None:
    subprocess.run(["chattr", flag, *[str(p) for p in paths if os.path.exists(p)]], check=True,
                   capture_output=True)


def test_a_storage_fault_is_503_readiness_red_and_recovery_by_itself(sqlite_suite):
    """The leads database file and its WAL made immutable (``chattr +i``: root ignores
    permissions, not this) for some seconds while creates flow. Not the -shm file: it is
    memory-mapped, and an immutable one kills the process with SIGBUS."""
    suite = sqlite_suite
    database = suite.env["LEADS_DATABASE_URL"].removeprefix("sqlite:///")
    files = (database, f"{database}-wal")
    pid = suite.processes["leads"].pid
    ledger = Ledger(uuid.uuid4().hex[:8])
    post = lambda company: _post(suite, company)  # noqa: E731
    clients = flow(ledger, post, workers=3)
    wait_for(lambda: len(ledger.acknowledged) >= 20, message="creates to flow")
    _chattr("+i", *files)
    try:
        wait_for(lambda: 503 in ledger.statuses, message="a 503 during the storage fault")
        red = wait_for(lambda: (lambda r: r if r["status"] != "ready" else None)(readiness(suite)),
                       message="readiness to turn red")
        assert "cannot use its database" in red["services"]["leads"], red
        answer = suite.client.post("/api/v1/leads", data=json.dumps({"company": f"During fault {uuid.uuid4()}"}),
                                   headers=suite.headers(**JSON))
        body = answer.get_json()
        assert answer.status_code == 503 and body["title"] == "Storage unavailable", body
        assert answer.headers["Retry-After"] and "database" in body["detail"]
        eventlet.sleep(3)
    finally:
        _chattr("-i", *files)
    wait_for(lambda: readiness(suite)["status"] == "ready", timeout=60, message="readiness to turn green again")
    eventlet.sleep(2)
    ledger.stop = True
    for c in clients:
        c.wait()
    assert suite.processes["leads"].pid == pid and suite.processes["leads"].poll() is None, "no restart"
    settle(suite, ledger)
    # Every write works again, on every pooled connection: none is left read-only.
    after = [_post(suite, f"Client fault {ledger.tag} after-{i}") for i in range(30)]
    assert [status for status, _, _ in after] == [201] * 30
    for i, (_, body, _) in enumerate(after):
        ledger.acknowledged[f"Client fault {ledger.tag} after-{i}"] = body["id"]
    assert_each_once(suite, ledger)
    wait_for(lambda: _unpublished(suite) == 0, timeout=60, message="the relay to publish every event")


def _unpublished(suite) -> int:
    from services.leads.models import metadata
    outbox = metadata.tables["outbox"]
    engine = create_engine(suite.env["LEADS_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))).scalar()
    finally:
        engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def test_kill_9_of_the_gateway_worker_mid_request_retries_get_the_original_answers(sqlite_suite, tmp_path):
    """The gateway as `crm up` runs it (gunicorn), its worker killed while creates flow:
    claims are left without answers; retries take them over and get the original answers."""
    from gateway.settings import load_gateway_settings
    from shared.launcher import gateway_argv
    suite = sqlite_suite
    port = _free_port()
    env = {**suite.env, "GATEWAY_PORT": str(port)}
    log = open(tmp_path / "gunicorn.log", "ab")
    master = subprocess.Popen(gateway_argv(load_gateway_settings(env), workers=1, threads=8), env=env,
                              stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd())
    base = f"http://127.0.0.1:{port}"
    http = requests.Session()

    def post(company):
        try:
            answer = http.post(f"{base}/api/v1/leads", data=json.dumps({"company": company}), timeout=30,
                               headers=suite.headers(**JSON, **{"Idempotency-Key": Ledger.key(company)}))
        except requests.RequestException:
            return None, None, {}   # the worker died with the request
        return answer.status_code, answer.json(), answer.headers

    def ready():
        try:
            return http.get(f"{base}/readyz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(ready, timeout=60, message="gunicorn to serve")
        ledger = Ledger(uuid.uuid4().hex[:8])
        clients = flow(ledger, post, workers=6)
        wait_for(lambda: len(ledger.acknowledged) >= 30, message="creates to flow")
        worker, = _children(master.pid)
        os.kill(worker, signal.SIGKILL)
        wait_for(ready, timeout=60, message="gunicorn to start a new worker")
        eventlet.sleep(1)
        ledger.stop = True
        for c in clients:
            c.wait()
        assert None in ledger.statuses, "the kill should have cut requests in flight"
        settle(suite, ledger, post=post)
        assert set(ledger.acknowledged) == ledger.attempted
        assert_each_once(suite, ledger, post=post)
    finally:
        master.send_signal(signal.SIGTERM)
        try:
            master.wait(timeout=30)
        except subprocess.TimeoutExpired:
            master.kill()
        log.close()
        http.close()
