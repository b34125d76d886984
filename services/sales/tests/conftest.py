import pytest

from services.sales.plugin import manifest
from services.sales.service import SalesService
from shared.db import make_engine
from shared.migrate import upgrade
from shared.testing import CommittingWorker

ADMIN = {"user_id": "u-admin", "role": "admin", "team_id": None, "partner_id": None, "request_id": "t"}
REP = {"user_id": "rep-1", "role": "rep", "team_id": "team-a", "partner_id": None, "request_id": "r"}


@pytest.fixture
def sales_db(throwaway):
    url = throwaway.database("sales")
    upgrade(manifest.migrations, url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def service(sales_db):
    """A SalesService worker on a real, migrated PostgreSQL database; each call
    commits like the real entrypoints do."""
    return CommittingWorker(SalesService, manifest, sales_db)
