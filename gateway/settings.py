"""The gateway's own settings, ``GATEWAY_*`` (the README's "Gateway" table).

``crm up`` reads them too: it starts the gateway where ``host`` and ``port``
say, and puts ``admin_key`` into the gateway's identity store.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from shared.config import read_settings

# field -> the variable it was read from before it was the gateway's own
RENAMED = {
    "host": "CRM_GATEWAY_HOST",
    "port": "CRM_GATEWAY_PORT",
    "admin_key": "CRM_ADMIN_KEY",
    "rpc_timeout": "CRM_RPC_TIMEOUT",
    "rpc_pool_size": "CRM_RPC_POOL_SIZE",
    "auth_cache_seconds": "CRM_AUTH_CACHE_SECONDS",
    "rate_limit": "CRM_RATE_LIMIT",
    "rate_limit_storage_uri": "CRM_RATE_LIMIT_STORAGE_URI",
    "rate_limit_key_prefix": "CRM_RATE_LIMIT_KEY_PREFIX",
    "auth_failure_limit": "CRM_AUTH_FAILURE_LIMIT",
    "max_body_bytes": "CRM_MAX_BODY_BYTES",
    "max_upload_bytes": "CRM_MAX_UPLOAD_BYTES",
    "max_header_bytes": "CRM_MAX_HEADER_BYTES",
}


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = 8000
    admin_key: str | None = None
    rpc_timeout: float = 10.0
    long_rpc_timeout: float = 120.0
    rpc_pool_size: int = 16
    auth_cache_seconds: float = 10.0
    rate_limit: str = "600/minute"
    rate_limit_storage_uri: str = "memory://"
    rate_limit_key_prefix: str = "crm"
    auth_failure_limit: str = "20/minute"
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 50 * 1024 * 1024
    max_header_bytes: int = 16 * 1024


def load_gateway_settings(env: Mapping[str, str] | None = None) -> GatewaySettings:
    """The gateway settings in ``env`` (default: the process's environment)."""
    return read_settings(GatewaySettings, "GATEWAY", env, RENAMED)
