"""Every error leaves the gateway as RFC 9457 problem details, mapped here in one place."""
from __future__ import annotations

import logging
import socket

from flask import Flask, Response, json, request
from kombu.exceptions import OperationalError as KombuOperationalError
from nameko.exceptions import RemoteError, RpcTimeout, UnknownService
from werkzeug.exceptions import HTTPException

from shared.errors import DomainError
from shared.logcontext import get_request_id

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"


class ServiceUnavailable(Exception):
    def __init__(self, service: str, detail: str):
        super().__init__(detail)
        self.service, self.detail = service, detail


def problem(status: int, title: str, detail: str | None = None, **extra) -> Response:
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    if get_request_id():
        body["request_id"] = get_request_id()
    body.update({k: v for k, v in extra.items() if v not in (None, {}, [])})
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM)
    return response


def _domain(error: DomainError) -> Response:
    return problem(error.status, error.title, error.detail, errors=error.errors, **error.extra)


def _unavailable(error: ServiceUnavailable) -> Response:
    response = problem(503, "Service unavailable", error.detail, service=error.service)
    response.headers["Retry-After"] = "5"
    return response


def _http(error: HTTPException) -> Response:
    # webargs/flask-smorest put marshmallow messages in error.data
    messages = (getattr(error, "data", None) or {}).get("messages")
    if error.code == 422 and messages:
        errors = {}
        for location in messages.values():
            errors.update(location)
        if "_schema" in errors and isinstance(errors["_schema"], list) and any(
                "Invalid JSON" in m or "Invalid input type" in str(m) for m in errors["_schema"]):
            return problem(400, "Malformed request", "the body is not valid JSON")
        return problem(422, "Invalid input", "the request has invalid fields", errors=errors)
    response = problem(error.code or 500, error.name, error.description)
    if error.code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="crm"'
    for name in ("Retry-After", "Allow"):
        if name in (error.get_headers() and dict(error.get_headers())):
            response.headers[name] = dict(error.get_headers())[name]
    return response


def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "Internal server error",
                   "something went wrong on our side; quote the request id when you report it")


def _remote(error: RemoteError) -> Response:
    log.error("service error %s: %s", error.exc_type, error.value)
    return problem(500, "Internal server error",
                   "a service failed to answer; quote the request id when you report it")


def transport_error(service: str, error: Exception, timeout: float) -> ServiceUnavailable:
    """Translate what the RPC layer raised when a service is away."""
    if isinstance(error, UnknownService):
        return ServiceUnavailable(service, f"the {service} service is not running; try again later")
    if isinstance(error, RpcTimeout):
        return ServiceUnavailable(service, f"the {service} service did not answer within {timeout:g}s; "
                                           "try again later")
    return ServiceUnavailable(service, "the message broker cannot be reached; try again later")


TRANSPORT_ERRORS = (UnknownService, RpcTimeout, KombuOperationalError, socket.error, ConnectionError)


def register(app: Flask) -> None:
    app.register_error_handler(DomainError, _domain)
    app.register_error_handler(ServiceUnavailable, _unavailable)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(RemoteError, _remote)
    app.register_error_handler(Exception, _unexpected)
