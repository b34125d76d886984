"""Engines, the outbox and inbox tables, and the unit of work.

Every service owns one database (see ``Settings.database_url``); the outbox
and inbox tables are added to each service's own metadata by
:func:`add_messaging_tables`, so they live and migrate with the service.
"""
from __future__ import annotations

import json
import os
import random
import re
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import (BigInteger, Column, DateTime, Index, Integer, MetaData, Numeric, String, Table,
                        Text, TypeDecorator, create_engine, event, insert)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from shared.errors import Conflict, DeadlinePassed
from shared.events import Event, EventCatalog, EventContract, make_event

ID = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """A naive datetime taken as UTC, an aware one converted to UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Instant(TypeDecorator):
    """A point in time, the same on every backend: written as UTC, read back as an
    aware UTC ``datetime``.

    An aware value is converted to UTC, a naive one is taken as UTC, an ISO 8601
    string is parsed first. PostgreSQL stores ``timestamptz``; SQLite, which has no
    time type, gets naive UTC in one fixed-width text format
    (``YYYY-MM-DD HH:MM:SS.ffffff``), so that its text comparisons and ordering
    are comparisons of instants. The DDL is ``DateTime(timezone=True)``'s."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if not isinstance(value, datetime):
            raise TypeError(f"an instant must be a datetime, not {type(value).__name__}")
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return as_utc(value)


class _StoredAsIs(Numeric):
    """``NUMERIC(p, s)`` in the DDL, values passed to and from the driver untouched
    (SQLAlchemy's SQLite ``Numeric`` would turn them into floats)."""

    def bind_processor(self, dialect):
        return None

    def result_processor(self, dialect, coltype):
        return None


