import pytest
from nameko.testing.services import worker_factory
from sqlalchemy.orm import sessionmaker

from services.leads.plugin import manifest
from services.leads.service import LeadsService
from shared.db import UnitOfWork, make_engine
from shared.migrate import upgrade

ADMIN = {"user_id": "u-admin", "role": "admin", "team_id": None, "partner_id": None, "request_id": "t"}


@pytest.fixture
def leads_db(throwaway):
    url = throwaway.database("leads")
    upgrade(manifest.migrations, url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def service(leads_db):
    """A LeadsService worker on a real, migrated PostgreSQL database.

    Each call gets a fresh unit of work, committed on success like the real
    entrypoints do, so tests see exactly what a committed RPC leaves behind.
    """
    sessions = sessionmaker(leads_db, expire_on_commit=False)
    outbox = manifest.load_metadata().tables["outbox"]

    class Committing:
        def __getattr__(self, name):
            def call(*args, **kwargs):
                uow = UnitOfWork(sessions, outbox)
                worker = worker_factory(LeadsService, db=uow)
                try:
                    result = getattr(worker, name)(*args, **kwargs)
                    uow.commit()
                    return result
                finally:
                    uow.rollback()
                    uow.close()
            return call

    return Committing()


@pytest.fixture
def roster(service):
    """Register reps the way the gateway's user events do."""
    def add(user_id, team_id="team-a", role="rep", **extra):
        event = {"event_id": f"evt-{user_id}", "event_type": "gateway.user_changed",
                 "payload": {"user_id": user_id, "name": user_id.title(), "role": role,
                             "team_id": team_id, "active": True, "segments": [], "sources": [],
                             **extra}}
        service.on_user_changed(event)
        return {"user_id": user_id, "role": role, "team_id": team_id, "partner_id": None,
                "request_id": f"req-{user_id}", "name": user_id.title()}
    return add
