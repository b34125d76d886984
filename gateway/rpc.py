"""A pool of standalone RPC proxies.

``ClusterRpcProxy`` is not thread-safe and costs about 12 ms to start (and
leaves a reply queue behind), so each gateway process keeps a few, lends one
to a thread per call, and replaces one that broke.
"""
from __future__ import annotations

import queue
import threading

from nameko.standalone.rpc import ClusterRpcProxy

from gateway.problems import TRANSPORT_ERRORS, transport_error
from shared import nameko_ext  # noqa: F401  (registers our errors for deserialisation)
from shared.config import Settings


class RpcPool:
    def __init__(self, settings: Settings):
        self.config = {"AMQP_URI": settings.amqp_uri, "serializer": "json"}
        self.timeout = settings.rpc_timeout
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(settings.rpc_pool_size)
        self._lock = threading.Lock()

    def _borrow(self):
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            runner = ClusterRpcProxy(self.config, timeout=self.timeout)
            return runner, runner.start()

    def call(self, service: str, method: str, *args, timeout: float | None = None, **kwargs):
        """Call ``service.method``; a service that is away raises ServiceUnavailable (503)."""
        with self._slots:
            try:
                runner, proxy = self._borrow()
            except TRANSPORT_ERRORS as exc:
                raise transport_error(service, exc, self.timeout) from None
            try:
                result = getattr(getattr(proxy, service), method)(*args, **kwargs)
            except TRANSPORT_ERRORS as exc:
                self._discard(runner)
                raise transport_error(service, exc, self.timeout) from None
            except BaseException:
                self._idle.put((runner, proxy))
                raise
            self._idle.put((runner, proxy))
            return result

    def _discard(self, runner) -> None:
        try:
            runner.stop()
        except Exception:  # the proxy is broken already; dropping it is all we want
            pass

    def close(self) -> None:
        while True:
            try:
                runner, _ = self._idle.get_nowait()
            except queue.Empty:
                return
            self._discard(runner)
