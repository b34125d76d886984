"""The OpenAPI document: valid, generated from the services' own schemas, with docs."""
from __future__ import annotations

import pytest

from services.leads import schemas as lead_schemas
from shared.contract_docs import asyncapi_document
from shared.events import installed_contracts


@pytest.fixture(scope="module")
def spec(app):
    answer = app.test_client().get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return answer.get_json()


def test_the_document_is_valid_openapi_3(spec):
    from openapi_spec_validator import validate  # the test extra installs it
    assert spec["openapi"] == "3.0.3" and spec["info"]["title"] == "CRM Suite"
    validate(spec)


def test_it_holds_every_route_with_the_leads_ones_from_the_plugin(spec):
    paths = spec["paths"]
    for path in ("/api/v1/leads", "/api/v1/leads/{lead_id}", "/api/v1/leads/pool",
                 "/api/v1/leads/{lead_id}/convert", "/api/v1/leads/imports", "/api/v1/leads/export",
                 "/api/v1/activities", "/api/v1/assignment-rules", "/api/v1/users", "/api/v1/api-keys",
                 "/api/v1/teams", "/api/v1/partners", "/api/v1/branches", "/api/v1/me", "/healthz"):
        assert path in paths, path
    assert set(paths["/api/v1/leads"]) >= {"get", "post"}
    assert "multipart/form-data" in paths["/api/v1/leads/imports"]["post"]["requestBody"]["content"]


def test_schemas_come_from_the_marshmallow_schemas(spec):
    schemas = spec["components"]["schemas"]
    lead_create = schemas["LeadCreate"]
    assert set(lead_create["properties"]) == set(lead_schemas.LeadCreate().fields)
    assert "company" in lead_create["required"]
    post = spec["paths"]["/api/v1/leads"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/LeadCreate")
    assert "LeadOut" in schemas and "UserIn" in schemas


def test_bearer_auth_everywhere_but_the_public_routes(spec):
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "an API key: crm_<key id>_<secret>"}
    assert spec["security"] == [{"bearer": []}]
    for path in ("/healthz", "/readyz", "/api/v1/calendar/{token}.ics"):
        assert spec["paths"][path]["get"]["security"] == [], path


def test_interactive_docs_are_served_without_a_key(app):
    page = app.test_client().get("/api/docs")
    assert page.status_code == 200 and "swagger-ui" in page.get_data(as_text=True)
    assert "/api/v1/openapi.json" in page.get_data(as_text=True)


def test_the_asyncapi_document_of_the_bus_is_served_beside_it_without_a_key(app, spec):
    answer = app.test_client().get("/api/v1/asyncapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    document = answer.get_json()
    assert document == asyncapi_document(installed_contracts())
    assert document["asyncapi"] == "3.0.0"
    assert {"leads.events", "sales.events", "gateway.events"} <= set(document["channels"])
    assert "gateway.user_changed.v1" in document["channels"]["gateway.events"]["messages"]
    assert spec["externalDocs"]["url"] == "/api/v1/asyncapi.json", "the docs page links it"


def test_every_operation_declares_its_problem_responses(spec):
    """Declared once (gateway/openapi.py), so schemathesis can hold every answer to the document."""
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    assert problem.get("additionalProperties") is not False  # problems carry extra members
    for path, item in spec["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method not in item:
                continue
            responses = item[method]["responses"]
            for status in ("400", "401", "403", "404", "409", "413", "415", "422", "429", "503", "default"):
                name = responses[status]["$ref"].rsplit("/", 1)[1]
                content = spec["components"]["responses"][name]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")


def test_the_docs_page_loads_only_local_assets_served_without_a_key(app):
    """Users' networks may be closed: no CDN, every script and style from the gateway."""
    import re
    client = app.test_client()
    page = client.get("/api/docs").get_data(as_text=True)
    references = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert references and all(ref.startswith("/api/docs/assets/") for ref in references), references
    assert "http://" not in page and "https://" not in page
    types = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript",
             "swagger-ui-standalone-preset.js": "text/javascript"}
    for ref in references:
        answer = client.get(ref)
        assert answer.status_code == 200, ref
        assert answer.mimetype == types[ref.rsplit("/", 1)[1]], (ref, answer.mimetype)
        assert len(answer.data) > 1000
    assert client.get("/api/docs/assets/index.html").status_code == 404
    assert client.get("/api/docs/assets/%2e%2e%2fdocs.py").status_code in (401, 404)  # no way out