class Exact(TypeDecorator):
    """An exact decimal (money, quantities) on every backend, ``Decimal`` in code.

    PostgreSQL stores ``numeric(p, s)``. SQLite keeps NUMERIC as a 64-bit integer
    or a float, so a float would lose digits (``12345678901234567.89``): there it
    is stored as the integer ``value * 10**scale``, which keeps every digit (18
    digits fit in 64 bits) and keeps SQL sums, comparisons and ordering right.
    A value with more places than ``scale`` is rounded half away from zero, as
    PostgreSQL does. SQL arithmetic other than adding and subtracting two such
    columns (or a column and a bound value) would see the scaled integers: do
    it in Python."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int):
        super().__init__(precision, scale, asdecimal=True)
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_StoredAsIs(self.impl.precision, self.scale))
        return dialect.type_descriptor(Numeric(self.impl.precision, self.scale, asdecimal=True))

    def _exact(self, value) -> Decimal:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return number.quantize(self._quantum, rounding=ROUND_HALF_UP)

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        number = self._exact(value)
        return int(number.scaleb(self.scale)) if dialect.name == "sqlite" else number

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            if isinstance(value, int):
                return Decimal(value).scaleb(-self.scale)
            return self._exact(value).scaleb(-self.scale)  # a float: an AVG or older data
        return self._exact(value)


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
    add_rpc_answers_table(metadata)
    return metadata


def add_rpc_answers_table(metadata: MetaData) -> Table:
    """Define ``rpc_answers``: the answer of each RPC call sent with an answer key (the
    gateway's scope of a POST with an ``Idempotency-Key``), written in the same
    transaction as the call's effects, so a repeated call gets it instead of running
    again (see :class:`shared.nameko_ext.Database`)."""
    return Table(
        "rpc_answers", metadata,
        Column("answer_key", String(64), primary_key=True),
        Column("answer", Text, nullable=False),
        Column("created_at", Instant, nullable=False, index=True),
    )


def add_messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Define the ``outbox`` and ``inbox`` tables in a service's metadata."""
    outbox = Table(
        "outbox", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("event_id", String(36), nullable=False, unique=True),
        Column("event_type", String(120), nullable=False),
        Column("exchange", String(120), nullable=False),
        Column("body", Text, nullable=False),
        Column("created_at", Instant, nullable=False),
        Column("published_at", Instant, nullable=True),
    )
    Index("ix_outbox_unpublished", outbox.c.id,
          postgresql_where=outbox.c.published_at.is_(None),
          sqlite_where=outbox.c.published_at.is_(None))
    inbox = Table(
        "inbox", metadata,
        Column("event_id", String(36), primary_key=True),
        Column("handler", String(200), primary_key=True),
        Column("event_type", String(120), nullable=False),
        Column("processed_at", Instant, nullable=False),
    )
    return outbox, inbox


_UMASK_LOCK = threading.Lock()


@contextmanager
def private_files():
    """Files and directories created inside are for the owner alone (umask 077).

    The umask is per process: the lock keeps two of these from restoring each
    other's value; another thread creating a file meanwhile gets it private too."""
    with _UMASK_LOCK:
        saved = os.umask(0o077)
        try:
            yield
        finally:
            os.umask(saved)


def private_data_dir(settings) -> None:
    """``CRM_DATA_DIR`` (databases, the admin key) exists and is for its owner alone (0700)."""
    with private_files():
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if settings.data_dir.stat().st_mode & 0o077:
        settings.data_dir.chmod(0o700)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None (another backend, or in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def prepare_sqlite_file(url: str) -> None:
    """Create a SQLite database's directory (0700) and file (0600) before SQLite
    does, so they are never readable by others; tighten an existing file and
    its -wal/-shm side files. Other URLs are left alone."""
    path = sqlite_path(url)
    if path is None:
        return
    with private_files():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except FileNotFoundError:
            pass


SQLITE_BUSY_TIMEOUT = 30.0


def _green() -> bool:
    """Whether eventlet patched this process (the services): pysqlite's own busy
    wait would then block every green thread, the lock holder's included."""
    try:
        from eventlet import patcher
    except ImportError:
        return False
    return patcher.is_monkey_patched("thread")


def _is_lock_conflict(error: BaseException) -> bool:
    text = str(getattr(error, "orig", error)).lower()
    return "database is locked" in text or "database table is locked" in text or "busy" in text


def begin_immediate(execute: Callable[[str], Any], busy_timeout: float = SQLITE_BUSY_TIMEOUT,
                    sleep: Callable[[float], None] = time.sleep) -> None:
    """Start a SQLite write transaction (``BEGIN IMMEDIATE``), waiting up to
    ``busy_timeout`` seconds for another writer to finish.

    A deferred ``BEGIN`` reads first and asks for the write lock at its first
    write; if another connection committed in between, SQLite answers
    "database is locked" at once, without waiting (its snapshot is stale), and
    the whole transaction would have to run again. Taking the lock at ``BEGIN``
    means a conflict can only happen before anything was done, so retrying the
    ``BEGIN`` alone is always safe. ``sleep`` is ``time.sleep``: eventlet makes
    it cooperative in the services, so the holder can finish meanwhile."""
    deadline = time.monotonic() + busy_timeout
    pause = 0.002
    while True:
        try:
            execute("BEGIN IMMEDIATE")
            return
        except Exception as exc:
            if not _is_lock_conflict(exc) or time.monotonic() + pause > deadline:
                raise
        sleep(pause * (0.5 + random.random()))
        pause = min(pause * 2, 0.05)


def make_engine(url: str, pool_size: int = 12, busy_timeout: float = SQLITE_BUSY_TIMEOUT) -> Engine:
    """An engine tuned for the URL's backend.

    On SQLite: WAL (readers never wait for the writer), ``synchronous=NORMAL``,
    foreign keys on, and every transaction a ``BEGIN IMMEDIATE`` that waits up to
    ``busy_timeout`` seconds (``CRM_SQLITE_BUSY_TIMEOUT``, 30) for the write lock
    (see :func:`begin_immediate`), so concurrent writers queue instead of failing
    with "database is locked".

    SQL parameters are kept out of error messages and logs (``hide_parameters``):
    they hold key hashes and personal data. A SQLite file, its directory and its
    -wal/-shm side files are created for the owner alone (see
    :func:`prepare_sqlite_file`)."""
    if url.startswith("sqlite"):
        prepare_sqlite_file(url)
        # pysqlite's own busy wait (for the rare waits besides BEGIN, e.g. a WAL
        # checkpoint) blocks the whole process under eventlet: keep it short there.
        native_timeout = min(busy_timeout, 0.05) if _green() else busy_timeout
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": native_timeout},
                               hide_parameters=True)

        @event.listens_for(engine, "do_connect")
        def _private_side_files(dialect, _record, cargs, cparams):
            # -wal and -shm appear while the connection opens and switches to WAL.
            with private_files():
                connection = dialect.connect(*cargs, **cparams)
                _sqlite_pragmas(connection, None)
            return connection

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
            begin_immediate(conn.exec_driver_sql, busy_timeout)

        event.listen(engine, "handle_error", _sqlite_storage_fault_reconnects)
        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                           pool_recycle=1800, hide_parameters=True)
    event.listen(engine, "handle_error", _hide_values_in_details)
    return engine


