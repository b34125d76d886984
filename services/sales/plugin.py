"""The sales service's manifest: what the launcher, gateway and migration runner discover."""
from pathlib import Path

from shared.plugins import Consumes, ServiceManifest

manifest = ServiceManifest(
    name="sales",
    service_class="services.sales.service:SalesService",
    metadata="services.sales.models:metadata",
    migrations=Path(__file__).parent / "migrations",
    blueprint="services.sales.api:blueprint",
    publishes=("sales.account_created", "sales.opportunity_created", "sales.opportunity_stage_changed",
               "sales.opportunity_won", "sales.opportunity_lost", "sales.contract_signed",
               "sales.contract_terminated", "sales.activity_logged", "sales.target_approved"),
    consumes=(Consumes("leads.lead_converted", "on_lead_converted"),
              Consumes("gateway.user_changed", "on_user_changed")),
)
