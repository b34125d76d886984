"""A load test to point at a running suite: a mix of reads and writes at a
bounded rate for a while, then a check that every lead it created exists
exactly once.

    python -m bench.loadtest --url http://127.0.0.1:8000 --key "$KEY" --minutes 5 --rate 50

Writes create leads (each with an ``Idempotency-Key``) named after this run;
reads list leads, search this run's leads and fetch ones it created. It
prints throughput, latency percentiles and errors per kind of request, and
exits non-zero when a request failed or a created lead is missing or doubled.
"""
from __future__ import annotations

import argparse
import collections
import random
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from bench.client import Api, Timings, expect

KINDS = ("create", "list", "search", "get")


class LoadTest:
    def __init__(self, api: Api, rate: float, seconds: float, read_share: float, workers: int):
        self.api, self.rate, self.seconds, self.read_share, self.workers = api, rate, seconds, read_share, workers
        self.tag = f"load{uuid.uuid4().hex[:8]}"
        self.timings = {kind: Timings() for kind in KINDS}
        self.created: dict[str, str] = {}      # company -> lead id, as the gateway answered
        self.unanswered: list[str] = []         # companies whose create got no answer
        self._ids: list[str] = []
        self.skipped = 0                        # turns not taken: every worker busy, a queue as long
        self._lock = threading.Lock()
        self._count = 0

    def _create(self) -> None:
        with self._lock:
            self._count += 1
            n = self._count
        company = f"{self.tag} company {n:07d}"
        try:
            answer = self.api.post("/leads", {"company": company, "email": f"{n}@{self.tag}.example",
                                              "source": "web_form", "estimated_value": "500.00",
                                              "currency": "EUR"}, headers={"Idempotency-Key": f"{self.tag}-{n}"})
        except Exception:
            with self._lock:
                self.unanswered.append(company)
            raise
        if answer.status_code != 201:
            raise RuntimeError(f"HTTP {answer.status_code}")
        with self._lock:
            self.created[company] = answer.json()["id"]
            self._ids.append(self.created[company])

    def _read(self, kind: str) -> None:
        if kind == "get" and self._ids:
            path = f"/leads/{random.choice(self._ids)}"
        elif kind == "search":
            path = f"/leads?q={self.tag}&limit=20"
        else:
            path = "/leads?limit=20"
        answer = self.api.get(path)
        if answer.status_code != 200:
            raise RuntimeError(f"HTTP {answer.status_code}")

    def _one(self, kind: str) -> None:
        started = time.perf_counter()
        try:
            self._create() if kind == "create" else self._read(kind)
        except Exception as exc:
            with self._lock:
                self.timings[kind].error(str(exc) if isinstance(exc, RuntimeError) else type(exc).__name__)
            return
        took = time.perf_counter() - started
        with self._lock:
            self.timings[kind].add(took)

    def run(self) -> None:
        """Start one request every 1/rate seconds (never more), on a pool of
        workers. A request whose turn comes while every worker is still busy
        and as many again are waiting is skipped and counted: the suite is
        not keeping up with the rate, and an ever-growing queue on the client
        would only hide that."""
        started = time.perf_counter()
        interval = 1.0 / self.rate
        waiting = threading.BoundedSemaphore(2 * self.workers)

        def one(kind):
            try:
                self._one(kind)
            finally:
                waiting.release()

        with ThreadPoolExecutor(self.workers) as pool:
            n = 0
            while (now := time.perf_counter() - started) < self.seconds:
                due = n * interval
                if due > now:
                    time.sleep(due - now)
                n += 1
                kind = "create" if random.random() >= self.read_share or not self.created else \
                    random.choice(("list", "search", "get"))
                if not waiting.acquire(blocking=False):
                    self.skipped += 1
                    continue
                pool.submit(one, kind)
        elapsed = time.perf_counter() - started
        for timings in self.timings.values():
            timings.elapsed = elapsed

    def verify(self) -> dict:
        """Every lead this run created, looked up by the run's tag: each company once."""
        seen: collections.Counter = collections.Counter()
        offset = 0
        while True:
            page = expect(self.api.get("/leads", params={"q": self.tag, "limit": 500, "offset": offset}), 200)
            seen.update(item["company"] for item in page["items"])
            offset += 500
            if offset >= page["total"]:
                break
        missing = [c for c in self.created if seen[c] == 0]
        doubled = [c for c, n in seen.items() if n > 1]
        unacknowledged = [c for c in seen if c not in self.created]
        return {"acknowledged": len(self.created), "found": sum(seen.values()), "missing": missing,
                "doubled": doubled, "created_without_answer": unacknowledged}

    def report(self, check: dict) -> bool:
        print(f"{'request':<8} {'done':>7} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  errors")
        everything = Timings(elapsed=next(iter(self.timings.values())).elapsed)
        for kind, t in self.timings.items():
            everything.latencies += t.latencies
            for error, n in t.errors.items():
                everything.errors[f"{kind}: {error}"] = n
            print(f"{kind:<8} {len(t.latencies):>7} {t.rate:>7.1f} {t.percentile(50) * 1000:>8.1f} "
                  f"{t.percentile(95) * 1000:>8.1f} {t.percentile(99) * 1000:>8.1f}  {dict(t.errors) or '-'}")
        t = everything
        print(f"{'all':<8} {len(t.latencies):>7} {t.rate:>7.1f} {t.percentile(50) * 1000:>8.1f} "
              f"{t.percentile(95) * 1000:>8.1f} {t.percentile(99) * 1000:>8.1f}  {sum(t.errors.values()) or '-'}")
        if any("HTTP 429" in error for error in t.errors):
            print("HTTP 429: the gateway's per-key rate limit (GATEWAY_RATE_LIMIT, 600/minute by default) "
                  "is below this rate")
        if self.skipped:
            print(f"skipped {self.skipped} turns: the suite did not keep up with {self.rate:g} requests/s "
                  f"on {self.workers} workers")
        print(f"\nleads acknowledged {check['acknowledged']}, found {check['found']}, "
              f"missing {len(check['missing'])}, doubled {len(check['doubled'])}, "
              f"created without an answer {len(check['created_without_answer'])}")
        errors = sum(sum(t.errors.values()) for t in self.timings.values())
        ok = not errors and not check["missing"] and not check["doubled"]
        print("OK: every created lead exists exactly once" if ok else "FAILED")
        return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway")
    parser.add_argument("--key", required=True, help="an API key of a rep, manager or admin")
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, help="instead of --minutes, for short runs")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second, at most")
    parser.add_argument("--read-share", type=float, default=0.7, help="share of requests that read")
    parser.add_argument("--workers", type=int, default=16, help="concurrent requests, at most")
    args = parser.parse_args(argv)
    test = LoadTest(Api(args.url, args.key), args.rate, args.seconds or args.minutes * 60, args.read_share,
                    args.workers)
    print(f"{args.rate:g} requests/s for {test.seconds:g}s against {args.url} (tag {test.tag}) ...", flush=True)
    test.run()
    return 0 if test.report(test.verify()) else 1


if __name__ == "__main__":
    sys.exit(main())
