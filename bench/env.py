"""A throwaway suite for one benchmark run: its own RabbitMQ vhost and
PostgreSQL databases, the services and gateway started as ``crm up`` starts
them (from their own run directory), all removed at the end."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from crm_testkit.throwaway import Throwaway

PG_ADMIN = os.environ.get("CRM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBIT = os.environ.get("CRM_BENCH_RABBIT", "guest:guest@127.0.0.1:5672")


def free_port() -> int:
    """A port nothing listens on, so a suite left over from an aborted run is never measured."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Suite:
    """Every installed service and the gateway on PostgreSQL, started by ``crm up``."""

    def __init__(self, throwaway: Throwaway):
        self.throwaway = throwaway
        self.workdir = Path(tempfile.mkdtemp(prefix="crm-bench-"))
        self.admin_key = f"crm_bench_{uuid.uuid4().hex}"
        port = int(os.environ.get("CRM_BENCH_PORT") or free_port())
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ,
                    "AMQP_URI": throwaway.vhost("suite"),
                    "LEADS_DATABASE_URL": throwaway.database("leads"),
                    "SALES_DATABASE_URL": throwaway.database("sales"),
                    "GATEWAY_DATABASE_URL": throwaway.database("gateway"),
                    "CRM_DATA_DIR": str(self.workdir / "data"),
                    "GATEWAY_PORT": str(port),
                    "GATEWAY_ADMIN_KEY": self.admin_key,
                    "GATEWAY_RATE_LIMIT": "1000000/minute",
                    "CRM_LOG_LEVEL": "WARNING"}

    def _crm(self, *args: str) -> None:
        crm = Path(sys.executable).with_name("crm")
        subprocess.run([str(crm), *args], cwd=self.workdir, env=self.env, check=True,
                       stdout=subprocess.DEVNULL, timeout=180)

    def start(self) -> "Suite":
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                raise RuntimeError(f"something already listens on port {self.port}; set CRM_BENCH_PORT to a free one")
        self._crm("up")
        # ``crm up`` waits for /readyz on the port: make sure it was our gateway that answered.
        missing = [name for name, pid in self.pids().items() if not Path(f"/proc/{pid}").exists()]
        if missing or "gateway-worker" not in self.pids():
            raise RuntimeError(f"the suite did not stay up ({', '.join(missing) or 'no gateway worker'}); "
                               f"see {self.workdir / '.run'}")
        return self

    def stop(self) -> None:
        started = list(self.pids().values())
        try:
            self._crm("down")
        finally:
            for pid in started:  # whatever did not stop (a run aborted half-way) goes now
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            shutil.rmtree(self.workdir, ignore_errors=True)

    def pids(self) -> dict[str, int]:
        """Each started process by name, the gateway's gunicorn workers included."""
        found = {}
        for pid_file in (self.workdir / ".run").glob("*.pid"):
            pid = int(pid_file.read_text())
            found[pid_file.stem] = pid
            for index, child in enumerate(_children(pid)):
                found[f"{pid_file.stem}-worker{index or ''}"] = child
        return found


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def reset_peak_memory(pid: int) -> None:
    """Start a new VmHWM measurement (Linux: ``5`` into clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far (0.0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_pids(run_id: str | None = None) -> dict[str, list[int]]:
    """The PostgreSQL and RabbitMQ processes on this machine, for CPU accounting.
    With ``run_id``, only PostgreSQL backends serving this run's databases (and
    the server's own background processes), not other users' connections."""
    found: dict[str, list[int]] = {"postgres": [], "rabbitmq": []}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            comm = (proc / "comm").read_text().strip()
            if comm == "postgres":
                args = (proc / "cmdline").read_bytes().decode(errors="replace")
                if run_id is None or "(" not in args or f"crm_bench_{run_id}_" in args:
                    found["postgres"].append(int(proc.name))
            elif comm.startswith("beam"):
                found["rabbitmq"].append(int(proc.name))
        except OSError:
            continue
    return found


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / CLOCK_TICKS, sum(ticks) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds used by each process of the suite, this run's PostgreSQL
    backends, RabbitMQ, this benchmark process (its clients and baselines)
    and any helper process, between two snapshots; and how busy the whole
    machine was, so that CPU taken by something else (another test run on
    the same machine) shows up as ``other``."""

    def __init__(self, pids: dict[str, int], run_id: str | None = None):
        self.pids, self.run_id = dict(pids), run_id

    def snapshot(self, extra: dict[str, int] | None = None) -> dict:
        procs = {name: {pid: cpu_seconds(pid)} for name, pid in {**self.pids, **(extra or {})}.items()}
        for backend, pids in backend_pids(self.run_id).items():
            procs[backend] = {pid: cpu_seconds(pid) for pid in pids}
        times = os.times()
        procs["bench"] = {0: times.user + times.system}
        return {"procs": procs, "machine": _machine_busy(), "wall": time.monotonic()}

    @staticmethod
    def used(before: dict, after: dict) -> dict[str, float]:
        """CPU seconds per process between the snapshots (a process that ended
        in between is missing from ``after`` and counts nothing), plus
        ``other`` (busy CPU of the machine not accounted to any of them) and
        ``busy_pct`` (how busy both cores were)."""
        used = {}
        for name, pids in after["procs"].items():
            earlier = before["procs"].get(name, {})
            if name == "bench":
                used[name] = pids[0] - earlier.get(0, 0.0)
            else:
                used[name] = sum(cpu - earlier.get(pid, 0.0) for pid, cpu in pids.items())
        busy = after["machine"][0] - before["machine"][0]
        total = after["machine"][1] - before["machine"][1]
        used["other"] = max(0.0, busy - sum(used.values()))
        used["busy_pct"] = 100 * busy / total if total else 0.0
        return used

    @contextmanager
    def per_op(self, ops_out: dict, ops: int, extra: dict[str, int] | None = None):
        """Fill ``ops_out`` with the milliseconds of CPU per operation each
        process used inside the block (``ops`` operations); ``extra`` names
        helper processes (e.g. a baseline's service) to include."""
        before = self.snapshot(extra)
        yield
        after = self.snapshot(extra)
        used = self.used(before, after)
        busy = used.pop("busy_pct")
        per_op = {name: seconds * 1000 / max(ops, 1) for name, seconds in used.items() if seconds > 0.0}
        per_op["total"] = sum(v for k, v in per_op.items() if k != "other")
        ops_out.update({name: round(ms, 2) if ms >= 0.1 else round(ms, 4) for name, ms in per_op.items()})
        ops_out["busy_pct"] = round(busy)
