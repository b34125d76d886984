"""``make bench``: start a throwaway suite on PostgreSQL, measure every metric
against its baseline, print one line each and write bench/results.json.

    python -m bench.run [--quick] [--only NAME ...] [--profile DIR]
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from bench import conversion, gateway_write, lead_import, relay
from bench.client import Api, expect
from bench.env import PG_ADMIN, RABBIT, CpuMeter, Suite
from bench.profile import profiling
from bench.report import RESULTS, cpu_line, write
from crm_testkit.throwaway import Throwaway

SIZES = {  # full, quick
    "gateway_create_lead": (3000, 500),
    "conversion_pipeline": (5000, 1000),
    "outbox_relay": (20000, 5000),
    "lead_import": (100000, 10000),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="reduced sizes, under 2 minutes")
    parser.add_argument("--only", nargs="*", choices=sorted(SIZES), help="run only these metrics")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record every suite process with py-spy during each metric into DIR")
    args = parser.parse_args(argv)
    # Publisher confirms that arrive while a finished proxy closes its channel are harmless.
    logging.getLogger("amqp").setLevel(logging.ERROR)
    size = {name: sizes[1 if args.quick else 0] for name, sizes in SIZES.items()}
    wanted = args.only or list(SIZES)
    started = time.monotonic()
    throwaway = Throwaway("crm-bench", PG_ADMIN, RABBIT)
    suite = Suite(throwaway)
    metrics = []
    try:
        print(f"starting the suite on PostgreSQL ({'quick' if args.quick else 'full'} run) ...", flush=True)
        suite.start()
        print(f"  up in {time.monotonic() - started:.0f}s: {', '.join(f'{k} {v}' for k, v in suite.pids().items())}",
              flush=True)
        admin = Api(suite.base_url, suite.admin_key)
        team = expect(admin.post("/teams", {"name": "bench"}), 201)["id"]
        rep = admin.as_user("rep", team)
        env = suite.env
        meter = CpuMeter(suite.pids(), throwaway.run_id)
        steps = {
            "lead_import": lambda: lead_import.run(admin, suite, throwaway.database("copy"), suite.workdir,
                                                   size["lead_import"], meter),
            "gateway_create_lead": lambda: gateway_write.run(rep, throwaway.vhost("echo"),
                                                             size["gateway_create_lead"], meter),
            "conversion_pipeline": lambda: conversion.run(rep, throwaway.vhost("kombu"), env["LEADS_DATABASE_URL"],
                                                          env["SALES_DATABASE_URL"], size["conversion_pipeline"],
                                                          meter),
            "outbox_relay": lambda: relay.run(throwaway.vhost("relay"), throwaway.database("relay"),
                                              size["outbox_relay"], meter),
        }
        for name in steps:
            if name in wanted:
                step_started = time.monotonic()
                print(f"measuring {name} ...", flush=True)
                with profiling(suite.pids(), name, args.profile):
                    metric = steps[name]()
                metric.details["step_seconds"] = round(time.monotonic() - step_started, 1)
                metrics.append(metric)
                print(metric.line(), flush=True)
    finally:
        suite.stop()
        throwaway.cleanup()
    print()
    for metric in metrics:
        print(metric.line())
    print()
    for metric in metrics:
        print(f"{metric.name}\n{cpu_line(metric)}")
    write(metrics)
    where = RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS
    print(f"\nwritten to {where} in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
