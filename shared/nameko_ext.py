"""The nameko layer of the kernel: database session, outbox relay, and
entrypoints that keep the reliability contract.

nameko replies to an RPC call and acknowledges an event *before* it tells the
dependencies that the worker finished (``handle_result`` runs before
``worker_result``). Committing in ``worker_result`` would therefore reply or
ack before the data is durable. Our entrypoints commit the worker's unit of
work first, in ``handle_result``, and only then reply or ack.

Event handlers read what their service declares in its contracts
(:class:`shared.events.ConsumedEvent`): the payload is loaded with the
consumer's own reading, an event of a version it does not read is left to
the handler that does (acknowledged and skipped), and one whose payload does
not load is parked at once (it would fail every retry the same way).

Event handlers are idempotent and never lose a message: the inbox row
``(event_id, handler)`` is written in the handler's own transaction, a
repeated delivery is skipped, and a failing handler's message is moved to a
delay queue (retry with back-off) and finally to a parked queue that an
operator can list and replay (``crm dlq``).
"""
from __future__ import annotations

import logging
import sys
import time
from datetime import timedelta
from typing import Callable

from kombu import Exchange, Queue
from kombu.exceptions import OperationalError as KombuOperationalError
from kombu.utils import json as wire_json
from marshmallow import ValidationError
from nameko.amqp.publish import Publisher
from nameko.events import EventHandler
from nameko.exceptions import registry
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from shared import errors, signing
from shared.caller import Caller
from shared.config import load_settings
from shared.db import UnitOfWork, check_storage, insert_or_skip, is_storage_fault, make_engine, utcnow
from shared.events import ConsumedEvent, EventCatalog, EventContract, read_payload
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
# Context data (a message header) the gateway sets on each call: epoch seconds
# after which it no longer waits for the answer (see UnitOfWork).
DEADLINE = "deadline"
# Context data the gateway sets on a call made for a POST with an Idempotency-Key:
# the call's answer key, under which the service records its answer (see Database).
ANSWER_KEY = "answer_key"
ANSWERS_PURGE_INTERVAL = 600.0  # seconds between purges of expired rpc_answers
BROKER_ERRORS = (KombuOperationalError, ConnectionError, OSError)
SKIPPED = object()


