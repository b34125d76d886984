"""The leads service's own settings, ``LEADS_*`` (the README's "Leads" table).

The import limits are read where the leads routes read uploaded files: in the
gateway's process (``services/leads/api.py``); the rest in the service's.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from shared.config import read_settings

# field -> the variable it was read from before it was leads' own
RENAMED = {
    "pool_stale_days": "CRM_POOL_STALE_DAYS",
    "pool_claim_cap": "CRM_POOL_CLAIM_CAP",
    "scoring_rule": "CRM_LEADS_SCORING_RULE",
    "default_region": "CRM_DEFAULT_REGION",
    "default_time_zone": "CRM_DEFAULT_TIME_ZONE",
    "import_chunk_rows": "CRM_IMPORT_CHUNK_ROWS",
    "import_chunk_bytes": "CRM_IMPORT_CHUNK_BYTES",
    "import_max_rows": "CRM_IMPORT_MAX_ROWS",
    "import_max_columns": "CRM_IMPORT_MAX_COLUMNS",
    "import_max_cell_chars": "CRM_IMPORT_MAX_CELL_CHARS",
    "import_max_unpacked_bytes": "CRM_IMPORT_MAX_UNPACKED_BYTES",
    "import_upload_timeout": "CRM_IMPORT_UPLOAD_TIMEOUT",
}


@dataclass(frozen=True)
class LeadsSettings:
    pool_stale_days: int = 14
    pool_claim_cap: int = 50
    scoring_rule: str = "rule_based"
    default_region: str | None = "PL"  # None (set empty): national phone numbers are compared by digits
    default_time_zone: str = "UTC"
    import_chunk_rows: int = 1000
    import_chunk_bytes: int = 1024 * 1024
    import_max_rows: int = 200_000
    import_max_columns: int = 200
    import_max_cell_chars: int = 32_767
    import_max_unpacked_bytes: int = 200 * 1024 * 1024
    import_upload_timeout: float = 3600.0


def load_leads_settings(env: Mapping[str, str] | None = None) -> LeadsSettings:
    """The leads settings in ``env`` (default: the process's environment)."""
    return read_settings(LeadsSettings, "LEADS", env, RENAMED)


@lru_cache(maxsize=1)
def leads_settings() -> LeadsSettings:
    """This process's leads settings, read once: when the service (its ``settings``
    dependency) or the gateway (the leads routes) starts."""
    return load_leads_settings()
