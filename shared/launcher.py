"""Starts and stops the suite's processes for ``crm up`` / ``crm down``.

Each installed service runs as its own process (``python -m shared.runner
NAME``) and the gateway under gunicorn; pids and logs go to ``.run/`` in the
working directory, so ``make logs`` and ``make down`` find them.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from gateway.settings import GatewaySettings

RUN_DIR = Path(".run")


def _pid_file(name: str) -> Path:
    return RUN_DIR / f"{name}.pid"


def running_pid(name: str) -> int | None:
    path = _pid_file(name)
    if not path.exists():
        return None
    pid = int(path.read_text().strip() or 0)
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        path.unlink(missing_ok=True)
        return None
    return pid


def start_process(name: str, argv: list[str]) -> int:
    """Start ``argv`` in the background unless ``name`` already runs; return its pid."""
    RUN_DIR.mkdir(exist_ok=True)
    pid = running_pid(name)
    if pid:
        return pid
    log = open(RUN_DIR / f"{name}.log", "ab")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    _pid_file(name).write_text(str(proc.pid))
    return proc.pid


def service_argv(name: str) -> list[str]:
    return [sys.executable, "-m", "shared.runner", name]


def gateway_argv(gateway: GatewaySettings, workers: int = 1, threads: int = 16) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", str(threads),
            "--bind", f"{gateway.host}:{gateway.port}", "--graceful-timeout", "10",
            # gunicorn refuses long header lines and many headers with a plain-text 400; let
            # the gateway see them (up to twice its own limit) and answer a 431 problem.
            "--limit-request-field_size", str(2 * gateway.max_header_bytes),
            "--limit-request-fields", "200",
            "--access-logfile", "-", "gateway.wsgi:app"]


def stop_process(name: str, timeout: float = 15.0) -> bool:
    pid = running_pid(name)
    if not pid:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    _pid_file(name).unlink(missing_ok=True)
    return True


def wait_ready(url: str, services=(), timeout: float = 90.0) -> dict:
    """Wait until the gateway's /readyz answers 200 naming ``services`` (their routes are
    known: the gateway learns them from the services); raise with its last answer otherwise."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = requests.get(url, timeout=3)
            if answer.status_code == 200 and set(services) <= set(answer.json().get("services", {})):
                return answer.json()
            last = answer.text
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not become ready in {timeout:.0f}s: {last}")
