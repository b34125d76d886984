"""A minimal service built on the kernel, for testing the kernel itself."""
from __future__ import annotations

import time

from marshmallow import fields
from nameko.timer import timer
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text

from shared.db import add_messaging_tables
from shared.errors import Conflict, Invalid, NotFound
from shared.events import ConsumedEvent, EventContract, PayloadSchema
from shared.nameko_ext import Database, event_handler, rpc
from shared.plugins import ServiceManifest


class NoteAdded(PayloadSchema):
    note_id = fields.String(required=True)
    text = fields.String(required=True)


# The probe declares its event as any publisher does, without being installed:
# a service hands its contracts to its Database; only the catalog of the bus
# comes from the installed publishers.
PUBLISHED_EVENTS = (EventContract("probe.note_added", 1, NoteAdded, "A note was added."),)


class NoteText(PayloadSchema):
    text = fields.String(required=True)


NOTE_ADDED = ConsumedEvent("probe.note_added", versions=(1,), schema=NoteText, handler="on_note_added")

metadata = MetaData()
add_messaging_tables(metadata)
notes = Table("notes", metadata, Column("id", String(36), primary_key=True),
              Column("text", String(200)))
applied = Table("applied", metadata, Column("id", Integer, primary_key=True, autoincrement=True),
                Column("event_id", String(36)), Column("text", String(200)))

# Class-level knobs the tests turn; the consumer reads them in its workers.
FAILURES = {"remaining": 0, "always": set(), "started": []}
TICKS = []


class ProbeService:
    name = "probe"
    db = Database(metadata, PUBLISHED_EVENTS)

    @rpc
    def add_note(self, caller, note_id, text_, fail_after_emit=False):
        self.db.session.execute(insert(notes).values(id=note_id, text=text_))
        self.db.emit("probe.note_added", {"note_id": note_id, "text": text_})
        if fail_after_emit:
            raise RuntimeError("boom after emit")
        return note_id

    @rpc
    def refuse(self, caller, status):
        """Answers with the domain error of ``status``, or fails unexpectedly (500)."""
        if status == 500:
            raise RuntimeError("an unexpected failure")
        raise {404: NotFound, 409: Conflict, 422: Invalid}[status](f"refused with {status} on purpose")

    @rpc
    def whoami(self, caller):
        """The caller this call was made on behalf of, as the service sees it."""
        return caller.to_context()

    @rpc
    def slow(self, caller, seconds):
        started = time.time()
        self.db.session.execute(text("SELECT pg_sleep(:s)"), {"s": seconds})
        return started, time.time()


class ProbeConsumer:
    name = "probe_consumer"
    db = Database(metadata, relay=False)

    @event_handler(NOTE_ADDED)
    def on_note_added(self, event):
        text_ = event["payload"]["text"]
        self.db.session.execute(insert(applied).values(event_id=event["event_id"], text=text_))
        FAILURES["started"].append(text_)
        if text_.startswith("slow"):
            time.sleep(3)  # green under eventlet: long enough to be killed mid-handler
        if text_ in FAILURES["always"]:
            raise RuntimeError(f"poisoned: {text_}")
        if FAILURES["remaining"] > 0:
            FAILURES["remaining"] -= 1
            raise RuntimeError("transient failure")

    @timer(interval=0.05)
    def tick(self):
        TICKS.append(time.time())


def applied_rows(engine):
    with engine.connect() as conn:
        return conn.execute(select(applied.c.event_id, applied.c.text)).all()


consumer_manifest = ServiceManifest(
    name="probe_consumer", service_class="tests.probe:ProbeConsumer", metadata="tests.probe:metadata",
    migrations=None, consumes=(NOTE_ADDED,))
