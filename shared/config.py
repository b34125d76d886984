"""Configuration from the environment, read in this one module.

Nothing here runs at import time: callers ask for a :class:`Settings` when
they start, so tests can set the environment first.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path(os.path.expanduser("~")) / ".local" / "share" / "crm-suite"


def _float_list(raw: str) -> tuple[float, ...]:
    return tuple(float(x) for x in raw.split(",") if x.strip())


@dataclass(frozen=True)
class Settings:
    """Every setting the suite reads; the README lists them with defaults."""

    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/"
    data_dir: Path = DEFAULT_DATA_DIR
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    admin_key: str | None = None
    rpc_timeout: float = 10.0
    rpc_pool_size: int = 16
    max_workers: int = 10
    retry_delays: tuple[float, ...] = (1.0, 10.0, 60.0)
    relay_poll_interval: float = 1.0
    relay_batch_size: int = 200
    pool_stale_days: int = 14
    pool_claim_cap: int = 50
    scoring_rule: str = "rule_based"
    cadence_rule: str = "standard"
    import_chunk_rows: int = 1000
    import_chunk_bytes: int = 1024 * 1024
    import_max_rows: int = 200_000
    import_max_columns: int = 200
    import_max_cell_chars: int = 32_767
    import_max_unpacked_bytes: int = 200 * 1024 * 1024
    import_upload_timeout: float = 3600.0
    auth_cache_seconds: float = 10.0
    rate_limit: str = "600/minute"
    rate_limit_storage_uri: str = "memory://"
    rate_limit_key_prefix: str = "crm"
    auth_failure_limit: str = "20/minute"
    idempotency_ttl_hours: float = 24.0
    caller_signing_key: Path | None = None
    caller_verify_key: Path | None = None
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 50 * 1024 * 1024
    max_header_bytes: int = 16 * 1024
    log_level: str = "INFO"
    sqlite_busy_timeout: float = 30.0
    default_time_zone: str = "UTC"
    default_region: str = "PL"
    database_urls: dict[str, str] = field(default_factory=dict)

    def database_url(self, service: str) -> str:
        """The URL of ``service``'s own database; SQLite in the data dir by default."""
        url = self.database_urls.get(service)
        if url:
            return url
        return f"sqlite:///{self.data_dir / (service + '.db')}"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    urls = {
        key[: -len("_DATABASE_URL")].lower(): value
        for key, value in env.items()
        if key.endswith("_DATABASE_URL") and value
    }
    defaults = Settings()
    return Settings(
        amqp_uri=env.get("AMQP_URI", defaults.amqp_uri),
        data_dir=Path(env.get("CRM_DATA_DIR", str(defaults.data_dir))),
        gateway_host=env.get("CRM_GATEWAY_HOST", defaults.gateway_host),
        gateway_port=int(env.get("CRM_GATEWAY_PORT", defaults.gateway_port)),
        admin_key=env.get("CRM_ADMIN_KEY") or None,
        rpc_timeout=float(env.get("CRM_RPC_TIMEOUT", defaults.rpc_timeout)),
        rpc_pool_size=int(env.get("CRM_RPC_POOL_SIZE", defaults.rpc_pool_size)),
        max_workers=int(env.get("CRM_MAX_WORKERS", defaults.max_workers)),
        retry_delays=_float_list(env["CRM_RETRY_DELAYS"]) if env.get("CRM_RETRY_DELAYS")
        else defaults.retry_delays,
        relay_poll_interval=float(env.get("CRM_RELAY_POLL_INTERVAL", defaults.relay_poll_interval)),
        relay_batch_size=int(env.get("CRM_RELAY_BATCH_SIZE", defaults.relay_batch_size)),
        pool_stale_days=int(env.get("CRM_POOL_STALE_DAYS", defaults.pool_stale_days)),
        pool_claim_cap=int(env.get("CRM_POOL_CLAIM_CAP", defaults.pool_claim_cap)),
        scoring_rule=env.get("CRM_LEADS_SCORING_RULE", defaults.scoring_rule),
        cadence_rule=env.get("CRM_SALES_CADENCE_RULE", defaults.cadence_rule),
        import_chunk_rows=int(env.get("CRM_IMPORT_CHUNK_ROWS", defaults.import_chunk_rows)),
        import_chunk_bytes=int(env.get("CRM_IMPORT_CHUNK_BYTES", defaults.import_chunk_bytes)),
        import_max_rows=int(env.get("CRM_IMPORT_MAX_ROWS", defaults.import_max_rows)),
        import_max_columns=int(env.get("CRM_IMPORT_MAX_COLUMNS", defaults.import_max_columns)),
        import_max_cell_chars=int(env.get("CRM_IMPORT_MAX_CELL_CHARS", defaults.import_max_cell_chars)),
        import_max_unpacked_bytes=int(env.get("CRM_IMPORT_MAX_UNPACKED_BYTES",
                                              defaults.import_max_unpacked_bytes)),
        import_upload_timeout=float(env.get("CRM_IMPORT_UPLOAD_TIMEOUT", defaults.import_upload_timeout)),
        auth_cache_seconds=float(env.get("CRM_AUTH_CACHE_SECONDS", defaults.auth_cache_seconds)),
        rate_limit=env.get("CRM_RATE_LIMIT", defaults.rate_limit),
        rate_limit_storage_uri=env.get("CRM_RATE_LIMIT_STORAGE_URI", defaults.rate_limit_storage_uri),
        rate_limit_key_prefix=env.get("CRM_RATE_LIMIT_KEY_PREFIX", defaults.rate_limit_key_prefix),
        auth_failure_limit=env.get("CRM_AUTH_FAILURE_LIMIT", defaults.auth_failure_limit),
        idempotency_ttl_hours=float(env.get("CRM_IDEMPOTENCY_TTL_HOURS", defaults.idempotency_ttl_hours)),
        caller_signing_key=Path(env["CRM_CALLER_SIGNING_KEY"]) if env.get("CRM_CALLER_SIGNING_KEY") else None,
        caller_verify_key=Path(env["CRM_CALLER_VERIFY_KEY"]) if env.get("CRM_CALLER_VERIFY_KEY") else None,
        max_body_bytes=int(env.get("CRM_MAX_BODY_BYTES", defaults.max_body_bytes)),
        max_upload_bytes=int(env.get("CRM_MAX_UPLOAD_BYTES", defaults.max_upload_bytes)),
        max_header_bytes=int(env.get("CRM_MAX_HEADER_BYTES", defaults.max_header_bytes)),
        log_level=env.get("CRM_LOG_LEVEL", defaults.log_level),
        sqlite_busy_timeout=float(env.get("CRM_SQLITE_BUSY_TIMEOUT", defaults.sqlite_busy_timeout)),
        default_time_zone=env.get("CRM_DEFAULT_TIME_ZONE") or defaults.default_time_zone,
        default_region=env.get("CRM_DEFAULT_REGION", defaults.default_region).strip().upper(),
        database_urls=urls,
    )


def nameko_config(settings: Settings) -> dict:
    """The nameko container config for a service process."""
    return {
        "AMQP_URI": settings.amqp_uri,
        "max_workers": settings.max_workers,
        "parent_calls_tracked": 10,
        "serializer": "json",
        "HEARTBEAT": 30,
    }
