import pytest

from crm_testkit.helpers import CommittingWorker
from services.leads.plugin import manifest
from services.leads.service import LeadsService
from services.leads.settings import LeadsSettings
from shared.caller import Caller, Role
from shared.db import make_engine
from shared.migrate import upgrade

ADMIN = Caller(user_id="u-admin", role=Role.ADMIN, request_id="t")


def person(user_id, role="rep", team_id=None, partner_id=None, **extra) -> Caller:
    """A caller as the service receives it (the kernel's ``@rpc`` builds it from the context)."""
    return Caller(user_id=user_id, role=Role(role), team_id=team_id, partner_id=partner_id,
                  name=user_id.title(), request_id=f"req-{user_id}", **extra)


@pytest.fixture(params=["postgresql", "sqlite"])
def leads_db(request, throwaway, tmp_path):
    """The service's migrated database, on PostgreSQL and on the SQLite default in turn."""
    url = throwaway.database("leads") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'leads.db'}"
    upgrade(manifest.migrations, url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_service(leads_db):
    """``make_service(**settings)``: a LeadsService worker on a real, migrated database
    (PostgreSQL, then SQLite), with the default leads settings but ``settings``.

    Each call gets a fresh unit of work, committed on success like the real
    entrypoints do, so tests see exactly what a committed RPC leaves behind.
    """
    return lambda **settings: CommittingWorker(LeadsService, manifest, leads_db, settings=LeadsSettings(**settings))


@pytest.fixture
def service(make_service):
    """A LeadsService worker with the default settings (see make_service)."""
    return make_service()


@pytest.fixture
def roster(service):
    """Register reps the way the gateway's user events do."""
    def add(user_id, team_id="team-a", role="rep", **extra):
        event = {"event_id": f"evt-{user_id}", "event_type": "gateway.user_changed",
                 "payload": {"user_id": user_id, "name": user_id.title(), "role": role,
                             "team_id": team_id, "active": True, "segments": [], "sources": [],
                             **extra}}
        service.on_user_changed(event)
        return person(user_id, role, team_id)
    return add
