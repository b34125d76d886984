"""What a service's HTTP routes (``services/<name>/api.py``) are written with.

The routes run inside the service (:mod:`shared.http_face`), never in the
gateway: a view validates its input with the service's own schemas and
calls the service's use cases with :func:`call`, on the same worker and in
the same unit of work as the ``http`` RPC call that carries the request.
What the gateway must know to guard a route before it forwards the request
(its policy action, whether it is public, takes an upload or keeps a
secret) is stated here and travels in the service's OpenAPI document as
``x-crm-*`` members, which the gateway reads from the published contract.
"""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import flask_smorest
from flask import Response, g, request
from marshmallow import Schema, fields

from shared import policy as shared_policy
from shared.caller import Caller
from shared.errors import DomainError, Forbidden

# x-crm-* members of an operation, read by the gateway (gateway/route_table.py)
POLICY, PUBLIC, UPLOAD, SECRET, LONG = "x-crm-policy", "x-crm-public", "x-crm-upload", "x-crm-secret", "x-crm-long"


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint whose ``response`` documents the schema and does not
    dump through it again: a service's use cases answer through their ``...Out``
    schemas already, so an answer is dumped once."""

    def response(self, status_code, schema=None, **kwargs):
        documented = super().response(status_code, schema, **kwargs)
        passed_through = super().response(status_code, None, **kwargs)

        def decorator(fn):
            view = passed_through(fn)
            view._apidoc = documented(fn)._apidoc
            return view
        return decorator


class ProblemAnswer(Response):
    """An answer that is a problem (the gateway renders it as problem details): what a
    route refused before any use case ran, or :func:`problem_answer`."""

    def __init__(self, status: int, problem: dict, headers=()):
        super().__init__(status=status)
        self.problem, self.problem_headers = problem, list(headers)


def problem_answer(error: DomainError) -> ProblemAnswer:
    """Answer ``error`` as a problem *and keep* what the request did so far (a raised
    DomainError rolls the request's unit of work back): a failed import job, kept to be read."""
    return ProblemAnswer(error.status, {"title": error.title, "detail": error.detail,
                                        **({"errors": error.errors} if error.errors else {}), **error.extra})


def current_caller() -> Caller:
    """Who is calling, as the gateway signed it (verified before the worker ran)."""
    return g.caller


def call(method: str, *args, **kwargs):
    """Run the service's RPC method ``method(caller, *args, **kwargs)`` on this worker,
    as the current caller: in the same unit of work as the request, answering what
    the method would answer over RPC (plain JSON values)."""
    answer = getattr(g.crm_service, method)(g.caller, *to_wire(list(args)), **to_wire(kwargs))
    return to_wire(answer)


def to_wire(value: Any) -> Any:
    """JSON-safe: decimals and times as strings, recursively, as they travel over RPC."""
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return value


def _mark(member: str, value: Any):
    return flask_smorest.Blueprint.doc(**{member: value})


def policy(action: str):
    """The policy action (``shared.policy.POLICY``) this route performs. The gateway
    refuses (403) a caller whose role has no reach at all for it before forwarding;
    the service decides about the records themselves. An unknown action fails at import."""
    roles = shared_policy.roles_for(action)

    def decorator(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            caller = getattr(g, "caller", None)
            if caller is None or not shared_policy.allows(caller, action):
                raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
            return fn(*args, **kwargs)
        return _mark(POLICY, action)(wrapper)
    return decorator


def public(fn):
    """Served without an API key (a secret-URL feed): the gateway forwards it anonymously."""
    return _mark(PUBLIC, True)(fn)


def upload(fn):
    """Takes a multipart upload of up to ``GATEWAY_MAX_UPLOAD_BYTES`` (other routes a JSON
    body of up to ``GATEWAY_MAX_BODY_BYTES``), and may take the gateway's long timeout."""
    return _mark(UPLOAD, True)(fn)


def long_running(fn):
    """May take up to the gateway's long timeout (``GATEWAY_LONG_RPC_TIMEOUT``): exports."""
    return _mark(LONG, True)(fn)


def secret_members(*members: str):
    """The answer shows these top-level members once (a feed address): the gateway keeps
    them out of its stored Idempotency-Key record and so out of a replay."""
    return _mark(SECRET, list(members))


def page(result: dict, limit: int, offset: int) -> tuple[dict, dict]:
    """A list body ``{items, total, limit, offset}`` and a ``Link: rel="next"``
    header when there are more."""
    body = {**result, "limit": limit, "offset": offset}
    headers = {}
    if offset + limit < result["total"]:
        args = request.args.to_dict(flat=False)
        args.update(limit=[str(limit)], offset=[str(offset + limit)])
        headers["Link"] = f'<{request.base_url}?{urlencode(args, doseq=True)}>; rel="next"'
    return body, headers


def page_schema(item):
    """The OpenAPI/marshmallow schema of a page of ``item``: items, total, limit, offset."""
    return type(f"{item.__name__}Page", (Schema,), {
        "items": fields.List(fields.Nested(item)), "total": fields.Integer(),
        "limit": fields.Integer(), "offset": fields.Integer()})
