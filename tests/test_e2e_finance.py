"""Finance through the gateway, with every service a real process: a contract signed in
sales becomes finance's receivable plan, its first instalment (due today) an invoice
issued by the timer with a gap-free number, converted to the company currency at the
rate finance entered; a rep sees only the invoices of their own accounts. Finance
records payments against it and refuses a credit note above its open amount."""
from __future__ import annotations

import io
import re
import uuid
from datetime import date

from pypdf import PdfReader

from crm_testkit.helpers import wait_for
from tests.test_e2e_leads import get, make_team, make_user, post


def add_months(start: date, months: int) -> date:
    index = start.month - 1 + months
    return start.replace(year=start.year + index // 12, month=index % 12 + 1, day=min(start.day, 28))


def signed_contract(suite, rep_key, currency, total="1000.00", months=3):
    """A contract the rep signs for an account of their own, billed monthly from today."""
    account = wait_for(lambda: (lambda a: a.get_json() if a.status_code == 201 else None)(
        post(suite, "/api/v1/accounts", {"name": f"Billed {uuid.uuid4().hex[:8]}"}, key=rep_key)),
        timeout=30, interval=0.3, message="the sales roster to know the rep")
    today = date.today()
    contract = post(suite, "/api/v1/contracts", {
        "account_id": account["id"], "currency": currency, "start_date": today.isoformat(),
        "end_date": add_months(today, months - 1).isoformat(), "billing_frequency": "monthly",
        "lines": [{"description": "Support", "quantity": "1", "unit_price": total, "unit_cost": "100.00"}]},
        key=rep_key)
    assert contract.status_code == 201, contract.get_json()
    signed = post(suite, f"/api/v1/contracts/{contract.get_json()['id']}/sign", key=rep_key)
    assert signed.status_code == 200, signed.get_json()
    return account, signed.get_json()


def test_a_signed_contract_is_planned_and_its_first_instalment_invoiced(suite):
    _, finance_key = make_user(suite, "finance")
    team = make_team(suite)
    rep, rep_key = make_user(suite, "rep", team)
    other, other_key = make_user(suite, "rep", team)
    rate = post(suite, "/api/v1/exchange-rates", {"currency": "CHF", "rate": "0.9",
                                                  "valid_from": date.today().isoformat()}, key=finance_key)
    assert rate.status_code == 201, rate.get_json()
    assert post(suite, "/api/v1/exchange-rates", {"currency": "CHF", "rate": "0.9", "valid_from": "2020-01-01"},
                key=rep_key).status_code == 403

    account, contract = signed_contract(suite, rep_key, "CHF")
    assert [i["amount"] for i in contract["schedule"]] == ["333.33", "333.33", "333.34"]

    def plan():
        items = get(suite, "/api/v1/receivable-plans", key=rep_key,
                    query_string={"contract_id": contract["id"]}).get_json()["items"]
        return items[0] if items and items[0]["instalments"][0]["status"] == "invoiced" else None
    seen = wait_for(plan, timeout=60, message="finance to plan the contract and issue its first instalment")
    assert seen["owner_id"] == rep["id"] and seen["team_id"] == team and seen["total"] == "1000.00"
    assert [(i["amount"], i["status"]) for i in seen["instalments"]] == [
        ("333.33", "invoiced"), ("333.33", "planned"), ("333.34", "planned")]
    assert get(suite, f"/api/v1/receivable-plans/{seen['id']}", key=rep_key).get_json() == seen

    invoices = get(suite, "/api/v1/invoices", key=rep_key, query_string={"contract_id": contract["id"]}).get_json()
    [invoice] = invoices["items"]
    assert invoice["id"] == seen["instalments"][0]["invoice_id"] and invoice["status"] == "issued"
    assert re.fullmatch(rf"INV-{date.today().year}-\d{{6}}", invoice["number"])
    # the docs' rounding: half-up per line to the currency's unit; the rate is fixed at issue and
    # 333.33 CHF x 0.9 = 299.997 is 300.00 EUR, half-up to the company currency's cent
    assert (invoice["currency"], invoice["gross_total"], invoice["tax_total"]) == ("CHF", "333.33", "0.00")
    assert (invoice["rate"], invoice["gross_company"], invoice["company_currency"]) == ("0.9", "300.00", "EUR")
    assert get(suite, f"/api/v1/invoices/{invoice['id']}", key=finance_key).get_json() == invoice
    # its document: a PDF naming the number, the customer, the line and the totals
    document = get(suite, f"/api/v1/invoices/{invoice['id']}/pdf", key=rep_key)
    assert document.status_code == 200 and document.mimetype == "application/pdf"
    text = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(document.data)).pages)
    assert invoice["number"] in text and invoice["account_name"] in text and "333.33" in text
    assert invoice["lines"][0]["description"].split()[0] in text

    # another rep of the same team sees neither the invoice nor the plan; their own, yes
    assert get(suite, f"/api/v1/invoices/{invoice['id']}", key=other_key).status_code == 404
    assert get(suite, f"/api/v1/receivable-plans/{seen['id']}", key=other_key).status_code == 404
    _, theirs = signed_contract(suite, other_key, "EUR", total="90.00", months=1)
    wait_for(lambda: get(suite, "/api/v1/invoices", key=other_key,
                         query_string={"contract_id": theirs["id"]}).get_json()["total"] == 1,
             timeout=60, message="the other rep's invoice")
    mine = get(suite, "/api/v1/invoices", key=rep_key, query_string={"limit": 500}).get_json()["items"]
    assert mine and all(i["owner_id"] == rep["id"] for i in mine)
    everyone = get(suite, "/api/v1/invoices", key=finance_key, query_string={"limit": 500}).get_json()["items"]
    assert {rep["id"], other["id"]} <= {i["owner_id"] for i in everyone}
    assert post(suite, f"/api/v1/invoices/{invoice['id']}/void", key=rep_key).status_code == 403

    # paid in two halves: partially paid with the rest open, a credit note above it refused, then paid
    half = post(suite, "/api/v1/payments", {"account_id": account["id"], "currency": "CHF", "amount": "166.66",
                                            "allocations": [{"invoice_id": invoice["id"], "amount": "166.66"}]},
                key=finance_key)
    assert half.status_code == 201, half.get_json()
    assert post(suite, "/api/v1/payments", {"account_id": account["id"], "currency": "CHF", "amount": "1.00"},
                key=rep_key).status_code == 403
    seen = get(suite, f"/api/v1/invoices/{invoice['id']}", key=rep_key).get_json()
    assert (seen["status"], seen["paid_total"], seen["open_amount"]) == ("partially_paid", "166.66", "166.67")
    refused = post(suite, "/api/v1/credit-notes", {"invoice_id": invoice["id"], "amount": "200.00",
                                                   "reason": "too much"}, key=finance_key)
    assert refused.status_code == 422 and "166.67" in refused.get_json()["detail"], refused.get_json()
    rest = post(suite, "/api/v1/payments", {"account_id": account["id"], "currency": "CHF", "amount": "166.67"},
                key=finance_key)   # oldest first: the only open CHF invoice of the account
    assert rest.status_code == 201, rest.get_json()
    assert [(a["invoice_id"], a["amount"]) for a in rest.get_json()["allocations"]] == [(invoice["id"], "166.67")]
    seen = get(suite, f"/api/v1/invoices/{invoice['id']}", key=rep_key).get_json()
    assert (seen["status"], seen["paid_total"], seen["open_amount"]) == ("paid", "333.33", "0.00")
    mine = get(suite, "/api/v1/payments", key=rep_key, query_string={"account_id": account["id"]}).get_json()
    assert mine["total"] == 2 and {p["id"] for p in mine["items"]} == {half.get_json()["id"], rest.get_json()["id"]}
    assert get(suite, f"/api/v1/payments/{half.get_json()['id']}", key=other_key).status_code == 404
