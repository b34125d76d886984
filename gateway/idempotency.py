"""``Idempotency-Key`` on POST: a retried request gets the first answer and creates nothing twice."""
from __future__ import annotations

import hashlib

from flask import Response, current_app, g, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict, UnprocessableEntity

from gateway.models import IdempotencyRecord

HEADER = "Idempotency-Key"
_REPLAYED_HEADERS = ("Content-Type", "Location")


def _request_hash() -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}?{request.query_string.decode()}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def before() -> Response | None:
    key = request.headers.get(HEADER)
    if request.method != "POST" or not key or getattr(g, "key_id", None) is None:
        return None
    if len(key) > 200:
        raise UnprocessableEntity("Idempotency-Key is at most 200 characters")
    session = current_app.extensions["crm"].sessions()
    try:
        fingerprint = _request_hash()
        record = session.scalars(select(IdempotencyRecord).where(
            IdempotencyRecord.key_id == g.key_id, IdempotencyRecord.idempotency_key == key)).first()
        if record is None:
            session.add(IdempotencyRecord(key_id=g.key_id, idempotency_key=key, request_hash=fingerprint))
            try:
                session.commit()
            except IntegrityError:
                raise Conflict("a request with this Idempotency-Key is in progress; retry later") from None
            g.idempotency = key
            return None
        if record.request_hash != fingerprint:
            raise UnprocessableEntity("this Idempotency-Key was used with a different request")
        if record.status is None:
            raise Conflict("a request with this Idempotency-Key is in progress; retry later")
        response = Response(record.body, status=record.status, headers=record.headers or {})
        response.headers["Idempotent-Replayed"] = "true"
        return response
    finally:
        session.close()


def after(response: Response) -> Response:
    key = getattr(g, "idempotency", None)
    if key is None:
        return response
    session = current_app.extensions["crm"].sessions()
    try:
        record = session.scalars(select(IdempotencyRecord).where(
            IdempotencyRecord.key_id == g.key_id, IdempotencyRecord.idempotency_key == key)).first()
        if response.status_code >= 500 or response.is_streamed:
            session.delete(record)  # not a final answer: let the client retry for real
        else:
            record.status = response.status_code
            record.body = response.get_data(as_text=True)
            record.headers = {h: response.headers[h] for h in _REPLAYED_HEADERS if h in response.headers}
        session.commit()
    finally:
        session.close()
    return response
