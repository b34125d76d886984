"""Consumer contract tests: what finance reads from sales.account_created, sales.contract_signed and
sales.contract_terminated, checked against the exported bus document (docs/contracts/asyncapi.json as
committed by its publishers, or the file CRM_BUS_DOCUMENT names), never against a publisher's code."""
from __future__ import annotations

import pytest

from crm_testkit.helpers import published_bus_document
from services.finance.contracts import CONSUMED_EVENTS
from shared.contract_docs import reading_problems

BUS = published_bus_document()


@pytest.mark.parametrize("consumed", CONSUMED_EVENTS, ids=lambda c: f"{c.event_type}->{c.handler}")
def test_the_bus_publishes_what_finance_reads(consumed):
    """Each version it accepts is published, every field it requires is required
    there with a type it reads, and payloads the publisher may send load."""
    assert reading_problems(BUS, consumed) == []
