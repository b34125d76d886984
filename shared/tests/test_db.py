"""The database helpers on SQLite, the default of `make up` (PostgreSQL is
covered by the kernel reliability tests)."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from shared.db import UnitOfWork, insert_or_skip, make_engine, service_metadata, utcnow
from shared.tests.notes_contracts import PUBLISHED_EVENTS


def test_the_inbox_claim_is_taken_once(tmp_path):
    metadata = service_metadata()
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    metadata.create_all(engine)
    claim = insert_or_skip(metadata.tables["inbox"], engine.dialect.name)
    row = {"event_id": "e-1", "handler": "svc.on_x", "event_type": "x.happened", "processed_at": utcnow()}
    with engine.begin() as conn:
        assert conn.execute(claim.values(**row)).rowcount == 1
        assert conn.execute(claim.values(**row)).rowcount == 0
        assert conn.execute(claim.values(**{**row, "handler": "svc.on_y"})).rowcount == 1
    engine.dispose()


def test_events_are_written_with_the_commit_and_not_after_a_rollback(tmp_path):
    metadata = service_metadata()
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    metadata.create_all(engine)
    outbox = metadata.tables["outbox"]
    woken = []
    payload = {"note_id": "n-1", "text": "new"}
    rolled_back = UnitOfWork(sessionmaker(engine), outbox, on_commit=lambda: woken.append(1),
                             publishes=PUBLISHED_EVENTS)
    rolled_back.emit("notes.note_added", payload)
    rolled_back.rollback()
    rolled_back.close()
    committed = UnitOfWork(sessionmaker(engine), outbox, on_commit=lambda: woken.append(1),
                           publishes=PUBLISHED_EVENTS)
    committed.emit_many([("notes.note_added", payload), ("notes.note_added", {**payload, "note_id": "n-2"})])
    committed.commit()
    committed.close()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(outbox)) == 2
    assert woken == [1]
    engine.dispose()

