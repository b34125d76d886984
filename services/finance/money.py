"""Money in a currency: ISO 4217 codes, minor units, half-up rounding, checks of
amounts from the wire, and conversion to the company currency.

Money is ``Decimal``, never float: a float is refused wherever an amount enters.
Rounding is half-up (a half goes away from zero), to the currency's minor unit.

Plain Python: no nameko, no database, no I/O.
"""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any

from shared.bounds import MAX_MONEY
from shared.errors import Invalid

ZERO = Decimal(0)
DEFAULT_MINOR_UNITS = 2
MINOR_UNITS = {"JPY": 0, "KRW": 0, "BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Wide enough that a product of bounded amounts, quantities, prices and
# percentages is exact, so the only rounding is the one the rules name.
EXACT = Context(prec=100, rounding=ROUND_HALF_UP)
PRECISE_PLACES = 12          # an exchange rate's


def check_currency(currency: Any, field: str = "currency") -> str:
    """The code itself; Invalid unless it has the shape of an ISO 4217 code (three capitals)."""
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise Invalid(f"{currency!r} is not a currency code", errors={field: "an ISO 4217 code such as EUR"})
    return currency


def minor_units(currency: str) -> int:
    """Decimal places of the currency: 0 for JPY and KRW, 3 for BHD, JOD, KWD, OMR and TND, else 2."""
    return MINOR_UNITS.get(check_currency(currency), DEFAULT_MINOR_UNITS)


def round_half_up(amount: Decimal, places: int) -> Decimal:
    """``amount`` to ``places`` decimal places, a half going up (away from zero): 0.005 -> 0.01."""
    with localcontext(EXACT):
        return amount.quantize(Decimal(1).scaleb(-places))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """``amount`` rounded half-up to the currency's minor unit."""
    return round_half_up(amount, minor_units(currency))


def number_error(value: Any, places: int, unit: str = "") -> str | None:
    """Why ``value`` is not a finite Decimal (or int) of at most ``places`` places within
    what money holds, or None. A float is refused: it has lost exactness already."""
    if isinstance(value, float):
        return "a decimal string, not a float"
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)) or not Decimal(value).is_finite():
        return "not a number"
    if abs(value) > MAX_MONEY:
        return f"must be at most {MAX_MONEY}"
    if round_half_up(Decimal(value), places) != value:
        return f"at most {places} decimal places{unit}"
    return None


def money_error(amount: Any, currency: str) -> str | None:
    """Why ``amount`` is not a positive amount of ``currency`` (too many places, too large), or None."""
    error = number_error(amount, minor_units(currency), f" in {currency}")
    if error is None and amount <= 0:
        return "must be more than 0"
    return error


def check_amount(amount: Any, currency: str, field: str = "amount") -> Decimal:
    """The amount; Invalid naming ``field`` unless it is a positive amount of ``currency``."""
    error = money_error(amount, currency)
    if error:
        raise Invalid(f"{field} is not a valid amount of {currency}: {error}", errors={field: error})
    return Decimal(amount)


def to_company_currency(amount: Decimal, rate: Decimal, currency_minor_units: int) -> Decimal:
    """``amount`` times ``rate`` (units of the company currency for one unit of the
    invoice's), rounded half-up to ``currency_minor_units`` places, the company
    currency's. The rate is fixed at issue; Invalid for a rate that is not above 0."""
    if number_error(rate, PRECISE_PLACES) or not rate > 0:
        raise Invalid("an exchange rate is a decimal above 0", errors={"rate": "a decimal above 0"})
    if isinstance(currency_minor_units, bool) or currency_minor_units not in range(0, 5):
        raise Invalid("minor units are 0 to 4 decimal places", errors={"currency_minor_units": "0 to 4"})
    with localcontext(EXACT):
        return round_half_up(amount * rate, currency_minor_units)