class Database(DependencyProvider):
    """Gives each worker a :class:`UnitOfWork` on the service's own database
    and runs the outbox relay for the service's events, those ``publishes``
    declares (the service's contracts: no other event can be emitted).

    An RPC call that carries an answer key (context data ``ANSWER_KEY``) has its
    answer written to ``rpc_answers`` in the same transaction as its effects; the
    same key again gets that answer back without running anything. So the
    gateway may repeat a call whose answer it lost (its process died, its own
    database refused the record) and the work is still done once. Answers are
    kept ``CRM_IDEMPOTENCY_TTL_HOURS``, like the gateway's records."""

    def __init__(self, metadata, publishes: tuple[EventContract, ...] = (), relay: bool = True):
        self.metadata = metadata
        self.publishes = EventCatalog(publishes)
        self.relay_enabled = relay
        self.outbox, self.inbox = metadata.tables["outbox"], metadata.tables["inbox"]
        self.answers = metadata.tables.get("rpc_answers")
        self.units: dict = {}
        self.answer_keys: dict = {}

    def setup(self):
        service = self.container.service_name
        others = sorted({c.event_type for c in self.publishes if c.producer != service})
        if others:
            raise RuntimeError(f"the {service} service declares events of other publishers: {', '.join(others)}")
        settings = load_settings()
        self.settings = settings
        self.engine = make_engine(settings.database_url(self.container.service_name),
                                  pool_size=settings.max_workers + 2,
                                  busy_timeout=settings.sqlite_busy_timeout)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._record_once = insert_or_skip(self.inbox, self.engine.dialect.name)
        self.relay = OutboxRelay(self.engine, self.outbox, settings.amqp_uri,
                                 batch_size=settings.relay_batch_size,
                                 poll_interval=settings.relay_poll_interval)
        self.answer_ttl = timedelta(hours=settings.idempotency_ttl_hours)

    def start(self):
        if self.relay_enabled:
            self.container.spawn_managed_thread(self.relay.run)
        if self.answers is not None:
            self.container.spawn_managed_thread(self._purge_answers)

    def _purge_answers(self) -> None:
        while True:
            try:
                with self.engine.begin() as conn:
                    conn.execute(delete(self.answers).where(
                        self.answers.c.created_at < utcnow() - self.answer_ttl))
            except Exception as exc:  # the database is away: purge next time
                log.warning("could not purge expired rpc answers: %s", exc)
            time.sleep(ANSWERS_PURGE_INTERVAL)

    def _recorded(self, session, key: str) -> tuple[bool, object]:
        answers = self.answers.c
        answer = session.execute(select(answers.answer).where(
            answers.answer_key == key, answers.created_at >= utcnow() - self.answer_ttl)).scalar()
        return (False, None) if answer is None else (True, wire_json.loads(answer))

    def stop(self):
        self.relay.stop()

    def kill(self):
        self.relay.stop()

    def get_dependency(self, worker_ctx):
        uow = UnitOfWork(self.sessions, self.outbox, on_commit=self.relay.wake,
                         correlation_id=worker_ctx.data.get("request_id"),
                         deadline=_deadline(worker_ctx.data.get(DEADLINE)), publishes=self.publishes)
        self.units[worker_ctx] = uow
        return uow

    def worker_setup(self, worker_ctx):
        inbox_key = getattr(worker_ctx.entrypoint, "inbox_key", lambda _ctx: None)(worker_ctx)
        answer_key = worker_ctx.data.get(ANSWER_KEY) if (
            self.answers is not None and isinstance(worker_ctx.entrypoint, Rpc)) else None
        if inbox_key is None and not answer_key:
            return
        if answer_key:
            self.answer_keys[worker_ctx] = str(answer_key)[:64]
        uow = self.units[worker_ctx]
        method_name = worker_ctx.entrypoint.method_name
        method = getattr(worker_ctx.service, method_name)

        # The method is looked up after worker_setup: shadow it, so that the database
        # is asked inside the worker (an error raised here, outside nameko's try around
        # the method, would kill the whole container) and a duplicate runs nothing.
        def once(*args, **kwargs):
            if inbox_key is not None:
                event_id, handler, event_type = inbox_key
                first_time = uow.session.execute(self._record_once.values(
                    event_id=event_id, handler=handler, event_type=event_type,
                    processed_at=utcnow())).rowcount
                if not first_time:
                    log.info("skipping %s for %s: already applied", event_id, handler)
                    return SKIPPED
            if answer_key:
                found, answer = self._recorded(uow.session, self.answer_keys[worker_ctx])
                if found:
                    log.info("answering %s from its recorded answer", method_name)
                    self.answer_keys.pop(worker_ctx, None)
                    return answer
            return method(*args, **kwargs)

        setattr(worker_ctx.service, method_name, once)

    def commit_worker(self, worker_ctx, result=None):
        """Commit the worker's transaction, with its answer when the call has an answer
        key; return the answer to send (the recorded one if the same call committed
        first, concurrently)."""
        uow = self.units[worker_ctx]
        key = self.answer_keys.pop(worker_ctx, None)
        if key is None:
            uow.commit()
            return result
        try:
            uow.session.execute(insert(self.answers).values(
                answer_key=key, answer=wire_json.dumps(result), created_at=utcnow()))
            uow.commit()
        except IntegrityError:
            uow.rollback()
            found, answer = self._recorded(uow.session, key)
            if not found:
                raise
            log.info("the same call committed first; sending its answer")
            return answer
        return result

    def worker_teardown(self, worker_ctx):
        self.answer_keys.pop(worker_ctx, None)
        uow = self.units.pop(worker_ctx, None)
        if uow is not None:
            uow.rollback()
            uow.close()


def readiness(uow: UnitOfWork) -> str:
    """A service's answer to ``ping``: "pong" when its database can be written now,
    else StorageUnavailable (see :func:`shared.db.check_storage`), so that the
    gateway's /readyz turns red during a storage fault and green again after it."""
    check_storage(uow.session.get_bind())
    return "pong"


def _deadline(value) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _commit(entrypoint, worker_ctx, result, exc_info):
    """Commit every database the worker used; return the result to send and the
    exc_info of a failed commit."""
    if exc_info is not None:
        return result, exc_info
    try:
        for dep in entrypoint.container.dependencies:
            if isinstance(dep, Database):
                result = dep.commit_worker(worker_ctx, result)
    except Exception:
        log.exception("commit failed for %s", worker_ctx)
        return result, sys.exc_info()
    return result, None


def _storage_fault_as_unavailable(service: str, exc_info):
    """A database error of the operational kind crosses RPC as StorageUnavailable (503),
    not as a bare remote error (500)."""
    if exc_info is None or not is_storage_fault(exc_info[1]):
        return exc_info
    error = errors.StorageUnavailable(f"the {service} service cannot use its database just now; "
                                      "try again later")
    return type(error), error, exc_info[2]


