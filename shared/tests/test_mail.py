"""Mail: queued in the caller's transaction, sent through a real SMTP server (aiosmtpd,
in this process) or written as .eml files, retried until the server takes it, and
sent once by two relays at once; on PostgreSQL and on the SQLite default."""
from __future__ import annotations

import email
import email.policy
import socket
import stat
from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from crm_testkit.helpers import wait_for
from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from shared.config import load_settings
from shared.db import make_engine
from shared.mail import (FAILED, QUEUED, SENT, Attachment, FileTransport, Mail, MailRelay, SmtpTransport,
                         add_mail_tables, mail_deliveries, mail_relay, queue_mail, retry_mail_now)

# The test server asks for a login over plain SMTP, to prove the relay logs in.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PDF = bytes(range(256)) * 40 + b"%%EOF\r\n.\r\n..\n"   # every byte value, line ends and lone dots


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler keeping what it accepted; ``refuse`` names recipients it answers 550."""

    def __init__(self):
        self.envelopes = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self):
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"crm", b"p@ss:word")
    return AuthResult(success=ok)


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that asks for a login, started and stopped at will."""

    def __init__(self):
        self.port = free_port()
        self.mailbox = Mailbox()
        self.controller = None
        self.url = f"smtp://crm:p%40ss%3Aword@127.0.0.1:{self.port}?timeout=5"

    def start(self):
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port,
                                     authenticator=_authenticate, auth_required=True, auth_require_tls=False)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request, throwaway, tmp_path):
    url = throwaway.database("mail") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'svc.db'}"
    made = make_engine(url)
    metadata = MetaData()
    add_mail_tables(metadata)
    metadata.create_all(made)
    yield made
    made.dispose()


class Clock:
    def __init__(self):
        self.now = datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)

    def __call__(self):
        return self.now

    def move(self, seconds: float):
        self.now += timedelta(seconds=seconds)


def invoice_mail(number: str = "INV-2027-000001", to=("Zoë Müller <zoe@example.com>",)) -> Mail:
    return Mail(to=to, subject=f"Faktura {number} – 1 234,50 €",
                text=f"Dzień dobry,\n\nw załączeniu faktura {number}.\n.\nPozdrawiamy",
                attachments=(Attachment(f"faktura-{number}.pdf", "application/pdf", PDF),),
                sender="Billing <billing@example.com>")


def queue(engine, mail: Mail, ref: str | None = "invoice-1") -> int:
    with Session(engine) as session, session.begin():
        return queue_mail(session, mail, subject_ref=ref)


def deliveries(engine, **filters):
    with Session(engine) as session:
        return mail_deliveries(session, **filters)


def test_a_queued_mail_arrives_with_its_attachment_intact(engine, smtp):
    smtp.start()
    delivery_id = queue(engine, invoice_mail())
    relay = MailRelay(engine, SmtpTransport(smtp.url))
    assert relay.drain_once() == 1
    [envelope] = smtp.mailbox.envelopes
    assert envelope.mail_from == "billing@example.com" and envelope.rcpt_tos == ["zoe@example.com"]
    [message] = smtp.mailbox.messages()
    assert message["Subject"] == "Faktura INV-2027-000001 – 1 234,50 €"
    assert message["To"] == "Zoë Müller <zoe@example.com>"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")   # lines travel as CRLF
    assert text == "Dzień dobry,\n\nw załączeniu faktura INV-2027-000001.\n.\nPozdrawiamy\n"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "faktura-INV-2027-000001.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF
    [row] = deliveries(engine, subject_ref="invoice-1")
    assert (row.id, row.status, row.attempts, row.last_error) == (delivery_id, SENT, 1, None)
    assert row.sent_at is not None
    assert relay.drain_once() == 0 and len(smtp.mailbox.envelopes) == 1


def test_a_rolled_back_transaction_queues_nothing(engine):
    with Session(engine) as session:
        queue_mail(session, invoice_mail())
        session.rollback()
    assert deliveries(engine) == []


