"""The sales service's use cases through its entrypoints, on a real PostgreSQL database."""
from __future__ import annotations

import json
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from services.sales.models import metadata
from services.sales.tests.conftest import ADMIN, REP
from shared.errors import Conflict, Forbidden, Invalid, NotFound

outbox = metadata.tables["outbox"]


def events(engine, event_type):
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.body).where(outbox.c.event_type == event_type)
                            .order_by(outbox.c.id)).scalars().all()
    return [json.loads(b) for b in rows]


def converted(lead_id=None, **extra):
    lead_id = lead_id or str(uuid.uuid4())
    return {"event_id": str(uuid.uuid4()), "event_type": "leads.lead_converted", "payload": {
        "lead_id": lead_id, "company": "Acme", "contact_name": "Jan Kowalski", "email": "jan@acme.example",
        "phone": None, "source": "web_form", "partner_id": None, "segment": "smb", "industry": None,
        "estimated_value": "12000.00", "currency": "EUR", "owner_id": "rep-1", "team_id": "team-a",
        "tags": ["vip"], "interests": [], "notes": None, **extra}}


def test_lead_converted_creates_account_contact_and_opportunity_once(service, sales_db):
    event = converted()
    service.on_lead_converted(event)
    service.on_lead_converted({**event, "event_id": str(uuid.uuid4())})  # republished under a new id
    [opportunity] = service.list_opportunities(REP, {}, 50, 0)["items"]
    assert opportunity["amount"] == "12000.00" and opportunity["stage"] == "prospecting"
    assert opportunity["owner_id"] == "rep-1" and opportunity["source"] == "web_form"
    [account] = service.list_accounts(REP, {}, 50, 0)["items"]
    assert account["name"] == "Acme" and account["tags"] == ["vip"]
    [contact] = service.list_contacts(REP, {"account_id": account["id"]}, 50, 0)["items"]
    assert contact["email"] == "jan@acme.example"
    assert len(events(sales_db, "sales.opportunity_created")) == 1
    assert len(events(sales_db, "sales.account_created")) == 1


def test_stage_gate_names_missing_fields_then_lets_the_opportunity_in(service, sales_db):
    service.create_pipeline(ADMIN, {"name": "Projects", "stages": [
        {"key": "lead", "name": "Lead", "probability": 10, "required_fields": []},
        {"key": "offer", "name": "Offer", "probability": 50,
         "required_fields": ["amount", "currency", "expected_close_date", "next_step"]}]})
    pipeline = next(p for p in service.list_pipelines(ADMIN) if p["name"] == "Projects")
    account = service.create_account(REP, {"name": "Initech"})
    opportunity = service.create_opportunity(REP, {"name": "Initech rollout", "account_id": account["id"],
                                                   "pipeline_id": pipeline["id"]})
    with pytest.raises(Invalid) as caught:
        service.move_stage(REP, opportunity["id"], "offer")
    assert set(caught.value.errors) == {"amount", "currency", "expected_close_date", "next_step"}
    filled = service.update_opportunity(REP, opportunity["id"], {
        "version": opportunity["version"], "currency": "EUR", "next_step": "demo",
        "expected_close_date": (date.today() + timedelta(days=30)).isoformat(),
        "lines": [{"description": "Licence", "quantity": "10", "unit_price": "100.00",
                   "discount_pct": "10", "unit_cost": "40.00"}]})
    assert filled["amount"] == "900.00" and filled["totals"]["margin"] == "500.00"
    moved = service.move_stage(REP, opportunity["id"], "offer")
    assert moved["stage"] == "offer" and moved["probability"] == 50
    assert [h["to"] for h in moved["stage_history"]] == ["lead", "offer"]
    [changed] = events(sales_db, "sales.opportunity_stage_changed")
    assert changed["payload"]["from"] == "lead" and changed["payload"]["to"] == "offer"


