"""``make bench``: start a throwaway suite on PostgreSQL, measure every metric
against its baseline, print one line each and write bench/results.json.

    python -m bench.run [--quick] [--only NAME ...]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench import conversion, gateway_write, lead_import, relay
from bench.client import Api, expect
from bench.env import Suite, Throwaway, backend_pids, cpu_seconds
from bench.profile import profiling
from bench.report import RESULTS, write

SIZES = {  # full, quick
    "gateway_create_lead": (3000, 500),
    "conversion_pipeline": (5000, 500),
    "outbox_relay": (20000, 5000),
    "lead_import": (100000, 10000),
}


def _cpu(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each suite process, the backends and this
    benchmark process itself (the clients and the baselines)."""
    used = {proc: cpu_seconds(pid) for proc, pid in pids.items()}
    for backend, backend_pids_ in backend_pids().items():
        used[backend] = sum(cpu_seconds(pid) for pid in backend_pids_)
    times = os.times()
    used["bench"] = times.user + times.system + times.children_user + times.children_system
    return used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="reduced sizes, under 2 minutes")
    parser.add_argument("--only", nargs="*", choices=sorted(SIZES), help="run only these metrics")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record every suite process with py-spy during each metric into DIR")
    args = parser.parse_args(argv)
    size = {name: sizes[1 if args.quick else 0] for name, sizes in SIZES.items()}
    wanted = args.only or list(SIZES)
    started = time.monotonic()
    throwaway = Throwaway()
    suite = Suite(throwaway)
    metrics = []
    try:
        print(f"starting the suite on PostgreSQL ({'quick' if args.quick else 'full'} run) ...", flush=True)
        suite.start()
        admin = Api(suite.base_url, suite.admin_key)
        team = expect(admin.post("/teams", {"name": "bench"}), 201)["id"]
        rep = admin.as_user("rep", team)
        env = suite.env
        steps = {
            "lead_import": lambda: lead_import.run(admin, suite, throwaway.database("copy"), suite.workdir,
                                                   size["lead_import"]),
            "gateway_create_lead": lambda: gateway_write.run(rep, throwaway.vhost("echo"),
                                                             size["gateway_create_lead"]),
            "conversion_pipeline": lambda: conversion.run(rep, throwaway.vhost("kombu"), env["LEADS_DATABASE_URL"],
                                                          env["SALES_DATABASE_URL"], size["conversion_pipeline"]),
            "outbox_relay": lambda: relay.run(throwaway.vhost("relay"), throwaway.database("relay"),
                                              size["outbox_relay"]),
        }
        for name in steps:
            if name in wanted:
                print(f"measuring {name} ...", flush=True)
                pids = suite.pids()
                before = _cpu(pids)
                with profiling(pids, name, args.profile):
                    metric = steps[name]()
                after = _cpu(pids)
                metric.details["cpu_s"] = {proc: round(after[proc] - before.get(proc, 0.0), 1) for proc in after}
                metrics.append(metric)
                print(metric.line(), flush=True)
    finally:
        suite.stop()
        throwaway.cleanup()
    print()
    for metric in metrics:
        print(metric.line())
    write(metrics)
    print(f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS} "
          f"in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
