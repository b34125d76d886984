"""Limits on what a request may carry (gateway.edge, and the services' bounded schemas):
each bad input is a 4xx problem answered before any use case runs. No service runs
here: what the gateway does not refuse itself it forwards (503, the service is not
running), and the service's own HTTP face must then refuse it (crm_testkit.serve_http)."""
from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import pytest

from gateway.edge import json_depth
from gateway.tests.helpers import assert_problem
from tests.hostile_inputs import CORPUS, Hostile
from crm_testkit.helpers import serve_http
from shared.caller import Caller, Role
from shared.http_face import build_app
from shared.plugins import discover_services


def send(client, entry: Hostile, key=None):
    body = entry.body if isinstance(entry.body, bytes) or entry.body is None else json.dumps(entry.body)
    return client.raw.open(entry.path, method=entry.method, data=body, query_string=entry.query,
                           content_type=entry.content_type if body is not None else None,
                           headers=client.headers(key, **(entry.headers or {})))


@pytest.mark.parametrize("entry", [e for e in CORPUS if e.edge], ids=lambda e: e.what)
def test_hostile_input_is_refused_before_any_use_case(client, app, entry):
    answer = send(client, entry)
    low, high = entry.statuses
    if answer.status_code == 503:  # forwarded: the service's own schemas must refuse it
        route, _arguments = app.extensions["crm"].routes.match(entry.path, entry.method)
        assert route is not None, (entry.what, "forwarded, but no service serves it")
        service_class = discover_services()[route.service].load_service_class()
        body = entry.body if isinstance(entry.body, bytes) or entry.body is None else json.dumps(entry.body)
        answer = serve_http(service_class, Caller(user_id="admin", role=Role.ADMIN), entry.method, entry.path,
                            body, urlencode(entry.query or {}, doseq=True), entry.content_type)
        assert low <= answer["status"] <= high and "problem" in answer, (entry.what, answer)
        return
    assert low <= answer.status_code <= high, (entry.what, answer.status_code, answer.get_data(as_text=True)[:300])
    assert_problem(answer, answer.status_code)


def test_json_body_cap_is_a_setting(make_app, admin_key):
    client = make_app(max_body_bytes=2000).test_client()
    headers = {"Authorization": f"Bearer {admin_key}"}
    small = client.post("/api/v1/teams", data=json.dumps({"name": "x" * 100}), content_type="application/json",
                        headers=headers)
    assert small.status_code == 201
    big = client.post("/api/v1/teams", data=json.dumps({"name": "x" * 3000}), content_type="application/json",
                      headers=headers)
    body = assert_problem(big, 413)
    assert "2000" in body["detail"]


def test_a_chunked_body_is_capped_while_read(make_app, admin_key):
    client = make_app(max_body_bytes=2000).test_client()
    stream = io.BytesIO(json.dumps({"name": "x" * 5000}).encode())
    answer = client.post("/api/v1/teams", input_stream=stream, content_type="application/json",
                         headers={"Authorization": f"Bearer {admin_key}", "Transfer-Encoding": "chunked"},
                         environ_overrides={"wsgi.input_terminated": True})  # as gunicorn sets it
    assert_problem(answer, 413)


def test_only_the_upload_route_takes_more_than_the_json_cap(make_app, admin_key):
    client = make_app(max_body_bytes=2000, max_upload_bytes=50_000).test_client()
    headers = {"Authorization": f"Bearer {admin_key}"}

    def upload(size):
        csv = b"company\n" + b"A company\n" * (size // 10)
        return client.post("/api/v1/leads/imports", headers=headers, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(csv), "leads.csv")})

    allowed = upload(10_000)  # over the JSON cap, under the upload cap: read, then 503 (no leads service)
    assert allowed.status_code != 413, allowed.get_json()
    assert_problem(upload(100_000), 413)
    other = client.post("/api/v1/teams", headers=headers, content_type="multipart/form-data",
                        data={"file": (io.BytesIO(b"x" * 10_000), "x.csv")})
    assert_problem(other, 413)


def test_wrong_content_type_on_a_json_route_is_415(client):
    answer = client.raw.post("/api/v1/teams", data="name=x", content_type="application/x-www-form-urlencoded",
                             headers=client.headers())
    body = assert_problem(answer, 415)
    assert "application/json" in body["detail"]


def test_bad_characters_are_422_naming_the_field(client):
    answer = client.raw.post("/api/v1/users", data=b'{"name": "ok", "role": "rep", "segments": ["a", "b\\u0000"]}',
                             content_type="application/json", headers=client.headers())
    body = assert_problem(answer, 422)
    assert body["errors"] == {"segments": {"1": ["contains a NUL character"]}}
    surrogate = client.raw.post("/api/v1/teams", data=b'{"name": "\\udc00x"}', content_type="application/json",
                                headers=client.headers())
    assert assert_problem(surrogate, 422)["errors"] == {"name": ["contains a lone surrogate"]}


def test_header_cap_is_a_setting(make_app, admin_key):
    client = make_app(max_header_bytes=4000).test_client()
    headers = {"Authorization": f"Bearer {admin_key}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    answer = client.get("/api/v1/me", headers={**headers, "X-Padding": "x" * 5000})
    assert "4000" in assert_problem(answer, 431)["detail"]


def test_depth_is_counted_outside_strings_without_parsing():
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{{"}], "c": "\\"]]]"}') == 3
    assert json_depth(b"[" * 100_000) == 100_000
    assert json_depth(b'"unterminated [[[') == 3  # broken JSON: refused by the parser anyway


def test_a_bounded_request_still_works(client):
    answer = client.post("/api/v1/teams", {"name": "Team " + "é" * 100})
    assert answer.status_code == 201
    listed = client.get("/api/v1/api-keys", query_string={"offset": "1000000", "limit": "500"})
    assert listed.status_code == 200


def _argument_schemas(app):
    services = [build_app(m.name, m.load_service_class().web.blueprint)[0] for m in discover_services().values()]
    for endpoint, view in [item for each in (app, *services) for item in each.view_functions.items()]:
        view_class = getattr(view, "view_class", None)
        functions = [getattr(view_class, m.lower()) for m in view_class.methods] if view_class else [view]
        for function in functions:
            for parameter in getattr(function, "_apidoc", {}).get("arguments", {}).get("parameters", []):
                if parameter.get("in", parameter.get("location")) != "files":  # capped as an upload
                    yield endpoint, parameter["schema"]


def test_every_argument_of_every_route_is_bounded(app):
    """A guard for new routes too: each input field is one of shared.fields' bounded types."""
    from shared.fields import unbounded_fields
    checked = dict(_argument_schemas(app))
    assert len(checked) > 40
    unbounded = {endpoint: found for endpoint, schema in _argument_schemas(app)
                 if (found := unbounded_fields(schema if not isinstance(schema, type) else schema()))}
    assert unbounded == {}
