"""The bounded fields of the kernel (shared.fields) and the deadline of a unit of work."""
from __future__ import annotations

import time
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from marshmallow import Schema, ValidationError, fields as ma_fields, validate
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from shared import fields
from shared.bounds import MAX_ITEMS, MAX_STRING
from shared.db import UnitOfWork, make_engine, service_metadata
from shared.errors import DeadlinePassed
from shared.tests.notes_contracts import PUBLISHED_EVENTS


class Sample(Schema):
    text = fields.String()
    short = fields.String(validate=validate.Length(min=1))
    tags = fields.List(fields.String())
    extra = fields.Dict()
    count = fields.Integer()
    positive = fields.Integer(validate=validate.Range(min=0))
    amount = fields.Money()
    quantity = fields.Decimal(places=4, max_digits=13, as_string=True)
    day = fields.Date()
    at = fields.AwareDateTime()


def errors_of(**data) -> dict:
    with pytest.raises(ValidationError) as caught:
        Sample().load(data)
    return caught.value.messages


@pytest.mark.parametrize("data, field", [
    ({"text": "a\x00b"}, "text"), ({"text": "\ud800"}, "text"), ({"text": 123}, "text"),
    ({"text": "x" * (MAX_STRING + 1)}, "text"), ({"short": "x" * (MAX_STRING + 1)}, "short"),
    ({"tags": ["t"] * (MAX_ITEMS + 1)}, "tags"), ({"extra": {str(i): i for i in range(MAX_ITEMS + 1)}}, "extra"),
    ({"extra": {"k": ["\x00"]}}, "extra"), ({"extra": {"k": float("nan")}}, "extra"),
    ({"count": 10**30}, "count"), ({"count": float("inf")}, "count"), ({"positive": 10**30}, "positive"),
    ({"amount": "NaN"}, "amount"), ({"amount": "Infinity"}, "amount"), ({"amount": 1e20}, "amount"),
    ({"amount": "10.005"}, "amount"), ({"amount": True}, "amount"), ({"amount": 0.1}, "amount"),
    ({"amount": 12}, "amount"), ({"quantity": "1e20"}, "quantity"),
    ({"day": "9999-12-31"}, "day"), ({"day": "1899-12-31"}, "day"),
    ({"at": "9999-12-31T23:59:59+00:00"}, "at"), ({"at": "2999-12-31T23:00:00-05:00"}, "at"),
])
def test_out_of_bounds_input_is_refused_naming_the_field(data, field):
    assert field in errors_of(**data)


def test_bounded_input_loads_as_sent():
    loaded = Sample().load({"text": "é" * MAX_STRING, "tags": ["a"] * MAX_ITEMS, "extra": {"a": [1, {"b": "c"}]},
                            "count": -5, "amount": "0.1", "quantity": 2.5, "day": "2999-12-31",
                            "at": "2026-01-05T10:00:00+02:00"})
    assert loaded["amount"] == Decimal("0.10")
    assert loaded["quantity"] == Decimal("2.5000")
    assert loaded["day"] == date(2999, 12, 31)
    assert loaded["at"] == datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    assert Sample().load({"amount": "12.50"})["amount"] == Decimal("12.50")


def test_answers_are_dumped_whatever_their_size():
    assert Sample().dump({"amount": Decimal("123456789012345678.12")}) == {"amount": "123456789012345678.12"}


def test_money_must_be_sent_as_a_string():
    assert errors_of(amount=0.1)["amount"] == ['send money as a decimal string, e.g. "12.50"']
    assert errors_of(amount=12)["amount"] == ['send money as a decimal string, e.g. "12.50"']


def test_every_time_goes_out_with_its_offset():
    naive_utc = datetime(2026, 1, 5, 8, 0)
    assert Sample().dump({"at": naive_utc})["at"] == "2026-01-05T08:00:00+00:00"
    assert fields.DateTime().serialize("at", {"at": naive_utc}) == "2026-01-05T08:00:00+00:00"
    assert fields.WireDateTime().serialize("at", {"at": naive_utc}) == "2026-01-05T08:00:00+00:00"


def test_the_guard_finds_unbounded_fields():
    class Loose(Schema):
        name = ma_fields.String()
        items = fields.List(ma_fields.Integer())
        nested = ma_fields.Nested(Sample)
        flag = ma_fields.Boolean()

    assert sorted(fields.unbounded_fields(Loose())) == ["items[]", "name"]


def test_a_unit_of_work_past_its_deadline_commits_nothing(tmp_path):
    metadata = service_metadata()
    engine = make_engine(f"sqlite:///{tmp_path / 'svc.db'}")
    metadata.create_all(engine)
    outbox = metadata.tables["outbox"]
    late = UnitOfWork(sessionmaker(engine), outbox, deadline=time.time() - 1, publishes=PUBLISHED_EVENTS)
    late.emit("notes.note_added", {"note_id": "n-1", "text": "late"})
    late.session.execute(outbox.insert().values(event_id="direct", event_type="x", exchange="x", body="{}",
                                                created_at=datetime.now(timezone.utc)))
    with pytest.raises(DeadlinePassed):
        late.commit()
    late.close()
    in_time = UnitOfWork(sessionmaker(engine), outbox, deadline=time.time() + 60, publishes=PUBLISHED_EVENTS)
    in_time.emit("notes.note_added", {"note_id": "n-2", "text": "in time"})
    in_time.commit()
    in_time.close()
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(outbox)) == 1
    engine.dispose()
