"""The sales service's use cases through its entrypoints, on a real PostgreSQL database."""
from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from services.sales.models import metadata
from services.sales.tests.conftest import ADMIN, MANAGER, REP, person
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
    listed = {q["id"]: q for q in service.list_quotes(REP, opportunity["id"])}
    assert listed[quote["id"]]["contract_id"] == accepted["contract_id"]  # still shown when listed later
    assert len(listed) == 2 and all(q["contract_id"] is None for i, q in listed.items() if i != quote["id"])
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
        service.get_opportunity(replace(REP, user_id="rep-2"), opportunity["id"])
    manager = person("m", "manager", team_id="team-a")
    assert service.get_opportunity(manager, opportunity["id"])["id"] == opportunity["id"]
    partner = person("p", "partner", partner_id="partner-x")
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
    ended = service.create_contract(REP, {
        "account_id": account["id"], "currency": "EUR", "start_date": (date.today() - timedelta(days=60)).isoformat(),
        "end_date": (date.today() - timedelta(days=1)).isoformat(), "billing_frequency": "one_off",
        "lines": [{"description": "Past", "quantity": "1", "unit_price": "5.00", "unit_cost": "1.00"}]})
    service.sign_contract(REP, ended["id"])
    renewals = service.list_contracts(REP, {"renewal_within_days": 30}, 50, 0)["items"]
    assert [c["id"] for c in renewals] == [soon["id"]]  # not the one that already ended


def test_an_activity_with_an_outcome_is_a_contact_that_plans_the_next_one(service, sales_db):
    account = service.create_account(REP, {"name": "Soylent", "competition_level": "high",
                                           "repeat_purchase_probability": 50})
    assert account["next_contact_on"] == (date.today() + timedelta(days=30)).isoformat()
    opportunity = service.create_opportunity(REP, {"name": "Soylent deal", "account_id": account["id"]})
    planned = service.log_activity(REP, {"opportunity_id": opportunity["id"], "type": "call",
                                         "due_at": "2026-01-05T09:00:00+00:00"})
    assert planned["account_id"] == account["id"] and planned["outcome"] is None
    assert events(sales_db, "sales.activity_logged") == []
    done = service.record_activity_outcome(REP, planned["id"], "interested, send offer")
    assert done["outcome"] == "interested, send offer"
    [logged] = events(sales_db, "sales.activity_logged")
    assert logged["payload"]["account_id"] == account["id"]
    assert logged["payload"]["opportunity_id"] == opportunity["id"] and logged["payload"]["type"] == "call"
    after = service.get_account(REP, account["id"])
    assert after["last_contacted_on"] == "2026-01-05"
    assert after["next_contact_on"] == "2026-02-04"  # 30 days after the contact: high competition
    with pytest.raises(Conflict):
        service.record_activity_outcome(REP, planned["id"], "again")
    with pytest.raises(NotFound):
        service.record_activity_outcome(replace(REP, user_id="rep-2"), planned["id"], "not mine")
    listed = service.list_activities(REP, {"account_id": account["id"]}, 50, 0)
    assert [a["id"] for a in listed["items"]] == [planned["id"]]


def test_overdue_follow_ups_per_rep(service, roster):
    overdue = service.create_account(REP, {"name": "Overdue Ltd", "next_contact_on": "2026-01-01"})
    service.create_account(REP, {"name": "Later Ltd", "next_contact_on": "2099-01-01"})
    service.create_account(replace(REP, user_id="rep-2"), {"name": "Other rep", "next_contact_on": "2026-01-01"})
    result = service.follow_ups(REP, {"as_of": "2026-01-11"}, 50, 0)
    assert [(a["name"], a["days_overdue"]) for a in result["items"]] == [("Overdue Ltd", 10)]
    changed = service.update_account(REP, overdue["id"], {"competition_level": "low"})
    assert changed["next_contact_on"] > date.today().isoformat()
    assert service.follow_ups(REP, {"as_of": "2026-01-11"}, 50, 0)["total"] == 0
    roster("rep-2")
    with pytest.raises(Forbidden) as refused:  # a rep hands accounts to nobody
        service.update_account(REP, overdue["id"], {"owner_id": "rep-2"})
    assert "owner_id" in refused.value.errors
    with pytest.raises(Invalid) as caught:
        service.update_account(REP, overdue["id"], {"repeat_purchase_probability": 140})
    assert "repeat_purchase_probability" in caught.value.errors


