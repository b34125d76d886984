"""Runs each service's own Alembic history against its own database."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.db import prepare_sqlite_file


def alembic_config(script_location: Path, url: str, version_table: str = "alembic_version") -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("version_table", version_table)
    return cfg


def ensure_sqlite_dir(url: str) -> None:
    """A SQLite database's directory and file exist, for the owner alone."""
    prepare_sqlite_file(url)


def upgrade(script_location: Path, url: str) -> None:
    """Bring the database at ``url`` to the newest revision in ``script_location``."""
    ensure_sqlite_dir(url)
    command.upgrade(alembic_config(script_location, url), "head")
