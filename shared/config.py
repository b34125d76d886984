"""Configuration from the environment.

The kernel reads here what every process needs (:class:`Settings`, ``CRM_*``);
each service and the gateway declare their own settings in their
``settings.py`` as a dataclass that :func:`read_settings` fills from its own
prefix (``LEADS_*``, ``SALES_*``, ``GATEWAY_*``). Nothing here runs at import
time: callers ask for settings when they start, so tests can set the
environment first.
"""
from __future__ import annotations

import logging
import os
import types
import typing
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping, TypeVar

DEFAULT_DATA_DIR = Path(os.path.expanduser("~")) / ".local" / "share" / "crm-suite"

log = logging.getLogger(__name__)
T = TypeVar("T")


class SettingsError(ValueError):
    """A variable whose value does not fit its setting; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """What every process of the suite reads; the README lists them with defaults."""

    amqp_uri: str = field(default="amqp://guest:guest@127.0.0.1:5672/", metadata={"variable": "AMQP_URI"})
    data_dir: Path = DEFAULT_DATA_DIR
    max_workers: int = 10
    retry_delays: tuple[float, ...] = (1.0, 10.0, 60.0)
    relay_poll_interval: float = 1.0
    relay_batch_size: int = 200
    idempotency_ttl_hours: float = 24.0
    caller_signing_key: Path | None = None
    caller_verify_key: Path | None = None
    log_level: str = "INFO"
    sqlite_busy_timeout: float = 30.0
    # Mail (shared/mail.py): without an SMTP server, .eml files in data_dir/mail/<service>/.
    smtp_url: str | None = None
    mail_from: str = "crm@localhost"
    # From every <SERVICE>_DATABASE_URL, by load_settings.
    database_urls: dict[str, str] = field(default_factory=dict, metadata={"variable": None})

    def database_url(self, service: str) -> str:
        """The URL of ``service``'s own database; SQLite in the data dir by default."""
        url = self.database_urls.get(service)
        if url:
            return url
        return f"sqlite:///{self.data_dir / (service + '.db')}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """The kernel's settings in ``env`` (default: the process's environment)."""
    env = os.environ if env is None else env
    urls = {
        key[: -len("_DATABASE_URL")].lower(): value
        for key, value in env.items()
        if key.endswith("_DATABASE_URL") and value
    }
    return replace(read_settings(Settings, "CRM", env), database_urls=urls)


def read_settings(cls: type[T], prefix: str, env: Mapping[str, str] | None = None,
                  renamed: Mapping[str, str] | None = None) -> T:
    """An instance of the dataclass ``cls`` whose fields are read from the
    variables ``<PREFIX>_<FIELD>`` (field ``pool_stale_days``, prefix ``LEADS``:
    ``LEADS_POOL_STALE_DAYS``; a field's metadata ``variable`` names another one)
    of ``env`` (default: the process's environment), converted to the field's
    annotated type: ``str``, ``int``, ``float``, ``bool``, ``Path``,
    ``tuple[float, ...]`` (comma-separated), any of them ``| None``. A variable
    unset or empty leaves the default, except that empty is None for a field
    that may be None. A value that does not convert raises :class:`SettingsError`
    naming the variable.

    ``renamed`` maps a field to the variable it was read from before: when only
    that old one is set its value is used, and a warning names both.
    """
    env = os.environ if env is None else env
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in fields(cls):
        name = _variable(item, prefix)
        if name is None:
            continue
        old = (renamed or {}).get(item.name)
        if old is not None and old in env:
            if name in env:
                log.warning("%s is no longer read: %s, which replaces it, is set", old, name)
            else:
                log.warning("%s is deprecated: set %s instead (its value is used meanwhile)", old, name)
                name = old
        raw = env.get(name, "").strip()
        if raw or (name in env and _optional(hints[item.name])):
            values[item.name] = _convert(raw, hints[item.name], name)
    return cls(**values)


def _variable(item: Field, prefix: str) -> str | None:
    return item.metadata.get("variable", f"{prefix}_{item.name.upper()}")


def documented(cls, prefix: str, renamed: Mapping[str, str] | None = None) -> list[tuple[str, str | None, str | None]]:
    """The settings of ``cls`` as rows for documentation: the variable, its default
    as written in the environment (None when unset) and the variable it replaces."""
    rows = []
    for item in fields(cls):
        name = _variable(item, prefix)
        if name is not None:
            rows.append((name, _written(item.default), (renamed or {}).get(item.name)))
    return rows


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _optional(kind) -> bool:
    return typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in typing.get_args(kind)


def _convert(raw: str, kind, name: str):
    if _optional(kind):
        if not raw:
            return None
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    try:
        if kind is bool:
            if raw.lower() not in _TRUE + _FALSE:
                raise ValueError
            return raw.lower() in _TRUE
        if typing.get_origin(kind) is tuple:
            return tuple(float(x) for x in raw.split(",") if x.strip())
        return kind(raw)
    except ValueError:
        expected = _EXPECTED.get(typing.get_origin(kind) or kind, f"a {kind}")
        raise SettingsError(f"{name}={raw!r} is not {expected}") from None


_EXPECTED = {int: "a whole number", float: "a number", bool: "one of " + "/".join(_TRUE + _FALSE),
             tuple: "a comma-separated list of numbers"}


def _written(value) -> str | None:
    if value is MISSING or value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(_written(x) for x in value)
    if isinstance(value, Path):
        return str(value).replace(os.path.expanduser("~"), "~", 1)
    return str(value)


def nameko_config(settings: Settings) -> dict:
    """The nameko container config for a service process."""
    return {
        "AMQP_URI": settings.amqp_uri,
        "max_workers": settings.max_workers,
        "parent_calls_tracked": 10,
        "serializer": "json",
        "HEARTBEAT": 30,
    }
