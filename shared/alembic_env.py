"""The body of every service's ``migrations/env.py``: online migrations only."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool


def run_migrations(target_metadata) -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    connectable = create_engine(url, poolclass=pool.NullPool, hide_parameters=True)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          version_table=config.get_main_option("version_table") or "alembic_version",
                          render_as_batch=connection.dialect.name == "sqlite",
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    connectable.dispose()
