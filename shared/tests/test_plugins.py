"""Extension points resolved from settings."""
from __future__ import annotations

import pytest

from shared.plugins import configured_extension


def test_a_configured_extension_that_is_not_installed_names_the_installed_ones():
    class Standard:
        pass

    assert isinstance(configured_extension({"standard": Standard}, "standard", "rule", "CRM_X"), Standard)
    with pytest.raises(RuntimeError, match=r"'fancy' \(CRM_X\) is not installed; installed: standard"):
        configured_extension({"standard": Standard}, "fancy", "rule", "CRM_X")
