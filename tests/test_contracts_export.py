"""The exported contracts of the bus (docs/contracts/) are what the installed
publishers declare, valid JSON Schema and AsyncAPI, and true to the wire."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft7Validator

from shared.cli import main
from shared.contract_docs import asyncapi_document, contract_files, example_payloads
from shared.events import installed_contracts, make_event, schema_instance

EXPORT = Path(__file__).resolve().parents[1] / "docs" / "contracts"
INSTALLED = installed_contracts()
BUS = asyncapi_document(INSTALLED)


def json_files(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): path.read_text(encoding="utf-8") for path in directory.rglob("*.json")}


def test_the_committed_export_is_what_crm_contracts_export_writes(tmp_path):
    answer = CliRunner().invoke(main, ["contracts", "export", str(tmp_path / "contracts")])
    assert answer.exit_code == 0, answer.output
    generated, committed = json_files(tmp_path / "contracts"), json_files(EXPORT)
    assert generated == contract_files(INSTALLED)
    stale = sorted(name for name in set(generated) | set(committed) if generated.get(name) != committed.get(name))
    assert not stale, (f"docs/contracts is out of date with the event contracts ({', '.join(stale)}): run "
                       "`crm contracts export` at the repository root and commit docs/contracts")


def test_every_installed_publisher_is_on_the_bus_with_its_own_events():
    assert {"leads.events", "sales.events", "gateway.events"} <= set(BUS["channels"])
    for contract in INSTALLED:
        channel = BUS["channels"][f"{contract.producer}.events"]
        assert contract.key in channel["messages"]
        assert BUS["operations"][contract.event_type]["bindings"]["amqp"]["cc"] == [contract.event_type]


@pytest.mark.parametrize("contract", list(INSTALLED), ids=lambda c: c.key)
def test_each_event_is_valid_json_schema_and_its_messages_match_the_document(contract):
    schema = json.loads(contract_files(INSTALLED)[f"events/{contract.key}.json"])
    Draft7Validator.check_schema(schema)
    message_schema = json.loads(json.dumps(BUS["components"]["messages"][contract.key]["payload"]))
    message_schema["properties"]["payload"] = BUS["components"]["schemas"][contract.key]
    for kind, example in example_payloads(schema).items():
        assert Draft7Validator(schema).is_valid(example), (kind, example)
        # The publisher's own schema accepts what its JSON Schema allows, and what it
        # then sends is what the AsyncAPI document describes.
        loaded = schema_instance(contract.schema).load(example)
        message = make_event(contract, loaded, correlation_id="req-1").to_message()
        errors = [e.message for e in Draft7Validator(message_schema).iter_errors(message)]
        assert not errors, (kind, errors)
