"""``outbox_relay``: the relay draining outbox rows to RabbitMQ with
confirms, against nameko's ``EventDispatcher`` dispatching the same events
one by one. Both publish persistent messages into a bound durable queue."""
from __future__ import annotations

import json
import time
import uuid

from kombu import Connection, Queue
from nameko.standalone.events import event_dispatcher
from sqlalchemy import func, insert, select

from bench.env import CpuMeter
from bench.report import Metric
from shared.config import load_settings
from shared.db import event_row, make_engine, service_metadata
from services.leads.contracts import PUBLISHED_EVENTS as LEADS_EVENTS
from shared.events import EventCatalog, make_event
from shared.outbox import OutboxRelay, event_exchange

SERVICE = "benchrelay"


def _events(count: int) -> list[dict]:
    lead_created = EventCatalog(LEADS_EVENTS).contract("leads.lead_created")
    return [event_row(make_event(lead_created, {
        "lead_id": str(uuid.uuid4()), "company": f"Relay {n}", "status": "new", "source": "web_form", "segment": "smb",
        "owner_id": None, "estimated_value": "1000.00", "currency": "EUR"})) for n in range(count)]


def _bound_queue(amqp_uri: str, exchange_name: str) -> Queue:
    queue = Queue(f"bench-relay-{uuid.uuid4().hex[:6]}", exchange=event_exchange(exchange_name),
                  routing_key="#", durable=True)
    with Connection(amqp_uri) as conn:
        queue(conn.default_channel).declare()
    return queue


def _drop(amqp_uri: str, queue: Queue) -> int:
    with Connection(amqp_uri) as conn:
        _, depth, _ = queue(conn.default_channel).queue_declare(passive=True)
        queue(conn.default_channel).delete()
        return depth


def measure_relay(amqp_uri: str, db_url: str, rows: list[dict], meter: CpuMeter, cpu: dict) -> tuple[float, int]:
    metadata = service_metadata()
    engine = make_engine(db_url)
    metadata.create_all(engine, tables=[metadata.tables["outbox"]])
    outbox = metadata.tables["outbox"]
    rows = [{**row, "exchange": f"{SERVICE}.events"} for row in rows]
    with engine.begin() as conn:
        conn.execute(insert(outbox), rows)
    queue = _bound_queue(amqp_uri, f"{SERVICE}.events")
    relay = OutboxRelay(engine, outbox, amqp_uri, batch_size=load_settings().relay_batch_size)
    with meter.per_op(cpu, len(rows)):
        started = time.perf_counter()
        while relay.drain_once():
            pass
        elapsed = time.perf_counter() - started
    relay.stop()
    relay._drop_connection()
    with engine.connect() as conn:
        left = conn.scalar(select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None)))
    engine.dispose()
    assert left == 0, f"{left} outbox rows were not published"
    return len(rows) / elapsed, _drop(amqp_uri, queue)


def measure_dispatcher(amqp_uri: str, rows: list[dict], meter: CpuMeter, cpu: dict) -> tuple[float, int]:
    queue = _bound_queue(amqp_uri, f"{SERVICE}.events")
    dispatch = event_dispatcher({"AMQP_URI": amqp_uri, "serializer": "json"})
    payloads = [(row["event_type"], json.loads(row["body"])) for row in rows]
    with meter.per_op(cpu, len(rows)):
        started = time.perf_counter()
        for event_type, body in payloads:
            dispatch(SERVICE, event_type, body)
        elapsed = time.perf_counter() - started
    return len(rows) / elapsed, _drop(amqp_uri, queue)


def run(amqp_uri: str, db_url: str, count: int, meter: CpuMeter) -> Metric:
    rows = _events(count)
    cpu_ours, cpu_baseline = {}, {}
    baseline, baseline_delivered = measure_dispatcher(amqp_uri, rows, meter, cpu_baseline)
    ours, delivered = measure_relay(amqp_uri, db_url, rows, meter, cpu_ours)
    problems = [f"{what} delivered {n} of {count} events to the bound queue"
                for what, n in (("relay", delivered), ("dispatcher", baseline_delivered)) if n != count]
    return Metric("outbox_relay", ours, baseline, "events/s", 3.0, problems=problems,
                  note=f"{count} events, each delivered once" if not problems else "",
                  details={"events": count, "delivered": delivered, "baseline_delivered": baseline_delivered,
                           "cpu_ms_per_op": {"ours": cpu_ours, "baseline": cpu_baseline}})
