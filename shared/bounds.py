"""The ranges every service accepts, and guards for the business rules that
compute new values from accepted ones (a billing date a month later, a
period's end): a value outside these ranges is refused with ``Invalid``,
never left to overflow into a server error.

Plain Python, so that ``domain.py`` modules may use it.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from shared.errors import Invalid

MIN_YEAR, MAX_YEAR = 1900, 2999
MONEY_PLACES = 2
MONEY_DIGITS = 15            # Numeric(18, 2) columns hold it, with room for sums
MAX_MONEY = Decimal(10) ** (MONEY_DIGITS - MONEY_PLACES) - Decimal("0.01")
MAX_INT = 2**31 - 1          # a PostgreSQL integer
MAX_OFFSET = 1_000_000       # paging deeper is a job for filters or an export
MAX_STRING = 1000            # a string field with no length of its own
MAX_ITEMS = 100              # a list or dict field with no length of its own
MAX_DEPTH = 32               # JSON nesting


def in_range(value: date | datetime) -> bool:
    return MIN_YEAR <= value.year <= MAX_YEAR


def check_dates(**named: date | datetime | None) -> None:
    """Refuse (``Invalid`` naming the fields) any given date outside the accepted years."""
    errors = {name: f"must be between the years {MIN_YEAR} and {MAX_YEAR}"
              for name, value in named.items() if value is not None and not in_range(value)}
    if errors:
        raise Invalid("a date is out of range", errors=errors)


def check_amounts(**named: Decimal | None) -> None:
    """Refuse (``Invalid`` naming the fields) any amount beyond what money columns hold."""
    errors = {name: f"must be at most {MAX_MONEY}"
              for name, value in named.items() if value is not None and abs(value) > MAX_MONEY}
    if errors:
        raise Invalid("an amount is too large", errors=errors)
