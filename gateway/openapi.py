"""The gateway's OpenAPI document: its own routes merged with the contracts the services published."""
from __future__ import annotations

import json
from copy import deepcopy

from flask import Flask, current_app

from gateway.docs import ASSETS_URL, ASYNCAPI_URL
from shared.openapi import CrmApi

DESCRIPTION = ("Errors are RFC 9457 problem details (application/problem+json). POST accepts an "
               "Idempotency-Key header; every answer carries X-Request-ID.")


def configure(app: Flask) -> None:
    """flask-smorest settings: JSON at /api/v1/openapi.json, Swagger UI at /api/docs
    (its assets under /api/docs/assets/, from gateway.docs)."""
    app.config.update(
        API_TITLE="CRM Suite", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api", OPENAPI_JSON_PATH="v1/openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # served by the gateway itself from the pinned swagger-ui-bundle (gateway/docs.py);
        # no validator badge: it would call validator.swagger.io
        OPENAPI_SWAGGER_UI_URL=ASSETS_URL, OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "an API key: crm_<key id>_<secret>"}}},
            "security": [{"bearer": []}],
            "info": {"description": DESCRIPTION},
            # Swagger UI shows it under the title of /api/docs.
            "externalDocs": {"description": "The events on the bus: AsyncAPI 3.0 document",
                             "url": ASYNCAPI_URL},
        },
    )


class GatewayApi(CrmApi):
    """Serves the merged document at /api/v1/openapi.json."""

    def _openapi_json(self):
        routes = current_app.extensions["crm"].routes
        document = merged(self.spec.to_dict(), routes.contracts(), routes.owned_paths())
        return current_app.response_class(json.dumps(document, indent=2), mimetype="application/json")


def merged(own: dict, contracts: list[dict], owners: dict[str, str]) -> dict:
    """``own`` with each contract's paths (those ``owners`` gives it), components and tags.
    A component a service names like another's, but defines differently, is renamed
    ``<Service><Name>`` in that service's part."""
    document = deepcopy(own)
    paths, components = document.setdefault("paths", {}), document.setdefault("components", {})
    tags = document.setdefault("tags", [])
    for contract in contracts:
        service = contract["service"]
        contract = _renamed(contract, components)
        for path, item in contract["paths"].items():
            if owners.get(path) == service:
                paths[path] = item
        for kind, members in contract.get("components", {}).items():
            components.setdefault(kind, {}).update(members)
        known = {tag.get("name") for tag in tags}
        tags.extend(tag for tag in contract.get("tags", []) if tag.get("name") not in known)
    return document


def _renamed(contract: dict, components: dict) -> dict:
    clashes = [(kind, name) for kind, members in contract.get("components", {}).items()
               for name, value in members.items() if name in components.get(kind, {})
               and components[kind][name] != value]
    if not clashes:
        return contract
    prefix = contract["service"].title().replace("_", "")
    text = json.dumps(contract)
    for kind, name in clashes:
        text = text.replace(f'"#/components/{kind}/{name}"', f'"#/components/{kind}/{prefix}{name}"')
    renamed = json.loads(text)
    for kind, name in clashes:
        renamed["components"][kind][f"{prefix}{name}"] = renamed["components"][kind].pop(name)
    return renamed
