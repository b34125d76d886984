"""Mail: one way for every service to send e-mail, and never lose one.

A service queues a message (:class:`Mail`) in its own database with
:func:`queue_mail`, in the transaction of the change that calls for it (an
invoice issued, a reminder due), so a commit queues the mail and a rollback
does not, and a process that dies afterwards loses nothing. The table,
``mail_deliveries``, is added to the service's metadata by
:func:`add_mail_tables`, so it lives and migrates with the service; it is also
the delivery log: :func:`mail_deliveries` lists a document's sends by the
``subject_ref`` they were queued with.

A :class:`MailRelay` sends the queued rows, by SMTP when ``CRM_SMTP_URL`` is
set (:class:`SmtpTransport`), else as ``.eml`` files under
``CRM_DATA_DIR/mail/<service>/`` (:class:`FileTransport`), so the quick start
works alone. A row is marked sent only once the SMTP server accepted it (or the
file is in place). A crash between the two sends it again: delivery is at
least once, and the message keeps its ``Message-ID`` for a receiver to spot the
repeat.

Retries: a failed try (server away, a 4xx or 5xx answer) is retried with
back-off (``retry_delays``, the last repeating). After ``max_attempts`` tries the
row's status becomes ``failed``, so an operator sees it listed, but it is never
dropped: it is still tried, once every ``failed_retry_interval`` (a day), and
:func:`retry_mail_now` brings it forward. A server that cannot be reached
fails the whole batch of rows claimed with it, each counting one try.

Two relays at once (two instances of a service): a relay claims a batch by
moving its ``next_attempt_at`` forward by a lease, in one short transaction
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite every transaction takes the
single write lock first), so another relay does not see the rows as due while
they are being sent. No transaction is held while talking to the server. A
relay that dies mid-batch leaves its rows to be retried when the lease ends.
"""
from __future__ import annotations

import email.policy
import logging
import os
import smtplib
import ssl
import threading
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Callable, Iterator, Protocol, Sequence
from urllib.parse import parse_qsl, unquote, urlsplit

from sqlalchemy import (Column, Index, Integer, LargeBinary, MetaData, String, Table, Text, insert, select,
                        update)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from shared.db import ID, Instant, private_files, utcnow

log = logging.getLogger(__name__)

QUEUED, SENT, FAILED = "queued", "sent", "failed"
RETRY_DELAYS = (60.0, 300.0, 900.0, 3600.0, 3 * 3600.0, 6 * 3600.0)
MAX_ERROR_LENGTH = 2000


# The message --------------------------------------------------------------------

@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str   # "application/pdf"
    data: bytes


