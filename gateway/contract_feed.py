"""How the gateway learns the services' HTTP contracts, and keeps the last ones.

At start the table is filled from the gateway's database (the contracts last
seen, so a service that is down still has its routes, answered 503). A
thread then listens on the services' announcement exchange (fanout, its own
exclusive queue), asks every running service to announce (the "wanted"
exchange) and takes each contract it hears: stored, then routed. It asks
again after each reconnection, so a broker restart loses no announcement
for long.
"""
from __future__ import annotations

import logging
import threading

from kombu import Connection, Queue
from sqlalchemy.orm import sessionmaker

from gateway.models import HttpContract
from gateway.route_table import RouteTable
from shared.db import utcnow
from shared.http_face import announce_exchange, wanted_exchange

log = logging.getLogger(__name__)
RECONNECT_SECONDS = 2.0


class ContractFeed:
    def __init__(self, amqp_uri: str, sessions: sessionmaker, table: RouteTable):
        self.amqp_uri, self.sessions, self.table = amqp_uri, sessions, table
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    def load_stored(self) -> None:
        """Route the contracts kept from before (none on a first start)."""
        session = self.sessions()
        try:
            for row in session.query(HttpContract).order_by(HttpContract.updated_at):
                self.table.update(row.contract)
        finally:
            session.close()

    def start_thread(self) -> None:
        self._thread = threading.Thread(target=self._run, name="crm-contract-feed", daemon=True)
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except Exception as exc:  # the broker is away: reconnect and ask again
                self._listening.clear()
                log.warning("lost the services' contract announcements: %s; reconnecting", exc)
                self._stopping.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        with Connection(self.amqp_uri, heartbeat=30) as connection:
            queue = Queue(exchange=announce_exchange(), exclusive=True, auto_delete=True, durable=False)
            with connection.Consumer(queue, callbacks=[self._on_announcement], accept=["json"]):
                connection.Producer().publish({"wanted": True}, exchange=wanted_exchange(), routing_key="",
                                              declare=[wanted_exchange()], serializer="json")
                self._listening.set()
                while not self._stopping.is_set():
                    try:
                        connection.drain_events(timeout=1)
                    except TimeoutError:
                        connection.heartbeat_check()

    def _on_announcement(self, contract, message) -> None:
        try:
            if self.table.update(contract):
                self._store(contract)
        except Exception:  # one bad announcement must not stop the feed
            log.exception("could not take an HTTP contract")
        finally:
            message.ack()

    def _store(self, contract: dict) -> None:
        session = self.sessions()
        try:
            row = session.get(HttpContract, contract["service"])
            if row is None:
                session.add(HttpContract(service=contract["service"], contract=contract, updated_at=utcnow()))
            else:
                row.contract, row.updated_at = contract, utcnow()
            session.commit()
        except Exception as exc:  # routed already; stored at its next announcement
            log.warning("could not keep the contract of %s: %s", contract.get("service"), exc)
            session.rollback()
        finally:
            session.close()
