"""The gateway's manifest: how the kernel's ``crm`` command finds it when it is installed."""
from pathlib import Path

from shared.plugins import GatewayManifest

manifest = GatewayManifest(
    migrations=Path(__file__).parent / "migrations",
    identity="gateway.identity",
    settings="gateway.settings:load_gateway_settings",
)
