"""Typed domain errors that cross RPC and map to HTTP statuses in the gateway.

Each error carries a machine-readable ``code``, a human ``detail`` and an
optional per-field ``errors`` map. They are plain exceptions so that
``domain.py`` can raise them without importing nameko; nameko serialises them
by class name, and :func:`from_remote` rebuilds them on the caller's side.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service may deliberately return to a caller."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: dict[str, Any] | None = None,
                 extra: dict[str, Any] | None = None):
        # All state lives in args so that the error survives nameko's
        # serialise-by-args round trip intact.
        super().__init__(detail, errors or {}, extra or {})
        self.detail = detail
        self.errors = errors or {}
        self.extra = extra or {}

    def __str__(self) -> str:
        return self.detail

    def to_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "detail": self.detail,
                "errors": self.errors, "extra": self.extra}


class Invalid(DomainError):
    """The input is well-formed but breaks a rule (HTTP 422)."""
    status = 422
    title = "Invalid input"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    """Invalid state transition, duplicate, or stale version (HTTP 409)."""
    status = 409
    title = "Conflict"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class DeadlinePassed(DomainError):
    """The caller stopped waiting before the work could commit; nothing was changed (HTTP 503)."""
    status = 503
    title = "Service unavailable"


class StorageUnavailable(DomainError):
    """The service's database cannot be read or written just now (read-only or full disk,
    I/O error, server away); nothing was changed, retry later (HTTP 503)."""
    status = 503
    title = "Storage unavailable"


ERRORS_BY_NAME: dict[str, type[DomainError]] = {
    cls.__name__: cls for cls in (DomainError, Invalid, NotFound, Conflict, Forbidden, DeadlinePassed,
                                  StorageUnavailable)
}
