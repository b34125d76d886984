"""Small helpers of the gateway tests."""
from __future__ import annotations

import uuid

PROBLEM = "application/problem+json"
PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance"}


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def assert_problem(answer, status: int) -> dict:
    """The answer is an RFC 9457 problem document with ``status`` and no stack trace."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == PROBLEM
    body = answer.get_json()
    assert PROBLEM_MEMBERS <= set(body) and body["status"] == status
    assert "Traceback" not in answer.get_data(as_text=True)
    return body
