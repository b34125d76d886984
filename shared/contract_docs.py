"""The event contracts as documents, and what a consumer needs of them.

- A JSON Schema (draft-07, the dialect AsyncAPI 3.0 schemas build on) of each
  event type and version's payload, converted from the publisher's marshmallow
  schema by apispec's marshmallow plugin.
- One AsyncAPI 3.0 document for the whole bus: a channel per publisher's
  ``<service>.events`` topic exchange, a send operation per event type with
  its routing key, a message per event type and version (the envelope, with
  the payload's schema).
- :func:`reading_problems`: what keeps a consumer's reading
  (:class:`~shared.events.ConsumedEvent`) from reading the events an exported
  document describes. Each consumer's contract tests run it on the committed
  export, so a consumer never needs the publisher's code.

``crm contracts export`` writes the files of :func:`contract_files`; the
gateway serves the AsyncAPI document at ``/api/v1/asyncapi.json``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from apispec.ext.marshmallow.openapi import OpenAPIConverter
from marshmallow import Schema, ValidationError, fields

from shared.events import ConsumedEvent, EventCatalog, EventContract, schema_instance

JSON_SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"
ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
EXPORT_DIR = Path("docs/contracts")

DESCRIPTION = (
    "The events of the CRM suite's services on RabbitMQ. Each publisher sends to its own durable topic "
    "exchange `<service>.events` with the event type as routing key, persistent, through a transactional "
    "outbox: an event may arrive twice (deduplicate on `event_id`), never lost. Every message is one JSON "
    "envelope whose `payload` is the event's own schema. A publisher adds optional fields within a version "
    "(consumers ignore fields they do not know); a breaking change is a new version, published beside the "
    "old one until its consumers have moved.")


def _decimal_as_string(self, field, ret, **_):
    """Money and quantities travel as decimal strings; apispec would call them numbers."""
    if not (isinstance(field, fields.Decimal) and field.as_string):
        return {}
    nullable = isinstance(ret.get("type"), list) and "null" in ret["type"]
    ret["type"] = ["string", "null"] if nullable else "string"
    return {"format": "decimal", "pattern": DECIMAL_PATTERN}


def payload_json_schema(schema: type[Schema]) -> dict[str, Any]:
    """The JSON Schema of a payload schema, nested schemas inlined."""
    # OpenAPI 3.1 schema objects are JSON Schema: nullable is a "null" in "type".
    converter = OpenAPIConverter(openapi_version="3.1.0", schema_name_resolver=lambda _schema: None, spec=None)
    converter.add_attribute_function(_decimal_as_string)
    return converter.schema2jsonschema(schema_instance(schema))


def event_json_schema(contract: EventContract) -> dict[str, Any]:
    """The standalone JSON Schema of one event version's payload."""
    return {"$schema": JSON_SCHEMA_DIALECT, **_titled(contract)}


def _titled(contract: EventContract) -> dict[str, Any]:
    return {"title": f"{contract.event_type} v{contract.version}", "description": contract.description,
            **payload_json_schema(contract.schema)}


def envelope_json_schema(contract: EventContract, payload: dict[str, Any]) -> dict[str, Any]:
    """The message as it travels (``shared.events.Event.to_message``), ``payload`` its payload's schema."""
    return {
        "type": "object",
        "properties": {
            "event_id": {"type": "string", "format": "uuid", "description": "unique; consumers deduplicate on it"},
            "event_type": {"type": "string", "const": contract.event_type, "description": "also the routing key"},
            "version": {"type": "integer", "const": contract.version},
            "occurred_at": {"type": "string", "format": "date-time", "description": "when it happened, UTC"},
            "producer": {"type": "string", "const": contract.producer},
            "correlation_id": {"type": ["string", "null"],
                               "description": "the X-Request-ID of the request that caused it"},
            "payload": payload,
        },
        "required": ["event_id", "event_type", "version", "occurred_at", "producer", "correlation_id", "payload"],
    }


def asyncapi_document(catalog: EventCatalog) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every event in ``catalog``."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for contract in catalog:
        exchange = f"{contract.producer}.events"
        channel = channels.setdefault(exchange, {
            "address": exchange,
            "title": f"{contract.producer} events",
            "description": f"The events {contract.producer} publishes: a durable topic exchange, "
                           "routing key = event type.",
            "messages": {},
            "bindings": {"amqp": {"is": "routingKey", "bindingVersion": AMQP_BINDING_VERSION,
                                  "exchange": {"name": exchange, "type": "topic", "durable": True,
                                               "autoDelete": False}}},
        })
        channel["messages"][contract.key] = {"$ref": f"#/components/messages/{contract.key}"}
        schemas[contract.key] = _titled(contract)
        messages[contract.key] = {
            "name": contract.key,
            "title": f"{contract.event_type} v{contract.version}",
            "summary": contract.description,
            "contentType": "application/json",
            "payload": envelope_json_schema(contract, {"$ref": f"#/components/schemas/{contract.key}"}),
            "bindings": {"amqp": {"messageType": contract.event_type, "bindingVersion": AMQP_BINDING_VERSION}},
        }
        operation = operations.setdefault(contract.event_type, {
            "action": "send",
            "channel": {"$ref": f"#/channels/{exchange}"},
            "summary": contract.description,
            "messages": [],
            "bindings": {"amqp": {"cc": [contract.event_type], "deliveryMode": 2,
                                  "bindingVersion": AMQP_BINDING_VERSION}},
        })
        operation["messages"].append({"$ref": f"#/channels/{exchange}/messages/{contract.key}"})
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": "CRM Suite events", "version": "v1", "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def _json_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def contract_files(catalog: EventCatalog) -> dict[str, str]:
    """The export, by path relative to its directory: ``asyncapi.json`` and
    ``events/<event_type>.v<N>.json`` for each contract."""
    files = {"asyncapi.json": _json_text(asyncapi_document(catalog))}
    for contract in catalog:
        files[f"events/{contract.key}.json"] = _json_text(event_json_schema(contract))
    return files


