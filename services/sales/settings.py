"""The sales service's own settings, ``SALES_*`` (the README's "Sales" table)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from shared.config import read_settings

# field -> the variable it was read from before it was sales' own
RENAMED = {"cadence_rule": "CRM_SALES_CADENCE_RULE"}


@dataclass(frozen=True)
class SalesSettings:
    cadence_rule: str = "standard"


def load_sales_settings(env: Mapping[str, str] | None = None) -> SalesSettings:
    """The sales settings in ``env`` (default: the process's environment)."""
    return read_settings(SalesSettings, "SALES", env, RENAMED)


@lru_cache(maxsize=1)
def sales_settings() -> SalesSettings:
    """This process's sales settings, read once, when the service (its ``settings``
    dependency) starts."""
    return load_sales_settings()
