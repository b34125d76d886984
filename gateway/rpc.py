"""A pool of standalone RPC proxies.

``ClusterRpcProxy`` is not thread-safe and costs about 12 ms to start (and
leaves a reply queue behind), so each gateway process keeps up to
``rpc_pool_size`` of them, lends one to one thread per call, and drops one
that broke.

Requests are published with a message TTL equal to the timeout: a call the
gateway gave up on (and answered 503) expires in the service's queue instead
of being carried out minutes later, when the service comes back, behind the
back of a client that was told to retry.
"""
from __future__ import annotations

import queue
import socket
import threading

from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.rpc import ServiceProxy
from nameko.standalone.rpc import ClusterRpcProxy

from shared import nameko_ext  # noqa: F401  (registers shared.errors for deserialisation)
from shared.config import Settings

TRANSPORT_ERRORS = (UnknownService, RpcTimeout, KombuOperationalError, AmqpConnectionError,
                    socket.error, ConnectionError)


class ServiceUnavailable(Exception):
    """A service is not running, does not answer in time, or the broker is away (HTTP 503)."""

    def __init__(self, service: str, detail: str):
        super().__init__(detail)
        self.service, self.detail = service, detail


def unavailable(service: str, error: Exception, timeout: float) -> ServiceUnavailable:
    if isinstance(error, UnknownService):
        return ServiceUnavailable(service, f"the {service} service is not running; try again later")
    if isinstance(error, RpcTimeout):
        return ServiceUnavailable(service, f"the {service} service did not answer within {timeout:g}s; "
                                           "try again later")
    return ServiceUnavailable(service, "the message broker cannot be reached; try again later")


class RpcPool:
    def __init__(self, settings: Settings, timeout: float | None = None, size: int | None = None):
        self.config = {"AMQP_URI": settings.amqp_uri, "serializer": "json"}
        self.timeout = timeout or settings.rpc_timeout
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size or settings.rpc_pool_size)

    def _borrow(self) -> ClusterRpcProxy:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            runner = ClusterRpcProxy(self.config, timeout=self.timeout)
            runner.start()
            return runner

    def call(self, service: str, method: str, *args, **kwargs):
        """``service.method(*args, **kwargs)``; raises ServiceUnavailable when it cannot be had."""
        with self._slots:
            try:
                runner = self._borrow()
            except TRANSPORT_ERRORS as exc:
                raise unavailable(service, exc, self.timeout) from None
            proxy = ServiceProxy(runner._worker_ctx, service, runner._reply_listener,
                                 expiration=self.timeout)
            try:
                result = getattr(proxy, method)(*args, **kwargs)
            except TRANSPORT_ERRORS as exc:
                self._discard(runner)
                raise unavailable(service, exc, self.timeout) from None
            except BaseException:
                self._idle.put(runner)  # a remote error: the proxy itself is fine
                raise
            self._idle.put(runner)
            return result

    @staticmethod
    def _discard(runner: ClusterRpcProxy) -> None:
        try:
            runner.stop()
        except Exception:  # the proxy is broken already; dropping it is all we want
            pass

    def close(self) -> None:
        while True:
            try:
                runner = self._idle.get_nowait()
            except queue.Empty:
                return
            self._discard(runner)
