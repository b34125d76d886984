"""The contract types of the kernel: a publisher emits only what it declares, as it
declares it; a consumer reads only what it declares, tolerating additions."""
import uuid
from datetime import date
from types import SimpleNamespace

import pytest
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from shared.db import UnitOfWork, make_engine, service_metadata
from shared.events import (ConsumedEvent, EventCatalog, EventContract, UndeclaredEvent, make_event,
                           read_payload)
from shared.nameko_ext import Database, ReliableEventHandler
from shared.tests.notes_contracts import (BOTH_VERSIONS, NOTE_ADDED, PUBLISHED_EVENTS, READS_NOTE_ADDED,
                                          NoteAdded, NoteText)

NOTE = {"note_id": "n-1", "text": "call back", "cost": "12.50", "due_on": date(2027, 1, 31)}


@pytest.fixture
def outbox_db(tmp_path):
    metadata = service_metadata()
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    metadata.create_all(engine)
    yield sessionmaker(engine), metadata.tables["outbox"]
    engine.dispose()


def outbox_count(sessions, outbox) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(outbox))


def test_a_publisher_cannot_emit_an_event_it_does_not_declare(outbox_db):
    sessions, outbox = outbox_db
    uow = UnitOfWork(sessions, outbox, publishes=PUBLISHED_EVENTS)
    with pytest.raises(UndeclaredEvent, match=r"notes\.note_deleted is not among the events this publisher "
                                              r"declares \(notes\.note_added v1\)"):
        uow.emit("notes.note_deleted", {"note_id": "n-1"})
    with pytest.raises(UndeclaredEvent, match=r"notes\.note_added v2 is not among"):
        uow.emit("notes.note_added", NOTE, version=2)
    with pytest.raises(UndeclaredEvent):
        uow.emit_many([("notes.note_added", NOTE), ("leads.lead_created", {"lead_id": "l-1"})])
    uow.commit()
    assert outbox_count(sessions, outbox) == 0, "refused at emit, before anything was written"
    with pytest.raises(UndeclaredEvent, match=r"\(none\)"):
        UnitOfWork(sessions, outbox).emit("notes.note_added", NOTE)


def test_a_publisher_cannot_emit_a_payload_that_breaks_its_contract(outbox_db):
    sessions, outbox = outbox_db
    uow = UnitOfWork(sessions, outbox, publishes=PUBLISHED_EVENTS)
    with pytest.raises(ValidationError) as refused:
        uow.emit("notes.note_added", {"note_id": "n-1"})
    assert "text" in refused.value.messages
    uow.commit()
    assert outbox_count(sessions, outbox) == 0


def test_the_envelope_names_the_producer_and_the_declared_version_and_money_is_a_decimal_string():
    message = make_event(NOTE_ADDED, NOTE, correlation_id="req-1").to_message()
    assert message["event_type"] == "notes.note_added" and message["version"] == 1
    assert message["producer"] == "notes" and message["correlation_id"] == "req-1"
    assert uuid.UUID(message["event_id"])
    assert message["payload"] == {"note_id": "n-1", "text": "call back", "cost": "12.50", "due_on": "2027-01-31"}


def test_while_two_versions_are_declared_the_publisher_says_which_one_it_emits(outbox_db):
    sessions, outbox = outbox_db
    uow = UnitOfWork(sessions, outbox, publishes=BOTH_VERSIONS)
    with pytest.raises(UndeclaredEvent, match=r"declared in versions \[1, 2\]: say which one"):
        uow.emit("notes.note_added", NOTE)
    assert uow.emit("notes.note_added", NOTE, version=1).version == 1
    assert uow.emit("notes.note_added", {"note_id": "n-1", "body": "call back"}, version=2).version == 2
    uow.commit()
    assert outbox_count(sessions, outbox) == 2


def test_a_consumer_reads_only_its_fields_and_ignores_what_a_producer_adds():
    message = make_event(NOTE_ADDED, NOTE).to_message()
    message["payload"]["added_in_a_later_release"] = {"nested": True}
    message["new_envelope_field"] = "ignored"
    assert read_payload(READS_NOTE_ADDED, message) == {"note_id": "n-1", "text": "call back"}
    with pytest.raises(ValidationError):
        read_payload(READS_NOTE_ADDED, {"payload": {"note_id": "n-1"}})


def test_a_contract_is_named_versioned_and_described():
    with pytest.raises(ValueError, match="<service>.<noun>_<past-tense verb>"):
        EventContract("NoteAdded", 1, NoteAdded, "A note was added.")
    with pytest.raises(ValueError, match="integer from 1"):
        EventContract("notes.note_added", 0, NoteAdded, "A note was added.")
    with pytest.raises(ValueError, match="one line"):
        EventContract("notes.note_added", 1, NoteAdded, "")
    with pytest.raises(ValueError, match="declared twice"):
        EventCatalog([NOTE_ADDED, NOTE_ADDED])
    with pytest.raises(ValueError, match="name the versions"):
        ConsumedEvent("notes.note_added", (), NoteText, "on_note_added")
    assert NOTE_ADDED.key == "notes.note_added.v1" and READS_NOTE_ADDED.source_service == "notes"


def test_a_service_declares_only_its_own_events():
    db = Database(service_metadata(), PUBLISHED_EVENTS)
    db.container = SimpleNamespace(service_name="reminders")
    with pytest.raises(RuntimeError, match="the reminders service declares events of other publishers: "
                                           "notes.note_added"):
        db.setup()


def test_a_handler_is_the_one_its_reading_names():
    handler = ReliableEventHandler(consumed=READS_NOTE_ADDED)
    handler.method_name, handler.container = "on_note", SimpleNamespace(service_name="reminders")
    with pytest.raises(RuntimeError, match="reminders.on_note handles notes.note_added, whose reading in the "
                                           "contracts names the handler 'on_note_added'"):
        handler.setup()
