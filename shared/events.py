"""The event envelope, the contract types, and the catalog of the installed publishers.

One envelope for all events (``event_id`` for deduplication, ``event_type``
``<service>.<noun>_<past-tense verb>``, ``version``, ``occurred_at``,
``producer``, ``correlation_id``, ``payload``).

What a payload holds is declared by its publisher, in the publisher's own
``contracts.py``: an :class:`EventContract` per event type and version. The
kernel validates a payload against its publisher's declaration before the
event is written to the outbox, and refuses an event the publisher does not
declare. A consumer never uses the publisher's code: it declares, in its own
``contracts.py``, a :class:`ConsumedEvent` with the fields it reads and the
versions it accepts, and its handler receives the payload loaded with that.

Every publisher registers its tuple of contracts in the ``crm.events`` entry
point group, under its own name (the gateway too); :func:`installed_contracts`
builds the catalog from it, for the exported JSON Schemas and AsyncAPI
document (:mod:`shared.contract_docs`). See docs/decisions/0013.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, Iterable, Iterator

from marshmallow import EXCLUDE, Schema, ValidationError, fields

EVENTS_GROUP = "crm.events"
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9]*(_[a-z0-9]+)+$")


class PayloadSchema(Schema):
    """The base of every payload schema, a publisher's and a consumer's: fields it
    does not know are dropped on load, so a publisher may add a field without
    breaking a consumer."""

    class Meta:
        unknown = EXCLUDE


Money = lambda **kw: fields.Decimal(as_string=True, allow_none=True, **kw)  # noqa: E731
Str = lambda **kw: fields.String(allow_none=True, load_default=None, **kw)  # noqa: E731


@dataclass(frozen=True)
class EventContract:
    """One version of one event a publisher sends: its payload schema and, in one
    line, what happened when it is sent."""

    event_type: str
    version: int
    schema: type[Schema]
    description: str

    def __post_init__(self):
        if not EVENT_TYPE.match(self.event_type):
            raise ValueError(f"event type {self.event_type!r} is not <service>.<noun>_<past-tense verb>")
        if not (isinstance(self.version, int) and self.version >= 1):
            raise ValueError(f"{self.event_type}: a version is an integer from 1, not {self.version!r}")
        if not self.description.strip() or "\n" in self.description:
            raise ValueError(f"{self.event_type} v{self.version}: describe it in one line")

    @property
    def producer(self) -> str:
        return self.event_type.split(".", 1)[0]

    @property
    def key(self) -> str:
        """``<event_type>.v<version>``, the name of its JSON Schema and AsyncAPI message."""
        return f"{self.event_type}.v{self.version}"


@dataclass(frozen=True)
class ConsumedEvent:
    """What one handler of a consumer reads from an event: a tolerant-reader
    ``schema`` (a :class:`PayloadSchema` with only the fields the handler uses),
    the ``versions`` it accepts, and the name of the ``handler`` method."""

    event_type: str
    versions: tuple[int, ...]
    schema: type[Schema]
    handler: str

    def __post_init__(self):
        if not EVENT_TYPE.match(self.event_type):
            raise ValueError(f"event type {self.event_type!r} is not <service>.<noun>_<past-tense verb>")
        if not self.versions or not all(isinstance(v, int) and v >= 1 for v in self.versions):
            raise ValueError(f"{self.handler} reads {self.event_type}: name the versions it accepts (1, 2...)")

    @property
    def source_service(self) -> str:
        return self.event_type.split(".", 1)[0]


class UndeclaredEvent(LookupError):
    """An event (or a version of it) that is not among the declared contracts."""


class EventCatalog:
    """Event contracts by type and version: one publisher's, or every installed one's."""

    def __init__(self, contracts: Iterable[EventContract] = ()):
        self._contracts: dict[tuple[str, int], EventContract] = {}
        for contract in contracts:
            ident = (contract.event_type, contract.version)
            if ident in self._contracts:
                raise ValueError(f"{contract.event_type} v{contract.version} is declared twice")
            self._contracts[ident] = contract

    def __iter__(self) -> Iterator[EventContract]:
        return iter(sorted(self._contracts.values(), key=lambda c: (c.event_type, c.version)))

    def __len__(self) -> int:
        return len(self._contracts)

    def versions(self, event_type: str) -> list[int]:
        return sorted(v for t, v in self._contracts if t == event_type)

    def contract(self, event_type: str, version: int | None = None) -> EventContract:
        """The contract of ``event_type`` at ``version``; without a version, its only
        one. Raises :class:`UndeclaredEvent`, naming what is declared."""
        versions = self.versions(event_type)
        if version is None and len(versions) > 1:
            raise UndeclaredEvent(f"{event_type} is declared in versions {versions}: say which one this "
                                  "payload is (emit(..., version=N))")
        version = versions[0] if version is None and versions else version
        try:
            return self._contracts[(event_type, version)]
        except KeyError:
            declared = ", ".join(f"{t} v{v}" for t, v in sorted(self._contracts)) or "none"
            what = f"{event_type} v{version}" if versions else event_type
            raise UndeclaredEvent(f"{what} is not among the events this publisher declares ({declared}); "
                                  "declare it in the publisher's contracts.py") from None


def installed_contracts() -> EventCatalog:
    """Every event contract of the installed publishers (entry point group ``crm.events``,
    one entry per publisher, named after it); an entry declaring another
    publisher's event is refused."""
    contracts = []
    for entry in sorted(entry_points(group=EVENTS_GROUP), key=lambda e: e.name):
        for contract in entry.load():
            if contract.producer != entry.name:
                raise ValueError(f"{entry.name} ({entry.value}) declares {contract.event_type}, an event of "
                                 f"{contract.producer}: a publisher declares only its own events")
            contracts.append(contract)
    return EventCatalog(contracts)


@lru_cache(maxsize=None)
def schema_instance(schema: type[Schema]) -> Schema:
    """One instance per schema class: building one deep-copies every field."""
    return schema()


@dataclass(frozen=True)
class Event:
    """An event as it travels: envelope fields plus a JSON-safe payload."""

    event_type: str
    payload: dict[str, Any]
    producer: str
    version: int = 1
    correlation_id: str | None = None
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def to_message(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "producer": self.producer,
            "correlation_id": self.correlation_id,
            "payload": self.payload,
        }


def make_event(contract: EventContract, payload: dict[str, Any], *, correlation_id: str | None = None) -> Event:
    """Validate ``payload`` against ``contract`` and wrap it in an envelope.

    Raises ``marshmallow.ValidationError`` when the payload breaks the
    contract, so a bad event fails the producer's transaction instead of
    reaching a consumer.
    """
    schema = schema_instance(contract.schema)
    dumped = schema.dump(payload)
    errors = schema.validate(dumped)
    if errors:
        raise ValidationError(errors)
    return Event(event_type=contract.event_type, payload=dumped, producer=contract.producer,
                 version=contract.version, correlation_id=correlation_id)


def read_payload(consumed: ConsumedEvent, message: dict[str, Any]) -> dict[str, Any]:
    """The payload of a received envelope as ``consumed`` reads it: only its fields,
    loaded (a ``ValidationError`` when the payload lacks what it requires)."""
    return schema_instance(consumed.schema).load(message.get("payload") or {})
