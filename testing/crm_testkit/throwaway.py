"""Throwaway RabbitMQ vhosts and PostgreSQL databases, for a test run or a
benchmark run, all removed at its end, so that runs never see each other's
messages or rows (nor a dead run's consumers steal the next run's messages)."""
from __future__ import annotations

import subprocess
import uuid

import psycopg2

DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_RABBIT = "guest:guest@127.0.0.1:5672"


def rabbitmqctl(*args: str, timeout: float = 60) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=timeout)


def pg_execute(sql: str, url: str = DEFAULT_PG_ADMIN) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


class Throwaway:
    """Vhosts and databases named ``<prefix>-<run id>-<label>-<n>``; :meth:`cleanup` drops them all."""

    def __init__(self, prefix: str, pg_admin: str = DEFAULT_PG_ADMIN, rabbit: str = DEFAULT_RABBIT):
        self.prefix = prefix
        self.pg_admin = pg_admin
        self.rabbit = rabbit
        self.run_id = uuid.uuid4().hex[:10]
        self.vhosts: list[str] = []
        self.databases: list[str] = []

    def vhost(self, label: str = "") -> str:
        name = f"{self.prefix}-{self.run_id}{'-' + label if label else ''}-{len(self.vhosts)}"
        rabbitmqctl("add_vhost", name)
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        self.vhosts.append(name)
        return f"amqp://{self.rabbit}/{name}"

    def database(self, label: str = "") -> str:
        name = f"{self.prefix.replace('-', '_')}_{self.run_id}{'_' + label if label else ''}_{len(self.databases)}"
        pg_execute(f'CREATE DATABASE "{name}"', self.pg_admin)
        self.databases.append(name)
        return self.pg_admin.rsplit("/", 1)[0] + "/" + name

    def cleanup(self) -> None:
        for name in self.vhosts:
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, timeout=60)
        for name in self.databases:
            try:
                pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', self.pg_admin)
            except psycopg2.Error:
                pass
