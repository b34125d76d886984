"""Engines, the outbox and inbox tables, and the unit of work.

Every service owns one database (see ``Settings.database_url``); the outbox
and inbox tables are added to each service's own metadata by
:func:`add_messaging_tables`, so they live and migrate with the service.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import (BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table,
                        Text, create_engine, event, insert)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from shared.errors import Conflict
from shared.events import Event, make_event

ID = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every time we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return str(uuid.uuid4())


def service_metadata() -> MetaData:
    """A service's metadata: stable constraint names for its migrations, and
    its outbox and inbox tables."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    add_messaging_tables(metadata)
    return metadata


def add_messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Define the ``outbox`` and ``inbox`` tables in a service's metadata."""
    outbox = Table(
        "outbox", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(120), nullable=False),
        Column("exchange", String(120), nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=True),
    )
    Index("ix_outbox_unpublished", outbox.c.id,
          postgresql_where=outbox.c.published_at.is_(None),
          sqlite_where=outbox.c.published_at.is_(None))
    inbox = Table(
        "inbox", metadata,
        Column("event_id", String(36), primary_key=True),
        Column("handler", String(200), primary_key=True),
        Column("event_type", String(120), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
    return outbox, inbox


def make_engine(url: str, pool_size: int = 12) -> Engine:
    """An engine tuned for the URL's backend (WAL and a busy timeout on SQLite)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Let SQLAlchemy, not pysqlite, decide where transactions begin, so
            # that SAVEPOINTs nest inside the worker's transaction.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN")

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                         pool_recycle=1800)


def insert_or_skip(table: Table, dialect: str):
    """An INSERT that leaves an existing row alone (``ON CONFLICT DO NOTHING``);
    its rowcount says whether the row is new. PostgreSQL and SQLite."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        raise ValueError(f"no insert-or-skip for {dialect}")
    return dialect_insert(table).on_conflict_do_nothing()


def event_row(event: Event) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "exchange": f"{event.producer}.events",
        "body": json.dumps(event.to_message()),
        "created_at": event.occurred_at,
        "published_at": None,
    }


class UnitOfWork:
    """One worker's transaction: its session and the events it will publish.

    State changes and the events describing them are written together
    (``emit`` adds an outbox row to the same transaction), so a commit
    publishes both or neither. Not shared between workers.
    """

    def __init__(self, session_factory: sessionmaker, outbox: Table,
                 on_commit: Callable[[], None] | None = None,
                 correlation_id: str | None = None):
        self._factory = session_factory
        self._outbox = outbox
        self._on_commit = on_commit
        self._session: Session | None = None
        self._pending: list[dict[str, Any]] = []
        self.correlation_id = correlation_id

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self._factory()
        return self._session

    def emit(self, event_type: str, payload: dict[str, Any]) -> Event:
        """Validate an event against the catalog and stage it in this transaction;
        the staged rows are written in one INSERT just before the commit."""
        ev = make_event(event_type, payload, correlation_id=self.correlation_id)
        self._pending.append(event_row(ev))
        return ev

    def emit_many(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        self._pending.extend(event_row(make_event(t, p, correlation_id=self.correlation_id)) for t, p in events)

    def commit(self) -> None:
        if self._session is None and not self._pending:
            return
        emitted = len(self._pending)
        if self._pending:
            self.session.execute(insert(self._outbox), self._pending)
            self._pending = []
        self._session.commit()
        if emitted and self._on_commit:
            self._on_commit()

    def rollback(self) -> None:
        if self._session is not None:
            self._session.rollback()
        self._pending = []

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def check_version(what: str, ident: str, current: int, sent: Any) -> None:
    """Optimistic locking, first half: the caller sends the version it read."""
    if sent != current:
        raise Conflict(f"{what} {ident} was changed by someone else (version {current}, you sent {sent}); "
                       "reload and retry", extra={"current_version": current})


def flush_versioned(session: Session, what: str, ident: str) -> None:
    """Optimistic locking, second half: a concurrent writer got there first."""
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(f"{what} {ident} was changed concurrently; reload and retry") from None
