"""``Idempotency-Key`` on POST: a retried request gets the first answer and creates nothing twice.

The first request with a key claims it (a row with no status yet), runs,
and stores its final answer: any 2xx or 4xx except 429. A retry with the
same key, path and body gets that answer again with ``Idempotent-Replayed:
true``; the same key with another request is 422; a retry while the first
is still running is 409. A 5xx/503/429 frees the key, so the client's retry
really runs. Keys are per API key.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import Response, current_app, g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Conflict, UnprocessableEntity

from gateway.models import IdempotencyRecord
from shared.db import as_utc, utcnow

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# A claim older than this belongs to a request whose process died; let a retry take over.
ABANDONED_AFTER = timedelta(minutes=30)
_REPLAYED_HEADERS = ("Content-Type", "Location")


def _fingerprint() -> str:
    """SHA-256 of what the request asks for. A multipart body is hashed by its
    fields and file contents, not its bytes: its boundary changes on every try.
    Uploads are read from werkzeug's spooled files, never held in memory whole."""
    digest = hashlib.sha256()
    if request.mimetype == "multipart/form-data":
        for name, value in sorted(request.form.items(multi=True)):
            digest.update(f"form {name}={value}\n".encode())
        for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            digest.update(f"file {name}={upload.filename}\n".encode())
            while chunk := upload.stream.read(64 * 1024):
                digest.update(chunk)
            upload.stream.seek(0)
    else:
        digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _find(session, key: str) -> IdempotencyRecord | None:
    return session.scalars(select(IdempotencyRecord).where(
        IdempotencyRecord.key_id == g.key_id, IdempotencyRecord.idempotency_key == key)).first()


def before() -> Response | None:
    """Claim the key, or answer a retry from the stored record."""
    key = request.headers.get(HEADER)
    if request.method != "POST" or not key or g.get("key_id") is None:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise UnprocessableEntity(f"{HEADER} is at most {MAX_KEY_LENGTH} characters")
    path = request.full_path.rstrip("?")
    fingerprint = _fingerprint()
    session = current_app.extensions["crm"].sessions()
    try:
        record = _find(session, key)
        if record is not None and record.status is None and utcnow() - as_utc(record.created_at) > ABANDONED_AFTER:
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record.id))
            session.commit()
            record = None
        if record is None:
            session.add(IdempotencyRecord(key_id=g.key_id, idempotency_key=key, method=request.method,
                                          path=path, request_hash=fingerprint, created_at=utcnow()))
            try:
                session.commit()
            except IntegrityError:
                raise Conflict(f"a request with this {HEADER} is in progress; retry later") from None
            g.idempotency_key = key
            return None
        if (record.method, record.path, record.request_hash) != (request.method, path, fingerprint):
            raise UnprocessableEntity(f"this {HEADER} was used for another request "
                                      f"({record.method} {record.path}); use a new key")
        if record.status is None:
            raise Conflict(f"a request with this {HEADER} is in progress; retry later")
        response = Response(record.body, status=record.status, headers=record.headers or {})
        response.headers["Idempotent-Replayed"] = "true"
        return response
    finally:
        session.close()


def after(response: Response) -> Response:
    """Store a final answer for the claimed key, or free the key for a real retry."""
    key = g.pop("idempotency_key", None)
    if key is None:
        return response
    final = response.status_code < 500 and response.status_code != 429 and not response.is_streamed
    session = current_app.extensions["crm"].sessions()
    try:
        record = _find(session, key)
        if record is None:
            return response
        if final:
            record.status = response.status_code
            record.body = response.get_data(as_text=True)
            record.headers = {h: response.headers[h] for h in _REPLAYED_HEADERS if h in response.headers}
        else:
            session.delete(record)
        session.commit()
    finally:
        session.close()
    return response
