"""The first flow across services, through the gateway: a converted lead becomes
an account and an opportunity in sales, moves through a company's own pipeline,
is quoted, won, and its signed contract reaches the bus for finance."""
from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from decimal import Decimal

from kombu import Connection, Queue

from shared.outbox import event_exchange
from tests.helpers import wait_for
from tests.test_e2e_leads import get, make_team, make_user, post, unique_company


def patch(suite, path, body, key=None):
    return suite.client.patch(path, data=json.dumps(body), headers=suite.headers(key, **{"Content-Type": "application/json"}))


def test_the_walk_from_lead_to_signed_contract(suite):
    with Connection(suite.env["AMQP_URI"]) as conn:
        watch = Queue(f"watch-signed-{uuid.uuid4().hex[:6]}", exchange=event_exchange("sales.events"),
                      routing_key="sales.contract_signed", auto_delete=True)
        watch(conn.default_channel).declare()

        name = f"Deals {uuid.uuid4().hex[:6]}"
        pipeline = post(suite, "/api/v1/pipelines", {"name": name, "is_default": False, "stages": [
            {"key": "new", "name": "New", "probability": 10},
            {"key": "offer", "name": "Offer", "probability": 60,
             "required_fields": ["amount", "currency", "expected_close_date", "next_step"]}]})
        assert pipeline.status_code == 201, pipeline.get_json()
        bad = post(suite, "/api/v1/pipelines", {"name": f"{name} bad", "stages": [
            {"key": "a", "name": "A", "probability": 50}, {"key": "b", "name": "B", "probability": 20}]})
        assert bad.status_code == 422

        _, rep_key = make_user(suite, "rep", make_team(suite))
        company = unique_company()
        lead = post(suite, "/api/v1/leads", {"company": company, "contact_name": "Ewa Nowak",
                                             "estimated_value": "24000.00", "currency": "EUR"}, key=rep_key).get_json()
        for step in ("qualify", "convert"):
            assert post(suite, f"/api/v1/leads/{lead['id']}/{step}", key=rep_key).status_code == 200

        def opportunity_for_lead():
            items = get(suite, "/api/v1/opportunities", key=rep_key).get_json()["items"]
            return next((o for o in items if o["name"] == company), None)

        seen = wait_for(opportunity_for_lead, message="sales to open the opportunity from leads.lead_converted")
        assert seen["amount"] == "24000.00" and seen["stage"] == "prospecting"
        account = get(suite, f"/api/v1/accounts/{seen['account_id']}", key=rep_key).get_json()
        assert account["name"] == company and account["source_lead_id"] == lead["id"]

        opportunity = post(suite, "/api/v1/opportunities", {
            "name": f"{company} expansion", "account_id": account["id"],
            "pipeline_id": pipeline.get_json()["id"]}, key=rep_key).get_json()
        refused = post(suite, f"/api/v1/opportunities/{opportunity['id']}/stage", {"stage": "offer"}, key=rep_key)
        assert refused.status_code == 422
        assert set(refused.get_json()["errors"]) == {"amount", "currency", "expected_close_date", "next_step"}
        filled = patch(suite, f"/api/v1/opportunities/{opportunity['id']}", {
            "version": opportunity["version"], "currency": "EUR", "next_step": "send offer",
            "expected_close_date": (date.today() + timedelta(days=30)).isoformat(),
            "lines": [{"description": "Platform licence", "quantity": "12", "unit_price": "500.00",
                       "unit_cost": "120.00"}]}, key=rep_key)
        assert filled.status_code == 200 and filled.get_json()["amount"] == "6000.00"
        moved = post(suite, f"/api/v1/opportunities/{opportunity['id']}/stage", {"stage": "offer"}, key=rep_key)
        assert moved.status_code == 200 and moved.get_json()["probability"] == 60

        quote = post(suite, "/api/v1/quotes", {"opportunity_id": opportunity["id"],
                                                "valid_until": (date.today() + timedelta(days=14)).isoformat()},
                     key=rep_key).get_json()
        assert post(suite, f"/api/v1/quotes/{quote['id']}/send", key=rep_key).status_code == 200
        accepted = post(suite, f"/api/v1/quotes/{quote['id']}/accept", key=rep_key).get_json()
        assert get(suite, f"/api/v1/opportunities/{opportunity['id']}", key=rep_key).get_json()["status"] == "won"
        contract = get(suite, f"/api/v1/contracts/{accepted['contract_id']}", key=rep_key).get_json()
        start = date.today().replace(day=1) + timedelta(days=32)
        start = start.replace(day=1)
        end = (start + timedelta(days=370)).replace(day=1) - timedelta(days=1)
        monthly = patch(suite, f"/api/v1/contracts/{contract['id']}", {
            "version": contract["version"], "start_date": start.isoformat(), "end_date": end.isoformat(),
            "billing_frequency": "monthly"}, key=rep_key)
        assert monthly.status_code == 200, monthly.get_json()
        schedule = monthly.get_json()["schedule"]
        assert len(schedule) == 12 and sum(Decimal(i["amount"]) for i in schedule) == Decimal("6000.00")
        signed = post(suite, f"/api/v1/contracts/{contract['id']}/sign", key=rep_key)
        assert signed.status_code == 200 and signed.get_json()["status"] == "signed"

        message = conn.SimpleQueue(watch).get(timeout=20)
        event = json.loads(message.body) if isinstance(message.body, (str, bytes)) else message.body
        assert event["event_type"] == "sales.contract_signed"
        assert event["payload"]["contract_id"] == contract["id"]
        assert event["payload"]["total"] == "6000.00" and len(event["payload"]["billing_schedule"]) == 12