# SQLite errors after which a connection is not to be trusted again: one opened while its
# file could not be written stays read-only for life ("attempt to write a readonly
# database" long after the file is writable again), and one that hit an I/O error may
# keep failing. Treated as a disconnect, SQLAlchemy drops it and every older pooled
# connection, and the next checkout opens the file afresh.
_SQLITE_STORAGE_FAULTS = ("readonly database", "disk i/o error", "unable to open database file",
                          "database or disk is full")


def _sqlite_storage_fault_reconnects(context) -> None:
    message = str(context.original_exception).lower()
    if any(fault in message for fault in _SQLITE_STORAGE_FAULTS):
        context.is_disconnect = True


def is_storage_fault(error: BaseException) -> bool:
    """True for a database error of the operational kind (the database cannot be reached,
    read or written just now: read-only or full disk, I/O error, server away, lock or pool
    timeout), as opposed to a bug or a rule the data broke."""
    return isinstance(error, (OperationalError, PoolTimeout)) or (
        isinstance(error, DBAPIError) and error.connection_invalidated)


def check_storage(engine: Engine) -> None:
    """Raise when the database cannot be written now. Cheap: on SQLite one commit that
    rewrites the file header's ``user_version`` with its own value (a read-only or
    immutable file refuses it, where a SELECT would still succeed); elsewhere ``SELECT 1``."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            version = conn.exec_driver_sql("PRAGMA user_version").scalar()
            conn.exec_driver_sql(f"PRAGMA user_version = {int(version)}")
        else:
            conn.exec_driver_sql("SELECT 1")


_KEY_DETAIL = re.compile(r"^(DETAIL:\s+Key \((?:[^)(]|\([^)]*\))*\)=\().*(\)[^)]*)$", re.MULTILINE)
_OTHER_DETAIL = re.compile(r"^DETAIL:(?!\s+Key \().*$", re.MULTILINE)


def _redact(message: str) -> str:
    message = _KEY_DETAIL.sub(r"\1...\2", message)
    return _OTHER_DETAIL.sub("DETAIL:  (values hidden)", message)


def _hide_values_in_details(context) -> None:
    """PostgreSQL names the values in a violation's DETAIL ("Key (secret_hash)=(...)
    already exists", "Failing row contains (...)"): keep them out of the message of
    the error and of the driver's error it chains to, hence out of every traceback."""
    for error in (context.original_exception, context.sqlalchemy_exception):
        if error is not None and error.args and isinstance(error.args[0], str) and "DETAIL:" in error.args[0]:
            error.args = (_redact(error.args[0]), *error.args[1:])


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
    publishes both or neither. Only the events in ``publishes`` (the
    publisher's own contracts) can be emitted. Not shared between workers.

    ``deadline`` (epoch seconds) is when the caller stops waiting: the gateway
    answers 503 then, so a commit after it is refused (rolled back,
    ``DeadlinePassed``) and a slow request either finishes in time or changes
    nothing. It relies on the gateway's and the service's clocks agreeing (NTP).
    """

    def __init__(self, session_factory: sessionmaker, outbox: Table,
                 on_commit: Callable[[], None] | None = None,
                 correlation_id: str | None = None, deadline: float | None = None,
                 publishes: EventCatalog | tuple[EventContract, ...] = ()):
        self.deadline = deadline
        self.publishes = publishes if isinstance(publishes, EventCatalog) else EventCatalog(publishes)
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

    def emit(self, event_type: str, payload: dict[str, Any], version: int | None = None) -> Event:
        """Validate an event against the publisher's contract of it and stage it in
        this transaction; the staged rows are written in one INSERT just before the
        commit. ``version`` is needed only while several versions are declared.

        Raises, before anything is written: ``UndeclaredEvent`` for an event the
        publisher does not declare, ``ValidationError`` for a payload that breaks it."""
        ev = make_event(self.publishes.contract(event_type, version), payload,
                        correlation_id=self.correlation_id)
        self._pending.append(event_row(ev))
        return ev

    def emit_many(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        rows = [event_row(make_event(self.publishes.contract(event_type), payload,
                                     correlation_id=self.correlation_id)) for event_type, payload in events]
        self._pending.extend(rows)

    def commit(self) -> None:
        if self._session is None and not self._pending:
            return
        if self.deadline is not None and time.time() > self.deadline:
            self.rollback()
            raise DeadlinePassed("the request took longer than its caller waited; nothing was changed, "
                                 "try again")
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
