"""The finance service's use cases through its entrypoints, on a real database
(PostgreSQL, then the SQLite default)."""
from __future__ import annotations

import json
import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.finance.models import ReceivablePlan, metadata
from services.finance.tests.conftest import (ADMIN, FINANCE, MANAGER, OTHER_REP, PARTNER, REP, account_created,
                                             contract_signed, contract_terminated, person)
from shared.errors import Conflict, Forbidden, Invalid, NotFound

outbox = metadata.tables["outbox"]
TODAY = date.today()


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


def issued_events(engine):
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.body).where(outbox.c.event_type == "finance.invoice_issued")
                            .order_by(outbox.c.id)).scalars().all()
    return [json.loads(body) for body in rows]


def new_ids():
    return str(uuid.uuid4()), str(uuid.uuid4())


def test_the_same_contract_signed_twice_makes_one_plan(service, finance_db):
    account_id, contract_id = new_ids()
    service.on_account_created(account_created(account_id))
    event = contract_signed(contract_id, account_id, [(days(10), "333.33"), (days(40), "333.33"),
                                                     (days(70), "333.34")])
    service.on_contract_signed(event)
    service.on_contract_signed(event)                                     # redelivered
    service.on_contract_signed({**event, "event_id": str(uuid.uuid4())})  # republished under a new id
    [plan] = service.list_receivable_plans(ADMIN, {"contract_id": contract_id}, 50, 0)["items"]
    assert [i["amount"] for i in plan["instalments"]] == ["333.33", "333.33", "333.34"]
    assert plan["total"] == "1000.00" and plan["owner_id"] == "rep-1" and plan["team_id"] == "team-a"
    with Session(finance_db) as session, pytest.raises(IntegrityError):   # and the database says so too
        session.add(ReceivablePlan(contract_id=contract_id, account_id=account_id, currency="EUR", total=1,
                                   start_date=TODAY, billing_frequency="one_off"))
        session.commit()


def test_a_contract_signed_before_its_account_arrived_is_planned_and_the_account_completed_later(service):
    account_id, contract_id = new_ids()
    service.on_contract_signed(contract_signed(contract_id, account_id, [(days(5), "100.00")], owner_id="rep-1"))
    [plan] = service.list_receivable_plans(REP, {}, 50, 0)["items"]
    assert plan["owner_id"] == "rep-1" and plan["team_id"] is None
    assert service.list_receivable_plans(MANAGER, {}, 50, 0)["total"] == 0
    service.on_account_created(account_created(account_id, team_id="team-a", name="Late Co"))
    [plan] = service.list_receivable_plans(MANAGER, {}, 50, 0)["items"]
    assert plan["account_name"] == "Late Co"


def test_the_timer_issues_due_instalments_once_with_consecutive_numbers(service, finance_db):
    account_id, contract_id = new_ids()
    service.on_account_created(account_created(account_id))
    service.on_contract_signed(contract_signed(contract_id, account_id, [
        (days(-60), "100.00"), (days(-30), "100.00"), (days(0), "100.01"), (days(30), "100.00")]))
    service.issue_due_instalments()
    service.issue_due_instalments()   # the next tick finds nothing more due
    invoices = service.list_invoices(FINANCE, {"contract_id": contract_id, "sort": "number"}, 50, 0)["items"]
    numbers = [i["number"] for i in invoices]
    assert numbers == [f"INV-{TODAY.year}-{n:06d}" for n in (1, 2, 3)]
    assert [i["gross_total"] for i in invoices] == ["100.00", "100.00", "100.01"]
    assert all(i["status"] == "issued" and i["issue_date"] == TODAY.isoformat()
               and i["due_date"] == days(30) and i["rate"] == "1" for i in invoices)
    [plan] = service.list_receivable_plans(ADMIN, {"contract_id": contract_id}, 50, 0)["items"]
    assert [i["status"] for i in plan["instalments"]] == ["invoiced", "invoiced", "invoiced", "planned"]
    assert [i["invoice_id"] for i in plan["instalments"][:3]] == [i["id"] for i in invoices]
    events = issued_events(finance_db)
    assert [e["payload"]["number"] for e in events] == numbers
    first = events[0]["payload"]
    assert first["gross_total"] == "100.00" and first["gross_company"] == "100.00" and first["rate"] == "1"
    assert first["lines"][0]["net"] == "100.00" and first["contract_id"] == contract_id


def test_termination_cancels_the_planned_instalments_due_after_it(service):
    account_id, contract_id = new_ids()
    service.on_account_created(account_created(account_id))
    service.on_contract_signed(contract_signed(contract_id, account_id, [
        (days(-1), "250.00"), (days(20), "250.00"), (days(50), "250.00"), (days(80), "250.00")]))
    service.issue_due_instalments()
    service.on_contract_terminated(contract_terminated(contract_id, account_id, days(30)))
    [plan] = service.list_receivable_plans(ADMIN, {"contract_id": contract_id}, 50, 0)["items"]
    assert [i["status"] for i in plan["instalments"]] == ["invoiced", "planned", "cancelled", "cancelled"]
    assert plan["status"] == "terminated" and plan["terminated_on"] == days(30)
    service.on_contract_terminated(contract_terminated(contract_id, account_id, days(30)))   # again: the same
    [again] = service.list_receivable_plans(ADMIN, {"contract_id": contract_id}, 50, 0)["items"]
    assert again["instalments"] == plan["instalments"]


