"""Schemathesis over the OpenAPI document, against the gateway of the
PostgreSQL suite, as the admin: every operation, a bounded number of
generated requests each, derandomized (the same cases every run).

Zero server errors, every answer conforming to the response schema the
document declares for it, and only declared status codes. Failures are
collected over all operations and reported together, with the case to
reproduce each.
"""
from __future__ import annotations

from collections import Counter

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.helpers import GUARD_REPORT

MAX_EXAMPLES = 40         # per operation; about 100 operations, about a minute in all
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def _describe(case) -> str:
    body = case.body if case.body is not NOT_SET else None
    return f"{case.method} {case.formatted_path} query={case.query} body={body!r:.300}"


def test_the_api_keeps_its_document_under_generated_requests(suite):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", suite.app)
    auth = suite.headers()
    failures: dict[str, str] = {}
    executed = {"cases": 0, "operations": 0}
    statuses: Counter = Counter()

    for result in schema.get_all_operations():
        operation = result.ok()
        executed["operations"] += 1

        @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case):
            executed["cases"] += 1
            response = case.call(headers=auth)
            statuses[f"{response.status_code // 100}xx"] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis raises a FailureGroup
                raise AssertionError(f"{_describe(case)} -> {response.status_code}: "
                                     f"{str(exc)[:600]}") from None

        try:
            run()
        except AssertionError as exc:
            failures[operation.label] = str(exc)

    summary = (f"schemathesis: {executed['cases']} cases over {executed['operations']} operations "
               f"(at most {MAX_EXAMPLES} each; answers {dict(sorted(statuses.items()))}), "
               f"{len(failures)} operations failing")
    print("\n" + summary)
    GUARD_REPORT.append(summary)
    assert executed["operations"] >= 90, "the document lost most of its operations"
    assert not failures, (f"{len(failures)} operations broke their document:\n"
                          + "\n\n".join(f"{label}:\n{text}" for label, text in failures.items()))
