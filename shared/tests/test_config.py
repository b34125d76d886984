"""Settings read from the environment: types, defaults, bad values, renamed variables."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.config import Settings, SettingsError, load_settings, read_settings


@dataclass(frozen=True)
class ExampleSettings:
    stale_days: int = 14
    ratio: float = 0.5
    rule: str = "standard"
    enabled: bool = False
    folder: Path = Path("/srv")
    delays: tuple[float, ...] = (1.0, 2.0)
    region: str | None = "PL"
    secret: str | None = None
    broker: str = field(default="amqp://", metadata={"variable": "EXAMPLE_BROKER_URI"})


def test_unset_variables_keep_the_defaults():
    assert read_settings(ExampleSettings, "EXAMPLE", {"OTHER_STALE_DAYS": "1"}) == ExampleSettings()


def test_each_field_is_read_from_its_prefix_and_converted_to_its_type():
    env = {"EXAMPLE_STALE_DAYS": "3", "EXAMPLE_RATIO": "0.25", "EXAMPLE_RULE": "fancy", "EXAMPLE_ENABLED": "yes",
           "EXAMPLE_FOLDER": "/tmp/x", "EXAMPLE_DELAYS": "0.5, 1,", "EXAMPLE_REGION": " de ",
           "EXAMPLE_SECRET": "s3cret", "EXAMPLE_BROKER_URI": "amqp://elsewhere/"}
    assert read_settings(ExampleSettings, "EXAMPLE", env) == ExampleSettings(
        stale_days=3, ratio=0.25, rule="fancy", enabled=True, folder=Path("/tmp/x"), delays=(0.5, 1.0),
        region="de", secret="s3cret", broker="amqp://elsewhere/")


def test_an_empty_value_is_the_default_or_none_where_none_is_allowed():
    env = {f"EXAMPLE_{name}": "" for name in ("STALE_DAYS", "RULE", "ENABLED", "DELAYS", "REGION", "SECRET")}
    assert read_settings(ExampleSettings, "EXAMPLE", env) == ExampleSettings(region=None)


@pytest.mark.parametrize("variable, value, expected", [
    ("EXAMPLE_STALE_DAYS", "two", "a whole number"), ("EXAMPLE_STALE_DAYS", "1.5", "a whole number"),
    ("EXAMPLE_RATIO", "half", "a number"), ("EXAMPLE_ENABLED", "maybe", "one of 1/true/yes/on/0/false/no/off"),
    ("EXAMPLE_DELAYS", "1,soon", "a comma-separated list of numbers")])
def test_a_bad_value_is_an_error_naming_the_variable(variable, value, expected):
    with pytest.raises(SettingsError) as refused:
        read_settings(ExampleSettings, "EXAMPLE", {variable: value})
    assert str(refused.value) == f"{variable}={value!r} is not {expected}"


RENAMED = {"stale_days": "OLD_STALE_DAYS", "rule": "OLD_RULE"}


def test_a_renamed_variable_set_alone_is_used_with_a_warning_naming_both(caplog):
    with caplog.at_level(logging.WARNING, logger="shared.config"):
        made = read_settings(ExampleSettings, "EXAMPLE", {"OLD_STALE_DAYS": "3"}, RENAMED)
    assert made.stale_days == 3 and made.rule == "standard"
    assert [r.getMessage() for r in caplog.records] == [
        "OLD_STALE_DAYS is deprecated: set EXAMPLE_STALE_DAYS instead (its value is used meanwhile)"]


def test_the_new_variable_wins_over_the_old_one_which_is_reported_ignored(caplog):
    with caplog.at_level(logging.WARNING, logger="shared.config"):
        made = read_settings(ExampleSettings, "EXAMPLE", {"OLD_RULE": "old", "EXAMPLE_RULE": "new"}, RENAMED)
    assert made.rule == "new"
    assert [r.getMessage() for r in caplog.records] == [
        "OLD_RULE is no longer read: EXAMPLE_RULE, which replaces it, is set"]


def test_a_bad_value_under_an_old_name_is_an_error_naming_the_old_variable():
    with pytest.raises(SettingsError, match="^OLD_STALE_DAYS='x' is not a whole number$"):
        read_settings(ExampleSettings, "EXAMPLE", {"OLD_STALE_DAYS": "x"}, RENAMED)


def test_the_kernel_settings_and_the_database_url_of_each_service():
    settings = load_settings({"AMQP_URI": "amqp://u:p@broker/", "CRM_DATA_DIR": "/data", "CRM_RETRY_DELAYS": "0.5,1",
                              "CRM_CALLER_VERIFY_KEY": "/keys/verify.pem", "LEADS_DATABASE_URL": "postgresql:///leads",
                              "SALES_DATABASE_URL": ""})
    assert (settings.amqp_uri, settings.data_dir, settings.retry_delays) == (
        "amqp://u:p@broker/", Path("/data"), (0.5, 1.0))
    assert (settings.caller_signing_key, settings.caller_verify_key) == (None, Path("/keys/verify.pem"))
    assert settings.database_url("leads") == "postgresql:///leads"
    assert settings.database_url("sales") == "sqlite:////data/sales.db"
    assert load_settings({}) == Settings()