def test_signing_records_what_was_bought_and_selections_find_it(service):
    kit = service.create_product(ADMIN, {"sku": "KIT-1", "name": "Starter kit", "list_price": "100.00",
                                         "unit_cost": "40.00", "currency": "EUR", "life_cycle_days": 200,
                                         "line_of_business": "hardware"})
    buyer = service.create_account(REP, {"name": "Buyer GmbH", "segment": "smb", "tags": ["vip", "north"]})
    service.create_account(REP, {"name": "Browser GmbH", "segment": "smb", "tags": ["north"]})
    contact = service.create_contact(REP, {"name": "Ada", "interests": ["iot", "security"],
                                           "account_id": buyer["id"], "roles": ["decision_maker"]})
    contract = service.create_contract(REP, {
        "account_id": buyer["id"], "currency": "EUR", "start_date": date.today().isoformat(),
        "billing_frequency": "one_off",
        "lines": [{"product_id": kit["id"], "description": "Kit", "quantity": "3", "unit_price": "100.00",
                   "unit_cost": "40.00"}]})
    service.sign_contract(REP, contract["id"])
    bought = service.get_account(REP, buyer["id"])
    assert bought["lifecycle"] == "customer" and bought["lifetime_value"] == "300.00"
    assert bought["last_purchase_on"] == date.today().isoformat()
    assert bought["next_contact_on"] == (date.today() + timedelta(days=60)).isoformat()

    def names(criteria, target="accounts"):
        return sorted(i["name"] for i in service.search_customers(REP, target, criteria, 50, 0)["items"])

    assert names({"tags": ["north"]}) == ["Browser GmbH", "Buyer GmbH"]
    assert names({"products": ["KIT-1"]}) == ["Buyer GmbH"]
    assert names({"products": [kit["id"]], "lifetime_value_min": "250"}) == ["Buyer GmbH"]
    assert names({"lifetime_value_min": "301"}) == []
    assert names({"interests": ["security"]}) == ["Buyer GmbH"]
    assert names({"last_contact_before": "2100-01-01", "segment": "smb"}) == ["Browser GmbH", "Buyer GmbH"]
    assert names({"last_purchase_after": date.today().isoformat()}) == ["Buyer GmbH"]
    assert names({"interests": ["iot"], "roles": ["decision_maker"]}, "contacts") == ["Ada"]
    assert names({"roles": ["decision_maker"]}) == ["Buyer GmbH"]
    assert names({"roles": ["payer"]}) == []
    with pytest.raises(Invalid):
        service.search_customers(REP, "planets", {}, 50, 0)
    assert names({"tags": ["vip"]}, "contacts") == ["Ada"]
    assert names({"tags": ["vip%"]}) == []  # LIKE wildcards in a value are literal
    assert service.search_customers(replace(REP, user_id="rep-2"), "accounts", {"tags": ["north"]}, 50, 0)["total"] == 0
    with pytest.raises(Invalid) as caught:
        service.search_customers(REP, "accounts", {"lifetime_value_min": "lots"}, 50, 0)
    assert "lifetime_value_min" in caught.value.errors

    saved = service.save_selection(REP, {"name": "North VIPs", "target": "accounts",
                                         "criteria": {"tags": ["north", "vip"], "segment": "smb"}})
    assert saved["count"] == 2
    with pytest.raises(Conflict):
        service.save_selection(REP, {"name": "North VIPs", "target": "accounts", "criteria": {}})
    assert [s["name"] for s in service.list_selections(REP, 50, 0)["items"]] == ["North VIPs"]
    service.create_account(REP, {"name": "Newcomer GmbH", "segment": "smb", "tags": ["vip"]})
    assert service.selection_results(REP, saved["id"], 50, 0)["total"] == 3  # the criteria run again
    with pytest.raises(NotFound):
        service.get_selection(replace(REP, user_id="rep-2"), saved["id"])
    service.delete_selection(REP, saved["id"])
    assert service.list_selections(REP, 50, 0)["total"] == 0
    assert contact["accounts"][0]["roles"] == ["decision_maker"]


