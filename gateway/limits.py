"""Rate limits at the edge.

``settings.rate_limit`` across all routes, per principal: a partner's users and
keys share one budget (their ``partner_id``), anyone else has their own (their
user id), however many keys they hold. The counters live in
``settings.rate_limit_storage_uri``; with several gateway processes use a shared
store (redis://), or each counts alone. ``settings.rate_limit_key_prefix``
keeps suites (or test runs) that share one store apart.

Failed authentication is limited per client address
(``settings.auth_failure_limit``): once an address has used it up, its requests
are answered 429 before any key is looked at, so guessing keys costs nothing
and learns nothing until the window has passed.
"""
from __future__ import annotations

import math
import time

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.constants import HeaderNames
from limits import parse
from werkzeug.exceptions import TooManyRequests

from gateway.settings import GatewaySettings
from shared.caller import Caller, Role

_LIMITER_RETRY_AFTER = "X-RateLimit-Retry-After"
_AUTH_FAILURES = "auth-failures"


def principal(caller: Caller) -> str:
    """Whose budget a caller spends: their partner's for partner users, else their own."""
    if caller.role is Role.PARTNER and caller.partner_id:
        return f"partner:{caller.partner_id}"
    return f"user:{caller.user_id}"


def _key() -> str:
    caller = g.get("caller")
    if caller:
        return principal(caller)
    return f"address:{request.remote_addr or 'unknown'}"


def _retry_after_only_when_limited(response: Response) -> Response:
    # flask-limiter stamps Retry-After on every answer (and would stretch a 503's);
    # a client should see it only on the 429 it must wait after.
    seconds = response.headers.pop(_LIMITER_RETRY_AFTER, None)
    if response.status_code == 429 and seconds is not None:
        response.headers["Retry-After"] = seconds
    return response


class AuthFailures:
    """Counts failed authentications per client address in the rate limit store."""

    def __init__(self, limiter: Limiter, limit: str, prefix: str):
        self._limiter, self._limit, self._prefix = limiter, parse(limit), prefix

    def _identifiers(self) -> tuple[str, ...]:
        return (self._prefix, _AUTH_FAILURES, request.remote_addr or "unknown")

    def refuse_if_exhausted(self) -> None:
        """429 (with Retry-After) once this address has failed too often."""
        strategy = self._limiter.limiter
        if strategy.test(self._limit, *self._identifiers()):
            return
        reset_at, _ = strategy.get_window_stats(self._limit, *self._identifiers())
        raise TooManyRequests(f"too many failed authentications from this address ({self._limit}); "
                              "wait before trying again", retry_after=max(1, math.ceil(reset_at - time.time())))

    def record(self) -> None:
        self._limiter.limiter.hit(self._limit, *self._identifiers())


def auth_failures() -> AuthFailures:
    return current_app.extensions["crm_auth_failures"]


def install(app: Flask, settings: GatewaySettings) -> Limiter:
    """Call after authentication is registered (the key is the caller's principal)."""
    app.after_request(_retry_after_only_when_limited)  # runs after the limiter's own hook
    limiter = Limiter(_key, app=app, application_limits=[settings.rate_limit],
                      storage_uri=settings.rate_limit_storage_uri, key_prefix=settings.rate_limit_key_prefix,
                      headers_enabled=True, header_name_mapping={HeaderNames.RETRY_AFTER: _LIMITER_RETRY_AFTER})
    app.extensions["crm_auth_failures"] = AuthFailures(limiter, settings.auth_failure_limit,
                                                       settings.rate_limit_key_prefix)
    return limiter
