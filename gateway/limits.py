"""Rate limits: ``settings.rate_limit`` across all routes, per API key (or address).

The counters live in ``settings.rate_limit_storage_uri``: with several gateway
workers use a shared store (redis://, memcached://), or each counts alone.
"""
from __future__ import annotations

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from flask_limiter.constants import HeaderNames

from shared.config import Settings

_LIMITER_RETRY_AFTER = "X-RateLimit-Retry-After"


def _key() -> str:
    return g.get("key_id") or request.remote_addr or "anonymous"


def _retry_after_only_when_limited(response: Response) -> Response:
    # flask-limiter stamps Retry-After on every answer (and would stretch a 503's);
    # a client should see it only on the 429 it must wait after.
    seconds = response.headers.pop(_LIMITER_RETRY_AFTER, None)
    if response.status_code == 429 and seconds is not None:
        response.headers["Retry-After"] = seconds
    return response


def install(app: Flask, settings: Settings) -> Limiter:
    """Call after authentication is registered (the key is the API key's id)."""
    app.after_request(_retry_after_only_when_limited)  # runs after the limiter's own hook
    return Limiter(_key, app=app, application_limits=[settings.rate_limit],
                   storage_uri=settings.rate_limit_storage_uri, headers_enabled=True,
                   header_name_mapping={HeaderNames.RETRY_AFTER: _LIMITER_RETRY_AFTER})
