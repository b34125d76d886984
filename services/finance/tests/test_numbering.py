"""Gap-free invoice numbers with concurrent issuers: two workers, each with its own
connections, issue invoices at the same time (and some of their transactions roll
back after taking a number); the committed numbers are 1..N, no gap, no twin."""
from __future__ import annotations

import threading
import uuid
from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from services.finance import invoices
from services.finance.models import Invoice, metadata
from services.finance.service import FinanceService
from services.finance.tests.conftest import FINANCE, SETTINGS, account_created
from shared.db import UnitOfWork, make_engine

PER_WORKER = 40
ROLLED_BACK_EVERY = 7   # every 7th issue of a worker fails after its number was taken


class Failed(Exception):
    pass


def issue_all(url: str, invoice_ids: list[str], errors: list) -> None:
    engine = make_engine(url, pool_size=2)   # this worker's own connections
    sessions = sessionmaker(engine, expire_on_commit=False)
    try:
        for n, invoice_id in enumerate(invoice_ids, 1):
            uow = UnitOfWork(sessions, metadata.tables["outbox"], publishes=FinanceService.db.publishes)
            try:
                invoices.issue_invoice(uow, FINANCE, invoice_id, SETTINGS, today=date(2027, 5, 1))
                if n % ROLLED_BACK_EVERY == 0:
                    raise Failed(invoice_id)
                uow.commit()
            except Failed:
                uow.rollback()
            finally:
                uow.close()
    except Exception as exc:  # reported by the test, not lost in the thread
        errors.append(exc)
    finally:
        engine.dispose()


@pytest.mark.parametrize("finance_db", ["postgresql", "sqlite"], indirect=True)
def test_two_concurrent_issuers_make_gap_free_numbers(service, finance_db):
    account_id = str(uuid.uuid4())
    service.on_account_created(account_created(account_id))
    drafts = [service.create_invoice(FINANCE, {"account_id": account_id, "lines": [
        {"description": f"Item {n}", "quantity": "1", "unit_price": "10.00"}]})["id"] for n in range(2 * PER_WORKER)]
    url = finance_db.url_string
    errors: list = []
    workers = [threading.Thread(target=issue_all, args=(url, drafts[i::2], errors)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert not errors, errors
    with finance_db.connect() as conn:
        numbers = conn.execute(select(Invoice.number).where(Invoice.status == "issued")).scalars().all()
        events = conn.execute(select(metadata.tables["outbox"].c.event_id)
                              .where(metadata.tables["outbox"].c.event_type == "finance.invoice_issued")).all()
    committed = 2 * (PER_WORKER - PER_WORKER // ROLLED_BACK_EVERY)
    assert len(numbers) == committed == len(events)
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, committed + 1))
    assert all(n.startswith("INV-2027-") for n in numbers)
