"""Plugin discovery.

A service is a plugin: its package declares a :class:`ServiceManifest`
through the ``crm.services`` entry point group (the events it publishes:
``crm.events``, see :mod:`shared.events`). Inside services, extension
points (scoring rules, assignment strategies, ...) are entry point groups of
their own, named ``crm.<service>.<extension>``; built-ins register the same
way as third-party plugins. The gateway, when it is installed, declares a
:class:`GatewayManifest` through ``crm.gateway``: the kernel needs nothing else
of it, and runs services without it.

The ``crm`` command (:mod:`shared.cli`) holds only what every part needs (``up``,
``down``, ``migrate``, ``dlq``, ``events``, ``contracts``); each distribution adds
its own click commands or groups through ``crm.commands``, by name, e.g. the
gateway's ``keys`` and leads' ``leads``. A service adds one with a line in its
``pyproject.toml``: ``[project.entry-points."crm.commands"]`` ``leads =
"services.leads.cli:leads"``; a command that talks to the gateway uses
:mod:`shared.gateway_client`. Names are listed from the installed metadata and
a command is imported only when it runs or its help is shown; a name the kernel
has, or that two distributions register, is refused naming both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, Callable

from shared.events import ConsumedEvent

SERVICES_GROUP = "crm.services"
GATEWAY_GROUP = "crm.gateway"
COMMANDS_GROUP = "crm.commands"


@dataclass(frozen=True)
class ServiceManifest:
    name: str
    service_class: str                      # "services.leads.service:LeadsService"
    metadata: str                           # "services.leads.models:metadata"
    migrations: Path                        # the service's Alembic script directory
    # What its handlers read, from its contracts.py. The events it publishes are
    # registered in the crm.events group instead (shared.events), as the gateway's are.
    consumes: tuple[ConsumedEvent, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def load_service_class(self):
        return load_object(self.service_class)

    def load_metadata(self):
        return load_object(self.metadata)


@dataclass(frozen=True)
class GatewayManifest:
    """What the ``crm`` command needs of the gateway: its migrations, its
    identity store's module (``new_key_string``, ``ensure_admin_key``) and its
    settings (address, admin key)."""
    migrations: Path                        # the gateway's Alembic script directory
    identity: str                           # "gateway.identity"
    settings: str                           # "gateway.settings:load_gateway_settings"

    def load_identity(self):
        return import_module(self.identity)

    def load_settings(self):
        """The gateway's own settings (GATEWAY_*), read from the environment now."""
        return load_object(self.settings)()


def load_object(path: str):
    module, _, attr = path.partition(":")
    obj = import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def discover_services() -> dict[str, ServiceManifest]:
    """Every installed service, by name."""
    found: dict[str, ServiceManifest] = {}
    for ep in entry_points(group=SERVICES_GROUP):
        manifest = ep.load()
        manifest = manifest() if callable(manifest) else manifest
        found[manifest.name] = manifest
    return dict(sorted(found.items()))


def discover_gateway() -> GatewayManifest | None:
    """The installed gateway, or None where only services are installed."""
    for ep in entry_points(group=GATEWAY_GROUP):
        return ep.load()
    return None


def discover_commands() -> dict[str, list[EntryPoint]]:
    """The ``crm`` commands the installed parts register, by name, not loaded yet;
    a name registered by two parts keeps both (the ``crm`` command refuses it)."""
    found: dict[str, list[EntryPoint]] = {}
    for ep in entry_points(group=COMMANDS_GROUP):
        found.setdefault(ep.name, []).append(ep)
    return found


def entry_point_owner(ep: EntryPoint) -> str:
    """Who registered ``ep``, for an error: ``crm-leads (services.leads.cli:leads)``."""
    return f"{ep.dist.name if ep.dist else 'an unknown distribution'} ({ep.value})"


def discover_extensions(group: str) -> dict[str, Callable[..., Any]]:
    """Every registered implementation of an extension point, by name."""
    return {ep.name: ep.load() for ep in entry_points(group=group)}


def configured_extension(installed: dict[str, Callable[..., Any]], name: str, what: str, setting: str):
    """An instance of the implementation a setting names; a name that is not
    installed stops the service at start with the installed ones listed."""
    try:
        return installed[name]()
    except KeyError:
        raise RuntimeError(f"{what} {name!r} ({setting}) is not installed; installed: "
                           f"{', '.join(sorted(installed))}") from None