def test_a_termination_before_its_signing_fails_to_be_retried(service):
    with pytest.raises(LookupError):
        service.on_contract_terminated(contract_terminated(str(uuid.uuid4()), str(uuid.uuid4()), days(1)))


def test_draft_issue_void_and_who_may(service, finance_db):
    account_id, _ = new_ids()
    service.on_account_created(account_created(account_id, owner_id="rep-1", team_id="team-a",
                                               partner_id="partner-1"))
    lines = [{"description": "Consulting", "quantity": "3", "unit_price": "33.335", "tax_rate": "23"},
             {"description": "Licence", "quantity": "1", "unit_price": "100.00", "discount": "10", "tax_rate": "23"}]
    with pytest.raises(Forbidden):
        service.create_invoice(REP, {"account_id": account_id, "lines": lines})
    with pytest.raises(Invalid) as unknown:
        service.create_invoice(FINANCE, {"account_id": str(uuid.uuid4()), "lines": lines})
    assert "account_id" in unknown.value.errors
    draft = service.create_invoice(FINANCE, {"account_id": account_id, "lines": lines})
    # per line, half-up: 3 x 33.335 = 100.005 -> 100.01, tax 23.00; 90.00, tax 20.70
    assert [(l["net"], l["tax"], l["gross"]) for l in draft["lines"]] == [
        ("100.01", "23.00", "123.01"), ("90.00", "20.70", "110.70")]
    assert (draft["net_total"], draft["tax_total"], draft["gross_total"]) == ("190.01", "43.70", "233.71")
    assert draft["status"] == "draft" and draft["number"] is None and draft["currency"] == "EUR"
    assert service.get_invoice(REP, draft["id"])["id"] == draft["id"]           # the rep's account
    assert service.get_invoice(MANAGER, draft["id"])["id"] == draft["id"]       # the manager's team
    assert service.get_invoice(PARTNER, draft["id"])["id"] == draft["id"]       # came through its partner
    for outsider in (OTHER_REP, person("p-2", "partner", partner_id="partner-2"), person("m-b", "manager", "team-b")):
        with pytest.raises(NotFound):
            service.get_invoice(outsider, draft["id"])
        assert service.list_invoices(outsider, {}, 50, 0)["total"] == 0
    with pytest.raises(Forbidden):
        service.issue_invoice(REP, draft["id"])
    issued = service.issue_invoice(FINANCE, draft["id"])
    assert re.fullmatch(rf"INV-{TODAY.year}-\d{{6}}", issued["number"]) and issued["status"] == "issued"
    with pytest.raises(Conflict):
        service.issue_invoice(FINANCE, draft["id"])
    voided = service.void_invoice(ADMIN, draft["id"])
    assert voided["status"] == "void" and voided["number"] == issued["number"]   # the number stays used
    with pytest.raises(Conflict):
        service.void_invoice(ADMIN, draft["id"])
    assert [e["payload"]["number"] for e in issued_events(finance_db)] == [issued["number"]]


def test_another_currency_needs_a_rate_and_converts_half_up(service):
    account_id, _ = new_ids()
    service.on_account_created(account_created(account_id))
    draft = service.create_invoice(FINANCE, {"account_id": account_id, "currency": "CHF", "lines": [
        {"description": "Support", "quantity": "1", "unit_price": "333.33"}]})
    with pytest.raises(Conflict):
        service.issue_invoice(FINANCE, draft["id"])
    with pytest.raises(Forbidden):
        service.add_exchange_rate(REP, {"currency": "CHF", "rate": "0.9", "valid_from": days(-1)})
    with pytest.raises(Invalid):
        service.add_exchange_rate(FINANCE, {"currency": "EUR", "rate": "1.1", "valid_from": days(-1)})
    service.add_exchange_rate(FINANCE, {"currency": "CHF", "rate": "0.8", "valid_from": days(-10)})
    service.add_exchange_rate(FINANCE, {"currency": "CHF", "rate": "0.9", "valid_from": days(-1)})
    service.add_exchange_rate(FINANCE, {"currency": "CHF", "rate": "0.7", "valid_from": days(5)})  # not yet
    with pytest.raises(Conflict):
        service.add_exchange_rate(FINANCE, {"currency": "CHF", "rate": "0.95", "valid_from": days(-1)})
    issued = service.issue_invoice(FINANCE, draft["id"])
    # 333.33 x 0.9 = 299.997 -> 300.00 (half-up to the company currency's cent)
    assert (issued["rate"], issued["gross_company"], issued["company_currency"]) == ("0.9", "300.00", "EUR")
    rates = service.list_exchange_rates(REP, {"currency": "CHF"}, 50, 0)
    assert [r["rate"] for r in rates["items"]] == ["0.7", "0.9", "0.8"] and rates["total"] == 3


def test_instalments_of_a_currency_without_a_rate_wait_for_it(service):
    account_id, contract_id = new_ids()
    service.on_account_created(account_created(account_id))
    service.on_contract_signed(contract_signed(contract_id, account_id, [(days(-1), "10.00")], currency="GBP"))
    service.issue_due_instalments()
    assert service.list_invoices(FINANCE, {"contract_id": contract_id}, 50, 0)["total"] == 0
    service.add_exchange_rate(FINANCE, {"currency": "GBP", "rate": "1.15", "valid_from": days(-3)})
    service.issue_due_instalments()
    [invoice] = service.list_invoices(FINANCE, {"contract_id": contract_id}, 50, 0)["items"]
    assert invoice["gross_company"] == "11.50"
