"""The OpenAPI document's settings, and how our fields appear in it."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from marshmallow import fields

DESCRIPTION = ("Errors are RFC 9457 problem details (application/problem+json). POST accepts an "
               "Idempotency-Key header; every answer carries X-Request-ID.")


def configure(app: Flask) -> None:
    """flask-smorest settings: JSON at /api/v1/openapi.json, Swagger UI at /api/docs."""
    app.config.update(
        API_TITLE="CRM Suite", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api", OPENAPI_JSON_PATH="v1/openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        API_SPEC_OPTIONS={
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "an API key: crm_<key id>_<secret>"}}},
            "security": [{"bearer": []}],
            "info": {"description": DESCRIPTION},
        },
    )


def decimal_as_string(self, field, ret, **_):
    """Money travels as a decimal string; apispec would call it a number and
    write its bounds as strings, which is not valid OpenAPI."""
    if not (isinstance(field, fields.Decimal) and field.as_string):
        return {}
    bounds = [f"{word} {ret.pop(key)}" for key, word in (("minimum", "at least"), ("maximum", "at most"))
              if key in ret]
    extra = {}
    if bounds:
        note = "decimal string, " + " and ".join(bounds)
        extra["description"] = f"{ret['description']} ({note})" if ret.get("description") else note
    ret.pop("type", None)
    return {"type": "string", "format": "decimal", **extra}


def register_converters(api: Api) -> None:
    api.ma_plugin.converter.add_attribute_function(decimal_as_string)
