"""What the kernel writes to disk or into errors keeps secrets to its owner:
SQL parameters stay out of error messages, SQLite files and the admin key file
are private from the moment they exist."""
from __future__ import annotations

import os
import stat
import traceback
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert
from sqlalchemy.exc import IntegrityError

from shared import gateway_client
from shared.config import load_settings
from shared.db import make_engine

SECRET = "5e1f0c0ffee-secret-key-hash"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask():
    """The umask of a careless shell: everything readable (and writable) by all."""
    saved = os.umask(0)
    yield
    os.umask(saved)


def _duplicate_error(url: str) -> str:
    metadata = MetaData()
    table = Table(f"secrets_{os.getpid()}", metadata, Column("secret_hash", String(64), primary_key=True))
    engine = make_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(table).values(secret_hash=SECRET))
        with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
            conn.execute(insert(table).values(secret_hash=SECRET))
        return "".join(traceback.format_exception(caught.value))  # the driver's chained error too
    finally:
        metadata.drop_all(engine)
        engine.dispose()


def test_sql_parameters_stay_out_of_errors_on_sqlite(tmp_path):
    message = _duplicate_error(f"sqlite:///{tmp_path / 'svc.db'}")
    assert "UNIQUE" in message and SECRET not in message


def test_sql_parameters_stay_out_of_errors_on_postgresql(throwaway):
    message = _duplicate_error(throwaway.database("hidden"))
    assert "duplicate key" in message and SECRET not in message


def test_sqlite_files_and_their_directory_are_private_from_the_start(tmp_path, permissive_umask):
    data_dir = tmp_path / "data"
    engine = make_engine(f"sqlite:///{data_dir / 'svc.db'}")
    with engine.begin() as conn:  # WAL: the first write makes -wal and -shm
        conn.exec_driver_sql("CREATE TABLE t (x TEXT)")
        conn.exec_driver_sql("INSERT INTO t VALUES ('a')")
        files = sorted(p.name for p in data_dir.iterdir())
        assert files == ["svc.db", "svc.db-shm", "svc.db-wal"]
        assert {p.name: _mode(p) for p in data_dir.iterdir()} == {name: 0o600 for name in files}
    assert _mode(data_dir) == 0o700
    engine.dispose()


def test_an_existing_readable_database_is_tightened(tmp_path):
    path = tmp_path / "old.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    make_engine(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600


def test_the_admin_key_file_is_created_private_not_tightened_afterwards(tmp_path, permissive_umask, monkeypatch):
    settings = replace(load_settings({}), data_dir=tmp_path / "crm")
    monkeypatch.setattr(Path, "chmod", lambda *a, **k: pytest.fail("created readable, then chmodded"))
    key = gateway_client.admin_key(settings, None)
    path = settings.data_dir / "admin.key"
    assert _mode(path) == 0o600 and _mode(settings.data_dir) == 0o700
    monkeypatch.undo()
    assert gateway_client.admin_key(settings, None) == key == path.read_text()
    path.chmod(0o644)  # left readable by an older version
    assert gateway_client.admin_key(settings, None) == key and _mode(path) == 0o600
