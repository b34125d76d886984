"""The leads service's manifest: what the launcher, gateway and migration runner discover."""
from pathlib import Path

from shared.plugins import Consumes, ServiceManifest

manifest = ServiceManifest(
    name="leads",
    service_class="services.leads.service:LeadsService",
    metadata="services.leads.models:metadata",
    migrations=Path(__file__).parent / "migrations",
    blueprint="services.leads.api:blueprint",
    publishes=("leads.lead_created", "leads.lead_assigned", "leads.lead_status_changed",
               "leads.lead_converted", "leads.lead_merged", "leads.activity_logged"),
    consumes=(Consumes("gateway.user_changed", "on_user_changed"),),
)
