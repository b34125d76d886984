"""Swagger UI's own files, served by the gateway: ``/api/docs`` must work on a
network without internet, so its scripts and styles come from a pinned Python
package (``swagger-ui-bundle``), never from a CDN. And the AsyncAPI document
of the bus, beside the OpenAPI one and public like it (the docs page links it)."""
from __future__ import annotations

from copy import deepcopy
from functools import lru_cache

from flask import Blueprint, abort, current_app, jsonify, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from gateway.auth import public
from shared.contract_docs import asyncapi_document
from gateway.contracts import PUBLISHED_EVENTS
from shared.events import EventCatalog

ASSETS_URL = "/api/docs/assets/"
ASYNCAPI_URL = "/api/v1/asyncapi.json"
# Only what the docs page loads; the package's index.html and its maps stay unserved.
ASSETS = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript",
          "swagger-ui-standalone-preset.js": "text/javascript",
          "favicon-32x32.png": "image/png", "favicon-16x16.png": "image/png"}

blueprint = Blueprint("docs-assets", __name__)


@blueprint.route(ASSETS_URL + "<name>")
@public
def asset(name: str):
    """One of :data:`ASSETS`, cached for a day by the browser."""
    if name not in ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_path, name, mimetype=ASSETS[name], max_age=86400)


@lru_cache(maxsize=1)
def _own_events() -> dict:
    return asyncapi_document(EventCatalog(PUBLISHED_EVENTS))


def bus_document() -> dict:
    """The AsyncAPI document of the bus: the gateway's own events and those each service
    published with its contract (gateway.route_table); the gateway imports no service."""
    document = deepcopy(_own_events())
    for contract in current_app.extensions["crm"].routes.contracts():
        events = contract.get("events") or {}
        for key in ("channels", "operations"):
            document[key].update(events.get(key) or {})
        for kind, members in (events.get("components") or {}).items():
            document["components"].setdefault(kind, {}).update(members)
    return document


@blueprint.route(ASYNCAPI_URL)
@public
def asyncapi():
    """The events on the bus (AsyncAPI 3.0), as ``crm contracts export`` writes them."""
    return jsonify(bus_document())
