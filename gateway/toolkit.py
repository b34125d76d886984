"""What a service's gateway blueprint needs: the caller, RPC calls, the policy action, paging links.

A blueprint (``services/<name>/api.py``) imports only from here, so the
gateway's internals can change without touching the services' routes.
"""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from flask import current_app, g, request
from flask_smorest import Blueprint
from werkzeug.exceptions import Forbidden

from gateway import idempotency

from shared import policy as shared_policy
from shared.caller import Caller


def current_caller() -> Caller:
    """Who is calling; its context goes as the first argument of every RPC call."""
    return g.caller


def policy(action: str):
    """State which policy action (``shared.policy.POLICY``) a route performs.

    Roles with no reach at all for it are refused (403) here, before any RPC;
    the service decides about the records themselves. The action is shown in
    the OpenAPI document as ``x-crm-policy``, where the authorization matrix
    test finds it. An action missing from the table fails at import.
    """
    roles = shared_policy.roles_for(action)

    def decorator(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            caller = getattr(g, "caller", None)
            if caller is None or not shared_policy.allows(caller, action):
                raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
            return fn(*args, **kwargs)
        return Blueprint.doc(**{"x-crm-policy": action})(wrapper)
    return decorator


def public(fn):
    """Serve this view without an API key (health checks, secret-URL feeds).

    Apply it below ``@blueprint.route``; the flag survives flask-smorest's wrappers.
    """
    fn.crm_public = True
    return fn


def upload(fn):
    """Let this view receive a multipart upload of up to ``GATEWAY_MAX_UPLOAD_BYTES``;
    every other view takes a JSON body of up to ``GATEWAY_MAX_BODY_BYTES`` (gateway.edge).

    Apply it below ``@blueprint.route``, like ``public``."""
    fn.crm_upload = True
    return fn


def secret_answer(*members: str) -> None:
    """This answer shows these top-level members once (a new key, a feed address):
    they are kept out of the stored Idempotency-Key record and so out of a replay."""
    idempotency.withhold(*members)


def to_wire(value: Any) -> Any:
    """JSON-safe: decimals and times as strings, recursively (the RPC serializer is JSON)."""
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return value


def call(service: str, method: str, *args, **kwargs):
    """Call ``service.method(caller, *args, **kwargs)`` over RPC as the current caller.

    Domain errors of the service are raised as themselves (shared.errors);
    a service that is not running or does not answer in time raises
    ``ServiceUnavailable``, which the gateway answers with 503.
    """
    caller = current_caller()
    return rpc_pool().call(service, method, caller.to_context(), *to_wire(list(args)), signed_as=caller,
                           answer_key=idempotency.answer_key(service, method), **to_wire(kwargs))


def call_anonymous(service: str, method: str, *args, **kwargs):
    """An RPC call without a caller, for the few methods that take none (signed as anonymous)."""
    return rpc_pool().call(service, method, *to_wire(list(args)),
                           answer_key=idempotency.answer_key(service, method), **to_wire(kwargs))


def rpc_pool():
    return current_app.extensions["crm"].rpc


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
    from marshmallow import Schema, fields
    return type(f"{item.__name__}Page", (Schema,), {
        "items": fields.List(fields.Nested(item)), "total": fields.Integer(),
        "limit": fields.Integer(), "offset": fields.Integer()})
