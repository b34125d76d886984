"""``Idempotency-Key`` on POST: a retried request gets the first answer and creates nothing twice.

The first request with a key claims it (a row with no status yet), runs,
and stores its final answer: any 2xx or 4xx except 429. A retry with the
same key, path and body gets that answer again with ``Idempotent-Replayed:
true``; the same key with another request is 422; a retry while the first
is still running is 409. A 5xx/503/429 frees the key, so the client's retry
really runs. Keys are per API key.

The claim, the effect and the stored answer agree even when this process dies
or its database refuses the answer: every RPC call the request makes carries
an answer key (:func:`answer_key`: the key's scope, the request's fingerprint
and the call's place in the request), under which the service records its
answer in the same transaction as the effect. A claim left without an answer
is taken over once the request that made it can no longer be running (the
RPC timeout and a margin; 30 minutes for an upload), and the retry, calling
again, gets the services' recorded answers: the original answer, the work
done once. Until then a retry is 409 with ``Retry-After``.

Records live ``settings.idempotency_ttl_hours`` (24 h): an older one is gone
(its key may be used again) and each claim purges up to ``PURGE_BATCH``
expired rows. A record keeps no secret: a route whose answer holds one names
its members with :func:`withhold`, and the stored answer (hence a replay) lacks
them.
"""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import logging

from flask import Response, current_app, g, request
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from werkzeug.exceptions import Conflict, UnprocessableEntity

from gateway.models import IdempotencyRecord
from shared.db import as_utc, is_storage_fault, utcnow

log = logging.getLogger(__name__)
HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
# A claim older than this belongs to a request whose process died (or whose answer
# could not be stored); let a retry take over. A request's RPC calls each end within
# the RPC timeout (a service commits nothing after it), so a claim older than that
# and a margin is no longer running. An upload makes many calls: it keeps the long wait.
TAKEOVER_MARGIN = timedelta(seconds=5)
UPLOAD_ABANDONED_AFTER = timedelta(minutes=30)


class InProgress(Conflict):
    """409 for a retry while the first request may still run, with ``Retry-After``."""

    def __init__(self, retry_after: timedelta):
        super().__init__(f"a request with this {HEADER} is in progress; retry later")
        self.retry_after = max(1, int(retry_after.total_seconds() + 0.999))

    def get_headers(self, *args, **kwargs):
        return [*super().get_headers(*args, **kwargs), ("Retry-After", str(self.retry_after))]


def abandoned_after() -> timedelta:
    """How old a claim without an answer must be before a retry takes it over."""
    if request.mimetype == "multipart/form-data":
        return UPLOAD_ABANDONED_AFTER
    return timedelta(seconds=current_app.extensions["crm"].gateway_settings.rpc_timeout) + TAKEOVER_MARGIN


def answer_key(service: str, method: str) -> str | None:
    """The answer key of this request's next RPC call, or None outside a claimed
    ``Idempotency-Key``. The n-th call of a retry has the n-th call's key of the first
    try (same API key, idempotency key and request), so the service answers it from
    its record instead of doing the work again."""
    scope = g.get("idempotency_scope")
    if scope is None:
        return None
    g.idempotency_calls = g.get("idempotency_calls", 0) + 1
    return hashlib.sha256(f"{scope}\n{g.idempotency_calls}\n{service}.{method}".encode()).hexdigest()
_REPLAYED_HEADERS = ("Content-Type", "Location")
PURGE_BATCH = 100  # expired rows deleted per claim: bounded work per request


def withhold(*members: str) -> None:
    """Keep these top-level members of this request's JSON answer (secrets shown
    once, such as a new API key) out of the stored record and so out of a replay."""
    g.idempotency_withheld = members


def _without_secrets(response: Response) -> str:
    body = response.get_data(as_text=True)
    withheld = g.pop("idempotency_withheld", ())
    if not withheld or not response.is_json:
        return body
    document = json.loads(body)
    if isinstance(document, dict):
        for member in withheld:
            document.pop(member, None)
    return json.dumps(document)


def _purge_expired(session, cutoff) -> None:
    expired = select(IdempotencyRecord.id).where(IdempotencyRecord.created_at < cutoff).limit(PURGE_BATCH)
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(expired)))
    session.commit()


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
        digest.update(_canonical_body(request.get_data(cache=True)))
    return digest.hexdigest()


def _canonical_body(body: bytes) -> bytes:
    """A JSON body as canonical JSON (sorted keys, no whitespace; numbers as
    doubles, as in RFC 8785), so a retry that spaces or orders the same JSON
    otherwise is the same request. Any other body counts by its bytes."""
    if not body.strip():
        return body
    try:
        return json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8", "surrogatepass")
    except ValueError:  # not JSON (UnicodeDecodeError included), or NaN
        return body


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
    state = current_app.extensions["crm"]
    session = state.sessions()
    try:
        now = utcnow()
        expired_before = now - timedelta(hours=state.settings.idempotency_ttl_hours)
        record = _find(session, key)
        if record is not None and (as_utc(record.created_at) < expired_before or (
                record.status is None and now - as_utc(record.created_at) > abandoned_after())):
            session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record.id))
            session.commit()
            record = None
        if record is None:
            _purge_expired(session, expired_before)
            session.add(IdempotencyRecord(key_id=g.key_id, idempotency_key=key, method=request.method,
                                          path=path, request_hash=fingerprint, created_at=utcnow()))
            try:
                session.commit()
            except IntegrityError:
                raise InProgress(abandoned_after()) from None
            g.idempotency_key = key
            g.idempotency_scope = hashlib.sha256(f"{g.key_id}\n{key}\n{fingerprint}".encode()).hexdigest()
            return None
        if (record.method, record.path, record.request_hash) != (request.method, path, fingerprint):
            raise UnprocessableEntity(f"this {HEADER} was used for another request "
                                      f"({record.method} {record.path}); use a new key")
        if record.status is None:
            raise InProgress(abandoned_after() - (now - as_utc(record.created_at)))
        response = Response(record.body, status=record.status, headers=record.headers or {})
        response.headers["Idempotent-Replayed"] = "true"
        return response
    finally:
        session.close()


def after(response: Response) -> Response:
    """Store a final answer for the claimed key, or free the key for a real retry."""
    key = g.pop("idempotency_key", None)
    g.pop("idempotency_scope", None)
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
            record.body = _without_secrets(response)
            record.headers = {h: response.headers[h] for h in _REPLAYED_HEADERS if h in response.headers}
        else:
            session.delete(record)
        session.commit()
    except SQLAlchemyError as exc:
        if not is_storage_fault(exc):
            raise
        # The answer is right and the client gets it; only its record is missing. The
        # claim stays and is taken over by a later retry, which the services answer
        # from their own records of this request's calls.
        log.warning("could not store the answer for an %s (%s); a retry will be answered "
                    "from the services' records", HEADER, exc.__class__.__name__)
    finally:
        session.close()
    return response
