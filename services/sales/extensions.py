"""The sales service's extension points, resolved through entry points.

``crm.sales.cadence`` holds repeat-contact cadence rules; the built-in one
registers there exactly like a third-party plugin would.
"""
from __future__ import annotations

from functools import lru_cache

from services.sales.settings import sales_settings
from shared.plugins import configured_extension, discover_extensions

CADENCE_GROUP = "crm.sales.cadence"


@lru_cache(maxsize=None)
def cadence_rules() -> dict:
    return discover_extensions(CADENCE_GROUP)


@lru_cache(maxsize=1)
def cadence_rule():
    """The rule chosen by ``SALES_CADENCE_RULE`` (default ``standard``)."""
    return configured_extension(cadence_rules(), sales_settings().cadence_rule, "cadence rule",
                                "SALES_CADENCE_RULE")
