import pytest

from services.leads.plugin import manifest
from services.leads.service import LeadsService
from shared.db import make_engine
from shared.migrate import upgrade
from shared.testing import CommittingWorker

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
    return CommittingWorker(LeadsService, manifest, leads_db)


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
