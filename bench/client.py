"""The HTTP client code shared by the benchmarks and the load test: one
keep-alive connection per thread, timed calls, and a pool of concurrent callers.

The client runs on the same two cores as the suite it measures, so it is kept
lean: urllib3 (what requests is built on) with one connection pool per
thread, and no per-request proxy and netrc lookups. ``requests`` cost about
0.6 to 0.9 ms of CPU per call here, this client 0.2 to 0.3 ms; that CPU would
otherwise be taken from the gateway and the services under test.
"""
from __future__ import annotations

import json as jsonlib
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from urllib.parse import urlencode, urlsplit

import urllib3

# Like requests: no automatic retry of a request that may have reached the
# server (a retried POST could create a lead twice and hide the error).
NO_RETRIES = urllib3.Retry(total=0, read=False, redirect=False)


class Response:
    """What the benchmarks need of an HTTP answer (a subset of requests' Response)."""

    def __init__(self, method: str, url: str, raw: urllib3.BaseHTTPResponse):
        self.method, self.url = method, url
        self.status_code = raw.status
        self.headers = raw.headers
        self.content = raw.data

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class Api:
    """``/api/v1`` of a running gateway, as one API key; thread-safe."""

    def __init__(self, base_url: str, key: str, timeout: float = 60.0):
        self.root = base_url.rstrip("/")
        self.base = self.root + "/api/v1"
        self.key = key
        self.timeout = timeout
        parts = urlsplit(self.root)
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path + "/api/v1"
        self._headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        self._local = threading.local()

    def _pool(self) -> urllib3.HTTPConnectionPool:
        pool = getattr(self._local, "pool", None)
        if pool is None:
            cls = urllib3.HTTPSConnectionPool if self._scheme == "https" else urllib3.HTTPConnectionPool
            pool = self._local.pool = cls(self._host, self._port, maxsize=1, retries=NO_RETRIES)
        return pool

    def request(self, method: str, path: str, json: Any = None, params: dict | None = None,
                headers: dict | None = None, files: dict | None = None, timeout: float | None = None) -> Response:
        """``files``: ``{"file": (filename, bytes or binary file, content type)}``, sent as multipart."""
        url = self._prefix + path + (("&" if "?" in path else "?") + urlencode(params) if params else "")
        sent = dict(self._headers)
        if headers:
            sent.update(headers)
        body = None
        if files is not None:
            fields = {name: (fname, data if isinstance(data, bytes) else data.read(), ctype)
                      for name, (fname, data, ctype) in files.items()}
            body, sent["Content-Type"] = urllib3.encode_multipart_formdata(fields)
        elif json is not None or method in ("POST", "PUT", "PATCH"):
            body = jsonlib.dumps(json).encode() if json is not None else b""
            if json is not None:
                sent["Content-Type"] = "application/json"
        try:
            raw = self._pool().urlopen(method, url, body=body, headers=sent,
                                       timeout=urllib3.Timeout(total=timeout or self.timeout),
                                       retries=NO_RETRIES, redirect=False)
        except urllib3.exceptions.MaxRetryError as exc:  # the cause, not urllib3's wrapper
            raise ConnectionError(f"{method} {url}: {exc.reason}") from None
        return Response(method, self._origin + url, raw)

    def post(self, path: str, body: Any = None, **kwargs) -> Response:
        return self.request("POST", path, json=body, **kwargs)

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def as_user(self, role: str, team_id: str | None = None) -> "Api":
        """A new user of ``role`` (made with this key, an admin's) and their own key."""
        user = expect(self.post("/users", {"name": f"bench {role} {time.monotonic_ns()}", "role": role,
                                           "team_id": team_id}), 201)
        key = expect(self.post("/api-keys", {"user_id": user["id"], "name": "bench"}), 201)["key"]
        return Api(self.root, key, self.timeout)


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
        return percentile(self.latencies, p)

    def summary(self) -> dict[str, float]:
        return {"p50_ms": round(self.percentile(50) * 1000, 1), "p99_ms": round(self.percentile(99) * 1000, 1),
                "mean_ms": round(statistics.fmean(self.latencies) * 1000, 1) if self.latencies else 0.0,
                "count": len(self.latencies), "errors": sum(self.errors.values())}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


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


def expect(response: Response, status: int) -> dict:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.method} {response.url}: {response.status_code} {response.text[:300]}")
    return response.json() if response.content else {}
