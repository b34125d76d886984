"""What the cross-service tests share besides the test kit (crm_testkit.helpers)."""
from __future__ import annotations

# One line per guard test (authorization matrix, schemathesis, hostile corpus):
# what it covered, shown at the end of the run by tests/conftest.py.
GUARD_REPORT: list[str] = []