def test_products_filter_sort_and_deactivate(service):
    for sku, name, line, price in (("A-1", "Alpha", "software", "10.00"), ("B-1", "Beta", "hardware", "30.00"),
                                   ("C-1", "Gamma", "software", "20.00")):
        service.create_product(ADMIN, {"sku": sku, "name": name, "line_of_business": line, "list_price": price,
                                       "unit_cost": "1.00", "currency": "EUR"})
    software = service.list_products(REP, {"line_of_business": "software", "sort": "-list_price"}, 50, 0)
    assert [p["sku"] for p in software["items"]] == ["C-1", "A-1"]
    beta = service.list_products(REP, {"q": "bet"}, 50, 0)["items"][0]
    with pytest.raises(Forbidden):
        service.update_product(REP, beta["id"], {"active": False})
    assert service.update_product(ADMIN, beta["id"], {"active": False, "list_price": "35.00"})["list_price"] == "35.00"
    assert [p["sku"] for p in service.list_products(REP, {}, 50, 0)["items"]] == ["A-1", "C-1"]
    assert len(service.list_products(REP, {"active_only": False}, 50, 0)["items"]) == 3
    with pytest.raises(Invalid) as caught:
        service.list_products(REP, {"sort": "unit_cost; drop table products"}, 50, 0)
    assert "sort" in caught.value.errors


def test_targets_flow_from_draft_to_approved_without_doubtful_lines(service, sales_db, roster):
    rep = replace(REP, branch_id="branch-1")
    draft = service.create_target(rep, {"period": "month", "period_start": "2027-01-01", "currency": "EUR",
                                        "lines": [{"label": "Licences", "revenue": "10000.00", "margin": "6000.00"},
                                                  {"label": "Maybe Globex", "revenue": "5000.00",
                                                   "margin": "2000.00", "doubtful": True}]})
    assert draft["status"] == "draft" and draft["period_end"] == "2027-01-31"
    assert draft["totals"]["revenue"] == "15000.00" and draft["totals"]["planned_revenue"] == "10000.00"
    with pytest.raises(Conflict):
        service.create_target(rep, {"period": "month", "period_start": "2027-01-01", "currency": "EUR",
                                    "lines": [{"label": "Again", "revenue": "1.00"}]})
    with pytest.raises(Invalid) as caught:
        service.create_target(rep, {"period": "week", "period_start": "2027-01-01", "currency": "EUR",
                                    "lines": [{"label": "x", "revenue": "1.00"}]})
    assert "period_start" in caught.value.errors
    with pytest.raises(Conflict):
        service.approve_target(MANAGER, draft["id"])  # not submitted yet
    service.submit_target(rep, draft["id"])
    with pytest.raises(NotFound):
        service.approve_target(replace(REP, user_id="rep-9"), draft["id"])
    with pytest.raises(Forbidden):
        service.approve_target(rep, draft["id"])  # nobody approves their own plan
    with pytest.raises(NotFound):
        service.approve_target(replace(MANAGER, team_id="team-b", user_id="mgr-b"), draft["id"])
    with pytest.raises(Forbidden):
        service.approve_target(person("ops-1", "ops"), draft["id"])
    rejected = service.reject_target(MANAGER, draft["id"], "too modest")
    assert rejected["status"] == "draft" and rejected["review_note"] == "too modest"
    raised = service.update_target(rep, draft["id"], {"version": rejected["version"], "lines": [
        {"label": "Licences", "revenue": "12000.00", "margin": "7000.00"},
        {"label": "Maybe Globex", "revenue": "5000.00", "margin": "2000.00", "doubtful": True}]})
    with pytest.raises(Conflict):
        service.update_target(rep, draft["id"], {"version": rejected["version"], "currency": "USD"})
    service.submit_target(rep, draft["id"])
    approved = service.approve_target(MANAGER, draft["id"])
    assert approved["status"] == "approved" and approved["approved_by"] == "mgr-a"
    assert raised["version"] < approved["version"]
    [event] = events(sales_db, "sales.target_approved")
    payload = event["payload"]
    assert payload["revenue"] == "12000.00" and payload["margin"] == "7000.00"
    assert [line["label"] for line in payload["lines"]] == ["Licences"]
    assert payload["period_start"] == "2027-01-01" and payload["period_end"] == "2027-01-31"
    with pytest.raises(Conflict):
        service.update_target(rep, draft["id"], {"version": approved["version"], "currency": "USD"})

    roster("rep-2", team_id="team-a", branch_id="branch-1")
    roster("rep-7", team_id="team-z")
    other = service.create_target(MANAGER, {"owner_id": "rep-2", "period": "month",
                                            "period_start": "2027-01-01", "currency": "EUR",
                                            "lines": [{"label": "Services", "revenue": "3000.00",
                                                       "margin": "1000.00"}]})
    assert (other["team_id"], other["branch_id"]) == ("team-a", "branch-1")  # from the roster
    with pytest.raises(Forbidden):
        service.create_target(MANAGER, {"owner_id": "rep-7", "period": "month",
                                        "period_start": "2027-01-01", "currency": "EUR",
                                        "lines": [{"label": "x", "revenue": "1.00"}]})
    service.submit_target(MANAGER, other["id"])
    team = service.consolidated_targets(MANAGER, {"period": "month"}, "team")
    assert [(r["group_id"], r["planned_revenue"], r["targets"]) for r in team] == [("team-a", "12000.00", 1)]
    service.approve_target(ADMIN, other["id"])
    [branch] = service.consolidated_targets(ADMIN, {"from": "2027-01-01", "to": "2027-03-31"}, "branch")
    assert branch["group_id"] == "branch-1" and branch["planned_revenue"] == "15000.00"
    assert branch["planned_margin"] == "8000.00" and branch["targets"] == 2
    assert service.list_targets(replace(REP, user_id="rep-2"), {}, 50, 0)["total"] == 1
    assert service.list_targets(MANAGER, {"status": "approved"}, 50, 0)["total"] == 2
    partner = person("p", "partner", partner_id="px")
    with pytest.raises(Forbidden):
        service.list_targets(partner, {}, 50, 0)


