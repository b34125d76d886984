"""The finance migrations build exactly the models, on PostgreSQL and SQLite."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from services.finance.models import metadata
from services.finance.plugin import manifest
from shared.migrate import upgrade


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request, throwaway, tmp_path):
    return throwaway.database("finance_migrations") if request.param == "postgresql" \
        else f"sqlite:///{tmp_path / 'finance.db'}"


def test_the_schema_is_the_models(url):
    upgrade(manifest.migrations, url)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata) == []
    finally:
        engine.dispose()
