"""The leads service's own settings: defaults, overrides, the names they replace."""
import logging

import pytest

from services.leads.settings import RENAMED, LeadsSettings, load_leads_settings
from shared.config import SettingsError


def test_defaults():
    made = load_leads_settings({})
    assert made == LeadsSettings()
    assert (made.pool_stale_days, made.pool_claim_cap, made.scoring_rule, made.default_region,
            made.import_upload_timeout) == (14, 50, "rule_based", "PL", 3600.0)


def test_leads_variables_override_the_defaults():
    made = load_leads_settings({"LEADS_POOL_STALE_DAYS": "7", "LEADS_SCORING_RULE": "fancy",
                                "LEADS_DEFAULT_REGION": "", "LEADS_IMPORT_MAX_ROWS": "10",
                                "LEADS_DEFAULT_TIME_ZONE": "Europe/Warsaw"})
    assert made == LeadsSettings(pool_stale_days=7, scoring_rule="fancy", default_region=None,
                                 import_max_rows=10, default_time_zone="Europe/Warsaw")


def test_a_bad_value_names_the_variable():
    with pytest.raises(SettingsError, match="LEADS_POOL_CLAIM_CAP='many' is not a whole number"):
        load_leads_settings({"LEADS_POOL_CLAIM_CAP": "many"})


@pytest.mark.parametrize("old, new, value, field, expected", [
    ("CRM_POOL_STALE_DAYS", "LEADS_POOL_STALE_DAYS", "3", "pool_stale_days", 3),
    ("CRM_LEADS_SCORING_RULE", "LEADS_SCORING_RULE", "fancy", "scoring_rule", "fancy"),
    ("CRM_IMPORT_UPLOAD_TIMEOUT", "LEADS_IMPORT_UPLOAD_TIMEOUT", "600", "import_upload_timeout", 600.0)])
def test_an_old_name_still_works_with_a_warning_naming_the_new_one(caplog, old, new, value, field, expected):
    with caplog.at_level(logging.WARNING):
        made = load_leads_settings({old: value})
    assert getattr(made, field) == expected
    assert [r.getMessage() for r in caplog.records] == [
        f"{old} is deprecated: set {new} instead (its value is used meanwhile)"]


def test_every_old_name_belongs_to_a_setting():
    assert set(RENAMED) <= set(LeadsSettings.__dataclass_fields__)
