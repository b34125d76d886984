import pytest
from nameko.testing.services import worker_factory
from sqlalchemy.orm import sessionmaker

from services.sales.plugin import manifest
from services.sales.service import SalesService
from shared.db import UnitOfWork, make_engine
from shared.migrate import upgrade

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
    sessions = sessionmaker(sales_db, expire_on_commit=False)
    outbox = manifest.load_metadata().tables["outbox"]

    class Committing:
        def __getattr__(self, name):
            def call(*args, **kwargs):
                uow = UnitOfWork(sessions, outbox)
                worker = worker_factory(SalesService, db=uow)
                try:
                    result = getattr(worker, name)(*args, **kwargs)
                    uow.commit()
                    return result
                finally:
                    uow.rollback()
                    uow.close()
            return call

    return Committing()
