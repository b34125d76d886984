import pytest

from crm_testkit.helpers import CommittingWorker
from services.sales.plugin import manifest
from services.sales.service import SalesService
from shared.caller import Caller, Role
from shared.db import make_engine
from shared.migrate import upgrade


def person(user_id, role="rep", team_id=None, branch_id=None, partner_id=None, **extra) -> Caller:
    """A caller as the service receives it (the kernel's ``@rpc`` builds it from the context)."""
    return Caller(user_id=user_id, role=Role(role), team_id=team_id, branch_id=branch_id,
                  partner_id=partner_id, name=user_id.title(), request_id=f"req-{user_id}", **extra)


ADMIN = person("u-admin", "admin")
REP = person("rep-1", "rep", team_id="team-a")
MANAGER = person("mgr-a", "manager", team_id="team-a", branch_id="branch-1")


@pytest.fixture(params=["postgresql", "sqlite"])
def sales_db(request, throwaway, tmp_path):
    """The service's migrated database, on PostgreSQL and on the SQLite default in turn."""
    url = throwaway.database("sales") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'sales.db'}"
    upgrade(manifest.migrations, url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def service(sales_db):
    """A SalesService worker on a real, migrated database (PostgreSQL, then SQLite); each call
    commits like the real entrypoints do."""
    return CommittingWorker(SalesService, manifest, sales_db)


@pytest.fixture
def roster(service):
    """Register users the way the gateway's user events do; returns them as callers."""
    def add(user_id, role="rep", team_id="team-a", branch_id=None, active=True, **extra):
        event = {"event_id": f"evt-{user_id}-{active}", "event_type": "gateway.user_changed",
                 "payload": {"user_id": user_id, "name": user_id.title(), "role": role, "team_id": team_id,
                             "branch_id": branch_id, "partner_id": None, "active": active,
                             "segments": [], "sources": [], **extra}}
        service.on_user_changed(event)
        return person(user_id, role, team_id, branch_id)
    return add