@dataclass(frozen=True)
class Mail:
    """A message to send: recipients (``"anna@example.com"`` or ``"Anna Nowak
    <anna@example.com>"``), a subject, a plain text body and attachments.
    ``sender`` is the From address; None takes ``CRM_MAIL_FROM``."""

    to: tuple[str, ...]
    subject: str
    text: str
    attachments: tuple[Attachment, ...] = ()
    sender: str | None = None
    reply_to: str | None = None

    def __post_init__(self):
        to = (self.to,) if isinstance(self.to, str) else tuple(self.to)
        object.__setattr__(self, "to", to)
        object.__setattr__(self, "attachments", tuple(self.attachments))
        if not to or not all(_address(item) for item in to):
            raise ValueError(f"a mail needs at least one recipient address, each with an @: {list(to)!r}")

    def to_message(self, sender: str, domain: str | None = None) -> EmailMessage:
        """The RFC 5322 message, with a Date and a fresh Message-ID. ValueError for a
        header with a line break in it."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(self.to)
        if self.reply_to:
            message["Reply-To"] = self.reply_to
        message["Subject"] = self.subject
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = make_msgid(domain=domain or _address(sender).rpartition("@")[2] or None)
        message.set_content(self.text)
        for attachment in self.attachments:
            maintype, _, subtype = attachment.content_type.partition("/")
            message.add_attachment(attachment.data, maintype=maintype, subtype=subtype or "octet-stream",
                                   filename=attachment.filename)
        return message


def _address(text: str) -> str:
    """The bare address of ``Name <a@b>`` or ``a@b``; empty when there is none."""
    address = parseaddr(text)[1]
    return address if "@" in address else ""


# The table ----------------------------------------------------------------------

def add_mail_tables(metadata: MetaData) -> Table:
    """Define ``mail_deliveries`` (the mail outbox and delivery log) in a service's
    metadata, so the service's migrations create it in its own database."""
    table = Table(
        "mail_deliveries", metadata,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("created_at", Instant, nullable=False),
        Column("subject_ref", String(200), nullable=True, index=True),   # e.g. the invoice's id
        Column("sender", String(320), nullable=False),
        Column("recipients", Text, nullable=False),
        Column("subject", Text, nullable=False),
        Column("message", LargeBinary, nullable=False),                  # the whole RFC 5322 message
        Column("status", String(10), nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("last_error", Text, nullable=True),
        Column("next_attempt_at", Instant, nullable=False),
        Column("sent_at", Instant, nullable=True),
    )
    Index("ix_mail_deliveries_due", table.c.next_attempt_at,
          postgresql_where=table.c.status != SENT, sqlite_where=table.c.status != SENT)
    return table


# The same definition, for the statements below: every service's table is alike.
_MAIL = add_mail_tables(MetaData())


def queue_mail(session: Session, mail: Mail, subject_ref: str | None = None,
               sender: str | None = None) -> int:
    """Queue ``mail`` in ``session``'s transaction; it is sent once that commits, by
    the service's :class:`MailRelay`. ``subject_ref`` (an invoice id) lets
    :func:`mail_deliveries` list the document's sends. The From address is
    ``sender``, else the mail's own, else ``CRM_MAIL_FROM``. Returns the delivery's
    id. ValueError, before anything is written, for a message that cannot be built."""
    if sender is None and mail.sender is None:
        from shared.config import load_settings
        sender = load_settings().mail_from
    sender = sender or mail.sender
    if not _address(sender):
        raise ValueError(f"the sender {sender!r} is not a mail address")
    raw = mail.to_message(sender).as_bytes(policy=email.policy.SMTP)
    now = utcnow()
    result = session.execute(insert(_MAIL).values(
        created_at=now, subject_ref=subject_ref, sender=sender, recipients=", ".join(mail.to),
        subject=mail.subject, message=raw, status=QUEUED, attempts=0, next_attempt_at=now))
    return result.inserted_primary_key[0]


def mail_deliveries(session: Session, subject_ref: str | None = None, status: str | None = None,
                    limit: int = 100) -> list:
    """The deliveries queued with ``subject_ref`` and/or in ``status``, newest first,
    without the message itself: id, created_at, subject_ref, recipients, subject,
    status, attempts, last_error, next_attempt_at, sent_at."""
    c = _MAIL.c
    query = select(c.id, c.created_at, c.subject_ref, c.recipients, c.subject, c.status, c.attempts,
                   c.last_error, c.next_attempt_at, c.sent_at).order_by(c.id.desc()).limit(limit)
    if subject_ref is not None:
        query = query.where(c.subject_ref == subject_ref)
    if status is not None:
        query = query.where(c.status == status)
    return list(session.execute(query).all())


def retry_mail_now(session: Session, delivery_ids: Sequence[int]) -> int:
    """Make unsent deliveries due now (a failed one queued again, its tries kept);
    returns how many. A sent one is left alone."""
    c = _MAIL.c
    return session.execute(update(_MAIL).where(c.id.in_(list(delivery_ids)), c.status != SENT)
                           .values(status=QUEUED, next_attempt_at=utcnow())).rowcount


# Transports -----------------------------------------------------------------------

@dataclass(frozen=True)
class Outgoing:
    """A claimed row, as a transport sends it."""
    id: int
    created_at: datetime
    sender: str
    recipients: str
    message: bytes
    attempts: int

    @property
    def envelope_recipients(self) -> list[str]:
        return [address for _, address in getaddresses([self.recipients]) if address]


class Transport(Protocol):
    timeout: float

    def connect(self) -> AbstractContextManager[Callable[[Outgoing], dict]]:
        """A context that yields ``send(outgoing)``, which returns the refused
        recipients (empty when all were accepted) or raises."""


# Errors about one message: the others of the batch may still go.
_MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


@dataclass(frozen=True)
class SmtpTransport:
    """Sends through the server of an ``smtp://user:password@host:port`` URL
    (``smtps://`` for TLS from the start, ``?starttls=true`` to upgrade a plain
    connection; ``?timeout=`` seconds, 30 by default). User and password are
    percent-decoded. ValueError for a URL it cannot use."""

    url: str = field(repr=False)
    host: str = field(init=False)
    port: int = field(init=False)
    implicit_tls: bool = field(init=False)
    starttls: bool = field(init=False)
    timeout: float = field(init=False)
    username: str | None = field(init=False, repr=False)
    password: str | None = field(init=False, repr=False)

    def __post_init__(self):
        parts = urlsplit(self.url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("CRM_SMTP_URL must look like smtp://user:password@host:port or smtps://...")
        query = dict(parse_qsl(parts.query))
        unknown = set(query) - {"starttls", "timeout"}
        if unknown:
            raise ValueError(f"CRM_SMTP_URL has unknown options: {', '.join(sorted(unknown))} "
                             "(known: starttls, timeout)")
        starttls = query.get("starttls", "false").lower()
        if starttls not in ("true", "false"):
            raise ValueError("CRM_SMTP_URL's starttls is true or false")
        if parts.scheme == "smtps" and starttls == "true":
            raise ValueError("CRM_SMTP_URL: smtps:// is TLS from the start; starttls=true is for smtp://")
        try:
            timeout = float(query.get("timeout", "30"))
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ValueError("CRM_SMTP_URL's port and timeout are numbers") from None
        values = {"host": parts.hostname, "port": port, "implicit_tls": parts.scheme == "smtps",
                  "starttls": starttls == "true", "timeout": timeout,
                  "username": unquote(parts.username) if parts.username else None,
                  "password": unquote(parts.password) if parts.password else None}
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @contextmanager
    def connect(self) -> Iterator[Callable[[Outgoing], dict]]:
        tls = ssl.create_default_context()
        if self.implicit_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=tls)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                smtp.starttls(context=tls)
            if self.username:
                smtp.login(self.username, self.password or "")

            def send(outgoing: Outgoing) -> dict:
                return smtp.sendmail(_address(outgoing.sender), outgoing.envelope_recipients, outgoing.message)
            yield send
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


@dataclass(frozen=True)
class FileTransport:
    """Writes each message to ``directory/<created, UTC>-<delivery id>.eml``
    (``20270301T080000Z-000042.eml``), readable by its owner alone. The file is
    written under a temporary name and renamed, so a reader never sees half a
    message; the name comes from the row, so writing one again replaces it."""

    directory: Path
    timeout: float = 5.0

    @contextmanager
    def connect(self) -> Iterator[Callable[[Outgoing], dict]]:
        with private_files():
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        yield self._write

    def file_name(self, outgoing: Outgoing) -> str:
        return f"{outgoing.created_at:%Y%m%dT%H%M%S}Z-{outgoing.id:06d}.eml"

    def _write(self, outgoing: Outgoing) -> dict:
        final = self.directory / self.file_name(outgoing)
        temporary = self.directory / f".{final.name}.tmp"
        with private_files(), open(temporary, "wb") as file:
            file.write(outgoing.message)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, final)
        return {}


