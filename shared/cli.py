"""The ``crm`` command line: run the suite, migrate, manage keys, import leads,
look after parked events, and export the event contracts."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from shared.config import load_settings


@click.group()
def main() -> None:
    """CRM suite operations."""


def _gateway_identity(hint: str):
    """The installed gateway's identity store module; where none is installed, an error
    that ends with ``hint``: what the person can do instead."""
    from shared.plugins import discover_gateway

    gateway = discover_gateway()
    if gateway is None:
        raise click.ClickException(f"no gateway is installed here (crm-gateway); {hint}")
    return gateway.load_identity()


@main.command()
def migrate() -> None:
    """Bring every installed service's database (and the gateway's, where it is installed)
    to the newest schema, and declare every consumer's durable queues."""
    from shared.migrate import upgrade
    from shared.plugins import discover_gateway, discover_services
    from shared.topology import declare_consumer_queues

    settings = load_settings()
    if settings.data_dir.exists():
        private_data_dir(settings)  # SQLite files made below get a private directory anyway
    manifests = discover_services()
    gateway = discover_gateway()
    if gateway is None:
        click.echo("no gateway installed here: migrating the services only")
    else:
        upgrade(gateway.migrations, settings.database_url("gateway"))
        click.echo("migrated gateway")
    for name, manifest in manifests.items():
        upgrade(manifest.migrations, settings.database_url(name))
        click.echo(f"migrated {name}")
    queues = declare_consumer_queues(settings.amqp_uri, manifests, settings.retry_delays)
    click.echo(f"declared {len(queues)} consumer queues")


def admin_key(settings, configured: str | None) -> str:
    """``configured`` (GATEWAY_ADMIN_KEY) if set, else the key made by an earlier ``crm up``,
    else a new one."""
    if configured:
        return configured
    path = settings.data_dir / "admin.key"
    private_data_dir(settings)
    if path.exists():
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # left readable by an older version
        return path.read_text().strip()
    identity = _gateway_identity("it makes the admin key: give a key instead (--api-key or CRM_API_KEY)")
    key = identity.new_key_string()
    # Created 0600, never chmodded afterwards: no moment where others may read it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key)
    return key


def private_data_dir(settings) -> None:
    """``CRM_DATA_DIR`` (databases, the admin key) exists and is for its owner alone (0700)."""
    from shared.db import private_files
    with private_files():
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if settings.data_dir.stat().st_mode & 0o077:
        settings.data_dir.chmod(0o700)


def _identity_session():
    from sqlalchemy.orm import sessionmaker

    from shared.db import make_engine
    return sessionmaker(make_engine(load_settings().database_url("gateway")), expire_on_commit=False)


@main.command()
@click.option("--wait/--no-wait", default=True, help="wait until /readyz says ready")
def up(wait: bool) -> None:
    """Migrate, start every installed service and the gateway (where it is installed)
    in the background."""
    from shared.launcher import gateway_argv, service_argv, start_process, wait_ready
    from shared.plugins import discover_gateway, discover_services

    settings, gateway = load_settings(), discover_gateway()
    gateway_settings = gateway.load_settings() if gateway else None
    click.get_current_context().invoke(migrate)
    key = admin_key(settings, gateway_settings.admin_key) if gateway else None
    # A host with services only and the gateway's verify key needs no key pair of its own.
    if settings.caller_signing_key is None and (gateway or settings.caller_verify_key is None):
        from shared.signing import ensure_key_pair
        ensure_key_pair(settings.data_dir)  # before the gateway and the services look for it
    if gateway:
        gateway.load_identity().ensure_admin_key(_identity_session(), key)
    for name in discover_services():
        click.echo(f"started {name} (pid {start_process(name, service_argv(name))})")
    if gateway is None:
        click.echo("no gateway installed here: started the services only. Stop: crm down")
        return
    click.echo(f"started gateway (pid {start_process('gateway', gateway_argv(gateway_settings))})")
    base = f"http://{gateway_settings.host}:{gateway_settings.port}"
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
    identity = _gateway_identity("run crm keys where the gateway is installed")
    click.echo(identity.create_user_with_key(_identity_session(), role=role, name=name))


@main.group()
def leads() -> None:
    """Leads."""


