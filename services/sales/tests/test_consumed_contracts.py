"""Consumer contract tests: what sales reads from leads.lead_converted and gateway.user_changed, checked against
the exported bus document (docs/contracts/asyncapi.json as committed by its
publishers, or the file CRM_BUS_DOCUMENT names), never against a publisher's code."""
from __future__ import annotations

import pytest
from jsonschema import Draft7Validator

from crm_testkit.helpers import published_bus_document
from services.sales.contracts import CONSUMED_EVENTS
from shared.contract_docs import example_payloads, reading_problems

BUS = published_bus_document()


@pytest.mark.parametrize("consumed", CONSUMED_EVENTS, ids=lambda c: f"{c.event_type}->{c.handler}")
def test_the_bus_publishes_what_sales_reads(consumed):
    """Each version it accepts is published, every field it requires is required
    there with a type it reads, and payloads the publisher may send load."""
    assert reading_problems(BUS, consumed) == []


@pytest.mark.parametrize("consumed", CONSUMED_EVENTS, ids=lambda c: f"{c.event_type}->{c.handler}")
def test_the_example_payloads_it_is_checked_with_are_valid_at_the_publisher(consumed):
    for version in consumed.versions:
        published = BUS["components"]["schemas"][f"{consumed.event_type}.v{version}"]
        for kind, example in example_payloads(published).items():
            assert Draft7Validator(published).is_valid(example), (kind, example)

