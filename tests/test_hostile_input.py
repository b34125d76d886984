"""The corpus of hostile requests against the suite on both backends.

Each case must be refused with the 4xx it names, as an RFC 9457 problem
document, never a 5xx, and must change nothing: the totals of the main
collections are the same before and after it.

The corpus is data (``tests/hostile_inputs.py``, run on PostgreSQL case by
case in ``tests/test_e2e_limits.py``); this file runs it on both backends
with a count of every main collection around each case, plus a few cases of
its own in the same shape.
"""
from __future__ import annotations

import json

from tests.helpers import GUARD_REPORT
from tests.hostile_inputs import CORPUS, Hostile

PROBLEM = "application/problem+json"

# More of the same shape, of this file's own: injection-like and traversal-like
# values, shapes the corpus does not hold.
OWN_CASES = [
    Hostile("POST", "/api/v1/leads", [{"company": "x"}], statuses=(400, 400),
            what="JSON, but a list instead of an object"),
    Hostile("POST", "/api/v1/leads", {"company": "x", "owner_id": {"$ne": None}}, statuses=(422, 422),
            what="an operator object where an id belongs"),
    Hostile("POST", "/api/v1/accounts", {"name": "ok", "is_admin": True}, statuses=(422, 422),
            what="an unknown field"),
    Hostile("GET", "/api/v1/leads", query={"offset": "-1"}, statuses=(422, 422), what="a negative offset"),
    Hostile("POST", "/api/v1/users", {"name": "x", "role": "root"}, statuses=(422, 422),
            what="a role that does not exist"),
    Hostile("GET", "/api/v1/leads", headers={"Authorization": "Bearer ' OR 1=1 --"}, statuses=(401, 401),
            what="an injection attempt as the key"),
    Hostile("GET", "/api/v1/leads/..%2F..%2Fetc%2Fpasswd", statuses=(404, 404),
            what="a path traversal as an id"),
    Hostile("POST", "/api/v1/leads", {"company": "x'); DROP TABLE leads; --", "email": "not-an-email"},
            statuses=(422, 422), what="SQL in a string beside an invalid field"),
]

CASES = [*OWN_CASES, *CORPUS]
COUNTED = ("/api/v1/leads", "/api/v1/accounts", "/api/v1/contacts", "/api/v1/opportunities", "/api/v1/users")


def _totals(suite) -> dict:
    totals = {}
    for path in COUNTED:
        answer = suite.client.get(path, headers=suite.headers(), query_string={"limit": 1})
        assert answer.status_code == 200, (path, answer.status_code, answer.get_data(as_text=True)[:300])
        totals[path] = answer.get_json()["total"]
    return totals


def _send(suite, case: Hostile):
    """As tests/hostile_inputs.py says: as the admin, bytes as they are, anything else as JSON."""
    body = case.body if isinstance(case.body, bytes) or case.body is None else json.dumps(case.body)
    headers = suite.headers(**(case.headers or {}))
    return suite.client.open(case.path, method=case.method, data=body, query_string=case.query,
                             content_type=case.content_type if body is not None else None, headers=headers)


def _describe(case: Hostile) -> str:
    return f"{case.method} {case.path}: {case.what}"


def test_the_corpus_has_cases_of_the_right_shape():
    assert len(CORPUS) >= 10, "tests/hostile_inputs.py holds (almost) no cases"
    for case in CASES:
        low, high = case.statuses
        assert 400 <= low <= high <= 499, f"{_describe(case)}: a hostile request expects a 4xx"
        assert case.what, f"{case.method} {case.path}: say what the case is"


def test_every_hostile_request_is_refused_cleanly_and_changes_nothing(any_suite):
    suite = any_suite
    engine = suite.app.extensions["crm"].sessions.kw["bind"]
    assert engine.dialect.name == suite.backend, "the suite runs on another backend than it says"
    for service in ("leads", "sales", "finance"):
        assert suite.env[f"{service.upper()}_DATABASE_URL"].startswith(suite.backend)
    failures = []
    for case in CASES:
        before = _totals(suite)
        answer = _send(suite, case)
        low, high = case.statuses
        problems = []
        if not low <= answer.status_code <= high:
            problems.append(f"status {answer.status_code}, expected {low}-{high}")
        if answer.mimetype != PROBLEM:
            problems.append(f"content type {answer.mimetype}, expected {PROBLEM}")
        else:
            body = answer.get_json(silent=True) or {}
            if body.get("status") != answer.status_code:
                problems.append(f"problem status {body.get('status')} != {answer.status_code}")
        after = _totals(suite)
        if after != before:
            changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
            problems.append(f"changed the data: {changed}")
        if problems:
            failures.append(f"[{suite.backend}] {_describe(case)}: " + "; ".join(problems)
                            + f" (answer: {answer.get_data(as_text=True)[:200]!r})")
    summary = (f"hostile corpus: {len(CASES)} cases ({len(CORPUS)} of tests/hostile_inputs.py) on "
               f"{suite.backend}, {len(failures)} misbehaving")
    print("\n" + summary)
    GUARD_REPORT.append(summary)
    assert not failures, f"{len(failures)} of {len(CASES)} hostile requests misbehaved:\n" + "\n".join(failures)
