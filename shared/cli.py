"""The ``crm`` command line: run the suite, migrate, manage keys, import leads,
and look after parked events."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from shared.config import load_settings


@click.group()
def main() -> None:
    """CRM suite operations."""


def _gateway_migrations() -> Path:
    import gateway
    return Path(gateway.__file__).parent / "migrations"


@main.command()
def migrate() -> None:
    """Bring every installed service's database (and the gateway's) to the newest schema,
    and declare every consumer's durable queues."""
    from shared.migrate import upgrade
    from shared.plugins import discover_services
    from shared.topology import declare_consumer_queues

    settings = load_settings()
    manifests = discover_services()
    upgrade(_gateway_migrations(), settings.database_url("gateway"))
    click.echo("migrated gateway")
    for name, manifest in manifests.items():
        upgrade(manifest.migrations, settings.database_url(name))
        click.echo(f"migrated {name}")
    queues = declare_consumer_queues(settings.amqp_uri, manifests, settings.retry_delays)
    click.echo(f"declared {len(queues)} consumer queues")


def admin_key(settings) -> str:
    """CRM_ADMIN_KEY if set, else the key made by an earlier ``crm up``, else a new one."""
    if settings.admin_key:
        return settings.admin_key
    path = settings.data_dir / "admin.key"
    if path.exists():
        return path.read_text().strip()
    from gateway.identity import new_key_string
    key = new_key_string()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _identity_session():
    from sqlalchemy.orm import sessionmaker

    from shared.db import make_engine
    return sessionmaker(make_engine(load_settings().database_url("gateway")), expire_on_commit=False)


@main.command()
@click.option("--wait/--no-wait", default=True, help="wait until /readyz says ready")
def up(wait: bool) -> None:
    """Migrate, start every installed service and the gateway in the background."""
    from gateway.identity import ensure_admin_key
    from shared.launcher import gateway_argv, service_argv, start_process, wait_ready
    from shared.plugins import discover_services

    settings = load_settings()
    click.get_current_context().invoke(migrate)
    key = admin_key(settings)
    ensure_admin_key(_identity_session(), key)
    for name in discover_services():
        click.echo(f"started {name} (pid {start_process(name, service_argv(name))})")
    click.echo(f"started gateway (pid {start_process('gateway', gateway_argv(settings))})")
    base = f"http://{settings.gateway_host}:{settings.gateway_port}"
    if wait:
        status = wait_ready(base + "/readyz")
        click.echo(f"ready: {', '.join(sorted(status.get('services', {})))}")
    click.echo("")
    click.echo(f"  API:        {base}/api/v1")
    click.echo(f"  API docs:   {base}/api/docs")
    click.echo(f"  Admin key:  {key}")
    click.echo(f"  Try:        curl -H 'Authorization: Bearer {key}' {base}/api/v1/me")
    click.echo("  Logs: make logs    Stop: make down")


@main.command()
def down() -> None:
    """Stop what `crm up` started."""
    from shared.launcher import RUN_DIR, stop_process

    names = [p.stem for p in RUN_DIR.glob("*.pid")] if RUN_DIR.exists() else []
    for name in sorted(names, key=lambda n: n != "gateway"):
        if stop_process(name):
            click.echo(f"stopped {name}")
    if not names:
        click.echo("nothing was running")


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--role", required=True, type=click.Choice(["rep", "manager", "admin", "partner", "ops"]))
@click.option("--name", required=True, help="the user the key belongs to (created if missing)")
def keys_create(role: str, name: str) -> None:
    """Create a user with ROLE and an API key; the key is shown once."""
    from gateway.identity import create_user_with_key
    click.echo(create_user_with_key(_identity_session(), role=role, name=name))


@main.group()
def leads() -> None:
    """Leads."""


