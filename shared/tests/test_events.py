"""Contract tests of the event catalog: producers validate, v1 consumers tolerate additions."""
import uuid
from datetime import date

import pytest
from marshmallow import ValidationError

from shared.events import CATALOG, load_event, make_event

SAMPLES = {
    "leads.lead_converted": {"lead_id": "l1", "company": "Acme", "estimated_value": "10.00", "currency": "EUR",
                             "tags": ["a"]},
    "sales.contract_signed": {
        "contract_id": "c1", "account_id": "a1", "currency": "EUR", "total": "100.00", "cost": "40.00",
        "start_date": date(2027, 1, 1), "lines": [{"description": "x", "quantity": "1", "unit_price": "100.00",
                                                   "unit_cost": "40.00", "net": "100.00"}],
        "billing_frequency": "one_off", "billing_schedule": [{"due_date": date(2027, 1, 1), "amount": "100.00"}]},
}


@pytest.mark.parametrize("event_type", sorted(SAMPLES))
def test_a_v1_consumer_ignores_fields_a_producer_adds(event_type):
    message = make_event(event_type, SAMPLES[event_type]).to_message()
    message["payload"]["added_in_a_later_release"] = {"nested": True}
    message["new_envelope_field"] = "ignored"
    envelope, payload = load_event(message)
    assert "added_in_a_later_release" not in payload
    assert envelope["event_type"] == event_type and uuid.UUID(envelope["event_id"])


def test_money_travels_as_decimal_strings():
    message = make_event("sales.contract_signed", SAMPLES["sales.contract_signed"]).to_message()
    assert message["payload"]["total"] == "100.00"
    assert message["payload"]["billing_schedule"] == [{"due_date": "2027-01-01", "amount": "100.00"}]


def test_a_producer_cannot_emit_an_event_that_breaks_its_contract():
    with pytest.raises(ValidationError):
        make_event("leads.lead_converted", {"company": "no lead id"})
    with pytest.raises(KeyError):
        make_event("leads.no_such_event", {})


def test_every_catalog_event_is_versioned_and_named_by_its_producer():
    for event_type, (version, _schema) in CATALOG.items():
        service, _, name = event_type.partition(".")
        assert version >= 1 and service and "_" in name