def test_a_contact_holds_roles_at_several_accounts(service):
    first = service.create_account(REP, {"name": "First Co"})
    second = service.create_account(REP, {"name": "Second Co"})
    contact = service.create_contact(REP, {"name": "Grace", "account_id": first["id"], "roles": ["influencer"]})
    linked = service.link_contact(REP, contact["id"], second["id"], ["decision_maker", "payer"])
    assert {(a["account_id"], tuple(a["roles"])) for a in linked["accounts"]} == {
        (first["id"], ("influencer",)), (second["id"], ("decision_maker", "payer"))}
    with pytest.raises(Invalid):
        service.link_contact(REP, contact["id"], second["id"], ["boss"])
    changed = service.update_contact(REP, contact["id"], {"topics": ["pricing", "roadmap"]})
    assert changed["topics"] == ["pricing", "roadmap"]
    with pytest.raises(Invalid) as caught:
        service.update_contact(REP, contact["id"], {"email": "not-an-email"})
    assert "email" in caught.value.errors
    unlinked = service.link_contact(REP, contact["id"], first["id"], [])
    assert [a["account_id"] for a in unlinked["accounts"]] == [second["id"]]
    with pytest.raises(NotFound):
        service.update_contact(replace(REP, user_id="rep-2"), contact["id"], {"topics": []})


def test_new_records_go_only_to_owners_within_the_callers_reach(service, roster):
    colleague, stranger = roster("rep-2", team_id="team-a"), roster("rep-3", team_id="team-b", branch_id="b2")
    account = service.create_account(REP, {"name": "Mine Ltd"})
    for attempt in (lambda: service.create_opportunity(REP, {"name": "For rep-2", "account_id": account["id"],
                                                             "owner_id": "rep-2"}),
                    lambda: service.create_account(REP, {"name": "Theirs", "owner_id": "rep-2"}),
                    lambda: service.log_activity(REP, {"account_id": account["id"], "type": "call",
                                                       "owner_id": "rep-2"}),
                    lambda: service.create_target(REP, {"owner_id": "rep-2", "period": "month",
                                                        "period_start": "2027-01-01", "currency": "EUR",
                                                        "lines": [{"label": "x", "revenue": "1.00"}]})):
        with pytest.raises(Forbidden) as refused:
            attempt()
        assert "owner_id" in refused.value.errors
    assert service.list_opportunities(colleague, {}, 50, 0)["total"] == 0

    handed = service.create_account(MANAGER, {"name": "Team Ltd", "owner_id": "rep-2"})
    assert (handed["owner_id"], handed["team_id"]) == ("rep-2", "team-a")
    with pytest.raises(Forbidden):
        service.create_account(MANAGER, {"name": "Elsewhere", "owner_id": "rep-3"})
    with pytest.raises(Forbidden):  # the client-sent team is not believed: rep-3 is in team-b
        service.create_target(MANAGER, {"owner_id": "rep-3", "owner_team_id": "team-a", "period": "month",
                                        "period_start": "2027-01-01", "currency": "EUR",
                                        "lines": [{"label": "x", "revenue": "1.00"}]})
    with pytest.raises(Invalid) as unknown:
        service.create_target(MANAGER, {"owner_id": "ghost", "period": "month", "period_start": "2027-01-01",
                                        "currency": "EUR", "lines": [{"label": "x", "revenue": "1.00"}]})
    assert "owner_id" in unknown.value.errors
    by_admin = service.create_account(ADMIN, {"name": "Far Ltd", "owner_id": "rep-3"})
    assert (by_admin["team_id"], by_admin["branch_id"]) == ("team-b", "b2")
    assert service.get_account(stranger, by_admin["id"])["owner_id"] == "rep-3"
    moved = service.update_account(ADMIN, handed["id"], {"owner_id": "rep-3"})
    assert moved["team_id"] == "team-b"  # the account follows its new owner's team
    roster("rep-2", team_id="team-a", active=False)
    with pytest.raises(Invalid):
        service.create_account(MANAGER, {"name": "Gone", "owner_id": "rep-2"})


