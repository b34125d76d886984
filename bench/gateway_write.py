"""``gateway_create_lead``: POST /api/v1/leads through the gateway, against a
nameko RPC echo service called by standalone RPC proxies, 16 callers each."""
from __future__ import annotations

import queue
import subprocess
import sys
import time
import uuid

from nameko.standalone.rpc import ClusterRpcProxy

from bench.client import Api, Timings, expect, run_concurrently
from bench.env import CpuMeter
from bench.report import Metric

CONCURRENCY = 16


def lead_body(tag: str, n: int) -> dict:
    return {"company": f"Bench {tag} {n:06d}", "contact_name": "Bench Contact",
            "email": f"lead{n}.{tag}@bench.example", "source": "web_form", "segment": "smb",
            "estimated_value": "1000.00", "currency": "EUR"}


def measure_gateway(api: Api, count: int) -> Timings:
    tag = uuid.uuid4().hex[:6]
    return run_concurrently(range(count), lambda n: expect(api.post("/leads", lead_body(tag, n)), 201),
                            CONCURRENCY)


def measure_echo(amqp_uri: str, count: int, meter: CpuMeter, cpu: dict) -> Timings:
    """The same number of calls with the same payloads through a pool of
    started proxies, as the gateway keeps one."""
    service = subprocess.Popen([sys.executable, "-m", "nameko", "run", "bench.echo_service", "--broker", amqp_uri],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = {"AMQP_URI": amqp_uri, "serializer": "json"}
    holders = [ClusterRpcProxy(config, timeout=30) for _ in range(CONCURRENCY)]
    pool: queue.Queue = queue.Queue()
    try:
        for holder in holders:
            pool.put(holder.start())
        proxy = pool.get()
        for _ in range(150):  # until the echo service answers
            try:
                proxy.bench_echo.echo({})
                break
            except Exception:
                time.sleep(0.2)
        pool.put(proxy)

        def call(n):
            proxy = pool.get()
            try:
                proxy.bench_echo.echo(lead_body("echo", n))
            finally:
                pool.put(proxy)

        run_concurrently(range(min(200, count)), call, CONCURRENCY)
        with meter.per_op(cpu, count, extra={"echo_service": service.pid}):
            return run_concurrently(range(count), call, CONCURRENCY)
    finally:
        for holder in holders:
            holder.stop()
        service.terminate()
        service.wait(10)


def run(api: Api, amqp_uri: str, count: int, meter: CpuMeter) -> Metric:
    measure_gateway(api, min(200, count))  # warm up connections and pools
    cpu_ours, cpu_baseline = {}, {}
    with meter.per_op(cpu_ours, count):
        ours = measure_gateway(api, count)
    baseline = measure_echo(amqp_uri, count, meter, cpu_baseline)
    mine, theirs = ours.summary(), baseline.summary()
    return Metric("gateway_create_lead", ours.rate, baseline.rate, "req/s", 0.5,
                  note=f"p50 {mine['p50_ms']:.0f} ms, p99 {mine['p99_ms']:.0f} ms, errors {mine['errors']}; "
                       f"baseline p50 {theirs['p50_ms']:.0f} ms",
                  details={"requests": count, "concurrency": CONCURRENCY, "p50_ms": mine["p50_ms"],
                           "p99_ms": mine["p99_ms"], "errors": mine["errors"],
                           "baseline_p50_ms": theirs["p50_ms"], "baseline_p99_ms": theirs["p99_ms"],
                           "cpu_ms_per_op": {"ours": cpu_ours, "baseline": cpu_baseline}})
