"""Payments and credit notes through the finance service's entrypoints, on a real
database (PostgreSQL, then the SQLite default)."""
from __future__ import annotations

import json
import re
import uuid
from datetime import date

import pytest
from sqlalchemy import select

from services.finance.models import metadata
from services.finance.tests.conftest import ADMIN, FINANCE, OTHER_REP, REP, account_created
from shared.errors import Conflict, Forbidden, Invalid, NotFound

outbox = metadata.tables["outbox"]


def events(engine, event_type):
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.body).where(outbox.c.event_type == event_type)
                            .order_by(outbox.c.id)).scalars().all()
    return [json.loads(body)["payload"] for body in rows]


def an_account(service) -> str:
    account_id = str(uuid.uuid4())
    service.on_account_created(account_created(account_id, owner_id="rep-1", team_id="team-a"))
    return account_id


def an_invoice(service, account_id, price="100.00", currency=None) -> dict:
    """An issued invoice of one line of ``price`` (no tax) of the account."""
    draft = service.create_invoice(FINANCE, {"account_id": account_id, "currency": currency, "lines": [
        {"description": "Service", "quantity": "1", "unit_price": price}]})
    return service.issue_invoice(FINANCE, draft["id"])


def test_half_then_the_rest_moves_the_invoice_to_partially_paid_then_paid_once(service, finance_db):
    account_id = an_account(service)
    invoice = an_invoice(service, account_id, "100.00")
    with pytest.raises(Forbidden):
        service.record_payment(REP, {"account_id": account_id, "amount": "50.00"})
    half = service.record_payment(FINANCE, {"account_id": account_id, "amount": "50.00", "reference": "bank 1",
                                            "allocations": [{"invoice_id": invoice["id"], "amount": "50.00"}]})
    assert half["allocations"] == [{"invoice_id": invoice["id"], "invoice_number": invoice["number"],
                                    "amount": "50.00"}]
    assert (half["unallocated"], half["credit_balance"], half["currency"]) == ("0.00", "0.00", "EUR")
    seen = service.get_invoice(REP, invoice["id"])
    assert (seen["status"], seen["paid_total"], seen["open_amount"]) == ("partially_paid", "50.00", "50.00")
    assert events(finance_db, "finance.invoice_paid") == []

    rest = service.record_payment(ADMIN, {"account_id": account_id, "amount": "50.00"})   # oldest first
    assert [a["amount"] for a in rest["allocations"]] == ["50.00"]
    seen = service.get_invoice(REP, invoice["id"])
    assert (seen["status"], seen["paid_total"], seen["open_amount"]) == ("paid", "100.00", "0.00")
    [paid] = [e for e in events(finance_db, "finance.invoice_paid") if e["invoice_id"] == invoice["id"]]
    assert (paid["paid_total"], paid["credited_total"], paid["number"]) == ("100.00", "0.00", invoice["number"])
    received = [e for e in events(finance_db, "finance.payment_received") if e["account_id"] == account_id]
    assert [(e["amount"], e["allocations"][0]["status"], e["allocations"][0]["open_amount"]) for e in received] == [
        ("50.00", "partially_paid", "50.00"), ("50.00", "paid", "0.00")]

    # a paid invoice takes no more: another payment is credit, a named allocation a conflict
    with pytest.raises(Conflict):
        service.record_payment(FINANCE, {"account_id": account_id, "amount": "5.00",
                                         "allocations": [{"invoice_id": invoice["id"], "amount": "5.00"}]})
    extra = service.record_payment(FINANCE, {"account_id": account_id, "amount": "5.00"})
    assert extra["allocations"] == [] and extra["credit_balance"] == "5.00"
    assert len([e for e in events(finance_db, "finance.invoice_paid") if e["invoice_id"] == invoice["id"]]) == 1
    with pytest.raises(Conflict):   # money touched it: not voided any more
        service.void_invoice(FINANCE, invoice["id"])

    # who sees the payments: the account's rep, not another one
    assert service.get_payment(REP, half["id"])["reference"] == "bank 1"
    with pytest.raises(NotFound):
        service.get_payment(OTHER_REP, half["id"])
    assert service.list_payments(OTHER_REP, {}, 50, 0)["total"] == 0
    mine = service.list_payments(REP, {"account_id": account_id, "sort": "created_at"}, 50, 0)
    assert [p["id"] for p in mine["items"]] == [half["id"], rest["id"], extra["id"]] and mine["total"] == 3


def test_an_overpayment_becomes_the_customers_credit(service, finance_db):
    account_id = an_account(service)
    invoice = an_invoice(service, account_id, "80.00")
    paid = service.record_payment(FINANCE, {"account_id": account_id, "amount": "100.00"})
    assert paid["allocations"][0]["amount"] == "80.00"
    assert (paid["unallocated"], paid["credit_balance"]) == ("20.00", "20.00")
    assert service.get_invoice(FINANCE, invoice["id"])["status"] == "paid"
    [event] = [e for e in events(finance_db, "finance.payment_received") if e["account_id"] == account_id]
    assert (event["unallocated"], event["credit_balance"]) == ("20.00", "20.00")
    # the credit is per currency; an explicit allocation may leave the rest as credit too
    other = an_invoice(service, account_id, "30.00")
    more = service.record_payment(FINANCE, {"account_id": account_id, "amount": "40.00",
                                            "allocations": [{"invoice_id": other["id"], "amount": "10.00"}]})
    assert (more["unallocated"], more["credit_balance"]) == ("30.00", "50.00")
    assert service.get_invoice(FINANCE, other["id"])["open_amount"] == "20.00"
    with pytest.raises(Invalid) as too_much:   # an allocation above the invoice's open amount
        service.record_payment(FINANCE, {"account_id": account_id, "amount": "40.00",
                                         "allocations": [{"invoice_id": other["id"], "amount": "25.00"}]})
    assert f"allocations.{other['id']}" in too_much.value.errors


