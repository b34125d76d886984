"""The gateway's own settings: defaults, overrides, the names they replace."""
import logging

import pytest

from gateway.settings import RENAMED, GatewaySettings, load_gateway_settings
from shared.config import SettingsError


def test_defaults():
    made = load_gateway_settings({})
    assert made == GatewaySettings()
    assert (made.host, made.port, made.admin_key, made.rpc_timeout, made.rate_limit_storage_uri,
            made.max_upload_bytes) == ("127.0.0.1", 8000, None, 10.0, "memory://", 50 * 1024 * 1024)


def test_gateway_variables_override_the_defaults():
    made = load_gateway_settings({"GATEWAY_PORT": "8080", "GATEWAY_ADMIN_KEY": "crm_x_y", "GATEWAY_RPC_TIMEOUT": "2.5",
                                  "GATEWAY_RATE_LIMIT_STORAGE_URI": "redis://127.0.0.1:6379"})
    assert made == GatewaySettings(port=8080, admin_key="crm_x_y", rpc_timeout=2.5,
                                   rate_limit_storage_uri="redis://127.0.0.1:6379")


def test_a_bad_value_names_the_variable():
    with pytest.raises(SettingsError, match="GATEWAY_MAX_BODY_BYTES='1MB' is not a whole number"):
        load_gateway_settings({"GATEWAY_MAX_BODY_BYTES": "1MB"})


@pytest.mark.parametrize("old, new, value, field, expected", [
    ("CRM_GATEWAY_PORT", "GATEWAY_PORT", "9000", "port", 9000),
    ("CRM_ADMIN_KEY", "GATEWAY_ADMIN_KEY", "crm_a_b", "admin_key", "crm_a_b"),
    ("CRM_RPC_TIMEOUT", "GATEWAY_RPC_TIMEOUT", "5", "rpc_timeout", 5.0)])
def test_an_old_name_still_works_with_a_warning_naming_the_new_one(caplog, old, new, value, field, expected):
    with caplog.at_level(logging.WARNING):
        made = load_gateway_settings({old: value})
    assert getattr(made, field) == expected
    assert [r.getMessage() for r in caplog.records] == [
        f"{old} is deprecated: set {new} instead (its value is used meanwhile)"]


def test_every_old_name_belongs_to_a_setting():
    assert set(RENAMED) <= set(GatewaySettings.__dataclass_fields__)
