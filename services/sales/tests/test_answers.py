"""Answers: dumped once, by the service, through the ``...Out`` schema the API
documents; the gateway dumps what arrives over RPC through that schema again."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from services.sales import schemas as s
from services.sales.models import Activity
from services.sales.tests.conftest import ADMIN, REP


def test_times_go_out_in_utc_whatever_the_record_holds():
    """A time set in code may be naive (taken as UTC) or carry another offset."""
    activity = Activity(id="a-1", account_id="acc-1", type="call", duration_minutes=30, cost=Decimal("12.50"),
                        due_at=datetime(2026, 1, 5, 10, 0, tzinfo=timezone(timedelta(hours=2))),
                        created_at=datetime(2026, 1, 5, 7, 30))
    answer = s.dump(s.SalesActivityOut(), activity)
    assert answer["due_at"] == "2026-01-05T08:00:00+00:00"
    assert answer["created_at"] == "2026-01-05T07:30:00+00:00"
    assert answer["outcome_at"] is None and answer["cost"] == "12.50"


def test_the_gateway_dumping_an_answer_again_changes_nothing(service):
    product = service.create_product(ADMIN, {"sku": "UMB-1", "name": "Umbrella", "list_price": "99.90",
                                             "unit_cost": "40.00", "currency": "EUR"})
    account = service.create_account(REP, {"name": "Umbrella Corp",
                                           "next_contact_on": (date.today() - timedelta(days=3)).isoformat()})
    contact = service.create_contact(REP, {"name": "Ada", "account_id": account["id"], "roles": ["buyer"]})
    opportunity = service.create_opportunity(REP, {
        "name": "Umbrellas", "account_id": account["id"], "contact_id": contact["id"], "currency": "EUR",
        "lines": [{"product_id": product["id"], "description": "Umbrella", "quantity": "3",
                   "unit_price": "99.90", "discount_pct": "5", "unit_cost": "40.00"}]})
    moved = service.move_stage(REP, opportunity["id"], "qualification")
    quote = service.create_quote(REP, opportunity["id"], (date.today() + timedelta(days=7)).isoformat())
    service.decide_quote(REP, quote["id"], "sent")
    accepted = service.decide_quote(REP, quote["id"], "accepted")
    signed = service.sign_contract(REP, accepted["contract_id"])
    activity = service.log_activity(REP, {"type": "call", "account_id": account["id"], "outcome": "call back"})
    selection = service.save_selection(REP, {"name": "Buyers", "target": "contacts",
                                             "criteria": {"roles": ["buyer"]}})
    target = service.create_target(REP, {"period": "month", "period_start": "2027-01-01", "currency": "EUR",
                                         "lines": [{"label": "Umbrellas", "revenue": "1000.00"}]})
    [follow_up] = service.follow_ups(REP, {"as_of": (date.today() + timedelta(days=400)).isoformat()},
                                     50, 0)["items"]
    [row] = service.consolidated_targets(REP, {"status": "draft"}, "rep")
    assert moved["lines"] and len(moved["stage_history"]) == 2 and contact["accounts"] and signed["lines"]
    for schema, answer in ((s.ProductOut(), product), (s.AccountOut(), account), (s.ContactOut(), contact),
                           (s.OpportunityOut(), moved), (s.QuoteOut(), accepted), (s.ContractOut(), signed),
                           (s.SalesActivityOut(), activity), (s.SelectionOut(), selection),
                           (s.TargetOut(), target), (s.FollowUpOut(), follow_up), (s.ConsolidatedRow(), row),
                           (s.PipelineOut(), service.list_pipelines(REP)[0])):
        over_the_wire = json.loads(json.dumps(answer))  # plain JSON: no Decimal, date or datetime left
        assert over_the_wire == answer, type(schema).__name__
        assert schema.dump(over_the_wire) == answer, type(schema).__name__
        assert set(answer) == set(schema.fields), type(schema).__name__
