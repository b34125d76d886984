"""A pool of standalone RPC proxies.

``ClusterRpcProxy`` is not thread-safe and costs about 12 ms to start (and
leaves a reply queue behind), so each gateway process keeps up to
``rpc_pool_size`` of them, lends one to one thread per call, and drops one
that broke.

Requests are published with a message TTL equal to the timeout: a call the
gateway gave up on (and answered 503) expires in the service's queue instead
of being carried out minutes later, when the service comes back, behind the
back of a client that was told to retry. Each call also carries its deadline
(context data ``deadline``): a service that is merely slow commits nothing
after the gateway has given up and answered 503.

Before a call, RabbitMQ is asked whether anyone consumes the service's RPC
queue (:class:`ConsumerCheck`, at most once a second per service): a stopped
service is answered 503 "not running" at once, not after the whole timeout.
A call made for a POST with an ``Idempotency-Key`` carries its answer key
(context data ``answer_key``): the service records its answer under it, and a
repeated call gets that answer (see :mod:`gateway.idempotency`).
"""
from __future__ import annotations

import queue
import socket
import threading
import time

from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import NotFound as AmqpNotFound
from kombu import Connection
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.rpc import ServiceProxy
from nameko.standalone.rpc import ClusterRpcProxy

from shared import nameko_ext  # registers shared.errors for deserialisation
from shared import signing
from shared.caller import Caller
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
        return not_running(service)
    if isinstance(error, RpcTimeout):
        return ServiceUnavailable(service, f"the {service} service did not answer within {timeout:g}s; "
                                           "try again later")
    return ServiceUnavailable(service, "the message broker cannot be reached; try again later")


def not_running(service: str) -> ServiceUnavailable:
    return ServiceUnavailable(service, f"the {service} service is not running; try again later")


class ConsumerCheck:
    """Whether some process consumes a service's RPC queue (``rpc-<service>``), asked of
    RabbitMQ with a passive queue declaration at most once per ``ttl`` seconds per service,
    so it costs nothing per request. Thread-safe."""

    def __init__(self, amqp_uri: str, ttl: float = 1.0):
        self.amqp_uri, self.ttl = amqp_uri, ttl
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._channel = None
        self._seen: dict[str, tuple[float, bool]] = {}

    def running(self, service: str) -> bool:
        """False only when RabbitMQ says nobody consumes the queue (or it does not exist);
        True when someone does or the broker cannot tell (the call itself then finds out)."""
        seen = self._seen.get(service)
        if seen and time.monotonic() - seen[0] < self.ttl:
            return seen[1]
        with self._lock:
            seen = self._seen.get(service)
            if seen and time.monotonic() - seen[0] < self.ttl:
                return seen[1]
            running = self._ask(service)
            self._seen[service] = (time.monotonic(), running)
            return running

    def _ask(self, service: str) -> bool:
        try:
            if self._connection is None:
                self._connection = Connection(self.amqp_uri, connect_timeout=1)
                self._connection.ensure_connection(max_retries=1)
            if self._channel is None:
                self._channel = self._connection.channel()
            _queue, _messages, consumers = self._channel.queue_declare(queue=f"rpc-{service}", passive=True)
            return consumers > 0
        except AmqpNotFound:  # the service never started here; the broker closed the channel
            self._channel = None
            return False
        except Exception:  # broker away: let the call itself fail or succeed
            self.close()
            return True

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # already broken; dropping it is all we want
                pass
        self._connection, self._channel = None, None


class RpcPool:
    def __init__(self, settings: Settings, timeout: float, size: int, consumers: ConsumerCheck | None = None):
        """``consumers``: shared by the pools of one gateway, so that what /readyz found
        (through its own pool) holds for the calls of the others at once."""
        self.config = {"AMQP_URI": settings.amqp_uri, "serializer": "json"}
        self.timeout = timeout
        self.consumers = consumers or ConsumerCheck(settings.amqp_uri)
        self.signing_key = signing.signing_key(settings)
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def _borrow(self) -> ClusterRpcProxy:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            runner = ClusterRpcProxy(self.config, timeout=self.timeout)
            runner.start()
            return runner

    def call(self, service: str, method: str, *args, signed_as: Caller | None = None,
             answer_key: str | None = None, **kwargs):
        """``service.method(*args, **kwargs)`` on behalf of ``signed_as`` (None: anonymous),
        whose signature the service checks; raises ServiceUnavailable when it cannot be had.

        With ``answer_key`` the service records its answer under that key and answers
        a repeated call from the record instead of running it again."""
        if not self.consumers.running(service):
            raise not_running(service)
        with self._slots:
            try:
                runner = self._borrow()
            except TRANSPORT_ERRORS as exc:
                raise unavailable(service, exc, self.timeout) from None
            # A service commits nothing after the moment we stop waiting (UnitOfWork).
            runner._worker_ctx.data[nameko_ext.DEADLINE] = time.time() + self.timeout
            runner._worker_ctx.data[signing.TOKEN] = signing.sign(signed_as, self.signing_key, self.timeout)
            if answer_key:
                runner._worker_ctx.data[nameko_ext.ANSWER_KEY] = answer_key
            else:
                runner._worker_ctx.data.pop(nameko_ext.ANSWER_KEY, None)
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
        self.consumers.close()
        while True:
            try:
                runner = self._idle.get_nowait()
            except queue.Empty:
                return
            self._discard(runner)
