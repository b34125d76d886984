"""How the suite's OpenAPI documents look: problem details for every error, money as
decimal strings. The gateway's own routes and each service's HTTP face use the same
:class:`CrmApi`, so the merged document reads as one."""
from __future__ import annotations

import http

from apispec import BasePlugin
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from marshmallow import INCLUDE, Schema, fields, validate

from shared.fields import DefaultCap

PROBLEM = "application/problem+json"
# Every operation may answer these as problem details (the gateway's gateway/problems.py):
# malformed, no key, not allowed, not found, conflict, too large, wrong media
# type, invalid, rate limited, service down.
PROBLEM_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)


class Problem(Schema):
    """RFC 9457 problem details, as every error of the gateway is answered; a
    problem may carry more members (``allowed``, ``existing_lead_id``, ``service``...)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(metadata={"description": "a URI naming the kind of problem; about:blank"})
    title = fields.String(metadata={"description": "short, the same for every problem of its kind"})
    status = fields.Integer(metadata={"description": "the HTTP status code"})
    detail = fields.String(metadata={"description": "what went wrong this time, for a person"})
    instance = fields.String(metadata={"description": "the path of the request"})
    request_id = fields.String(metadata={"description": "the X-Request-ID, to quote in a report"})
    errors = fields.Dict(metadata={"description": "per field: what is wrong with it"})


class CrmApi(Api):
    """flask-smorest's Api whose error responses are documented as problem
    details (``application/problem+json``), declared once here for every operation."""

    ERROR_SCHEMA = Problem

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Any other error, as problem details", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


class ProblemResponses(BasePlugin):
    """Adds the problem responses of :data:`PROBLEM_STATUSES` to each operation
    that does not declare its own."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            responses = operation.setdefault("responses", {})
            for status in PROBLEM_STATUSES:
                responses.setdefault(str(status), http.HTTPStatus(status).name)


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


def default_cap_undocumented(self, field, ret, **_):
    """A container's default cap (``shared.fields.DefaultCap``) bounds requests
    only; documented, it would make longer answers look wrong."""
    lengths = [v for v in getattr(field, "validators", ()) if isinstance(v, validate.Length)]
    if lengths and all(isinstance(v, DefaultCap) for v in lengths):
        ret.pop("maxItems", None)
        ret.pop("maxProperties", None)
    return {}


def register_converters(api: Api) -> None:
    """Our field conversions and the problem responses; call before registering blueprints."""
    api.ma_plugin.converter.add_attribute_function(decimal_as_string)
    api.ma_plugin.converter.add_attribute_function(default_cap_undocumented)
    plugin = ProblemResponses()
    plugin.init_spec(api.spec)
    api.spec.plugins.append(plugin)