def test_oldest_first_allocation_across_two_invoices(service, finance_db):
    account_id = an_account(service)
    older = an_invoice(service, account_id, "60.00")
    newer = an_invoice(service, account_id, "70.00")
    payment = service.record_payment(FINANCE, {"account_id": account_id, "amount": "100.00",
                                               "received_on": date.today().isoformat()})
    assert [(a["invoice_id"], a["amount"]) for a in payment["allocations"]] == [
        (older["id"], "60.00"), (newer["id"], "40.00")]
    assert payment["unallocated"] == "0.00"
    assert service.get_invoice(FINANCE, older["id"])["status"] == "paid"
    seen = service.get_invoice(FINANCE, newer["id"])
    assert (seen["status"], seen["open_amount"]) == ("partially_paid", "30.00")
    paid = [e["invoice_id"] for e in events(finance_db, "finance.invoice_paid")]
    assert older["id"] in paid and newer["id"] not in paid


def test_a_credit_note_above_the_open_amount_is_refused_naming_the_limit_and_changes_nothing(service, finance_db):
    account_id = an_account(service)
    invoice = an_invoice(service, account_id, "100.00")
    service.record_payment(FINANCE, {"account_id": account_id, "amount": "60.00"})
    with pytest.raises(Invalid) as refused:
        service.issue_credit_note(FINANCE, {"invoice_id": invoice["id"], "amount": "40.01", "reason": "too much"})
    assert "40.00" in refused.value.detail and refused.value.extra["limit"] == "40.00"
    assert "amount" in refused.value.errors
    seen = service.get_invoice(FINANCE, invoice["id"])
    assert (seen["status"], seen["credited_total"], seen["open_amount"]) == ("partially_paid", "0.00", "40.00")
    assert service.list_credit_notes(FINANCE, {"invoice_id": invoice["id"]}, 50, 0)["total"] == 0
    assert [e for e in events(finance_db, "finance.credit_note_issued") if e["invoice_id"] == invoice["id"]] == []

    with pytest.raises(Forbidden):
        service.issue_credit_note(REP, {"invoice_id": invoice["id"], "amount": "10.00", "reason": "goodwill"})
    part = service.issue_credit_note(FINANCE, {"invoice_id": invoice["id"], "amount": "10.00", "reason": "goodwill"})
    assert re.fullmatch(rf"CN-{date.today().year}-\d{{6}}", part["number"]) and part["amount"] == "10.00"
    assert service.get_invoice(FINANCE, invoice["id"])["open_amount"] == "30.00"
    rest = service.issue_credit_note(ADMIN, {"invoice_id": invoice["id"], "amount": "30.00", "reason": "the rest"})
    sequence = lambda number: int(number.rsplit("-", 1)[1])   # noqa: E731
    assert sequence(rest["number"]) == sequence(part["number"]) + 1            # gap-free, its own series
    seen = service.get_invoice(FINANCE, invoice["id"])
    assert (seen["status"], seen["paid_total"], seen["credited_total"], seen["open_amount"]) == (
        "paid", "60.00", "40.00", "0.00")
    issued = [e for e in events(finance_db, "finance.credit_note_issued") if e["invoice_id"] == invoice["id"]]
    assert [(e["amount"], e["open_amount"], e["invoice_status"]) for e in issued] == [
        ("10.00", "30.00", "partially_paid"), ("30.00", "0.00", "paid")]
    assert [e["invoice_id"] for e in events(finance_db, "finance.invoice_paid")].count(invoice["id"]) == 1
    with pytest.raises(Conflict):   # nothing open: a paid invoice takes no credit note
        service.issue_credit_note(FINANCE, {"invoice_id": invoice["id"], "amount": "1.00", "reason": "again"})
    assert service.get_credit_note(REP, part["id"])["invoice_number"] == invoice["number"]
    with pytest.raises(NotFound):
        service.get_credit_note(OTHER_REP, part["id"])


def test_a_void_invoice_takes_no_payment_and_no_credit_note(service):
    account_id = an_account(service)
    invoice = an_invoice(service, account_id, "100.00")
    service.void_invoice(FINANCE, invoice["id"])
    with pytest.raises(Conflict):
        service.record_payment(FINANCE, {"account_id": account_id, "amount": "10.00",
                                         "allocations": [{"invoice_id": invoice["id"], "amount": "10.00"}]})
    with pytest.raises(Conflict):
        service.issue_credit_note(FINANCE, {"invoice_id": invoice["id"], "amount": "10.00", "reason": "void"})
    credit = service.record_payment(FINANCE, {"account_id": account_id, "amount": "10.00"})   # oldest first
    assert credit["allocations"] == [] and credit["credit_balance"] == "10.00"   # skips it: credit
    assert service.get_invoice(FINANCE, invoice["id"])["status"] == "void"
