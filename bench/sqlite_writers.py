"""Concurrent writers against the embedded default: every database a SQLite file.

Starts a throwaway suite as ``crm up`` does (the services and the gateway under
gunicorn, over HTTP), but with no ``*_DATABASE_URL``, so the gateway, leads and
sales each write their own SQLite file; then ``--writers`` clients, each a rep
with a key of its own, write as fast as they are answered for ``--seconds``:
leads (with an ``Idempotency-Key``), activities, lead updates, accounts, and
now and then a new API key. Keys are checked on every request
(``GATEWAY_AUTH_CACHE_SECONDS=0``), so ``last_used_at`` is written too, and the
services' outbox relays and event handlers write beside them.

It prints the requests, 2xx, 4xx and 5xx per route, then checks that every lead
answered 201 exists exactly once. The exit status is 1 on any 5xx, a lost or
doubled lead, or a request that got no answer::

    python -m bench.sqlite_writers                # 16 writers for 60 s
    python -m bench.sqlite_writers --seconds 15
"""
from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections import Counter, defaultdict

from bench.client import Api, expect
from bench.env import Suite
from crm_testkit.throwaway import Throwaway

ROUTES = ("POST /leads", "PATCH /leads/{id}", "POST /activities", "POST /accounts", "POST /api-keys")


class SqliteSuite(Suite):
    """The benchmark suite on the embedded default (no PostgreSQL database at all)."""

    def __init__(self, throwaway: Throwaway):
        super().__init__(throwaway)
        for name in [k for k in self.env if k.endswith("_DATABASE_URL")]:
            del self.env[name]
        self.env.update({"GATEWAY_AUTH_CACHE_SECONDS": "0", "GATEWAY_RATE_LIMIT": "1000000/minute",
                         "GATEWAY_AUTH_FAILURE_LIMIT": "1000000/minute"})


class Writers:
    def __init__(self, admin: Api, writers: int, seconds: float):
        self.admin, self.writers, self.seconds = admin, writers, seconds
        self.tag = f"w{uuid.uuid4().hex[:8]}"
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.created: dict[str, str] = {}    # company -> id, as answered
        self.unanswered: list[str] = []
        self.failures: list[str] = []
        self._lock = threading.Lock()

    def _count(self, route: str, status: int | None, detail: str = "") -> None:
        kind = "no answer" if status is None else f"{status // 100}xx"
        with self._lock:
            self.counts[route]["requests"] += 1
            self.counts[route][kind] += 1
            if status is None or status >= 500:
                self.failures.append(f"{route}: {status} {detail[:200]}")

    def _call(self, route: str, send):
        try:
            answer = send()
        except Exception as exc:  # noqa: BLE001 (counted and reported)
            self._count(route, None, repr(exc))
            return None
        self._count(route, answer.status_code, answer.text if answer.status_code >= 500 else "")
        return answer

    def _writer(self, index: int, api: Api, user_id: str, deadline: float) -> None:
        mine: list[str] = []
        n = 0
        while time.monotonic() < deadline:
            n += 1
            company = f"{self.tag} {index:02d} {n:06d}"
            answer = self._call("POST /leads", lambda: api.post("/leads", {
                "company": company, "email": f"{index}-{n}@{self.tag}.example", "source": "web_form",
                "estimated_value": "1234567890123.45", "currency": "EUR"},
                headers={"Idempotency-Key": f"{self.tag}-{index}-{n}"}))
            if answer is None:
                self.unanswered.append(company)
            elif answer.status_code == 201:
                with self._lock:
                    self.created[company] = answer.json()["id"]
                mine.append(answer.json()["id"])
            if mine and n % 2 == 0:
                lead = mine[-1]
                self._call("POST /activities", lambda: api.post("/activities", {
                    "lead_id": lead, "type": "call", "due_at": "2027-03-01T09:00:00+01:00",
                    "cost": "1.50", "currency": "EUR"}))
            if mine and n % 3 == 0:
                lead = mine[-1]
                self._call("PATCH /leads/{id}", lambda: api.request("PATCH", f"/leads/{lead}", json={
                    "version": 1, "notes": f"touched {n}"}))  # a stale version is a 409, also fine
            if n % 4 == 0:
                self._call("POST /accounts", lambda: api.post("/accounts", {"name": f"{company} account"}))
            if n % 10 == 0:
                self._call("POST /api-keys", lambda: self.admin.post("/api-keys", {
                    "user_id": user_id, "name": f"extra {n}"}))

    def run(self) -> None:
        team = expect(self.admin.post("/teams", {"name": f"{self.tag} team"}), 201)["id"]
        reps = []
        for index in range(self.writers):
            user = expect(self.admin.post("/users", {"name": f"{self.tag} rep {index}", "role": "rep",
                                                     "team_id": team}), 201)
            key = expect(self.admin.post("/api-keys", {"user_id": user["id"], "name": "writer"}), 201)["key"]
            reps.append((Api(self.admin.root, key, timeout=60), user["id"]))
        deadline = time.monotonic() + self.seconds
        threads = [threading.Thread(target=self._writer, args=(i, api, uid, deadline), daemon=True)
                   for i, (api, uid) in enumerate(reps)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(self.seconds + 120)

    def verify(self) -> dict:
        """Every lead answered 201 is there exactly once (looked up by its company)."""
        found: Counter = Counter()
        offset = 0
        while True:
            page = expect(self.admin.get("/leads", params={"q": self.tag, "limit": 500, "offset": offset}), 200)
            for item in page["items"]:
                found[(item["company"], item["id"])] += 1
            offset += len(page["items"])
            if not page["items"] or offset >= page.get("total", offset):
                break
        by_company = Counter(company for company, _ in found)
        missing = [c for c, i in self.created.items() if found[(c, i)] != 1]
        doubled = [c for c, times in by_company.items() if times > 1]
        return {"created": len(self.created), "listed": sum(found.values()), "missing": missing,
                "doubled": doubled}

    def totals(self) -> Counter:
        total: Counter = Counter()
        for counts in self.counts.values():
            total.update(counts)
        return total

    def report(self, check: dict) -> None:
        columns = ("requests", "2xx", "4xx", "5xx", "no answer")
        print(f"{'route':<20}" + "".join(f"{c:>11}" for c in columns))
        for route in ROUTES:
            print(f"{route:<20}" + "".join(f"{self.counts[route][c]:>11}" for c in columns))
        total = self.totals()
        print(f"{'all':<20}" + "".join(f"{total[c]:>11}" for c in columns))
        print(f"leads answered 201: {check['created']}, listed: {check['listed']}, "
              f"missing or not once: {len(check['missing'])}, doubled: {len(check['doubled'])}")
        for line in self.failures[:10]:
            print("  failure:", line)


def run(writers: int = 16, seconds: float = 60.0) -> tuple[Writers, dict]:
    """Start a SQLite suite, drive it, stop it; the writers and the check."""
    throwaway = Throwaway("crm-bench")
    suite = SqliteSuite(throwaway)
    try:
        suite.start()
        load = Writers(Api(suite.base_url, suite.admin_key, timeout=60), writers, seconds)
        load.run()
        return load, load.verify()
    finally:
        suite.stop()
        throwaway.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    load, check = run(args.writers, args.seconds)
    load.report(check)
    total = load.totals()
    return 1 if total["5xx"] or total["no answer"] or check["missing"] or check["doubled"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
