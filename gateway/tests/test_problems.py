"""Every error is an RFC 9457 problem document, with no stack trace."""
from __future__ import annotations

import logging

from gateway.tests.helpers import assert_problem, unique
from shared.logcontext import RequestIdFilter


def test_malformed_json_is_400(client):
    answer = client.raw.post("/api/v1/teams", data="{not json", content_type="application/json",
                             headers=client.headers())
    assert "JSON" in assert_problem(answer, 400)["detail"]
    not_object = client.raw.post("/api/v1/teams", data="[1, 2]", content_type="application/json",
                                 headers=client.headers())
    assert "object" in assert_problem(not_object, 400)["detail"]


def test_invalid_fields_are_422_with_an_errors_map(client):
    body = assert_problem(client.post("/api/v1/teams", {"name": "", "colour": "red"}), 422)
    assert set(body["errors"]) == {"name", "colour"}
    assert body["instance"] == "/api/v1/teams" and body["title"] == "Invalid input"
    query = assert_problem(client.get("/api/v1/users", query_string={"limit": "many"}), 422)
    assert set(query["errors"]) == {"limit"}


def test_unknown_route_is_404_and_wrong_method_405(client):
    assert_problem(client.get("/api/v1/nowhere"), 404)
    wrong = client.raw.delete("/api/v1/users", headers=client.headers())
    assert_problem(wrong, 405)
    assert {"GET", "POST"} <= set(wrong.headers["Allow"].replace(" ", "").split(","))


def test_domain_errors_carry_their_extra_members(client, make_user):
    email = f"{unique('x')}@example.com"
    first, _ = make_user("rep", email=email)
    clash = assert_problem(client.post("/api/v1/users", {"name": "X", "role": "rep", "email": email}), 409)
    assert clash["existing_id"] == first["id"] and clash["errors"] == {"email": "taken"}


def test_an_unexpected_failure_is_a_500_without_trace_logged_with_the_request_id(make_app, admin_key,
                                                                                  caplog):
    app = make_app()

    @app.route("/api/v1/boom")
    def boom():
        raise RuntimeError("secret internals")

    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level(logging.ERROR):
        answer = app.test_client().get("/api/v1/boom", headers={"Authorization": f"Bearer {admin_key}",
                                                                "X-Request-ID": "boom-1"})
    body = assert_problem(answer, 500)
    assert "secret internals" not in answer.get_data(as_text=True)
    assert body["request_id"] == "boom-1"
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert logged and logged[0].request_id == "boom-1"


def test_rate_limit_is_a_429_problem_per_user(make_app, client, make_user):
    _, other_key = make_user("rep")
    limited = make_app(rate_limit="3/minute").test_client()
    me = [limited.get("/api/v1/me", headers=client.headers()) for _ in range(4)]
    assert [a.status_code for a in me] == [200, 200, 200, 429]
    assert "Retry-After" not in me[0].headers and me[0].headers["X-RateLimit-Remaining"] == "2"
    answer = limited.get("/api/v1/me", headers=client.headers())
    assert_problem(answer, 429)
    assert int(answer.headers["Retry-After"]) > 0
    assert limited.get("/api/v1/me", headers=client.headers(other_key)).status_code == 200
    assert limited.get("/healthz").status_code == 200
