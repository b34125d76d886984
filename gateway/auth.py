"""Who is calling: every request but the public ones carries ``Authorization: Bearer <key>``."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

from dataclasses import replace

from flask import current_app, g, request
from werkzeug.exceptions import Unauthorized

from gateway.identity import authenticate
from gateway.limits import auth_failures
from shared.caller import Caller
from shared.db import utcnow
from shared.logcontext import set_request_id

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
# Writing last_used_at on every request would make every read a write.
_TOUCH_EVERY = timedelta(minutes=1)
PUBLIC_BLUEPRINTS = ("api-docs",)  # flask-smorest's OpenAPI JSON and Swagger UI


def public(fn):
    """Serve this gateway view without an API key (health checks, the documents).
    Apply it below ``@blueprint.route``; a service marks its own routes with ``shared.web.public``."""
    fn.crm_public = True
    return fn


def assign_request_id() -> None:
    """Take a sane ``X-Request-ID`` or make one; it goes into logs, RPC and the answer."""
    given = _UNSAFE.sub("", request.headers.get("X-Request-ID", ""))[:128]
    g.request_id = given or str(uuid.uuid4())
    set_request_id(g.request_id)


def forget_request_id(_exc=None) -> None:
    set_request_id(None)


def _is_public() -> bool:
    if request.method == "OPTIONS" or request.blueprint in PUBLIC_BLUEPRINTS:
        return True
    route = g.get("route")
    if route is not None:  # a service's route, as its contract says
        return route.public
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return bool(getattr(view, "crm_public", False) or getattr(getattr(view, "view_class", None),
                                                               "crm_public", False))


def authenticate_request() -> None:
    g.caller = None
    g.key_id = None
    if _is_public():
        return
    failures = auth_failures()
    failures.refuse_if_exhausted()  # before the key is looked at: guessing costs nothing
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        failures.record()
        raise Unauthorized("send your API key as 'Authorization: Bearer <key>'")
    key = key.strip()
    state = current_app.extensions["crm"]
    cached = state.keys.get(key)
    if cached is not None:
        g.key_id, g.caller = cached.key_id, replace(cached.caller, request_id=g.request_id)
        return
    session = state.sessions()
    try:
        found = authenticate(session, key)
        if found is None:
            failures.record()
            raise Unauthorized("the API key is unknown or revoked, or its user is inactive")
        record, user = found
        now = utcnow()
        if record.last_used_at is None or now - record.last_used_at > _TOUCH_EVERY:
            record.last_used_at = now
            session.commit()
        caller = Caller.from_context({"user_id": user.id, "name": user.name, "role": user.role,
                                      "team_id": user.team_id, "branch_id": user.branch_id,
                                      "partner_id": user.partner_id})
        state.keys.put(key, record.id, caller)
        g.key_id, g.caller = record.id, replace(caller, request_id=g.request_id)
    finally:
        session.close()
