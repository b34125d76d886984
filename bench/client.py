"""The HTTP client code shared by the benchmarks and the load test: one
session per thread, timed calls, and a pool of concurrent callers."""
from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import requests


class Api:
    """``/api/v1`` of a running gateway, as one API key; thread-safe."""

    def __init__(self, base_url: str, key: str):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.key = key
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {self.key}"
        return session

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        return self._session().request(method, self.base + path, timeout=60, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs) -> requests.Response:
        return self.request("POST", path, json=body, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def as_user(self, role: str, team_id: str | None = None) -> "Api":
        """A new user of ``role`` (made with this key, an admin's) and their own key."""
        user = expect(self.post("/users", {"name": f"bench {role} {time.monotonic_ns()}", "role": role,
                                           "team_id": team_id}), 201)
        key = expect(self.post("/api-keys", {"user_id": user["id"], "name": "bench"}), 201)["key"]
        return Api(self.base[: -len("/api/v1")], key)


@dataclass
class Timings:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0

    def add(self, seconds: float) -> None:
        self.latencies.append(seconds)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    def summary(self) -> dict[str, float]:
        return {"p50_ms": round(self.percentile(50) * 1000, 1), "p99_ms": round(self.percentile(99) * 1000, 1),
                "mean_ms": round(statistics.fmean(self.latencies) * 1000, 1) if self.latencies else 0.0,
                "count": len(self.latencies), "errors": sum(self.errors.values())}


def run_concurrently(work: Iterable[Any], call: Callable[[Any], None], concurrency: int) -> Timings:
    """``call(item)`` for every item, ``concurrency`` at a time; each call's
    duration is one latency, an exception one error (by its type)."""
    timings = Timings()
    lock = threading.Lock()

    def one(item):
        started = time.perf_counter()
        try:
            call(item)
        except Exception as exc:  # counted, reported; the run goes on
            with lock:
                timings.error(type(exc).__name__)
            return
        took = time.perf_counter() - started
        with lock:
            timings.add(took)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, work))
    timings.elapsed = time.perf_counter() - started
    return timings


def expect(response: requests.Response, status: int) -> dict:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.url}: {response.status_code} {response.text[:300]}")
    return response.json() if response.content else {}
