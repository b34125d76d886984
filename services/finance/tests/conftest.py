import uuid
from decimal import Decimal

import pytest

from crm_testkit.helpers import CommittingWorker
from services.finance import contracts
from services.finance.plugin import manifest
from services.finance.service import FinanceService
from services.finance.settings import FinanceSettings
from shared.caller import Caller, Role
from shared.db import make_engine
from shared.events import read_payload
from shared.migrate import upgrade

SETTINGS = FinanceSettings(company_currency="EUR", invoice_series="INV", issue_interval=1.0, payment_terms_days=30)


def person(user_id, role="rep", team_id=None, partner_id=None) -> Caller:
    """A caller as the service receives it (the kernel's ``@rpc`` builds it from the context)."""
    return Caller(user_id=user_id, role=Role(role), team_id=team_id, partner_id=partner_id,
                  name=user_id.title(), request_id=f"req-{user_id}")


ADMIN = person("u-admin", "admin")
FINANCE = person("u-fin", "finance")
REP = person("rep-1", "rep", team_id="team-a")
OTHER_REP = person("rep-2", "rep", team_id="team-b")
MANAGER = person("mgr-a", "manager", team_id="team-a")
PARTNER = person("p-user", "partner", partner_id="partner-1")


def envelope(consumed, payload, event_id=None) -> dict:
    """An event as the handler gets it: the payload loaded with finance's own reading."""
    message = {"event_id": event_id or str(uuid.uuid4()), "event_type": consumed.event_type, "version": 1,
               "payload": payload}
    return {**message, "payload": read_payload(consumed, message)}


def account_created(account_id, owner_id="rep-1", team_id="team-a", partner_id=None, name="Acme"):
    return envelope(contracts.ACCOUNT_CREATED, {"account_id": account_id, "name": name, "owner_id": owner_id,
                                                "team_id": team_id, "partner_id": partner_id, "segment": "smb"})


def contract_signed(contract_id, account_id, schedule, currency="EUR", owner_id="rep-1", event_id=None):
    total = sum((Decimal(amount) for _, amount in schedule), Decimal(0))
    return envelope(contracts.CONTRACT_SIGNED, {
        "contract_id": contract_id, "account_id": account_id, "owner_id": owner_id, "partner_id": None,
        "currency": currency, "total": str(total), "cost": "0.00", "start_date": schedule[0][0],
        "end_date": schedule[-1][0], "lines": [], "billing_frequency": "monthly",
        "billing_schedule": [{"due_date": due, "amount": amount} for due, amount in schedule]}, event_id)


def contract_terminated(contract_id, account_id, terminated_on):
    return envelope(contracts.CONTRACT_TERMINATED, {"contract_id": contract_id, "account_id": account_id,
                                                    "terminated_on": terminated_on, "reason": "moved"})


@pytest.fixture(params=["postgresql", "sqlite"])
def finance_db(request, throwaway, tmp_path):
    """The service's migrated database, on PostgreSQL and on the SQLite default in turn."""
    url = throwaway.database("finance") if request.param == "postgresql" else f"sqlite:///{tmp_path / 'finance.db'}"
    upgrade(manifest.migrations, url)
    engine = make_engine(url)
    engine.url_string = url
    yield engine
    engine.dispose()


@pytest.fixture
def service(finance_db):
    """A FinanceService worker on a real, migrated database (PostgreSQL, then SQLite); each call
    commits like the real entrypoints do."""
    return CommittingWorker(FinanceService, manifest, finance_db, settings=SETTINGS)