def export(directory: Path, catalog: EventCatalog) -> list[Path]:
    """Write :func:`contract_files` under ``directory``; remove the event schemas
    no contract makes any more. Returns the files written."""
    written = []
    for name, text in contract_files(catalog).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    for stale in set((directory / "events").glob("*.json")) - set(written):
        stale.unlink()
    return written


# --- A consumer's reading against an exported document -------------------------


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def _accepts(reader: set[str], sent: set[str]) -> bool:
    return not reader or sent <= reader | ({"integer"} if "number" in reader else set())


def _shape_problems(sent: dict[str, Any], read: dict[str, Any], where: str) -> list[str]:
    """Where a value the producer may send (``sent``) would not load as the consumer reads it (``read``)."""
    if not _accepts(_types(read), _types(sent)):
        return [f"{where} is {sorted(_types(sent))} at the producer, the consumer reads {sorted(_types(read))}"]
    problems = []
    if read.get("format") and sent.get("format") != read["format"]:
        problems.append(f"{where} has format {sent.get('format')!r} at the producer, the consumer reads "
                        f"{read['format']!r}")
    if "enum" in read and not set(sent.get("enum", [None])) <= set(read["enum"]):
        problems.append(f"{where} may be {sent.get('enum', 'any value')} at the producer, the consumer reads "
                        f"only {read['enum']}")
    if "items" in read and "items" in sent:
        problems += _shape_problems(sent["items"], read["items"], f"{where}[]")
    if "properties" in read:
        problems += _object_problems(sent, read, where)
    return problems


def _object_problems(sent: dict[str, Any], read: dict[str, Any], where: str) -> list[str]:
    problems = []
    sent_fields, sent_required = sent.get("properties", {}), set(sent.get("required", []))
    for name, field_schema in read["properties"].items():
        path = f"{where}.{name}" if where else name
        if name not in sent_fields:
            problems.append(f"{path} is read but the producer does not publish it")
            continue
        if name in read.get("required", []) and name not in sent_required:
            problems.append(f"{path} is required by the consumer but optional at the producer")
        problems += _shape_problems(sent_fields[name], field_schema, path)
    return problems


def example_payloads(schema: dict[str, Any]) -> dict[str, Any]:
    """Payloads a producer may send by ``schema`` (a JSON Schema as exported):
    every field filled, only the required ones, and every nullable one null."""
    return {kind: _example(schema, kind) for kind in ("full", "required only", "nulls")}


_EXAMPLE_STRINGS = {"date": "2027-01-31", "date-time": "2027-01-31T09:30:00+00:00", "decimal": "1250.00",
                    "uuid": "6f1c2b1e-8d3a-4c5e-9f00-1a2b3c4d5e6f", "email": "someone@example.com"}


def _example(schema: dict[str, Any], kind: str) -> Any:
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    types = _types(schema) - {"null"}
    if "object" in types or "properties" in schema:
        required = set(schema.get("required", []))
        return {name: None if kind == "nulls" and "null" in _types(prop) else _example(prop, kind)
                for name, prop in schema.get("properties", {}).items()
                if kind != "required only" or name in required}
    if "array" in types:
        return [_example(schema.get("items", {}), kind)]
    if "string" in types:
        return _EXAMPLE_STRINGS.get(schema.get("format"), "text")
    if "integer" in types:
        return max(1, schema.get("minimum", 1))
    if "number" in types:
        return 1.5
    if "boolean" in types:
        return True
    return None


def reading_problems(bus: dict[str, Any], consumed: ConsumedEvent) -> list[str]:
    """What keeps ``consumed`` from reading the events the AsyncAPI document ``bus``
    describes, in words; empty when it reads every version it accepts.

    For each version: the event exists on its publisher's channel; every field the
    consumer requires is required at the producer; every field it reads is
    published, with a type, format and values it accepts; and example payloads
    built from the producer's schema load in the consumer's schema."""
    problems = []
    components = bus.get("components", {})
    read = payload_json_schema(consumed.schema)
    for version in consumed.versions:
        key = f"{consumed.event_type}.v{version}"
        channel = bus.get("channels", {}).get(f"{consumed.source_service}.events", {})
        if key not in components.get("messages", {}) or key not in channel.get("messages", {}):
            problems.append(f"{consumed.event_type} v{version} is not on the bus")
            continue
        sent = components["schemas"][key]
        problems += [f"{key}: {problem}" for problem in _object_problems(sent, read, "")]
        for kind, example in example_payloads(sent).items():
            try:
                schema_instance(consumed.schema).load(example)
            except ValidationError as exc:
                problems.append(f"{key}: the {kind} example payload does not load: {exc.messages}")
    return problems
