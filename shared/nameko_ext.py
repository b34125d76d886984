"""The nameko layer of the kernel: database session, outbox relay, and
entrypoints that keep the reliability contract.

nameko replies to an RPC call and acknowledges an event *before* it tells the
dependencies that the worker finished (``handle_result`` runs before
``worker_result``). Committing in ``worker_result`` would therefore reply or
ack before the data is durable. Our entrypoints commit the worker's unit of
work first, in ``handle_result``, and only then reply or ack.

Event handlers are idempotent and never lose a message: the inbox row
``(event_id, handler)`` is written in the handler's own transaction, a
repeated delivery is skipped, and a failing handler's message is moved to a
delay queue (retry with back-off) and finally to a parked queue that an
operator can list and replay (``crm dlq``).
"""
from __future__ import annotations

import logging
import sys

from kombu import Exchange, Queue
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.amqp.publish import Publisher
from nameko.events import EventHandler
from nameko.exceptions import registry
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from sqlalchemy.orm import sessionmaker

from shared import errors
from shared.config import load_settings
from shared.db import UnitOfWork, insert_or_skip, make_engine, utcnow
from shared.logcontext import set_request_id
from shared.outbox import OutboxRelay

log = logging.getLogger(__name__)

# kombu tries ``import librabbitmq`` for every new Connection object, and nameko
# makes one per publish (each RPC request and reply); a failed import is not
# remembered, so each try searches sys.path again (4% of the gateway's CPU).
# We use py-amqp: make the import fail at once.
sys.modules.setdefault("librabbitmq", None)

# Domain errors are rebuilt as themselves on the calling side.
for _cls in errors.ERRORS_BY_NAME.values():
    registry[f"{_cls.__module__}.{_cls.__name__}"] = _cls

ATTEMPTS_HEADER = "x-crm-attempts"
BROKER_ERRORS = (KombuOperationalError, ConnectionError, OSError)
SKIPPED = object()


class Database(DependencyProvider):
    """Gives each worker a :class:`UnitOfWork` on the service's own database
    and runs the outbox relay for the service's events."""

    def __init__(self, metadata, relay: bool = True):
        self.metadata = metadata
        self.relay_enabled = relay
        self.outbox, self.inbox = metadata.tables["outbox"], metadata.tables["inbox"]
        self.units: dict = {}

    def setup(self):
        settings = load_settings()
        self.settings = settings
        self.engine = make_engine(settings.database_url(self.container.service_name),
                                  pool_size=settings.max_workers + 2)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._record_once = insert_or_skip(self.inbox, self.engine.dialect.name)
        self.relay = OutboxRelay(self.engine, self.outbox, settings.amqp_uri,
                                 batch_size=settings.relay_batch_size,
                                 poll_interval=settings.relay_poll_interval)

    def start(self):
        if self.relay_enabled:
            self.container.spawn_managed_thread(self.relay.run)

    def stop(self):
        self.relay.stop()

    def kill(self):
        self.relay.stop()

    def get_dependency(self, worker_ctx):
        uow = UnitOfWork(self.sessions, self.outbox, on_commit=self.relay.wake,
                         correlation_id=worker_ctx.data.get("request_id"))
        self.units[worker_ctx] = uow
        return uow

    def worker_setup(self, worker_ctx):
        key = getattr(worker_ctx.entrypoint, "inbox_key", lambda _ctx: None)(worker_ctx)
        if key is None:
            return
        uow = self.units[worker_ctx]
        event_id, handler, event_type = key
        first_time = uow.session.execute(self._record_once.values(
            event_id=event_id, handler=handler, event_type=event_type, processed_at=utcnow())).rowcount
        if not first_time:
            log.info("skipping %s for %s: already applied", event_id, handler)
            # The method is looked up after worker_setup; shadow it so the
            # duplicate delivery runs nothing and is simply acknowledged.
            setattr(worker_ctx.service, worker_ctx.entrypoint.method_name,
                    lambda *_a, **_k: SKIPPED)

    def commit_worker(self, worker_ctx) -> None:
        self.units[worker_ctx].commit()

    def worker_teardown(self, worker_ctx):
        uow = self.units.pop(worker_ctx, None)
        if uow is not None:
            uow.rollback()
            uow.close()


def _commit(entrypoint, worker_ctx, exc_info):
    """Commit every database the worker used; return exc_info of a failed commit."""
    if exc_info is not None:
        return exc_info
    try:
        for dep in entrypoint.container.dependencies:
            if isinstance(dep, Database):
                dep.commit_worker(worker_ctx)
    except Exception:
        log.exception("commit failed for %s", worker_ctx)
        return sys.exc_info()
    return None


