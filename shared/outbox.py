"""The outbox relay: publishes committed outbox rows to RabbitMQ.

Rows are published with publisher confirms to the exchange nameko uses for the
producing service's events (``<service>.events``, topic, routing key = event
type) and marked published only after the broker confirmed them. A batch is
published in one go and its confirms awaited together (the broker acks
several delivery tags at once), not one round trip per row. A crash
between publish and mark publishes the row again on the next pass; consumers
deduplicate on ``event_id``. While RabbitMQ is down the rows simply wait.

The relay is plain code: a nameko extension runs it in each service process
(:mod:`shared.nameko_ext`) and the gateway runs it in a thread.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from kombu import Connection, Exchange
from sqlalchemy import Table, select, update
from sqlalchemy.engine import Engine

from shared.db import utcnow

log = logging.getLogger(__name__)


def event_exchange(name: str) -> Exchange:
    """The exchange exactly as nameko declares it (``nameko.events.get_event_exchange``)."""
    return Exchange(name, type="topic", durable=True, auto_delete=False, delivery_mode=2)


class OutboxRelay:
    def __init__(self, engine: Engine, outbox: Table, amqp_uri: str, batch_size: int = 200,
                 poll_interval: float = 1.0, confirm_timeout: float = 30.0):
        self.engine = engine
        self.outbox = outbox
        self.amqp_uri = amqp_uri
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.confirm_timeout = confirm_timeout
        self._connection: Connection | None = None
        self._channel = None
        self._last_tag = 0
        self._unconfirmed: set[int] = set()
        self._confirmed: set[int] = set()
        self._declared: set[str] = set()
        self._backlog = False  # the last batch was full: more rows are probably waiting
        # Rows the broker confirmed but the database refused to mark (a storage fault):
        # marked first on the next pass, not published again and again meanwhile.
        self._unmarked: list[int] = []

    def wake(self) -> None:
        """Ask the relay to look at the outbox now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _ensure_channel(self):
        if self._channel is None:
            self._connection = Connection(self.amqp_uri, heartbeat=0)
            self._connection.ensure_connection(max_retries=1)
            channel = self._connection.channel()
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_confirm)
            channel.events["basic_nack"].add(self._on_nack)
            self._channel = channel
            self._last_tag = 0
            self._declared.clear()
        return self._channel

    def _on_confirm(self, delivery_tag: int, multiple: bool) -> None:
        settled = {t for t in self._unconfirmed if t <= delivery_tag} if multiple else {delivery_tag}
        self._unconfirmed -= settled
        self._confirmed |= settled

    def _on_nack(self, delivery_tag: int, multiple: bool, *_args) -> None:
        self._unconfirmed -= {t for t in self._unconfirmed if t <= delivery_tag} if multiple else {delivery_tag}

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # the connection is already broken; nothing to save
                pass
        self._connection = None
        self._channel = None

    def drain_once(self) -> int:
        """Publish one batch of unpublished rows; return how many were published."""
        if self._unmarked:
            with self.engine.begin() as conn:
                self._mark(conn, self._unmarked)
            self._unmarked = []
        oc = self.outbox.c
        query = (select(oc.id, oc.event_type, oc.exchange, oc.body)
                 .where(oc.published_at.is_(None)).order_by(oc.id).limit(self.batch_size))
        if self.engine.dialect.name == "sqlite":
            # SQLite has one writer and pysqlite never yields to eventlet: hold
            # no transaction across the network round trips of publishing.
            with self.engine.begin() as conn:
                rows = conn.execute(query).all()
            confirmed = self._publish(rows)
            self._unmarked = confirmed
            with self.engine.begin() as conn:
                self._mark(conn, confirmed)
            self._unmarked = []
            return len(confirmed)
        with self.engine.begin() as conn:
            if self._backlog and self.engine.dialect.name == "postgresql":
                # Read the oldest rows in id order straight from the partial index
                # ix_outbox_unpublished. Before autovacuum has analysed the table
                # (a new database, a backlog written in one burst) the planner
                # guesses a few dozen unpublished rows and fetches and sorts all
                # of them, bodies included, on every pass: draining 20,000 rows
                # took 16 ms a batch instead of 3.5, growing with the backlog.
                # Only while a backlog is being drained (the last batch was
                # full), so a relay keeping up pays no extra round trip; only
                # this transaction is affected.
                conn.exec_driver_sql("SET LOCAL enable_sort = off")
            # Row locks let several instances of a service relay side by side.
            rows = conn.execute(query.with_for_update(skip_locked=True)).all()
            self._backlog = len(rows) >= self.batch_size
            confirmed = self._publish(rows)
            self._unmarked = confirmed
            self._mark(conn, confirmed)
        self._unmarked = []
        return len(confirmed)

    def _publish(self, rows) -> list[int]:
        """Publish ``rows`` and wait for the broker's confirms of the whole batch
        (one round trip, not one per row); return the ids of the confirmed rows.
        A nacked row stays unpublished and goes again on a later pass."""
        if not rows:
            return []
        channel = self._ensure_channel()
        tags: dict[int, int] = {}
        self._unconfirmed, self._confirmed = set(), set()
        for row in rows:
            if row.exchange not in self._declared:
                event_exchange(row.exchange)(channel).declare()
                self._declared.add(row.exchange)
            message = channel.prepare_message(row.body.encode(), content_type="application/json",
                                              content_encoding="utf-8", properties={"delivery_mode": 2})
            channel.basic_publish(message, exchange=row.exchange, routing_key=row.event_type)
            self._last_tag += 1
            tags[self._last_tag] = row.id
            self._unconfirmed.add(self._last_tag)
        deadline = time.monotonic() + self.confirm_timeout
        while self._unconfirmed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"RabbitMQ did not confirm {len(self._unconfirmed)} of {len(rows)} events")
            self._connection.drain_events(timeout=remaining)
        return [tags[t] for t in sorted(self._confirmed)]

    def _mark(self, conn, ids: list[int]) -> None:
        if ids:
            conn.execute(update(self.outbox).where(self.outbox.c.id.in_(ids)).values(published_at=utcnow()))

    def run(self, sleep: Callable[[float], None] | None = None) -> None:
        """Drain until stopped, backing off while RabbitMQ or the database is away."""
        backoff = 0.5
        while not self._stop.is_set():
            try:
                published = self.drain_once()
                backoff = 0.5
            except Exception as exc:  # broker or database away: keep the rows, try again later
                log.warning("outbox relay: %s; retrying in %.1fs", exc, backoff)
                self._drop_connection()
                self._wake.wait(backoff) if sleep is None else sleep(backoff)
                self._wake.clear()
                backoff = min(backoff * 2, 10.0)
                continue
            if published < self.batch_size:
                self._wake.wait(self.poll_interval)
                self._wake.clear()
        self._drop_connection()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="outbox-relay", daemon=True)
        thread.start()
        return thread
