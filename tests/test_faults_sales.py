"""Sales under faults: 5,000 conversions while the sales service is killed, and
while RabbitMQ restarts; a poisoned conversion is parked and the rest go on."""
from __future__ import annotations

import subprocess
import time
import uuid

import eventlet
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from crm_testkit.helpers import wait_for
from services.leads.contracts import PUBLISHED_EVENTS as LEADS_EVENTS
from services.leads.models import metadata as leads_metadata
from services.sales.models import Opportunity
from shared.db import UnitOfWork
from shared.dlq import parked_queues
from shared.plugins import discover_services

pytestmark = pytest.mark.faults


def conversion(tag: str, n: int, company: str | None = None) -> dict:
    return {"lead_id": str(uuid.uuid4()), "company": company or f"{tag} company {n}",
            "contact_name": f"Contact {n}", "email": f"{tag}-{n}@example.com", "source": "web_form",
            "estimated_value": "1000.00", "currency": "EUR", "owner_id": "rep-x", "team_id": "team-x",
            "tags": [], "interests": []}


def emit_conversions(suite, payloads, batch=500) -> None:
    """Conversions as the leads service commits them: rows in its outbox, relayed by it."""
    engine = create_engine(suite.env["LEADS_DATABASE_URL"])
    sessions = sessionmaker(engine)
    for start in range(0, len(payloads), batch):
        uow = UnitOfWork(sessions, leads_metadata.tables["outbox"], publishes=LEADS_EVENTS)
        uow.emit_many([("leads.lead_converted", p) for p in payloads[start:start + batch]])
        uow.commit()
        uow.close()
    engine.dispose()


def opportunities(suite, tag):
    engine = create_engine(suite.env["SALES_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(select(Opportunity.source_lead_id, func.count())
                                .where(Opportunity.name.like(f"{tag} company %"))
                                .group_by(Opportunity.source_lead_id)).all()
    finally:
        engine.dispose()


def test_5000_conversions_while_sales_is_killed_twice_make_exactly_5000_opportunities(suite):
    tag = f"K{uuid.uuid4().hex[:6]}"
    payloads = [conversion(tag, n) for n in range(5000)]
    started = time.monotonic()
    emitter = eventlet.spawn(emit_conversions, suite, payloads)
    for _ in range(2):
        wait_for(lambda: len(opportunities(suite, tag)) > 0, timeout=120, message="sales to start applying")
        eventlet.sleep(1.0)
        suite.kill("sales", sig=9)
        eventlet.sleep(1.0)
        suite.start("sales")
    emitter.wait()
    rows = wait_for(lambda: (lambda r: r if len(r) >= 5000 else None)(opportunities(suite, tag)),
                    timeout=600, interval=1.0, message="all 5,000 opportunities")
    assert len(rows) == 5000 and all(count == 1 for _, count in rows)
    assert {lead for lead, _ in rows} == {p["lead_id"] for p in payloads}
    print(f"\n5,000 conversions with 2 kills: all applied once in {time.monotonic() - started:.1f}s")


def test_conversions_survive_a_rabbitmq_restart(suite):
    tag = f"R{uuid.uuid4().hex[:6]}"
    payloads = [conversion(tag, n) for n in range(1000)]
    emit_conversions(suite, payloads[:500])
    wait_for(lambda: len(opportunities(suite, tag)) > 0, timeout=120, message="conversions to flow")
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, capture_output=True, timeout=120)
    stopped = time.monotonic()
    try:
        emit_conversions(suite, payloads[500:])  # leads keeps committing while the broker is away
        eventlet.sleep(2)
    finally:
        subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, capture_output=True, timeout=120)
    rows = wait_for(lambda: (lambda r: r if len(r) >= 1000 else None)(opportunities(suite, tag)),
                    timeout=300, interval=1.0, message="every conversion after the restart")
    assert len(rows) == 1000 and all(count == 1 for _, count in rows)
    assert suite.processes["sales"].poll() is None and suite.processes["leads"].poll() is None
    print(f"\nRabbitMQ restart: 1,000 conversions applied once, {time.monotonic() - stopped:.1f}s after the stop")


def test_a_poisoned_conversion_is_parked_and_the_others_go_on(suite):
    tag = f"P{uuid.uuid4().hex[:6]}"
    poisoned = conversion(tag, 0, company="x" * 250)  # longer than accounts.name allows
    good = [conversion(tag, n) for n in range(1, 21)]
    emit_conversions(suite, [poisoned] + good)
    rows = wait_for(lambda: (lambda r: r if len(r) >= 20 else None)(opportunities(suite, tag)),
                    timeout=120, message="the healthy conversions")
    assert {lead for lead, _ in rows} == {p["lead_id"] for p in good}
    settings_delays = tuple(float(x) for x in suite.env["CRM_RETRY_DELAYS"].split(","))
    wait_for(lambda: next(q for q in parked_queues(suite.env["AMQP_URI"], discover_services(), settings_delays)
                          if q.handler == "on_lead_converted").depth >= 1,
             timeout=60, message="the poisoned conversion to be parked")