def test_quote_accept_wins_and_drafts_a_contract_that_signs_with_a_monthly_schedule(service, sales_db):
    account = service.create_account(REP, {"name": "Globex"})
    opportunity = service.create_opportunity(REP, {
        "name": "Globex support", "account_id": account["id"], "currency": "EUR",
        "lines": [{"description": "Support", "quantity": "1", "unit_price": "1000.00", "unit_cost": "300.00"}]})
    quote = service.create_quote(REP, opportunity["id"], (date.today() + timedelta(days=14)).isoformat())
    assert quote["version"] == 1 and quote["amount"] == "1000.00"
    assert service.create_quote(REP, opportunity["id"], (date.today() + timedelta(days=14)).isoformat())["version"] == 2
    with pytest.raises(Conflict):
        service.decide_quote(REP, quote["id"], "accepted")  # a draft must be sent first
    service.decide_quote(REP, quote["id"], "sent")
    accepted = service.decide_quote(REP, quote["id"], "accepted")
    assert service.get_opportunity(REP, opportunity["id"])["status"] == "won"
    contract = service.get_contract(REP, accepted["contract_id"])
    assert contract["status"] == "draft" and contract["total"] == "1000.00"
    start = date(2027, 1, 31)
    contract = service.update_contract(REP, contract["id"], {
        "version": contract["version"], "start_date": start.isoformat(),
        "end_date": date(2027, 4, 29).isoformat(), "billing_frequency": "monthly"})
    assert [i["amount"] for i in contract["schedule"]] == ["333.33", "333.33", "333.34"]
    with pytest.raises(Invalid) as caught:
        service.update_contract(REP, contract["id"], {
            "version": contract["version"], "billing_frequency": "instalments",
            "instalments": [{"due_date": "2027-02-01", "amount": "500.00"}]})
    assert "instalments" in caught.value.errors
    signed = service.sign_contract(REP, contract["id"])
    assert signed["status"] == "signed"
    [event] = events(sales_db, "sales.contract_signed")
    payload = event["payload"]
    assert payload["total"] == "1000.00" and payload["billing_frequency"] == "monthly"
    assert [i["due_date"] for i in payload["billing_schedule"]] == ["2027-01-31", "2027-02-28", "2027-03-31"]
    assert payload["lines"][0]["unit_cost"] == "300.00"
    with pytest.raises(Conflict):
        service.sign_contract(REP, contract["id"])
    terminated = service.terminate_contract(REP, contract["id"], "2027-03-01", "customer moved")
    assert terminated["status"] == "terminated"
    assert len(events(sales_db, "sales.contract_terminated")) == 1


def test_lost_needs_a_reason_and_scoping_hides_other_reps_records(service):
    account = service.create_account(REP, {"name": "Hooli"})
    opportunity = service.create_opportunity(REP, {"name": "Hooli deal", "account_id": account["id"]})
    with pytest.raises(NotFound):
        service.get_opportunity({**REP, "user_id": "rep-2"}, opportunity["id"])
    manager = {"user_id": "m", "role": "manager", "team_id": "team-a", "partner_id": None}
    assert service.get_opportunity(manager, opportunity["id"])["id"] == opportunity["id"]
    partner = {"user_id": "p", "role": "partner", "team_id": None, "partner_id": "partner-x"}
    with pytest.raises(NotFound):
        service.get_opportunity(partner, opportunity["id"])
    service.on_lead_converted(converted(partner_id="partner-x", company="Via Partner"))
    [theirs] = service.list_opportunities(partner, {}, 50, 0)["items"]
    assert theirs["name"] == "Via Partner"
    with pytest.raises(Forbidden):
        service.mark_lost(partner, theirs["id"], "no", None)
    with pytest.raises(Invalid):
        service.mark_lost(REP, opportunity["id"], "", None)
    lost = service.mark_lost(REP, opportunity["id"], "price", "Initrode")
    assert lost["status"] == "lost" and lost["lost_to_competitor"] == "Initrode"
    with pytest.raises(Conflict):
        service.mark_won(REP, opportunity["id"])


def test_renewals_list_shows_signed_contracts_ending_soon(service):
    account = service.create_account(REP, {"name": "Umbrella"})
    soon = service.create_contract(REP, {
        "account_id": account["id"], "currency": "EUR", "start_date": date.today().isoformat(),
        "end_date": (date.today() + timedelta(days=20)).isoformat(), "billing_frequency": "one_off",
        "lines": [{"description": "Pilot", "quantity": "1", "unit_price": "50.00", "unit_cost": "10.00"}]})
    service.sign_contract(REP, soon["id"])
    later = service.create_contract(REP, {
        "account_id": account["id"], "currency": "EUR", "start_date": date.today().isoformat(),
        "end_date": (date.today() + timedelta(days=300)).isoformat(), "billing_frequency": "one_off",
        "lines": [{"description": "Year", "quantity": "1", "unit_price": "500.00", "unit_cost": "100.00"}]})
    service.sign_contract(REP, later["id"])
    renewals = service.list_contracts(REP, {"renewal_within_days": 30}, 50, 0)["items"]
    assert [c["id"] for c in renewals] == [soon["id"]]
