"""A publisher's and a consumer's contracts of one made-up event, for the kernel's
own tests (the kernel knows no service)."""
from __future__ import annotations

from marshmallow import fields

from shared.events import ConsumedEvent, EventContract, Money, PayloadSchema, Str


class NoteAdded(PayloadSchema):
    note_id = fields.String(required=True)
    text = fields.String(required=True)
    author = Str()
    cost = Money(load_default=None)
    due_on = fields.Date(allow_none=True, load_default=None)


class NoteAddedV2(PayloadSchema):
    """The breaking change: ``text`` became ``body``."""
    note_id = fields.String(required=True)
    body = fields.String(required=True)


NOTE_ADDED = EventContract("notes.note_added", 1, NoteAdded, "A note was added.")
PUBLISHED_EVENTS = (NOTE_ADDED,)
BOTH_VERSIONS = (NOTE_ADDED, EventContract("notes.note_added", 2, NoteAddedV2, "A note was added."))


class NoteText(PayloadSchema):
    note_id = fields.String(required=True)
    text = fields.String(required=True)


READS_NOTE_ADDED = ConsumedEvent("notes.note_added", versions=(1,), schema=NoteText, handler="on_note_added")
