"""The ``crm`` command line: run the suite, migrate, look after parked events,
watch the bus and export the event contracts; every installed part adds its own
commands through the ``crm.commands`` entry point group (:mod:`shared.plugins`)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from shared.config import load_settings
from shared.db import private_data_dir
from shared.gateway_client import admin_key


class KernelAndRegisteredCommands(click.Group):
    """The kernel's own commands, and those the installed parts register under
    ``crm.commands``: their names come from the installed metadata, and a command
    is imported only when it is run or its help line is shown. A name registered
    twice, or also the kernel's, is refused with both owners named; the other
    commands still run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        registered = self._registered(ctx)
        for name in registered:
            self._only_registration(name, registered)
        return sorted(self.commands.keys() | registered.keys())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from shared.plugins import COMMANDS_GROUP, entry_point_owner

        entry_point = self._only_registration(name, self._registered(ctx))
        if entry_point is None:
            return self.commands.get(name)
        command = entry_point.load()
        if not isinstance(command, click.Command):
            raise click.ClickException(f"`crm {name}`, registered under {COMMANDS_GROUP} by "
                                       f"{entry_point_owner(entry_point)}, is not a click command")
        return command

    @staticmethod
    def _registered(ctx: click.Context) -> dict:
        from shared.plugins import COMMANDS_GROUP, discover_commands

        # One look at the installed metadata per invocation: a help text asks for every name.
        if COMMANDS_GROUP not in ctx.meta:
            ctx.meta[COMMANDS_GROUP] = discover_commands()
        return ctx.meta[COMMANDS_GROUP]

    def _only_registration(self, name: str, registered: dict):
        from shared.plugins import COMMANDS_GROUP, entry_point_owner

        entry_points = registered.get(name, [])
        owners = [entry_point_owner(ep) for ep in entry_points]
        if entry_points and name in self.commands:
            raise click.ClickException(f"`crm {name}` is the kernel's own command (crm-kernel, shared.cli) "
                                       f"and is also registered under {COMMANDS_GROUP} by {owners[0]}; "
                                       "the registered one needs another name")
        if len(entry_points) > 1:
            raise click.ClickException(f"`crm {name}` is registered under {COMMANDS_GROUP} by "
                                       f"{' and by '.join(owners)}; one of them needs another name")
        return entry_points[0] if entry_points else None


@click.group(cls=KernelAndRegisteredCommands)
def main() -> None:
    """CRM suite operations."""


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
        status = wait_ready(base + "/readyz", services=discover_services())
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
