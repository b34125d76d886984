"""The first flow across services, through the gateway: a converted lead becomes
an account and an opportunity in sales, moves through a company's own pipeline,
is quoted, won, and its signed contract reaches the bus for finance."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from kombu import Connection, Queue

from crm_testkit.helpers import wait_for
from shared.outbox import event_exchange
from shared.policy import POLICY
from tests.conftest import BACKENDS, suite_on
from tests.test_e2e_leads import get, make_team, make_user, post, unique_company



@pytest.fixture(scope="module", params=BACKENDS)
def suite(request, suite):
    """Each test here runs on PostgreSQL and on the SQLite default."""
    return suite_on(request, suite)


def patch(suite, path, body, key=None):
    return suite.client.patch(path, data=json.dumps(body), headers=suite.headers(key, **{"Content-Type": "application/json"}))


def test_the_walk_from_lead_to_signed_contract(suite):
    with Connection(suite.env["AMQP_URI"]) as conn:
        watch = Queue(f"watch-signed-{uuid.uuid4().hex[:6]}", exchange=event_exchange("sales.events"),
                      routing_key="sales.contract_signed", auto_delete=True)
        watch(conn.default_channel).declare()
        watcher = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "events", "watch", "sales.contract_signed", "--count", "1",
             "--timeout", "60"], env=suite.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert "watching" in watcher.stderr.readline()  # bound before anything is signed

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
        printed, _ = watcher.communicate(timeout=30)
        assert json.loads(printed)["payload"]["contract_id"] == contract["id"]  # what `crm events watch` shows


def test_accounts_activities_selections_and_targets_through_the_gateway(suite):
    team = make_team(suite)
    rep, rep_key = make_user(suite, "rep", team)
    manager, manager_key = make_user(suite, "manager", team)
    tag = f"t{uuid.uuid4().hex[:6]}"

    sku = f"SKU-{uuid.uuid4().hex[:6]}"
    product = post(suite, "/api/v1/products", {"sku": sku, "name": "Sensor pack", "list_price": "80.00",
                                                "unit_cost": "30.00", "currency": "EUR", "life_cycle_days": 120,
                                                "line_of_business": tag}, key=manager_key)
    assert product.status_code == 201, product.get_json()
    assert post(suite, "/api/v1/products", {"sku": sku, "name": "Again", "list_price": "1.00",
                                             "unit_cost": "1.00", "currency": "EUR"}).status_code == 409
    listed = get(suite, f"/api/v1/products?line_of_business={tag}&sort=-list_price", key=rep_key).get_json()
    assert [p["sku"] for p in listed["items"]] == [sku]

    account = post(suite, "/api/v1/accounts", {"name": f"Northwind {tag}", "tags": [tag], "segment": "smb",
                                                "competition_level": "high", "next_contact_on": "2026-01-01"},
                   key=rep_key).get_json()
    overdue = get(suite, "/api/v1/accounts/follow-ups", key=rep_key).get_json()
    assert account["id"] in [a["id"] for a in overdue["items"]]
    call = post(suite, f"/api/v1/accounts/{account['id']}/activities",
                {"type": "call", "subject": "check-in", "outcome": "wants a demo"}, key=rep_key)
    assert call.status_code == 201, call.get_json()
    contacted = get(suite, f"/api/v1/accounts/{account['id']}", key=rep_key).get_json()
    assert contacted["last_contacted_on"] == date.today().isoformat()
    assert contacted["next_contact_on"] > date.today().isoformat()
    overdue = get(suite, "/api/v1/accounts/follow-ups", key=rep_key).get_json()
    assert account["id"] not in [a["id"] for a in overdue["items"]]
    activities = get(suite, f"/api/v1/accounts/{account['id']}/activities", key=rep_key).get_json()
    assert [a["outcome"] for a in activities["items"]] == ["wants a demo"]
    bad = post(suite, f"/api/v1/accounts/{account['id']}/activities", {"type": "fax"}, key=rep_key)
    assert bad.status_code == 422 and "type" in json.dumps(bad.get_json())

    contact = post(suite, "/api/v1/contacts", {"name": "Lin", "interests": ["iot"]}, key=rep_key).get_json()
    roles = suite.client.put(f"/api/v1/contacts/{contact['id']}/accounts/{account['id']}",
                             data=json.dumps({"roles": ["buyer", "decision_maker"]}),
                             headers=suite.headers(rep_key, **{"Content-Type": "application/json"}))
    assert roles.status_code == 200 and roles.get_json()["accounts"] == [
        {"account_id": account["id"], "roles": ["buyer", "decision_maker"]}]

    search = post(suite, "/api/v1/selections/search?limit=10", {"target": "accounts", "criteria": {"tags": [tag]}},
                  key=rep_key)
    assert search.status_code == 200, search.get_json()
    assert [a["id"] for a in search.get_json()["items"]] == [account["id"]]
    refused = post(suite, "/api/v1/selections/search", {"criteria": {"lifetime_value_min": "-5"}}, key=rep_key)
    assert refused.status_code == 422 and refused.headers["Content-Type"] == "application/problem+json"
    saved = post(suite, "/api/v1/selections", {"name": "My tag", "criteria": {"tags": [tag]}}, key=rep_key)
    assert saved.status_code == 201 and saved.get_json()["count"] == 1
    results = get(suite, f"/api/v1/selections/{saved.get_json()['id']}/results", key=rep_key).get_json()
    assert results["total"] == 1 and results["items"][0]["name"] == account["name"]

    month = (date.today().replace(day=1) + timedelta(days=32)).replace(day=1)
    target = post(suite, "/api/v1/targets", {"period": "month", "period_start": month.isoformat(),
                                              "currency": "EUR", "lines": [
                                                  {"label": "Sensors", "revenue": "8000.00", "margin": "3000.00"},
                                                  {"label": "Long shot", "revenue": "9000.00", "margin": "1.00",
                                                   "doubtful": True}]}, key=rep_key)
    assert target.status_code == 201, target.get_json()
    target_id = target.get_json()["id"]
    assert post(suite, f"/api/v1/targets/{target_id}/approve", key=manager_key).status_code == 409
    assert post(suite, f"/api/v1/targets/{target_id}/submit", key=rep_key).status_code == 200
    assert post(suite, f"/api/v1/targets/{target_id}/approve", key=rep_key).status_code == 403  # reps approve nothing
    approved = post(suite, f"/api/v1/targets/{target_id}/approve", key=manager_key)
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    rows = get(suite, f"/api/v1/targets/consolidated?level=team&from={month.isoformat()}",
               key=manager_key).get_json()
    [row] = [r for r in rows if r["group_id"] == team]
    assert row["planned_revenue"] == "8000.00" and row["targets"] == 1
    wrong = post(suite, "/api/v1/targets", {"period": "quarter", "period_start": "2027-02-01", "currency": "EUR",
                                             "lines": [{"label": "x", "revenue": "1.00"}]}, key=rep_key)
    assert wrong.status_code == 422 and "period_start" in wrong.get_json()["errors"]

    spec = get(suite, "/api/v1/openapi.json").get_json()
    for path in ("/api/v1/targets/{target_id}/approve", "/api/v1/contacts/{contact_id}/accounts/{account_id}", "/api/v1/selections/search", "/api/v1/accounts/follow-ups",
                 "/api/v1/accounts/{account_id}/activities", "/api/v1/products/{product_id}",
                 "/api/v1/targets/consolidated", "/api/v1/selections/{selection_id}/results"):
        assert path in spec["paths"], path


def test_every_sales_route_names_one_policy_action(suite):
    spec = get(suite, "/api/v1/openapi.json").get_json()
    operations = {(method.upper(), path): operation for path, item in spec["paths"].items()
                  for method, operation in item.items()
                  if method in ("get", "post", "put", "patch", "delete") and "sales" in operation.get("tags", ())}
    assert len(operations) >= 50
    assert [route for route, operation in operations.items() if operation.get("x-crm-policy") not in POLICY] == []
    assert operations[("POST", "/api/v1/targets/{target_id}/approve")]["x-crm-policy"] == "target.approve"
    assert operations[("GET", "/api/v1/products")]["x-crm-policy"] == "product.read"


def test_sales_takes_teams_from_its_roster_and_hides_costs_from_partners(suite):
    team, other_team = make_team(suite), make_team(suite)
    _, manager_key = make_user(suite, "manager", team)
    rep, _ = make_user(suite, "rep", team)
    stranger, _ = make_user(suite, "rep", other_team)
    month = (date.today().replace(day=1) + timedelta(days=32)).replace(day=1).isoformat()

    def draft(owner_id):
        return post(suite, "/api/v1/targets", {"owner_id": owner_id, "period": "month", "period_start": month,
                                                "currency": "EUR", "lines": [{"label": "x", "revenue": "1.00"}]},
                    key=manager_key)

    # sales learns the users from gateway.user_changed; until then an owner is unknown (422)
    mine = wait_for(lambda: (answer := draft(rep["id"])).status_code != 422 and answer,
                    message="sales to learn the new rep from gateway.user_changed")
    assert mine.status_code == 201 and mine.get_json()["team_id"] == team
    theirs = wait_for(lambda: (answer := draft(stranger["id"])).status_code != 422 and answer,
                      message="sales to learn the other team's rep")
    assert theirs.status_code == 403 and "owner_id" in theirs.get_json()["errors"]

    partner = post(suite, "/api/v1/partners", {"name": f"partner-{uuid.uuid4().hex[:6]}"}).get_json()
    _, partner_key = make_user(suite, "partner", partner_id=partner["id"])
    assert get(suite, "/api/v1/products", key=partner_key).status_code == 403
    assert get(suite, "/api/v1/pipelines", key=partner_key).status_code == 403
    company = unique_company()
    lead = post(suite, "/api/v1/leads", {"company": company, "contact_name": "Via Partner"},
                key=partner_key).get_json()
    for step in ("qualify", "convert"):
        assert post(suite, f"/api/v1/leads/{lead['id']}/{step}").status_code == 200

    def partners_opportunity():
        items = get(suite, "/api/v1/opportunities", key=partner_key).get_json()["items"]
        return next((o for o in items if o["name"] == company), None)

    seen = wait_for(partners_opportunity, message="sales to open the partner's opportunity")
    priced = patch(suite, f"/api/v1/opportunities/{seen['id']}", {
        "version": seen["version"], "currency": "EUR",
        "lines": [{"description": "Kit", "quantity": "2", "unit_price": "100.00", "unit_cost": "30.00"}]})
    assert priced.status_code == 200 and priced.get_json()["lines"][0]["unit_cost"] == "30.00"
    shown = get(suite, f"/api/v1/opportunities/{seen['id']}", key=partner_key).get_json()
    assert "unit_cost" not in shown["lines"][0] and "margin" not in shown["totals"]
    assert shown["totals"]["amount"] == "200.00"


def test_saved_selections_are_listed_for_everyone_who_may_see_them(suite):
    team = make_team(suite)
    _, rep_key = make_user(suite, "rep", team)
    name = f"Mine {uuid.uuid4().hex[:6]}"
    saved = post(suite, "/api/v1/selections", {"name": name, "criteria": {"segment": "smb"}}, key=rep_key)
    assert saved.status_code == 201, saved.get_json()
    for key in (rep_key, None):
        listed = get(suite, "/api/v1/selections?limit=500", key=key)
        assert listed.status_code == 200, listed.get_json()
        assert saved.get_json()["id"] in [s["id"] for s in listed.get_json()["items"]]
    _, other_key = make_user(suite, "rep", make_team(suite))
    assert get(suite, "/api/v1/selections", key=other_key).get_json()["items"] == []
