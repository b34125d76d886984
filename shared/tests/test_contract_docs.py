"""The contracts as documents (JSON Schema, AsyncAPI) and the check of a consumer's
reading against them, on the kernel's made-up notes event."""
import json

import pytest
from jsonschema import Draft7Validator
from marshmallow import fields, validate

from shared.contract_docs import (asyncapi_document, contract_files, event_json_schema, example_payloads, export,
                                  reading_problems)
from shared.events import ConsumedEvent, EventCatalog, PayloadSchema, Str
from shared.tests.notes_contracts import BOTH_VERSIONS, NOTE_ADDED, READS_NOTE_ADDED

BUS = asyncapi_document(EventCatalog(BOTH_VERSIONS))


def test_a_payload_schema_becomes_a_valid_json_schema_with_money_as_decimal_strings():
    schema = event_json_schema(NOTE_ADDED)
    Draft7Validator.check_schema(schema)
    assert schema["title"] == "notes.note_added v1" and schema["description"] == "A note was added."
    assert schema["required"] == ["note_id", "text"]
    properties = schema["properties"]
    assert properties["cost"]["type"] == ["string", "null"] and properties["cost"]["format"] == "decimal"
    assert properties["due_on"] == {"type": ["string", "null"], "format": "date", "default": None}
    validator = Draft7Validator(schema)
    assert validator.is_valid({"note_id": "n-1", "text": "x", "cost": "12.50", "due_on": None})
    assert not validator.is_valid({"note_id": "n-1", "text": "x", "cost": 12.5})


def test_the_bus_document_has_a_channel_per_exchange_and_an_operation_per_event_type():
    assert BUS["asyncapi"] == "3.0.0"
    channel = BUS["channels"]["notes.events"]
    assert channel["address"] == "notes.events"
    assert channel["bindings"]["amqp"]["exchange"] == {"name": "notes.events", "type": "topic", "durable": True,
                                                       "autoDelete": False}
    assert set(channel["messages"]) == {"notes.note_added.v1", "notes.note_added.v2"}
    operation = BUS["operations"]["notes.note_added"]
    assert operation["action"] == "send" and operation["channel"] == {"$ref": "#/channels/notes.events"}
    assert operation["bindings"]["amqp"]["cc"] == ["notes.note_added"]
    assert len(operation["messages"]) == 2
    envelope = BUS["components"]["messages"]["notes.note_added.v2"]["payload"]
    assert envelope["properties"]["version"]["const"] == 2
    assert envelope["properties"]["payload"] == {"$ref": "#/components/schemas/notes.note_added.v2"}


def test_example_payloads_follow_the_schema():
    schema = event_json_schema(NOTE_ADDED)
    examples = example_payloads(schema)
    for example in examples.values():
        assert Draft7Validator(schema).is_valid(example), example
    assert examples["required only"] == {"note_id": "text", "text": "text"}
    assert examples["nulls"]["cost"] is None and examples["full"]["cost"] == "1250.00"


def test_export_writes_every_document_and_removes_stale_ones(tmp_path):
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "notes.note_removed.v1.json").write_text("{}")
    export(tmp_path, EventCatalog(BOTH_VERSIONS))
    assert sorted(p.name for p in (tmp_path / "events").iterdir()) == ["notes.note_added.v1.json",
                                                                     "notes.note_added.v2.json"]
    assert json.loads((tmp_path / "asyncapi.json").read_text()) == BUS
    assert (tmp_path / "asyncapi.json").read_text() == contract_files(EventCatalog(BOTH_VERSIONS))["asyncapi.json"]


def test_a_reading_of_what_is_published_has_no_problems():
    assert reading_problems(BUS, READS_NOTE_ADDED) == []


def reading(**fields_read):
    return ConsumedEvent("notes.note_added", (1,), type("Reading", (PayloadSchema,), fields_read), "on_note_added")


@pytest.mark.parametrize("consumed, problem", [
    (ConsumedEvent("notes.note_added", (3,), READS_NOTE_ADDED.schema, "h"), "notes.note_added v3 is not on the bus"),
    (ConsumedEvent("notes.note_edited", (1,), READS_NOTE_ADDED.schema, "h"), "notes.note_edited v1 is not on the bus"),
    (reading(author=fields.String(required=True)), "author is required by the consumer but optional at the producer"),
    (reading(title=Str()), "title is read but the producer does not publish it"),
    (reading(text=fields.Integer()), "text is ['string'] at the producer, the consumer reads ['integer']"),
    (reading(author=fields.String()), "author is ['null', 'string'] at the producer, the consumer reads ['string']"),
    (reading(due_on=fields.AwareDateTime(allow_none=True)), "due_on has format 'date' at the producer"),
    (reading(text=fields.String(validate=validate.OneOf(["hello"]))),
     "text may be any value at the producer, the consumer reads only ['hello']"),
    (reading(text=fields.String(validate=validate.Length(max=2))), "the full example payload does not load"),
])
def test_a_reading_the_bus_cannot_satisfy_is_named(consumed, problem):
    problems = reading_problems(BUS, consumed)
    assert any(problem in found for found in problems), problems
