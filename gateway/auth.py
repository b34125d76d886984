"""Who is calling: every request but the open ones carries ``Authorization: Bearer <key>``."""
from __future__ import annotations

import re
import uuid
from functools import wraps

from flask import current_app, g, request
from werkzeug.exceptions import Forbidden, Unauthorized

from gateway.identity import authenticate
from shared.db import utcnow
from shared.logcontext import set_request_id

_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]")
OPEN_PATHS = ("/healthz", "/readyz", "/api/docs", "/api/v1/openapi.json", "/api/v1/calendar/")


def assign_request_id() -> None:
    given = _SAFE_ID.sub("", request.headers.get("X-Request-ID", ""))[:128]
    g.request_id = given or uuid.uuid4().hex
    set_request_id(g.request_id)


def authenticate_request() -> None:
    g.caller = None
    if request.path.startswith(OPEN_PATHS) or request.method == "OPTIONS":
        return
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    session = current_app.extensions["crm"].sessions()
    try:
        found = authenticate(session, key.strip())
        if found is None:
            raise Unauthorized("the API key is unknown, revoked, or its user is inactive")
        record, user = found
        record.last_used_at = utcnow()
        session.commit()
        g.key_id = record.id
        g.caller = {"user_id": user.id, "name": user.name, "role": user.role, "team_id": user.team_id,
                    "branch_id": user.branch_id, "partner_id": user.partner_id,
                    "request_id": g.request_id}
    finally:
        session.close()


def current_caller() -> dict:
    return g.caller


def require_roles(*roles: str):
    """Refuse (403) callers whose role is not in ``roles``."""
    def decorator(fn):
        @wraps(fn)
        def wrapper(*args, **kwargs):
            if g.caller is None or g.caller["role"] not in roles:
                raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
            return fn(*args, **kwargs)
        return wrapper
    return decorator