def test_mail_waits_while_the_server_is_down_and_goes_once_it_is_back(engine, smtp):
    clock = Clock()
    relay = MailRelay(engine, SmtpTransport(smtp.url), clock=clock)
    queue(engine, invoice_mail("INV-2027-000001"))
    queue(engine, invoice_mail("INV-2027-000002"))
    assert relay.drain_once() == 0          # nothing listens on the port
    rows = deliveries(engine)
    assert [(r.status, r.attempts) for r in rows] == [(QUEUED, 1), (QUEUED, 1)]
    assert all("Connection" in r.last_error for r in rows), rows[0].last_error
    assert all(r.next_attempt_at == clock.now + timedelta(seconds=60) for r in rows)
    clock.move(30)
    smtp.start()
    assert relay.drain_once() == 0          # not due yet: back-off
    clock.move(31)
    assert relay.drain_once() == 2
    assert sorted(m["Subject"][8:23] for m in smtp.mailbox.messages()) == ["INV-2027-000001", "INV-2027-000002"]
    assert [(r.status, r.attempts) for r in deliveries(engine)] == [(SENT, 2), (SENT, 2)]


def test_after_its_last_try_a_mail_is_listed_as_failed_and_still_tried_less_often(engine, smtp):
    clock = Clock()
    relay = MailRelay(engine, SmtpTransport(smtp.url), clock=clock, retry_delays=(10,), max_attempts=2,
                      failed_retry_interval=3600)
    queue(engine, invoice_mail())
    relay.drain_once()
    clock.move(10)
    relay.drain_once()
    [row] = deliveries(engine, status=FAILED)
    assert row.attempts == 2 and row.next_attempt_at == clock.now + timedelta(hours=1)
    smtp.start()
    clock.move(3600)
    assert relay.drain_once() == 1
    assert deliveries(engine, status=FAILED) == [] and len(smtp.mailbox.envelopes) == 1


def test_an_operator_retries_a_failed_mail_at_once(engine, smtp):
    clock = Clock()
    relay = MailRelay(engine, SmtpTransport(smtp.url), clock=clock, max_attempts=1)
    delivery_id = queue(engine, invoice_mail())
    relay.drain_once()
    assert [r.status for r in deliveries(engine)] == [FAILED]
    smtp.start()
    with Session(engine) as session, session.begin():
        assert retry_mail_now(session, [delivery_id]) == 1
    assert relay.drain_once() == 1
    with Session(engine) as session, session.begin():
        assert retry_mail_now(session, [delivery_id]) == 0      # sent: left alone
    assert len(smtp.mailbox.envelopes) == 1


def test_a_refused_recipient_fails_its_own_mail_and_not_the_rest_of_the_batch(engine, smtp):
    smtp.mailbox.refuse = {"gone@example.com"}
    smtp.start()
    clock = Clock()
    queue(engine, invoice_mail("INV-2027-000001", to=("gone@example.com",)), ref="a")
    queue(engine, invoice_mail("INV-2027-000002", to=("gone@example.com", "zoe@example.com")), ref="b")
    queue(engine, invoice_mail("INV-2027-000003"), ref="c")
    assert MailRelay(engine, SmtpTransport(smtp.url), clock=clock).drain_once() == 2
    [a], [b], [c] = (deliveries(engine, subject_ref=ref) for ref in "abc")
    assert a.status == QUEUED and "gone@example.com refused: 550" in a.last_error
    # Taken for one of its recipients: sending again would repeat it to her.
    assert b.status == SENT and "gone@example.com refused: 550" in b.last_error
    assert c.status == SENT and c.last_error is None
    assert [e.rcpt_tos for e in smtp.mailbox.envelopes] == [["zoe@example.com"], ["zoe@example.com"]]


class Counted(SmtpTransport):
    """Counts what this relay's transport sent."""

    def __init__(self, url):
        super().__init__(url)
        object.__setattr__(self, "sent", [])

    def connect(self):
        outer = super().connect()

        class Counting:
            def __enter__(_):
                send = outer.__enter__()
                return lambda outgoing: (self.sent.append(outgoing.id), send(outgoing))[1]

            def __exit__(_, *exc):
                return outer.__exit__(*exc)
        return Counting()


def test_two_relays_at_once_send_each_mail_once(engine, smtp):
    smtp.start()
    ids = [queue(engine, invoice_mail(f"INV-2027-{n:06d}"), ref=str(n)) for n in range(1, 41)]
    transports = [Counted(smtp.url) for _ in range(2)]
    running = [MailRelay(engine, transport, batch_size=3, poll_interval=0.05) for transport in transports]
    threads = [relay.start_thread() for relay in running]
    try:
        wait_for(lambda: len(deliveries(engine, status=SENT)) == len(ids), timeout=60, message="every mail sent")
    finally:
        for relay in running:
            relay.stop()
        for thread in threads:
            thread.join(10)
    assert all(transport.sent for transport in transports), "both relays took a share"
    assert sorted(transports[0].sent + transports[1].sent) == ids
    message_ids = [m["Message-ID"] for m in smtp.mailbox.messages()]
    assert len(message_ids) == len(ids) == len(set(message_ids))
    assert all(r.attempts == 1 for r in deliveries(engine))


