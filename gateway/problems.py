"""Every error leaves the gateway as RFC 9457 problem details, mapped here in one place."""
from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from nameko.exceptions import RemoteError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from gateway.rpc import ServiceUnavailable
from shared.db import is_storage_fault
from shared.errors import DomainError
from shared.http_problems import describe
from shared.logcontext import get_request_id

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"
RETRY_AFTER_SECONDS = 5


def problem(status: int, title: str, detail: str | None = None, **extra) -> Response:
    """A problem document; ``extra`` members (``errors``, ``allowed``, ...) are added when not empty."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    if get_request_id():
        body["request_id"] = get_request_id()
    body.update({k: v for k, v in extra.items() if v not in (None, {}, [])})
    return Response(json.dumps(body), status=status, mimetype=PROBLEM)


def _domain(error: DomainError) -> Response:
    response = problem(error.status, error.title, error.detail, errors=error.errors, **error.extra)
    if error.status == 503:  # DeadlinePassed, StorageUnavailable: worth a retry soon
        log.warning("503: %s", error.detail)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _database(error: SQLAlchemyError) -> Response:
    """The gateway's own database: a storage fault is a 503 to retry, anything else a bug."""
    if not is_storage_fault(error):
        return _unexpected(error)
    log.warning("503: the gateway's database failed: %s", error.__class__.__name__)
    response = problem(503, "Storage unavailable", "the gateway cannot use its database just now; "
                                                   "try again later")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _unavailable(error: ServiceUnavailable) -> Response:
    log.warning("503: %s", error.detail)
    response = problem(503, "Service unavailable", error.detail, service=error.service)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _http(error: HTTPException) -> Response:
    status, title, detail, extra, headers = describe(error)
    return answer_problem(status, title, detail, extra, headers)


def answer_problem(status: int, title: str, detail: str | None, extra: dict, headers) -> Response:
    """A problem a route described (here or in a service), with the headers it keeps."""
    response = problem(status, title, detail, **extra)
    for name, value in headers:
        response.headers[name] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="crm"'
    return response


def _remote(error: RemoteError) -> Response:
    log.error("a service failed: %s: %s", error.exc_type, error.value)
    return problem(500, "Internal server error",
                   "a service failed to answer; quote the request id when you report it")


def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "Internal server error",
                   "something went wrong on our side; quote the request id when you report it")


def register(app: Flask) -> None:
    """Install the one error table; call after flask-smorest's Api so ours win."""
    app.register_error_handler(DomainError, _domain)
    app.register_error_handler(ServiceUnavailable, _unavailable)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(RemoteError, _remote)
    app.register_error_handler(SQLAlchemyError, _database)
    app.register_error_handler(Exception, _unexpected)
