"""``conversion_pipeline``: leads converted through the gateway until sales
has opened an opportunity for each (gateway, leads, outbox relay, RabbitMQ,
the idempotent sales consumer), against kombu publishing the same event
payloads with confirms to a queue and consuming them."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import timezone

import psycopg2
from kombu import Connection, Exchange, Queue

from bench.client import Api, expect, run_concurrently
from bench.gateway_write import CONCURRENCY, lead_body
from bench.report import Metric


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


def measure_ours(rep: Api, sales_db: str, count: int) -> dict:
    tag = uuid.uuid4().hex[:6]
    leads = []
    lock = threading.Lock()

    def create(n):
        lead = expect(rep.post("/leads", lead_body(tag, n)), 201)
        expect(rep.post(f"/leads/{lead['id']}/qualify"), 200)
        with lock:
            leads.append(lead["id"])

    run_concurrently(range(count), create, CONCURRENCY)
    started_at: dict[str, float] = {}

    def convert(lead_id):
        started_at[lead_id] = time.time()
        expect(rep.post(f"/leads/{lead_id}/convert"), 200)

    first = time.time()
    converting = threading.Thread(target=run_concurrently, args=(leads, convert, CONCURRENCY))
    converting.start()
    visible: dict[str, float] = {}
    conn = psycopg2.connect(sales_db)
    conn.autocommit = True
    deadline = time.time() + 600
    try:
        while len(visible) < len(leads) and time.time() < deadline:
            with conn.cursor() as cur:
                cur.execute("SELECT source_lead_id, created_at FROM opportunities WHERE source_lead_id IS NOT NULL")
                for lead_id, created in cur.fetchall():
                    visible.setdefault(lead_id, created.astimezone(timezone.utc).timestamp())
            time.sleep(0.05)
        with conn.cursor() as cur:
            cur.execute("SELECT count(*), count(DISTINCT source_lead_id) FROM opportunities")
            rows, distinct = cur.fetchone()
    finally:
        conn.close()
    converting.join()
    last = max(visible.values())
    latencies = [visible[i] - started_at[i] for i in leads if i in visible and i in started_at]
    return {"rate": len(visible) / (last - first), "p50": _percentile(latencies, 50),
            "p99": _percentile(latencies, 99), "opportunities": rows, "distinct": distinct,
            "missing": len(leads) - len(visible)}


def converted_payloads(leads_db: str, count: int) -> list[str]:
    conn = psycopg2.connect(leads_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT body FROM outbox WHERE event_type = 'leads.lead_converted' ORDER BY id LIMIT %s",
                        (count,))
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def measure_kombu(amqp_uri: str, bodies: list[str]) -> dict:
    exchange = Exchange(f"bench-baseline-{uuid.uuid4().hex[:6]}", type="topic", durable=True)
    queue = Queue(f"bench-baseline-{uuid.uuid4().hex[:6]}", exchange=exchange, routing_key="#", durable=True)
    published: dict[int, float] = {}
    received: dict[int, float] = {}
    done = threading.Event()

    def consume():
        with Connection(amqp_uri) as conn:
            def on_message(body, message):
                received[int(message.headers["n"])] = time.time()
                message.ack()
                if len(received) == len(bodies):
                    done.set()

            with conn.Consumer(queue, callbacks=[on_message], accept=["json"], prefetch_count=100):
                ready.set()
                while not done.is_set():
                    try:
                        conn.drain_events(timeout=1)
                    except TimeoutError:
                        continue

    ready = threading.Event()
    with Connection(amqp_uri) as conn:
        queue(conn.default_channel).declare()
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    ready.wait(30)
    first = time.time()
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for n, body in enumerate(bodies):
            published[n] = time.time()
            producer.publish(body, exchange=exchange, routing_key="leads.lead_converted", headers={"n": n},
                             content_type="application/json", content_encoding="utf-8", delivery_mode=2)
    done.wait(600)
    last = max(received.values())
    latencies = [received[n] - published[n] for n in received]
    with Connection(amqp_uri) as conn:
        queue(conn.default_channel).delete()
        exchange(conn.default_channel).delete()
    return {"rate": len(received) / (last - first), "p50": _percentile(latencies, 50),
            "p99": _percentile(latencies, 99)}


def run(rep: Api, amqp_uri: str, leads_db: str, sales_db: str, count: int) -> Metric:
    ours = measure_ours(rep, sales_db, count)
    baseline = measure_kombu(amqp_uri, converted_payloads(leads_db, count))
    return Metric("conversion_pipeline", ours["rate"], baseline["rate"], "events/s", 0.25, details={
        "conversions": count, "p50_ms": round(ours["p50"] * 1000, 1), "p99_ms": round(ours["p99"] * 1000, 1),
        "opportunities": ours["opportunities"], "distinct_leads": ours["distinct"], "missing": ours["missing"],
        "baseline_p50_ms": round(baseline["p50"] * 1000, 1), "baseline_p99_ms": round(baseline["p99"] * 1000, 1)})