def test_without_an_smtp_url_each_mail_is_an_eml_file_under_the_data_dir(engine, tmp_path):
    settings = load_settings({"CRM_DATA_DIR": str(tmp_path / "data")})
    relay = mail_relay(engine, "finance", settings)
    assert isinstance(relay.transport, FileTransport)
    delivery_id = queue(engine, invoice_mail())
    assert relay.drain_once() == 1
    folder = tmp_path / "data" / "mail" / "finance"
    [path] = list(folder.iterdir())            # no temporary file left beside it
    assert path.name.endswith(f"-{delivery_id:06d}.eml") and path.name[:8].isdigit()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "Faktura INV-2027-000001 – 1 234,50 €"
    assert message["From"] == "Billing <billing@example.com>"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content() == PDF
    assert [r.status for r in deliveries(engine)] == [SENT]


def test_writing_a_file_again_replaces_it(tmp_path):
    """A relay that died between writing and marking writes the same file again."""
    transport = FileTransport(tmp_path / "mail")
    from shared.mail import Outgoing
    outgoing = Outgoing(id=7, created_at=datetime(2027, 3, 1, 8, 0, 5, tzinfo=timezone.utc), sender="a@b",
                        recipients="c@d", message=b"Subject: x\r\n\r\nbody\r\n", attempts=0)
    for _ in range(2):
        with transport.connect() as send:
            send(outgoing)
    assert [p.name for p in (tmp_path / "mail").iterdir()] == ["20270301T080005Z-000007.eml"]


def test_the_sender_defaults_to_crm_mail_from(engine, monkeypatch, tmp_path):
    monkeypatch.setenv("CRM_MAIL_FROM", "CRM <crm@example.org>")
    queue(engine, Mail(to="zoe@example.com", subject="Hello", text="Hi"))
    relay = MailRelay(engine, FileTransport(tmp_path / "mail"))
    relay.drain_once()
    [path] = list((tmp_path / "mail").iterdir())
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["From"] == "CRM <crm@example.org>" and message["Message-ID"].endswith("@example.org>")


def test_a_mail_that_cannot_be_built_is_refused_before_anything_is_written(engine):
    with pytest.raises(ValueError, match="recipient"):
        Mail(to=(), subject="x", text="y")
    with pytest.raises(ValueError, match="recipient"):
        Mail(to="nobody", subject="x", text="y")
    with Session(engine) as session:
        with pytest.raises(ValueError):
            queue_mail(session, Mail(to="a@example.com", subject="Hi\r\nBcc: all@example.com", text="y",
                                     sender="b@example.com"))
        with pytest.raises(ValueError, match="sender"):
            queue_mail(session, Mail(to="a@example.com", subject="Hi", text="y", sender="billing"))
    assert deliveries(engine) == []


def test_the_smtp_url_is_read_once_and_refused_when_it_cannot_be_used():
    plain = SmtpTransport("smtp://crm:p%40ss@mail.example.com:2525?starttls=true&timeout=7.5")
    assert (plain.host, plain.port, plain.username, plain.password, plain.starttls, plain.implicit_tls,
            plain.timeout) == ("mail.example.com", 2525, "crm", "p@ss", True, False, 7.5)
    assert "p@ss" not in repr(plain)
    tls = SmtpTransport("smtps://mail.example.com")
    assert (tls.port, tls.implicit_tls, tls.username, tls.timeout) == (465, True, None, 30.0)
    assert SmtpTransport("smtp://localhost").port == 25
    for bad, why in [("http://mail.example.com", "must look like"), ("smtp://h?tls=yes", "unknown options"),
                     ("smtps://h?starttls=true", "TLS from the start"), ("smtp://h?starttls=maybe", "true or false"),
                     ("smtp://h?timeout=soon", "numbers")]:
        with pytest.raises(ValueError, match=why):
            SmtpTransport(bad)
