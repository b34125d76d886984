"""The sales service's extension points, resolved through entry points.

``crm.sales.cadence`` holds repeat-contact cadence rules; the built-in one
registers there exactly like a third-party plugin would.
"""
from __future__ import annotations

from functools import lru_cache

from shared.config import load_settings
from shared.plugins import discover_extensions

CADENCE_GROUP = "crm.sales.cadence"


@lru_cache(maxsize=None)
def cadence_rules() -> dict:
    return discover_extensions(CADENCE_GROUP)


@lru_cache(maxsize=1)
def cadence_rule():
    """The rule chosen by ``CRM_SALES_CADENCE_RULE`` (default ``standard``)."""
    name = load_settings().cadence_rule
    try:
        return cadence_rules()[name]()
    except KeyError:
        raise RuntimeError(f"cadence rule {name!r} is not installed; installed: "
                           f"{', '.join(cadence_rules())}") from None
