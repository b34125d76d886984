"""The leads service's manifest: what the launcher, gateway and migration runner discover."""
from pathlib import Path

from services.leads import contracts
from shared.plugins import ServiceManifest

manifest = ServiceManifest(
    name="leads",
    service_class="services.leads.service:LeadsService",
    metadata="services.leads.models:metadata",
    migrations=Path(__file__).parent / "migrations",
    consumes=contracts.CONSUMED_EVENTS,
)