def mail_transport(settings, service: str) -> SmtpTransport | FileTransport:
    """SMTP when ``CRM_SMTP_URL`` is set, else ``.eml`` files in
    ``CRM_DATA_DIR/mail/<service>/``."""
    if settings.smtp_url:
        return SmtpTransport(settings.smtp_url)
    return FileTransport(Path(settings.data_dir) / "mail" / service)


# The relay -------------------------------------------------------------------------

class _Unrecorded(Exception):
    """The outcome of a send could not be written (its cause says why)."""


class MailRelay:
    """Sends a service's queued mail; see the module's docstring for the rules.

    Run it in a nameko service with ``container.spawn_managed_thread(relay.run)``
    (stopped by :meth:`stop`), in a thread with :meth:`start_thread`, or call
    :meth:`drain_once` per tick. ``clock`` gives the current instant (tests move
    it on)."""

    def __init__(self, engine: Engine, transport: Transport, batch_size: int = 20, poll_interval: float = 5.0,
                 retry_delays: Sequence[float] = RETRY_DELAYS, max_attempts: int = 10,
                 failed_retry_interval: float = 24 * 3600.0, lease: float = 600.0,
                 clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.transport = transport
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retry_delays = tuple(retry_delays)
        self.max_attempts = max_attempts
        self.failed_retry_interval = failed_retry_interval
        self.lease = lease
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        # Outcomes the database refused to record (a storage fault): written first next
        # time, so a sent row is not sent again when its lease ends.
        self._unrecorded: list[tuple[Outgoing, dict | BaseException]] = []

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def drain_once(self) -> int:
        """Claim one batch of due rows and send it; return how many were sent."""
        while self._unrecorded:
            self._record(*self._unrecorded[0])
            self._unrecorded.pop(0)
        batch = self._claim()
        if not batch:
            return 0
        sent = 0
        done: set[int] = set()
        try:
            with self.transport.connect() as send:
                for outgoing in batch:
                    try:
                        outcome: dict | BaseException = send(outgoing)
                    except _MESSAGE_ERRORS as exc:
                        outcome = exc
                    done.add(outgoing.id)
                    self._settle(outgoing, outcome)
                    sent += not isinstance(outcome, BaseException)
        except _Unrecorded as exc:  # the database is away: the rest of the batch waits for its lease
            raise exc.__cause__ from None
        except Exception as exc:  # the server is away or refused the session: the rest of the batch waits
            log.warning("mail relay: %s; %d message(s) wait for the next try", _describe(exc),
                        len(batch) - len(done))
            try:
                for outgoing in batch:
                    if outgoing.id not in done:
                        self._settle(outgoing, exc)
            except _Unrecorded as unrecorded:
                raise unrecorded.__cause__ from None
        return sent

    def _claim(self) -> list[Outgoing]:
        c = _MAIL.c
        now = self.clock()
        due = (select(c.id).where(c.status != SENT, c.next_attempt_at <= now)
               .order_by(c.next_attempt_at, c.id).limit(self.batch_size))
        if self.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        with self.engine.begin() as conn:
            ids = list(conn.scalars(due))
            if not ids:
                return []
            # Long enough for the whole batch to meet its timeouts before another relay may take it.
            lease = max(self.lease, 3 * self.transport.timeout * len(ids))
            conn.execute(update(_MAIL).where(c.id.in_(ids)).values(next_attempt_at=now + timedelta(seconds=lease)))
            rows = conn.execute(select(c.id, c.created_at, c.sender, c.recipients, c.message, c.attempts)
                                .where(c.id.in_(ids)).order_by(c.id)).all()
        return [Outgoing(**row._mapping) for row in rows]

    def _settle(self, outgoing: Outgoing, outcome: dict | BaseException) -> None:
        try:
            self._record(outgoing, outcome)
        except Exception as exc:
            self._unrecorded.append((outgoing, outcome))
            raise _Unrecorded() from exc

    def _record(self, outgoing: Outgoing, outcome: dict | BaseException) -> None:
        c = _MAIL.c
        now = self.clock()
        attempts = outgoing.attempts + 1
        if isinstance(outcome, BaseException):
            failed = attempts >= self.max_attempts
            delay = (self.failed_retry_interval if failed
                     else self.retry_delays[min(attempts, len(self.retry_delays)) - 1])
            values = {"status": FAILED if failed else QUEUED, "last_error": _describe(outcome),
                      "next_attempt_at": now + timedelta(seconds=delay)}
        else:
            # Some recipients refused, the others accepted: sending again would repeat it to them.
            refused = "; ".join(f"{address} refused: {_reply(answer)}" for address, answer in outcome.items())
            values = {"status": SENT, "sent_at": now, "last_error": refused or None}
        with self.engine.begin() as conn:
            conn.execute(update(_MAIL).where(c.id == outgoing.id, c.status != SENT)
                         .values(attempts=attempts, **values))

    def run(self, sleep: Callable[[float], None] | None = None) -> None:
        """Send until stopped, backing off while the database is away."""
        backoff = 0.5
        while not self._stop.is_set():
            try:
                sent = self.drain_once()
                backoff = 0.5
            except Exception as exc:  # the database (or the server, mid-batch) is away: try again later
                log.warning("mail relay: %s; retrying in %.1fs", _describe(exc), backoff)
                self._wake.wait(backoff) if sleep is None else sleep(backoff)
                self._wake.clear()
                backoff = min(backoff * 2, 30.0)
                continue
            if sent < self.batch_size:
                self._wake.wait(self.poll_interval)
                self._wake.clear()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="mail-relay", daemon=True)
        thread.start()
        return thread


def mail_relay(engine: Engine, service: str, settings=None, **options) -> MailRelay:
    """The relay of ``service``'s mail, with the transport its settings choose
    (:func:`mail_transport`); ``options`` go to :class:`MailRelay`."""
    if settings is None:
        from shared.config import load_settings
        settings = load_settings()
    return MailRelay(engine, mail_transport(settings, service), **options)


def _reply(answer) -> str:
    code, text = answer
    return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        text = "; ".join(f"{address} refused: {_reply(answer)}" for address, answer in error.recipients.items())
    elif isinstance(error, smtplib.SMTPResponseException):
        text = f"the server answered {_reply((error.smtp_code, error.smtp_error))}"
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:MAX_ERROR_LENGTH]