class ExpectedAnswers(logging.Filter):
    """On nameko's worker log: an RPC that answers with a :class:`DomainError`
    (404, 409, 422...) answered as designed. nameko logs it as an ERROR with a
    traceback, burying the real errors; this makes it one line without one, at
    INFO (WARNING for a 5xx such as StorageUnavailable). Any other exception,
    and any error of an event handler or timer, stays an ERROR with its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        worker_ctx = record.args[0] if isinstance(record.args, tuple) and record.args else None
        entrypoint = getattr(worker_ctx, "entrypoint", None)
        if not (isinstance(error, errors.DomainError) and isinstance(entrypoint, Rpc)):
            return True
        record.levelno = logging.WARNING if error.status >= 500 else logging.INFO
        record.levelname = logging.getLevelName(record.levelno)
        record.msg, record.args = "%s.%s answered %s %s: %s", (
            worker_ctx.service_name, entrypoint.method_name, error.status, type(error).__name__, error.detail)
        record.exc_info = record.exc_text = None
        return logging.getLogger(record.name).isEnabledFor(record.levelno)


_EXPECTED_ANSWERS = ExpectedAnswers()


class TransactionalRpc(Rpc):
    """``@rpc`` that commits the worker's transaction before replying.

    Every call must carry the caller signed by the gateway (:mod:`shared.signing`);
    one without a valid signature is refused before any worker runs. By
    convention the first argument of every RPC method is the caller context:
    the method receives the signed caller there, as a typed
    :class:`~shared.caller.Caller`. A :class:`DomainError` it answers with is
    logged in one line (ExpectedAnswers).
    """

    def setup(self):
        containers_log = logging.getLogger("nameko.containers")
        if _EXPECTED_ANSWERS not in containers_log.filters:
            containers_log.addFilter(_EXPECTED_ANSWERS)
        self.verify_key = signing.verify_key(load_settings())
        super().setup()

    def handle_message(self, body, message):
        # Refused here, before any worker: nameko answers the caller with the error.
        caller = signing.verify((message.headers or {}).get(f"nameko.{signing.TOKEN}"), self.verify_key)
        args = body.get("args") if isinstance(body, dict) else None
        if args and isinstance(args[0], dict):
            body["args"] = [caller, *args[1:]]  # the signed caller, whatever the context says
        if caller.request_id:
            # nameko copies message headers into worker_ctx.data; add ours.
            message.headers["nameko.request_id"] = caller.request_id
        super().handle_message(body, message)

    def handle_result(self, message, worker_ctx, result, exc_info):
        result, exc_info = _commit(self, worker_ctx, result, exc_info)
        exc_info = _storage_fault_as_unavailable(self.container.service_name, exc_info)
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
    """``@event_handler`` with an inbox, retry with back-off and a parked queue,
    that hands the method the envelope with the payload as its service reads it."""

    def __init__(self, consumed: ConsumedEvent, **kwargs):
        super().__init__(consumed.source_service, consumed.event_type, **kwargs)
        self.consumed = consumed

    def setup(self):
        if self.consumed.handler != self.method_name:
            raise RuntimeError(f"{self.container.service_name}.{self.method_name} handles {self.consumed.event_type}, "
                               f"whose reading in the contracts names the handler {self.consumed.handler!r}")
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
        if body.get("version") not in self.consumed.versions:
            # The twin of an event this handler reads in another version (a publisher
            # sends both while its consumers move): the other one is handled.
            log.info("%s skips %s v%s: it reads versions %s", self.handler_name, body.get("event_type"),
                     body.get("version"), ", ".join(map(str, self.consumed.versions)))
            self.queue_consumer.ack_message(message)
            return
        try:
            payload = read_payload(self.consumed, body)
        except ValidationError as exc:
            log.error("parking event %s: its payload is not what %s reads: %s", body.get("event_id"),
                      self.handler_name, exc.messages)
            self._move(message, body, self.queues[-1].name, attempts=0,
                       error=f"payload not readable: {exc.messages}")
            self.queue_consumer.ack_message(message)
            return
        message.headers["nameko.request_id"] = body.get("correlation_id")
        super().handle_message({**body, "payload": payload}, message)

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        set_request_id(worker_ctx.data.get("request_id"))
        result, exc_info = _commit(self, worker_ctx, result, exc_info)
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


def event_handler(consumed: ConsumedEvent):
    """Makes the method the handler of ``consumed`` (one of its service's
    contracts.CONSUMED_EVENTS), whose ``handler`` must name that method."""
    return ReliableEventHandler.decorator(consumed=consumed)


class ServiceSettings(DependencyProvider):
    """Gives each worker the service's own settings, as ``load()`` (from the
    service's ``settings.py``) returns them when the container starts: a bad
    value or a renamed variable is reported at the start, not at the first call
    that needs it."""

    def __init__(self, load: Callable[[], object]):
        self.load = load

    def setup(self):
        self.settings = self.load()

    def get_dependency(self, worker_ctx):
        return self.settings


class RequestContext(DependencyProvider):
    """Puts the request id into every log line of the worker."""

    def worker_setup(self, worker_ctx):
        set_request_id(worker_ctx.data.get("request_id"))

    def worker_teardown(self, worker_ctx):
        set_request_id(None)

    def get_dependency(self, worker_ctx):
        return worker_ctx.data.get("request_id")
