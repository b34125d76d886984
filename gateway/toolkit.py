"""What a service's gateway blueprint needs: the caller, RPC calls, roles, paging links."""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from flask import current_app, request

from gateway.auth import current_caller, require_roles  # noqa: F401  (re-exported for blueprints)


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
    """Call ``service.method(caller, *args)`` over RPC as the current caller."""
    pool = current_app.extensions["crm"].rpc
    return pool.call(service, method, current_caller(), *to_wire(list(args)), **to_wire(kwargs))


def page(result: dict, limit: int, offset: int) -> tuple[dict, dict]:
    """A list body with paging fields, and a Link header to the next page if there is one."""
    body = {**result, "limit": limit, "offset": offset}
    headers = {}
    if offset + limit < result["total"]:
        args = request.args.to_dict()
        args.update(limit=limit, offset=offset + limit)
        query = "&".join(f"{k}={v}" for k, v in args.items())
        headers["Link"] = f'<{request.base_url}?{query}>; rel="next"'
    return body, headers
