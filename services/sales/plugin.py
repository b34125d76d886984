"""The sales service's manifest: what the launcher, gateway and migration runner discover."""
from pathlib import Path

from services.sales import contracts
from shared.plugins import ServiceManifest

manifest = ServiceManifest(
    name="sales",
    service_class="services.sales.service:SalesService",
    metadata="services.sales.models:metadata",
    migrations=Path(__file__).parent / "migrations",
    consumes=contracts.CONSUMED_EVENTS,
)
