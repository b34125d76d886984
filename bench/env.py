"""A throwaway suite for one benchmark run: its own RabbitMQ vhost and
PostgreSQL databases, the services and gateway started as ``crm up`` starts
them (from their own run directory), all removed at the end."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg2

PG_ADMIN = os.environ.get("CRM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBIT = os.environ.get("CRM_BENCH_RABBIT", "guest:guest@127.0.0.1:5672")
PORT = int(os.environ.get("CRM_BENCH_PORT", "8765"))


def pg_execute(sql: str, url: str = PG_ADMIN) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


class Throwaway:
    """Vhosts and databases made for this run, dropped by :meth:`cleanup`."""

    def __init__(self):
        self.run_id = uuid.uuid4().hex[:8]
        self.vhosts: list[str] = []
        self.databases: list[str] = []

    def vhost(self, label: str) -> str:
        name = f"crm-bench-{self.run_id}-{label}"
        rabbitmqctl("add_vhost", name)
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        self.vhosts.append(name)
        return f"amqp://{RABBIT}/{name}"

    def database(self, label: str) -> str:
        name = f"crm_bench_{self.run_id}_{label}"
        pg_execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + name

    def cleanup(self) -> None:
        for name in self.vhosts:
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, timeout=60)
        for name in self.databases:
            try:
                pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg2.Error:
                pass


class Suite:
    """Every installed service and the gateway on PostgreSQL, started by ``crm up``."""

    def __init__(self, throwaway: Throwaway):
        self.throwaway = throwaway
        self.workdir = Path(tempfile.mkdtemp(prefix="crm-bench-"))
        self.admin_key = f"crm_bench_{uuid.uuid4().hex}"
        self.base_url = f"http://127.0.0.1:{PORT}"
        self.env = {**os.environ,
                    "AMQP_URI": throwaway.vhost("suite"),
                    "LEADS_DATABASE_URL": throwaway.database("leads"),
                    "SALES_DATABASE_URL": throwaway.database("sales"),
                    "GATEWAY_DATABASE_URL": throwaway.database("gateway"),
                    "CRM_DATA_DIR": str(self.workdir / "data"),
                    "CRM_GATEWAY_PORT": str(PORT),
                    "CRM_ADMIN_KEY": self.admin_key,
                    "CRM_RATE_LIMIT": "1000000/minute",
                    "CRM_LOG_LEVEL": "WARNING"}

    def _crm(self, *args: str) -> None:
        crm = Path(sys.executable).with_name("crm")
        subprocess.run([str(crm), *args], cwd=self.workdir, env=self.env, check=True,
                       stdout=subprocess.DEVNULL, timeout=180)

    def start(self) -> "Suite":
        self._crm("up")
        return self

    def stop(self) -> None:
        try:
            self._crm("down")
        finally:
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
    """User plus system CPU time the process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pids() -> dict[str, list[int]]:
    """The PostgreSQL and RabbitMQ processes on this machine, for CPU accounting."""
    found: dict[str, list[int]] = {"postgres": [], "rabbitmq": []}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            comm = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if comm == "postgres":
            found["postgres"].append(int(proc.name))
        elif comm.startswith("beam"):
            found["rabbitmq"].append(int(proc.name))
    return found
