"""The sales service's own settings: default, override, the name it replaces."""
import logging

from services.sales.settings import RENAMED, SalesSettings, load_sales_settings


def test_default_and_override():
    assert load_sales_settings({}) == SalesSettings(cadence_rule="standard")
    assert load_sales_settings({"SALES_CADENCE_RULE": "quarterly_review"}).cadence_rule == "quarterly_review"


def test_the_old_name_still_works_with_a_warning_naming_the_new_one(caplog):
    with caplog.at_level(logging.WARNING):
        made = load_sales_settings({"CRM_SALES_CADENCE_RULE": "quarterly_review"})
    assert made.cadence_rule == "quarterly_review"
    assert [r.getMessage() for r in caplog.records] == [
        "CRM_SALES_CADENCE_RULE is deprecated: set SALES_CADENCE_RULE instead (its value is used meanwhile)"]


def test_every_old_name_belongs_to_a_setting():
    assert set(RENAMED) <= set(SalesSettings.__dataclass_fields__)
