"""The kernel's column types and SQLite set-up: times are instants and money is
exact on PostgreSQL and on the SQLite default alike, and concurrent writers on
SQLite wait for each other instead of failing with "database is locked"."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select, update

from shared.db import Exact, Instant, make_engine

metadata = MetaData()
things = Table("things", metadata,
               Column("id", Integer, primary_key=True),
               Column("name", String(20)),
               Column("at", Instant),
               Column("amount", Exact(18, 2)),
               Column("quantity", Exact(18, 4)))


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request, throwaway, tmp_path):
    url = throwaway.database("types") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'types.db'}"
    made = make_engine(url)
    metadata.create_all(made)
    yield made
    made.dispose()


def test_times_are_stored_and_compared_as_utc_instants(engine):
    plus_one = timezone(timedelta(hours=1))
    rows = [{"id": 1, "name": "nine CET", "at": datetime(2027, 3, 1, 9, 0, tzinfo=plus_one)},   # 08:00 UTC
            {"id": 2, "name": "half past eight", "at": datetime(2027, 3, 1, 8, 30, tzinfo=timezone.utc)},
            {"id": 3, "name": "tomorrow", "at": datetime(2027, 3, 2, 0, 0, 0, 1, tzinfo=timezone.utc)}]
    with engine.begin() as conn:
        conn.execute(things.insert(), rows)
    with engine.connect() as conn:
        stored = conn.execute(select(things.c.name, things.c.at).order_by(things.c.at)).all()
        assert [r.name for r in stored] == ["nine CET", "half past eight", "tomorrow"]
        assert stored[0].at == datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)
        assert all(r.at.utcoffset() == timedelta(0) for r in stored)
        midnight = datetime(2027, 3, 2, tzinfo=timezone.utc)
        after = conn.scalars(select(things.c.name).where(things.c.at >= midnight)).all()
        before = conn.scalars(select(things.c.name).where(things.c.at < midnight).order_by(things.c.id)).all()
        # An offset on the bound value counts too, and so does an ISO string.
        in_warsaw = conn.scalars(select(things.c.name).where(
            things.c.at >= datetime(2027, 3, 1, 9, 15, tzinfo=plus_one))).all()
        as_text = conn.scalars(select(things.c.name).where(things.c.at >= "2027-03-02T00:00:00Z")).all()
    assert after == ["tomorrow"] and as_text == ["tomorrow"]
    assert before == ["nine CET", "half past eight"]
    assert sorted(in_warsaw) == ["half past eight", "tomorrow"]


def test_money_keeps_every_digit_and_sums_and_orders_right(engine):
    big = Decimal("1234567890123456.78")  # 18 digits: a float keeps about 16
    rows = [{"id": 1, "name": "big", "amount": big, "quantity": Decimal("12.3456")},
            {"id": 2, "name": "cent", "amount": Decimal("0.01"), "quantity": Decimal("0.0001")},
            {"id": 3, "name": "negative", "amount": Decimal("-10.10"), "quantity": Decimal("1")},
            {"id": 4, "name": "rounded", "amount": Decimal("2.345"), "quantity": Decimal("0")}]
    with engine.begin() as conn:
        conn.execute(things.insert(), rows)
        conn.execute(update(things).where(things.c.id == 2).values(amount=things.c.amount + Decimal("0.02")))
    with engine.connect() as conn:
        amounts = dict(conn.execute(select(things.c.name, things.c.amount)).all())
        assert amounts == {"big": big, "cent": Decimal("0.03"), "negative": Decimal("-10.10"),
                           "rounded": Decimal("2.35")}  # half away from zero, as PostgreSQL rounds
        assert all(isinstance(v, Decimal) for v in amounts.values())
        assert conn.scalar(select(things.c.quantity).where(things.c.id == 1)) == Decimal("12.3456")
        assert conn.scalar(select(func.sum(things.c.amount)).where(things.c.id > 1)) == Decimal("-7.72")
        assert conn.scalars(select(things.c.name).order_by(things.c.amount)).all() == \
            ["negative", "cent", "rounded", "big"]
        assert conn.scalars(select(things.c.name).where(things.c.amount > Decimal("2.34"))
                            .order_by(things.c.id)).all() == ["big", "rounded"]


def _write_after_reading(url: str, writer: int, count: int) -> list[str]:
    """One process: read, then write, ``count`` times; the errors it met."""
    from sqlalchemy.orm import Session
    engine = make_engine(url)
    errors = []
    for n in range(count):
        try:
            with Session(engine) as session, session.begin():
                taken = session.scalar(select(func.count()).select_from(things))
                session.execute(things.insert().values(id=writer * 10_000 + n, name=f"w{writer}-{taken}",
                                                       at=datetime.now(timezone.utc), amount=Decimal("1.00")))
        except Exception as exc:  # noqa: BLE001 (the test counts them)
            errors.append(str(exc).splitlines()[0])
    engine.dispose()
    return errors


def test_concurrent_writers_on_sqlite_wait_for_each_other(tmp_path):
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    writers, each = 8, 40
    # Separate processes, as the gateway and the services are (and free of this run's eventlet).
    script = ("import json, sys; from shared.tests.test_column_types import _write_after_reading as w; "
              "print(json.dumps(w(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))")
    procs = [subprocess.Popen([sys.executable, "-c", script, url, str(w), str(each)], stdout=subprocess.PIPE,
                              cwd=Path(__file__).parents[2]) for w in range(writers)]
    errors = [e for proc in procs for e in json.loads(proc.communicate(timeout=120)[0])]
    assert errors == []
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(things)) == writers * each
    engine.dispose()
