"""The finance service's own settings, ``FINANCE_*`` (the README's "Finance" table)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from services.finance.domain import format_invoice_number
from services.finance.money import check_currency
from shared.config import SettingsError, read_settings
from shared.errors import Invalid


@dataclass(frozen=True)
class FinanceSettings:
    company_currency: str = "EUR"
    invoice_series: str = "INV"
    issue_interval: float = 60.0
    payment_terms_days: int = 30
    company_name: str = "Our company"


def load_finance_settings(env: Mapping[str, str] | None = None) -> FinanceSettings:
    """The finance settings in ``env`` (default: the process's environment); a value
    that does not fit is a :class:`SettingsError` naming the variable."""
    made = read_settings(FinanceSettings, "FINANCE", env)
    try:
        check_currency(made.company_currency)
    except Invalid:
        raise SettingsError(f"FINANCE_COMPANY_CURRENCY={made.company_currency!r} is not an ISO 4217 code "
                            "such as EUR") from None
    try:
        format_invoice_number(made.invoice_series, 2000, 1)
    except Invalid:
        raise SettingsError(f"FINANCE_INVOICE_SERIES={made.invoice_series!r} is not 1 to 10 capital letters "
                            "and digits starting with a letter") from None
    if not made.issue_interval > 0:
        raise SettingsError(f"FINANCE_ISSUE_INTERVAL={made.issue_interval!r} is not a number of seconds above 0")
    if not 1 <= len(made.company_name.strip()) <= 200:
        raise SettingsError(f"FINANCE_COMPANY_NAME={made.company_name!r} is not a name of 1 to 200 characters")
    if not 0 <= made.payment_terms_days <= 3650:
        raise SettingsError(f"FINANCE_PAYMENT_TERMS_DAYS={made.payment_terms_days!r} is not 0 to 3650 days")
    return made


@lru_cache(maxsize=1)
def finance_settings() -> FinanceSettings:
    """This process's finance settings, read once, when the service (its ``settings``
    dependency) starts."""
    return load_finance_settings()