@leads.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", help='JSON object: file column -> lead field, e.g. \'{"Firma": "company"}\'')
@click.option("--api-key", envvar="CRM_API_KEY", help="defaults to the admin key of `crm up`")
@click.option("--url", envvar="CRM_URL", help="gateway base URL")
@click.option("--follow/--no-follow", default=True, help="follow the job until its rows are imported")
def leads_import(file: Path, mapping: str | None, api_key: str | None, url: str | None, follow: bool) -> None:
    """Import a CSV or XLSX FILE of leads through the gateway: a progress bar while
    the file is sent, then one while its rows are imported. Exits non-zero when
    the gateway cannot be reached, refuses the file or fails the job."""
    from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

    from shared.plugins import discover_gateway

    settings, gateway = load_settings(), discover_gateway()
    gateway_settings = gateway.load_settings() if gateway else None
    if url is None and gateway_settings is None:
        raise click.ClickException("no gateway is installed here: give its address (--url or CRM_URL)")
    url = (url or f"http://{gateway_settings.host}:{gateway_settings.port}").rstrip("/")
    headers = {"Authorization": "Bearer " + (api_key or admin_key(
        settings, gateway_settings.admin_key if gateway_settings else None))}
    with file.open("rb") as stream:
        fields = {"file": (file.name, stream, "application/octet-stream")}
        if mapping:
            fields["mapping"] = mapping
        encoder = MultipartEncoder(fields)
        with click.progressbar(length=encoder.len, label="uploading", show_pos=False) as bar:
            sent = MultipartEncoderMonitor(encoder, lambda monitor: bar.update(monitor.bytes_read - bar.pos))
            answer = _http("post", f"{url}/api/v1/leads/imports", url, data=sent, timeout=3600,
                           headers={**headers, "Content-Type": sent.content_type})
    job = answer.json()
    location = answer.headers.get("Location") or f"/api/v1/leads/imports/{job['id']}"
    job_url = location if location.startswith("http") else url + location
    click.echo(f"import {job['id']}: {job['total_rows']} rows received; follow it at {job_url}")
    if not follow:
        return
    with click.progressbar(length=max(job["total_rows"], 1), label="importing", show_pos=True) as bar:
        while True:
            job = _http("get", job_url, url, headers=headers, params={"error_limit": 20}, timeout=30).json()
            bar.update(job["processed_rows"] - bar.pos)
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
    click.echo(f"imported {job['imported']}, rejected {job['rejected']} of {job['total_rows']} rows")
    for error in job["errors"]:
        click.echo(f"  row {error['row']}: {error['field'] or '-'}: {error['reason']}")
    if job["rejected"] > len(job["errors"]):
        click.echo(f"  ... see GET {job_url} for all {job['rejected']} rejected rows")
    if job["status"] == "failed":
        raise click.ClickException(f"import {job['id']} failed; nothing was imported")


def _http(method: str, address: str, base: str, **kwargs):
    """One call to the gateway; an error becomes one readable ClickException
    (exit status 1): the gateway cannot be reached, or its problem document."""
    import requests

    try:
        answer = requests.request(method, address, **kwargs)
    except requests.ConnectionError:
        raise click.ClickException(f"cannot reach the gateway at {base}; is the suite running "
                                   "(`crm up`), and is --url / CRM_URL right?") from None
    except requests.Timeout:
        raise click.ClickException(f"the gateway at {base} did not answer in time") from None
    if answer.status_code >= 400:
        raise click.ClickException(problem_text(answer))
    return answer


def problem_text(answer) -> str:
    """A problem document (RFC 9457) for a person: status, title and detail,
    then one line per field error."""
    try:
        problem = answer.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return f"HTTP {answer.status_code}: {answer.text.strip()[:500] or answer.reason}"
    text = f"{answer.status_code} {problem.get('title') or answer.reason}"
    if problem.get("detail"):
        text += f": {problem['detail']}"
    lines = [text] + [f"  {field}: {message}" for field, message in _field_errors(problem.get("errors"))]
    return "\n".join(lines)


def _field_errors(errors, prefix: str = ""):
    if isinstance(errors, dict):
        for name, value in errors.items():
            yield from _field_errors(value, f"{prefix}{name}" if not prefix else f"{prefix}.{name}")
    elif isinstance(errors, list) and all(not isinstance(e, (dict, list)) for e in errors):
        yield prefix or "-", "; ".join(str(e) for e in errors)
    elif isinstance(errors, list):
        for i, value in enumerate(errors):
            yield from _field_errors(value, f"{prefix}[{i}]")
    elif errors is not None:
        yield prefix or "-", str(errors)


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


@main.group()
def contracts() -> None:
    """The event contracts of the installed publishers, as documents."""


@contracts.command("export")
@click.argument("directory", default="docs/contracts", type=click.Path(file_okay=False, path_type=Path))
def contracts_export(directory: Path) -> None:
    """Write DIRECTORY/asyncapi.json (the whole bus, AsyncAPI 3.0) and
    DIRECTORY/events/<event_type>.v<N>.json (each payload's JSON Schema) from the
    installed publishers' contracts; default docs/contracts. Event schemas that no
    contract makes any more are removed."""
    from shared.contract_docs import export
    from shared.events import installed_contracts

    written = export(directory, installed_contracts())
    click.echo(f"wrote {len(written)} files to {directory}")


if __name__ == "__main__":
    sys.exit(main())
