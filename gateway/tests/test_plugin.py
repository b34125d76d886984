"""The kernel's `crm migrate`, `crm up` and `crm keys` find the gateway through its entry point."""
from __future__ import annotations

import gateway.identity
from gateway.tests.conftest import MIGRATIONS
from shared.plugins import discover_gateway


def test_the_kernel_finds_the_installed_gateway():
    found = discover_gateway()
    assert found is not None, "crm-gateway is installed but registers no crm.gateway entry point"
    assert found.migrations == MIGRATIONS
    assert found.load_identity() is gateway.identity
