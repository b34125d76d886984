"""The kernel's `crm migrate` and `crm up` find the gateway through its entry point;
`crm keys` is the gateway's own command, registered under `crm.commands`."""
from __future__ import annotations

import uuid

from click.testing import CliRunner
from sqlalchemy import func, select

import gateway.identity
from gateway.models import ApiKey
from gateway.tests.conftest import MIGRATIONS
from shared.cli import main
from shared.plugins import discover_gateway


def test_the_kernel_finds_the_installed_gateway():
    found = discover_gateway()
    assert found is not None, "crm-gateway is installed but registers no crm.gateway entry point"
    assert found.migrations == MIGRATIONS
    assert found.load_identity() is gateway.identity


def test_crm_keys_create_makes_a_key_in_the_gateways_database(gateway_settings, sessions, monkeypatch):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", gateway_settings.database_url("gateway"))
    answer = CliRunner().invoke(main, ["keys", "create", "--role", "rep", "--name", "Ada (crm keys)"])
    assert answer.exit_code == 0, answer.output
    with sessions() as session:
        _, user = gateway.identity.authenticate(session, answer.output.strip())
        assert (user.name, user.role) == ("Ada (crm keys)", "rep")


def test_crm_keys_create_for_a_user_of_another_role_says_so_and_makes_no_key(gateway_settings, sessions,
                                                                            monkeypatch):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", gateway_settings.database_url("gateway"))
    name = f"Bo {uuid.uuid4().hex[:8]} (crm keys)"
    assert CliRunner().invoke(main, ["keys", "create", "--role", "technician", "--name", name]).exit_code == 0
    with sessions() as session:
        keys_before = session.scalar(select(func.count()).select_from(ApiKey))
    answer = CliRunner().invoke(main, ["keys", "create", "--role", "finance", "--name", name])
    assert answer.exit_code == 1 and "Traceback" not in answer.output, answer.output
    assert f"user {name!r} exists with role technician" in answer.output
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == keys_before