def test_a_target_is_approved_by_another_person_than_its_author_and_owner(service, roster):
    rep2 = roster("rep-2", team_id="team-a")
    peer = roster("mgr-a2", "manager", team_id="team-a")
    roster("mgr-a", "manager", team_id="team-a", branch_id="branch-1")
    drafted = service.create_target(MANAGER, {"owner_id": "rep-2", "period": "month",
                                              "period_start": "2027-02-01", "currency": "EUR",
                                              "lines": [{"label": "Services", "revenue": "3000.00"}]})
    service.submit_target(rep2, drafted["id"])
    with pytest.raises(Forbidden):
        service.approve_target(MANAGER, drafted["id"])  # he drafted it himself
    with pytest.raises(Forbidden):
        service.reject_target(MANAGER, drafted["id"], "mine to judge?")
    assert service.approve_target(peer, drafted["id"])["approved_by"] == "mgr-a2"

    own = service.create_target(MANAGER, {"period": "month", "period_start": "2027-02-01", "currency": "EUR",
                                          "lines": [{"label": "Key accounts", "revenue": "9000.00"}]})
    service.submit_target(MANAGER, own["id"])
    with pytest.raises(Forbidden):
        service.approve_target(MANAGER, own["id"])
    mine = service.create_target(peer, {"owner_id": "mgr-a", "period": "month", "period_start": "2027-03-01",
                                        "currency": "EUR", "lines": [{"label": "x", "revenue": "1.00"}]})
    service.submit_target(MANAGER, mine["id"])
    with pytest.raises(Forbidden):  # drafted by a peer, but still his own plan
        service.approve_target(MANAGER, mine["id"])
    assert service.approve_target(ADMIN, own["id"])["status"] == "approved"


def test_a_manager_without_a_team_reaches_only_own_records(service):
    loner = person("mgr-x", "manager", team_id=None)
    teamless = service.create_account(ADMIN, {"name": "Nobody's team"})
    assert teamless["team_id"] is None
    with pytest.raises(NotFound):
        service.get_account(loner, teamless["id"])
    with pytest.raises(NotFound):
        service.update_account(loner, teamless["id"], {"segment": "enterprise"})
    mine = service.create_account(loner, {"name": "Loner's own"})
    assert [a["id"] for a in service.list_accounts(loner, {}, 50, 0)["items"]] == [mine["id"]]
    with pytest.raises(NotFound):
        service.create_opportunity(loner, {"name": "Grab", "account_id": teamless["id"]})


