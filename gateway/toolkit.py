"""What a service's gateway blueprint needs: the caller, RPC calls, roles, paging links.

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
from werkzeug.exceptions import Forbidden


def current_caller() -> dict:
    """The caller context sent as the first argument of every RPC call:
    user_id, name, role, team_id, branch_id, partner_id, request_id."""
    return g.caller


def require_roles(*roles: str):
    """Refuse (403) callers whose role is not in ``roles``."""
    def decorator(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            caller = getattr(g, "caller", None)
            if caller is None or caller["role"] not in roles:
                raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
            return fn(*args, **kwargs)
        return wrapper
    return decorator


def public(fn):
    """Serve this view without an API key (health checks, secret-URL feeds).

    Apply it below ``@blueprint.route``; the flag survives flask-smorest's wrappers.
    """
    fn.crm_public = True
    return fn


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
    return rpc_pool().call(service, method, current_caller(), *to_wire(list(args)), **to_wire(kwargs))


def call_anonymous(service: str, method: str, *args, **kwargs):
    """An RPC call without a caller context, for the few methods that take none."""
    return rpc_pool().call(service, method, *to_wire(list(args)), **to_wire(kwargs))


def rpc_pool():
    return current_app.extensions["crm"].rpc


def settings():
    return current_app.extensions["crm"].settings


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
