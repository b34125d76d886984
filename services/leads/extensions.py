"""The leads service's extension points, resolved through entry points.

``crm.leads.scoring`` holds scoring rules, ``crm.leads.assignment`` assignment
strategies; built-ins register there exactly like third-party plugins.
"""
from __future__ import annotations

from functools import lru_cache

from services.leads.settings import leads_settings
from shared.errors import Invalid
from shared.plugins import configured_extension, discover_extensions

SCORING_GROUP = "crm.leads.scoring"
ASSIGNMENT_GROUP = "crm.leads.assignment"


@lru_cache(maxsize=None)
def scoring_rules() -> dict:
    return discover_extensions(SCORING_GROUP)


@lru_cache(maxsize=None)
def assignment_strategies() -> dict:
    return discover_extensions(ASSIGNMENT_GROUP)


@lru_cache(maxsize=1)
def scoring_rule():
    """The scoring rule chosen by ``LEADS_SCORING_RULE`` (default ``rule_based``)."""
    return configured_extension(scoring_rules(), leads_settings().scoring_rule, "scoring rule",
                                "LEADS_SCORING_RULE")


def assignment_strategy(name: str):
    try:
        return assignment_strategies()[name]()
    except KeyError:
        raise Invalid(f"assignment strategy {name!r} is not installed",
                      errors={"strategy": f"one of {', '.join(sorted(assignment_strategies()))}"}) from None
