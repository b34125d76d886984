"""The finance service's manifest: what the launcher, gateway and migration runner discover."""
from pathlib import Path

from services.finance import contracts
from shared.plugins import ServiceManifest

manifest = ServiceManifest(
    name="finance",
    service_class="services.finance.service:FinanceService",
    metadata="services.finance.models:metadata",
    migrations=Path(__file__).parent / "migrations",
    consumes=contracts.CONSUMED_EVENTS,
)
