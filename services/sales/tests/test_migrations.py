"""The sales migrations build exactly the models; 0004 keeps the targets drafted before it."""
from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from services.sales.models import metadata
from services.sales.plugin import manifest
from shared.migrate import alembic_config, upgrade


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request, throwaway, tmp_path):
    return throwaway.database("sales_migrations") if request.param == "postgresql" \
        else f"sqlite:///{tmp_path / 'sales.db'}"


def test_the_roster_and_target_authors_arrive_and_the_schema_is_the_models(url):
    command.upgrade(alembic_config(manifest.migrations, url), "0003")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO targets (id, owner_id, period, period_start, period_end, currency,"
                              " lines, status, version, created_at) VALUES ('t-1', 'rep-1', 'month',"
                              " '2027-01-01', '2027-01-31', 'EUR', '[]', 'draft', 1, '2027-01-01T00:00:00Z')"))
        upgrade(manifest.migrations, url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT created_by FROM targets WHERE id = 't-1'")).scalar_one() is None
            assert conn.execute(text("SELECT count(*) FROM reps")).scalar_one() == 0
            assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata) == []
    finally:
        engine.dispose()
