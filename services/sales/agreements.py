"""Quotes from an opportunity's lines, and contracts with their billing schedules.

Named agreements, not contracts, because ``contracts.py`` is every service's
public face (its events and HTTP routes; docs/decisions/0013)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from services.sales import billing, domain
from services.sales.accounts import record_purchase
from services.sales.models import Account, Contract, Opportunity, OpportunityLine, Quote, new_id
from services.sales.opportunities import close, line_dicts
from services.sales.schemas import CONTRACT_SORT, ContractOut, QuoteOut, dump
from services.sales.scoping import page, shown_to, visible, within, writable
from shared.listing import ordering
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, check_version, flush_versioned, utcnow
from shared.errors import Conflict, Invalid

_quote_out, _contract_out = QuoteOut(), ContractOut()


def quote_answer(caller: Caller, quote: Quote, contract_id: str | None = None) -> dict[str, Any]:
    """The quote as ``caller`` may see it (costs only with ``cost.read``); ``contract_id``
    is the contract its acceptance drafted, if any."""
    return shown_to(caller, dump(_quote_out, quote, contract_id=contract_id))


def contract_answer(caller: Caller, contract: Contract) -> dict[str, Any]:
    """The contract as ``caller`` may see it (costs only with ``cost.read``)."""
    return shown_to(caller, dump(_contract_out, contract))


def create_quote(uow: UnitOfWork, caller: Caller, opportunity_id: str, valid_until) -> dict[str, Any]:
    session = uow.session
    opportunity = writable(session, Opportunity, caller, opportunity_id, "opportunity", "quote.read", "quote.write")
    if opportunity.status != domain.OpportunityStatus.OPEN.value:
        raise Conflict(f"a {opportunity.status} opportunity cannot be quoted")
    rows = session.scalars(select(OpportunityLine).where(OpportunityLine.opportunity_id == opportunity.id)
                           .order_by(OpportunityLine.position)).all()
    if not rows or not opportunity.currency:
        raise Invalid("a quote is made from the opportunity's lines; add lines and a currency first",
                      errors={"lines": "at least one line" if not rows else None,
                              "currency": None if opportunity.currency else "required"})
    lines = [domain.Line(product_id=r.product_id, description=r.description, quantity=r.quantity,
                         unit_price=r.unit_price, discount_pct=r.discount_pct, unit_cost=r.unit_cost) for r in rows]
    totals = domain.totals(lines)
    versions = session.scalars(select(Quote.version).where(Quote.opportunity_id == opportunity.id)).all()
    quote = Quote(id=new_id(), opportunity_id=opportunity.id, version=domain.next_quote_version(versions),
                  status=domain.QuoteStatus.DRAFT.value, valid_until=domain.as_date(valid_until),
                  lines=line_dicts(lines), amount=totals["amount"], cost=totals["cost"],
                  currency=opportunity.currency, created_at=utcnow())
    session.add(quote)
    session.flush()
    return quote_answer(caller, quote)


def _quote(uow: UnitOfWork, caller: Caller, quote_id: str) -> tuple[Quote, Opportunity]:
    quote = uow.session.get(Quote, quote_id, with_for_update=True)
    if quote is None:
        raise Invalid(f"quote {quote_id} does not exist", errors={"quote_id": "unknown"})
    opportunity = visible(uow.session, Opportunity, caller, quote.opportunity_id, "quote", "quote.read")
    policy.require(caller, "quote.write", opportunity)
    return quote, opportunity


def decide_quote(uow: UnitOfWork, caller: Caller, quote_id: str, target: str) -> dict[str, Any]:
    """Send, accept or reject a quote. Accepting wins the opportunity and drafts a contract."""
    quote, opportunity = _quote(uow, caller, quote_id)
    today = utcnow().date()
    domain.check_quote_transition(domain.QuoteStatus(quote.status), domain.QuoteStatus(target),
                                  quote.valid_until, today)
    quote.status = target
    if target == domain.QuoteStatus.SENT.value:
        quote.sent_at = utcnow()
        return quote_answer(caller, quote)
    quote.decided_at = utcnow()
    if target != domain.QuoteStatus.ACCEPTED.value:
        return quote_answer(caller, quote)
    close(uow, opportunity, "won")
    uow.session.get(Account, opportunity.account_id).lifecycle = domain.Lifecycle.CUSTOMER.value
    contract = Contract(id=new_id(), account_id=opportunity.account_id, opportunity_id=opportunity.id,
                        quote_id=quote.id, owner_id=opportunity.owner_id, team_id=opportunity.team_id,
                        partner_id=opportunity.partner_id, status=domain.ContractStatus.DRAFT.value,
                        start_date=today, currency=quote.currency, total=quote.amount, cost=quote.cost,
                        lines=quote.lines, billing_frequency=billing.Frequency.ONE_OFF.value,
                        schedule=_schedule(billing.Frequency.ONE_OFF.value, quote.amount, quote.currency,
                                           today, None, None), created_at=utcnow())
    uow.session.add(contract)
    uow.session.flush()
    return quote_answer(caller, quote, contract.id)


def list_quotes(session, caller: Caller, opportunity_id: str) -> list[dict[str, Any]]:
    visible(session, Opportunity, caller, opportunity_id, "opportunity", "quote.read")
    quotes = session.scalars(select(Quote).where(Quote.opportunity_id == opportunity_id)
                             .order_by(Quote.version)).all()
    drafted = dict(session.execute(select(Contract.quote_id, Contract.id)
                                   .where(Contract.quote_id.in_([q.id for q in quotes]))).all())
    return [quote_answer(caller, q, drafted.get(q.id)) for q in quotes]


def _schedule(frequency, total, currency, start, end, instalments) -> list[dict[str, str]]:
    plan = billing.billing_schedule(billing.Frequency(frequency), Decimal(str(total)), currency, start, end,
                                    instalments)
    return [{"due_date": i.due_date.isoformat(), "amount": str(i.amount)} for i in plan]


def create_contract(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    """A draft contract with an account the caller may sell to, owned as the account is."""
    account = visible(uow.session, Account, caller, data["account_id"], "account", "account.read")
    policy.require(caller, "contract.write", account)
    lines = domain.parse_lines(data["lines"])
    totals = domain.totals(lines)
    start, end = domain.as_date(data["start_date"]), domain.as_date(data["end_date"]) if data.get("end_date") else None
    domain.check_contract_dates(start, end)
    contract = Contract(id=new_id(), account_id=account.id, owner_id=account.owner_id, team_id=account.team_id,
                        partner_id=account.partner_id, status=domain.ContractStatus.DRAFT.value,
                        start_date=start, end_date=end, currency=data["currency"], total=totals["amount"],
                        cost=totals["cost"], lines=line_dicts(lines),
                        billing_frequency=data["billing_frequency"],
                        schedule=_schedule(data["billing_frequency"], totals["amount"], data["currency"],
                                           start, end, data.get("instalments")), created_at=utcnow())
    uow.session.add(contract)
    uow.session.flush()
    return contract_answer(caller, contract)


def _writable(uow: UnitOfWork, caller: Caller, contract_id: str) -> Contract:
    return writable(uow.session, Contract, caller, contract_id, "contract", "contract.read", "contract.write")


def update_contract(uow: UnitOfWork, caller: Caller, contract_id: str, data: dict) -> dict[str, Any]:
    """Change dates and billing of a draft; the schedule is recomputed and must add up."""
    contract = _writable(uow, caller, contract_id)
    if contract.status != domain.ContractStatus.DRAFT.value:
        raise Conflict(f"a {contract.status} contract cannot be changed")
    check_version("contract", contract_id, contract.version, data.get("version"))
    start = domain.as_date(data["start_date"]) if data.get("start_date") else contract.start_date
    end = domain.as_date(data["end_date"]) if data.get("end_date") else (None if "end_date" in data else contract.end_date)
    frequency = data.get("billing_frequency", contract.billing_frequency)
    domain.check_contract_dates(start, end)
    schedule = _schedule(frequency, contract.total, contract.currency, start, end, data.get("instalments"))
    contract.start_date, contract.end_date, contract.billing_frequency = start, end, frequency
    contract.schedule = schedule
    flush_versioned(uow.session, "contract", contract_id)
    return contract_answer(caller, contract)


def sign_contract(uow: UnitOfWork, caller: Caller, contract_id: str) -> dict[str, Any]:
    contract = _writable(uow, caller, contract_id)
    domain.check_contract_transition(domain.ContractStatus(contract.status), domain.ContractStatus.SIGNED)
    contract.status, contract.signed_at = domain.ContractStatus.SIGNED.value, utcnow()
    account = uow.session.get(Account, contract.account_id, with_for_update=True)
    record_purchase(uow.session, account, contract.lines, contract.total, contract.signed_at.date())
    uow.session.flush()
    uow.emit("sales.contract_signed", {
        "contract_id": contract.id, "account_id": contract.account_id, "opportunity_id": contract.opportunity_id,
        "owner_id": contract.owner_id, "partner_id": contract.partner_id, "currency": contract.currency,
        "total": contract.total, "cost": contract.cost, "start_date": contract.start_date,
        "end_date": contract.end_date, "lines": contract.lines,
        "billing_frequency": contract.billing_frequency,
        "billing_schedule": [{"due_date": date.fromisoformat(i["due_date"]), "amount": i["amount"]}
                             for i in contract.schedule]})
    return contract_answer(caller, contract)


def terminate_contract(uow: UnitOfWork, caller: Caller, contract_id: str, terminated_on, reason: str) -> dict[str, Any]:
    contract = _writable(uow, caller, contract_id)
    domain.check_contract_transition(domain.ContractStatus(contract.status), domain.ContractStatus.TERMINATED)
    when = domain.as_date(terminated_on)
    if when < contract.start_date:
        raise Invalid("a contract cannot end before it starts", errors={"terminated_on": "before start_date"})
    contract.status, contract.terminated_at = domain.ContractStatus.TERMINATED.value, utcnow()
    contract.termination_reason, contract.end_date = reason, when
    uow.session.flush()
    uow.emit("sales.contract_terminated", {"contract_id": contract.id, "account_id": contract.account_id,
                                           "terminated_on": when, "reason": reason})
    return contract_answer(caller, contract)


def get_contract(session, caller: Caller, contract_id: str) -> dict[str, Any]:
    return contract_answer(caller, visible(session, Contract, caller, contract_id, "contract", "contract.read"))


def list_contracts(session, caller: Caller, filters: dict, limit: int, offset: int) -> dict[str, Any]:
    query = within(select(Contract), Contract, caller, "contract.read")
    if filters.get("account_id"):
        query = query.where(Contract.account_id == filters["account_id"])
    if filters.get("status"):
        query = query.where(Contract.status == filters["status"])
    if filters.get("renewal_within_days"):
        today = utcnow().date()
        # the window of domain.is_up_for_renewal, as a query
        query = query.where(Contract.status == domain.ContractStatus.SIGNED.value,
                            Contract.end_date.between(today, today + timedelta(days=filters["renewal_within_days"])))
    items, total = page(session, query, limit, offset,
                        ordering(Contract, filters.get("sort"), CONTRACT_SORT, "end_date"))
    return {"items": [contract_answer(caller, c) for c in items], "total": total}
