"""Consumer contract tests: what leads reads from gateway.user_changed, checked against
the exported bus document (docs/contracts/asyncapi.json as committed by its
publishers, or the file CRM_BUS_DOCUMENT names), never against a publisher's code."""
from __future__ import annotations

import pytest

from crm_testkit.helpers import published_bus_document
from services.leads.contracts import CONSUMED_EVENTS
from shared.contract_docs import reading_problems

BUS = published_bus_document()


@pytest.mark.parametrize("consumed", CONSUMED_EVENTS, ids=lambda c: f"{c.event_type}->{c.handler}")
def test_the_bus_publishes_what_leads_reads(consumed):
    """Each version it accepts is published, every field it requires is required
    there with a type it reads, and payloads the publisher may send load (that those
    example payloads are valid at the publisher is checked once, for every event,
    by tests/test_contracts_export.py)."""
    assert reading_problems(BUS, consumed) == []