class TransactionalRpc(Rpc):
    """``@rpc`` that commits the worker's transaction before replying.

    By convention the first argument of every RPC method is the caller
    context (user, role, team, partner, request_id) sent by the gateway.
    """

    def handle_message(self, body, message):
        args = body.get("args") if isinstance(body, dict) else None
        caller = args[0] if args and isinstance(args[0], dict) else {}
        request_id = caller.get("request_id")
        if request_id:
            # nameko copies message headers into worker_ctx.data; add ours.
            message.headers["nameko.request_id"] = request_id
        super().handle_message(body, message)

    def handle_result(self, message, worker_ctx, result, exc_info):
        exc_info = _commit(self, worker_ctx, exc_info)
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except BROKER_ERRORS as exc:
            # The work is committed; only the reply is lost (the caller times
            # out and may retry, which dedupe and Idempotency-Key absorb).
            # Raising here would kill the whole service container.
            log.warning("could not reply to %s, broker away: %s", worker_ctx, exc)
            return result, exc_info


def queue_names(source_service: str, event_type: str, service: str, method: str,
                retry_delays) -> tuple[str, list[str], str]:
    """The main, delay and parked queue names of one event handler."""
    main = f"evt-{source_service}-{event_type}--{service}.{method}"
    retries = [f"{main}.retry.{int(d * 1000)}ms" for d in retry_delays]
    return main, retries, f"{main}.parked"


def handler_queues(source_service, event_type, service, method, retry_delays):
    """kombu declarations of a handler's queues, used by the handler and by
    ``crm migrate`` so that events published before a consumer first starts
    are kept (nameko publishes with ``mandatory=False``)."""
    from shared.outbox import event_exchange
    main, retries, parked = queue_names(source_service, event_type, service, method, retry_delays)
    queues = [Queue(main, exchange=event_exchange(f"{source_service}.events"),
                    routing_key=event_type, durable=True, auto_delete=False)]
    default = Exchange("", type="direct")
    for name, delay in zip(retries, retry_delays):
        queues.append(Queue(name, exchange=default, routing_key=name, durable=True,
                            queue_arguments={"x-message-ttl": int(delay * 1000),
                                             "x-dead-letter-exchange": "",
                                             "x-dead-letter-routing-key": main}))
    queues.append(Queue(parked, exchange=default, routing_key=parked, durable=True))
    return queues


class ReliableEventHandler(EventHandler):
    """``@event_handler`` with an inbox, retry with back-off and a parked queue."""

    def setup(self):
        super().setup()
        settings = load_settings()
        self.retry_delays = settings.retry_delays
        self.queues = handler_queues(self.source_service, self.event_type,
                                     self.container.service_name, self.method_name,
                                     self.retry_delays)
        # Replace nameko's queue by ours (same name and binding; durable).
        self.queue = self.queues[0]
        self.publisher = Publisher(settings.amqp_uri, use_confirms=True, serializer="json")

    @property
    def handler_name(self) -> str:
        return f"{self.container.service_name}.{self.method_name}"

    def inbox_key(self, worker_ctx):
        envelope = worker_ctx.args[0]
        return envelope["event_id"], self.handler_name, envelope["event_type"]

    def handle_message(self, body, message):
        if not isinstance(body, dict) or "event_id" not in body:
            log.error("parking a message that is not an event envelope on %s", self.queue.name)
            self._move(message, body, self.queues[-1].name, attempts=0)
            self.queue_consumer.ack_message(message)
            return
        message.headers["nameko.request_id"] = body.get("correlation_id")
        super().handle_message(body, message)

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        set_request_id(worker_ctx.data.get("request_id"))
        exc_info = _commit(self, worker_ctx, exc_info)
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return result, exc_info
        attempts = int((message.headers or {}).get(ATTEMPTS_HEADER, 0)) + 1
        delay_queues = self.queues[1:-1]
        target = delay_queues[attempts - 1].name if attempts <= len(delay_queues) else self.queues[-1].name
        try:
            self._move(message, message.payload, target, attempts, error=repr(exc_info[1]))
        except Exception:
            log.exception("could not move failed event to %s; requeueing", target)
            self.queue_consumer.requeue_message(message)
            return result, exc_info
        log.warning("event %s failed in %s (attempt %d): moved to %s",
                    worker_ctx.args[0].get("event_id"), self.handler_name, attempts, target)
        self.queue_consumer.ack_message(message)
        return result, exc_info

    def _move(self, message, body, queue_name, attempts, error=None):
        headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("nameko.")}
        headers[ATTEMPTS_HEADER] = attempts
        if error:
            headers["x-crm-last-error"] = error[:1000]
        self.publisher.publish(body, exchange=None, routing_key=queue_name, headers=headers,
                               delivery_mode=2, declare=self.queues, mandatory=True)


def rpc(fn=None, **kwargs):
    return TransactionalRpc.decorator(fn, **kwargs) if fn else TransactionalRpc.decorator(**kwargs)


def event_handler(source_service: str, event_type: str):
    return ReliableEventHandler.decorator(source_service, event_type)


class RequestContext(DependencyProvider):
    """Puts the request id into every log line of the worker."""

    def worker_setup(self, worker_ctx):
        set_request_id(worker_ctx.data.get("request_id"))

    def worker_teardown(self, worker_ctx):
        set_request_id(None)

    def get_dependency(self, worker_ctx):
        return worker_ctx.data.get("request_id")
