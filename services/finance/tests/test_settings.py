"""The finance service's own settings: defaults, overrides, values refused at the start."""
import pytest

from services.finance.settings import FinanceSettings, load_finance_settings
from shared.config import SettingsError


def test_defaults_and_overrides():
    assert load_finance_settings({}) == FinanceSettings(company_currency="EUR", invoice_series="INV",
                                                        issue_interval=60.0, payment_terms_days=30)
    made = load_finance_settings({"FINANCE_COMPANY_CURRENCY": "PLN", "FINANCE_INVOICE_SERIES": "FV",
                                  "FINANCE_ISSUE_INTERVAL": "0.5", "FINANCE_PAYMENT_TERMS_DAYS": "14"})
    assert made == FinanceSettings("PLN", "FV", 0.5, 14)


@pytest.mark.parametrize("variable, value", [("FINANCE_COMPANY_CURRENCY", "euro"), ("FINANCE_INVOICE_SERIES", "inv-1"),
                                             ("FINANCE_ISSUE_INTERVAL", "0"), ("FINANCE_PAYMENT_TERMS_DAYS", "-1"),
                                             ("FINANCE_PAYMENT_TERMS_DAYS", "soon")])
def test_a_value_that_does_not_fit_names_its_variable(variable, value):
    with pytest.raises(SettingsError, match=variable):
        load_finance_settings({variable: value})
