"""``conversion_pipeline``: leads converted through the gateway until sales
has opened an opportunity for each (gateway, leads, outbox relay, RabbitMQ,
the idempotent sales consumer), against kombu publishing the same event
payloads with confirms to a queue and consuming them.

The rate runs from the first convert request to the moment the sales
database holds an opportunity for every converted lead (polled with a cheap
``count(*)`` every 50 ms). Each lead's convert-to-visible latency runs from
its convert request to its opportunity's ``created_at``, which the sales
handler sets in the transaction that makes it visible; reading it back at the
end keeps the polling from loading PostgreSQL while the pipeline runs."""
from __future__ import annotations

import threading
import time
import uuid

import psycopg2
from kombu import Connection, Exchange, Queue

from bench.client import Api, expect, percentile, run_concurrently
from bench.env import CpuMeter
from bench.gateway_write import CONCURRENCY, lead_body
from bench.report import Metric

POLL_SECONDS = 0.05


def prepare(rep: Api, count: int) -> list[str]:
    """``count`` new leads of ``rep``, qualified and ready to convert (not timed)."""
    tag = uuid.uuid4().hex[:6]
    leads: list[str] = []
    lock = threading.Lock()

    def create(n):
        lead = expect(rep.post("/leads", lead_body(tag, n)), 201)
        expect(rep.post(f"/leads/{lead['id']}/qualify"), 200)
        with lock:
            leads.append(lead["id"])

    timings = run_concurrently(range(count), create, CONCURRENCY)
    if timings.errors:
        raise RuntimeError(f"preparing leads to convert failed: {timings.errors}")
    return leads


def measure_ours(rep: Api, sales_db: str, leads: list[str], meter: CpuMeter, cpu: dict) -> dict:
    conn = psycopg2.connect(sales_db)
    conn.autocommit = True
    started_at: dict[str, float] = {}
    outcome: dict = {}

    def convert(lead_id):
        started_at[lead_id] = time.time()
        expect(rep.post(f"/leads/{lead_id}/convert"), 200)

    def converting():
        outcome["timings"] = run_concurrently(leads, convert, CONCURRENCY)

    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM opportunities")
            before = cur.fetchone()[0]
            with meter.per_op(cpu, len(leads)):
                first = time.time()
                converter = threading.Thread(target=converting)
                converter.start()
                deadline = first + 900
                seen = 0
                while time.time() < deadline:
                    cur.execute("SELECT count(*) FROM opportunities")
                    seen = cur.fetchone()[0] - before
                    if seen >= len(leads) or (not converter.is_alive() and seen >= len(outcome["timings"].latencies)):
                        break
                    time.sleep(POLL_SECONDS)
                last = time.time()
                converter.join()
            cur.execute("SELECT source_lead_id, created_at FROM opportunities WHERE source_lead_id = ANY(%s)",
                        (leads,))
            visible = {lead_id: created.timestamp() for lead_id, created in cur.fetchall()}
            cur.execute("SELECT count(*), count(DISTINCT source_lead_id) FROM opportunities "
                        "WHERE source_lead_id = ANY(%s)", (leads,))
            rows, distinct = cur.fetchone()
    finally:
        conn.close()
    latencies = [visible[i] - started_at[i] for i in leads if i in visible and i in started_at]
    timings = outcome["timings"]
    return {"rate": len(visible) / (last - first), "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99), "seconds": last - first, "opportunities": rows,
            "distinct": distinct, "missing": len(leads) - len(visible), "errors": timings.errors,
            "convert_p50": timings.percentile(50), "convert_rate": timings.rate}


def converted_payloads(leads_db: str, leads: list[str]) -> list[str]:
    """The ``leads.lead_converted`` event bodies the leads service wrote for these leads."""
    conn = psycopg2.connect(leads_db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT body FROM outbox WHERE event_type = 'leads.lead_converted' ORDER BY id DESC LIMIT %s",
                        (len(leads),))
            return [row[0] for row in cur.fetchall()][::-1]
    finally:
        conn.close()


def measure_kombu(amqp_uri: str, bodies: list[str], meter: CpuMeter, cpu: dict) -> dict:
    exchange = Exchange(f"bench-baseline-{uuid.uuid4().hex[:6]}", type="topic", durable=True)
    queue = Queue(f"bench-baseline-{uuid.uuid4().hex[:6]}", exchange=exchange, routing_key="#", durable=True)
    published: dict[int, float] = {}
    received: dict[int, float] = {}
    done = threading.Event()
    ready = threading.Event()

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

    with Connection(amqp_uri) as conn:
        queue(conn.default_channel).declare()
    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    ready.wait(30)
    with meter.per_op(cpu, len(bodies)):
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
    return {"rate": len(received) / (last - first), "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99), "received": len(received)}


def run(rep: Api, amqp_uri: str, leads_db: str, sales_db: str, count: int, meter: CpuMeter) -> Metric:
    leads = prepare(rep, count)
    cpu_ours, cpu_baseline = {}, {}
    ours = measure_ours(rep, sales_db, leads, meter, cpu_ours)
    baseline = measure_kombu(amqp_uri, converted_payloads(leads_db, leads), meter, cpu_baseline)
    problems = []
    if ours["errors"]:
        problems.append(f"convert errors {ours['errors']}")
    if ours["missing"]:
        problems.append(f"{ours['missing']} leads without an opportunity")
    if ours["opportunities"] != ours["distinct"]:
        problems.append(f"{ours['opportunities'] - ours['distinct']} opportunities doubled")
    return Metric("conversion_pipeline", ours["rate"], baseline["rate"], "events/s", 0.25,
                  note=f"p50 {ours['p50'] * 1000:.0f} ms, p99 {ours['p99'] * 1000:.0f} ms convert-to-visible; "
                       f"{ours['distinct']} opportunities, none missing or doubled" if not problems else
                       f"p50 {ours['p50'] * 1000:.0f} ms, p99 {ours['p99'] * 1000:.0f} ms convert-to-visible",
                  problems=problems,
                  details={"conversions": count, "concurrency": CONCURRENCY, "seconds": round(ours["seconds"], 1),
                           "p50_ms": round(ours["p50"] * 1000, 1), "p99_ms": round(ours["p99"] * 1000, 1),
                           "convert_requests_per_s": round(ours["convert_rate"], 1),
                           "convert_request_p50_ms": round(ours["convert_p50"] * 1000, 1),
                           "opportunities": ours["opportunities"], "distinct_leads": ours["distinct"],
                           "missing": ours["missing"],
                           "baseline_p50_ms": round(baseline["p50"] * 1000, 1),
                           "baseline_p99_ms": round(baseline["p99"] * 1000, 1),
                           "cpu_ms_per_op": {"ours": cpu_ours, "baseline": cpu_baseline}})