@leads.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", help='JSON object: file column -> lead field, e.g. \'{"Firma": "company"}\'')
@click.option("--api-key", envvar="CRM_API_KEY", help="defaults to the admin key of `crm up`")
@click.option("--url", envvar="CRM_URL", help="gateway base URL")
def leads_import(file: Path, mapping: str | None, api_key: str | None, url: str | None) -> None:
    """Import a CSV or XLSX FILE of leads through the gateway and follow its progress."""
    import requests

    settings = load_settings()
    url = url or f"http://{settings.gateway_host}:{settings.gateway_port}"
    headers = {"Authorization": f"Bearer {api_key or admin_key(settings)}"}
    with file.open("rb") as stream:
        answer = requests.post(f"{url}/api/v1/leads/imports", headers=headers,
                               files={"file": (file.name, stream)},
                               data={"mapping": mapping} if mapping else None, timeout=3600)
    if answer.status_code != 202:
        raise click.ClickException(f"{answer.status_code}: {answer.text}")
    job = answer.json()
    with click.progressbar(length=max(job["total_rows"], 1), label="importing") as bar:
        done = 0
        while True:
            job = requests.get(f"{url}/api/v1/leads/imports/{job['id']}", headers=headers,
                               params={"error_limit": 20}, timeout=30).json()
            bar.update(job["processed_rows"] - done)
            done = job["processed_rows"]
            if job["status"] == "done":
                break
            time.sleep(0.5)
    click.echo(f"imported {job['imported']}, rejected {job['rejected']} of {job['total_rows']} rows")
    for error in job["errors"]:
        click.echo(f"  row {error['row']}: {error['field'] or '-'}: {error['reason']}")
    if job["rejected"] > len(job["errors"]):
        click.echo(f"  ... see GET /api/v1/leads/imports/{job['id']} for all {job['rejected']} rejected rows")


@main.group()
def dlq() -> None:
    """Parked events (the dead-letter queues)."""


@dlq.command("list")
@click.option("--show", default=0, help="also print the first N parked messages of each queue")
def dlq_list(show: int) -> None:
    """Every handler's parked queue and how many events wait in it."""
    from shared.dlq import parked_queues, peek
    from shared.plugins import discover_services

    settings = load_settings()
    for q in parked_queues(settings.amqp_uri, discover_services(), settings.retry_delays):
        click.echo(f"{q.depth:6d}  {q.service}.{q.handler}  ({q.parked})")
        for message in peek(settings.amqp_uri, q.parked, show) if show and q.depth else []:
            click.echo(f"        {message['headers'].get('x-crm-last-error', '')}: {message['body'][:200]}")


@dlq.command("replay")
@click.argument("handler")
@click.option("--count", type=int, default=None, help="replay at most this many")
def dlq_replay(handler: str, count: int | None) -> None:
    """Move parked events of HANDLER (SERVICE.METHOD, as `crm dlq list` shows) back to its queue."""
    from shared.dlq import parked_queues, replay
    from shared.plugins import discover_services

    settings = load_settings()
    queues = {f"{q.service}.{q.handler}": q for q in
              parked_queues(settings.amqp_uri, discover_services(), settings.retry_delays)}
    if handler not in queues:
        raise click.ClickException(f"no handler {handler!r}; known: {', '.join(sorted(queues))}")
    q = queues[handler]
    click.echo(f"replayed {replay(settings.amqp_uri, q.parked, q.queue, count)} events to {q.queue}")


@main.group()
def events() -> None:
    """Events on the bus."""


@events.command("watch")
@click.argument("patterns", nargs=-1, required=True)
@click.option("--count", type=int, default=None, help="stop after this many events")
@click.option("--timeout", type=float, default=None, help="stop after this many seconds without an event")
def events_watch(patterns: tuple[str, ...], count: int | None, timeout: float | None) -> None:
    """Print events as they are published, e.g. `crm events watch 'sales.*'`.

    PATTERNS are routing keys on the producing service's exchange (``*``
    matches one word); a private, self-deleting queue sees only events
    published from now on and takes nothing from the services' own queues.
    """
    import json
    import socket
    import uuid

    from kombu import Connection, Queue

    from shared.outbox import event_exchange

    settings = load_settings()
    seen = 0
    with Connection(settings.amqp_uri) as conn:
        channel = conn.channel()
        queue = Queue(f"crm-watch-{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True, channel=channel)
        queue.declare()
        for pattern in patterns:
            service = pattern.split(".", 1)[0]
            if "*" in service or "#" in service:
                raise click.ClickException(f"{pattern!r}: name the producing service first, e.g. sales.*")
            exchange = event_exchange(f"{service}.events")
            exchange(channel).declare()
            queue.bind_to(exchange, routing_key=pattern)

        def show(body, message):
            nonlocal seen
            event = json.loads(body) if isinstance(body, (str, bytes)) else body
            click.echo(json.dumps(event, indent=2, sort_keys=True))
            message.ack()
            seen += 1

        click.echo(f"watching {', '.join(patterns)} (Ctrl-C stops)", err=True)
        with conn.Consumer(queue, callbacks=[show], accept=["json"]):
            while count is None or seen < count:
                try:
                    conn.drain_events(timeout=timeout)
                except socket.timeout:
                    break
                except KeyboardInterrupt:
                    break


if __name__ == "__main__":
    sys.exit(main())