def test_partners_see_neither_costs_nor_the_catalog_nor_pipelines(service):
    service.create_product(ADMIN, {"sku": "P-1", "name": "Part", "list_price": "10.00", "unit_cost": "4.00",
                                   "currency": "EUR"})
    partner = person("p", "partner", partner_id="partner-x")
    with pytest.raises(Forbidden):
        service.list_products(partner, {}, 50, 0)
    with pytest.raises(Forbidden):
        service.list_pipelines(partner)
    [product] = service.list_products(person("s-1", "support"), {}, 50, 0)["items"]
    assert "unit_cost" not in product and product["list_price"] == "10.00"
    assert service.list_products(REP, {}, 50, 0)["items"][0]["unit_cost"] == "4.00"

    service.on_lead_converted(converted(partner_id="partner-x", company="Via Partner"))
    [opportunity] = service.list_opportunities(partner, {}, 50, 0)["items"]
    priced = service.update_opportunity(ADMIN, opportunity["id"], {
        "version": opportunity["version"], "currency": "EUR",
        "lines": [{"description": "Kit", "quantity": "2", "unit_price": "100.00", "unit_cost": "30.00"}]})
    assert priced["lines"][0]["unit_cost"] == "30.00" and priced["totals"]["margin"] == "140.00"
    seen = service.get_opportunity(partner, opportunity["id"])
    assert "unit_cost" not in seen["lines"][0] and set(seen["totals"]) == {"amount"}
    assert seen["lines"][0]["net"] == "200.00"
    quote = service.create_quote(ADMIN, opportunity["id"], (date.today() + timedelta(days=9)).isoformat())
    [theirs] = service.list_quotes(partner, opportunity["id"])
    assert "cost" not in theirs and "unit_cost" not in theirs["lines"][0] and theirs["amount"] == "200.00"
    service.decide_quote(ADMIN, quote["id"], "sent")
    contract_id = service.decide_quote(ADMIN, quote["id"], "accepted")["contract_id"]
    contract = service.get_contract(partner, contract_id)
    assert "cost" not in contract and "unit_cost" not in contract["lines"][0]
    assert service.get_contract(person("f-1", "finance"), contract_id)["cost"] == "60.00"


def test_ops_only_reads_finance_and_support_read_what_the_policy_gives(service):
    account = service.create_account(REP, {"name": "Watched Ltd"})
    contact = service.create_contact(REP, {"name": "Kim", "account_id": account["id"], "roles": ["buyer"]})
    ops, finance, support = person("o-1", "ops"), person("f-1", "finance"), person("s-1", "support")
    assert service.get_account(ops, account["id"])["name"] == "Watched Ltd"
    for attempt in (lambda: service.update_account(ops, account["id"], {"segment": "x"}),
                    lambda: service.create_account(ops, {"name": "Ops Co"}),
                    lambda: service.create_contact(ops, {"name": "Nope"}),
                    lambda: service.update_contact(ops, contact["id"], {"topics": ["x"]}),
                    lambda: service.create_opportunity(ops, {"name": "Nope", "account_id": account["id"]}),
                    lambda: service.save_selection(ops, {"name": "n", "target": "accounts", "criteria": {}}),
                    lambda: service.create_product(ops, {"sku": "O", "name": "O", "list_price": "1.00",
                                                         "unit_cost": "1.00", "currency": "EUR"})):
        with pytest.raises(Forbidden):
            attempt()
    assert service.get_account(finance, account["id"])["id"] == account["id"]
    assert service.list_contacts(support, {"account_id": account["id"]}, 50, 0)["total"] == 1
    assert service.list_contracts(finance, {}, 50, 0)["total"] == 0
    with pytest.raises(Forbidden):
        service.list_contracts(support, {}, 50, 0)
    with pytest.raises(Forbidden):
        service.list_opportunities(finance, {}, 50, 0)
    with pytest.raises(Forbidden):
        service.update_account(finance, account["id"], {"segment": "x"})


def test_big_amounts_keep_their_cents_and_sort_right_on_every_backend(service):
    """A float (SQLite's NUMERIC) has about 16 digits: a lifetime value of
    119,999,999,999,999.95 would lose its cents."""
    buyer = service.create_account(REP, {"name": "Big Buyer"})

    def signed(price):
        made = service.create_contract(REP, {
            "account_id": buyer["id"], "currency": "EUR", "start_date": date.today().isoformat(),
            "billing_frequency": "one_off",
            "lines": [{"description": "Deal", "quantity": "1", "unit_price": price, "unit_cost": "0.01"}]})
        return service.sign_contract(REP, made["id"])

    signed("0.07")
    for _ in range(12):
        signed("9999999999999.99")
    assert service.get_account(REP, buyer["id"])["lifetime_value"] == "119999999999999.95"
    totals = [c["total"] for c in service.list_contracts(REP, {"sort": "total"}, 50, 0)["items"]]
    assert totals == ["0.07"] + ["9999999999999.99"] * 12
    assert [a["name"] for a in service.search_customers(
        REP, "accounts", {"lifetime_value_min": "9999999999999.99"}, 50, 0)["items"]] == ["Big Buyer"]
