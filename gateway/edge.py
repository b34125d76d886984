"""Limits on what a request may carry, checked before any RPC.

- headers: at most ``settings.max_header_bytes`` in all (431);
- body: at most ``settings.max_body_bytes`` (413), or
  ``settings.max_upload_bytes`` on a route marked ``shared.web.upload``; a body
  that is not an upload must be JSON (415), UTF-8, nested at most
  ``MAX_DEPTH`` levels, without NaN or Infinity (400), and without a NUL
  character or a lone surrogate in any string (422 naming the field).

The body is checked here once, before webargs reads it, so that no JSON a
client sends can make a parser recurse or a database refuse a string.
"""
from __future__ import annotations

import json
import re
from itertools import accumulate

from flask import current_app, g, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, RequestHeaderFieldsTooLarge, \
    UnsupportedMediaType

from shared.bounds import MAX_DEPTH
from shared.errors import Invalid
from shared.fields import clean_text

# A JSON string, escapes included; possessive, so an unterminated one cannot backtrack.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1


def _settings():
    return current_app.extensions["crm"].gateway_settings


def _is_upload() -> bool:
    route = g.get("route")
    return bool(route is not None and route.upload)


def check_headers() -> None:
    """431 when the headers are larger in all than ``max_header_bytes``."""
    limit = _settings().max_header_bytes
    size = sum(len(name) + len(value) + 4 for name, value in request.headers.items())
    if size > limit:
        raise RequestHeaderFieldsTooLarge(f"the request headers take {size} bytes; at most {limit} are accepted")


def check_body() -> None:
    """Size, type and shape of the body (see the module's docstring)."""
    settings = _settings()
    is_upload = _is_upload()
    limit = settings.max_upload_bytes if is_upload else settings.max_body_bytes
    request.max_content_length = limit  # also caps a chunked body while it is read (gunicorn)
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not request.content_length and not chunked:
        return
    if request.content_length and request.content_length > limit:
        raise RequestEntityTooLarge(f"the body has {request.content_length} bytes; at most {limit} are accepted")
    if is_upload:
        return
    if not request.is_json:
        raise UnsupportedMediaType(f"send the body as JSON (Content-Type: application/json), "
                                   f"not {request.mimetype or 'without a type'}")
    raw = request.get_data(cache=True)
    if chunked and len(raw) >= limit:  # werkzeug stops reading at the cap without saying so
        raise RequestEntityTooLarge(f"the body has more than {limit} bytes; at most {limit} are accepted")
    errors = bad_strings(parse_json(raw))
    if errors:
        raise Invalid("some strings cannot be stored", errors=errors)


def json_depth(raw: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest, counted without parsing it."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes):
    """The JSON text ``raw``, or BadRequest (400) saying what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8") from None
    if json_depth(raw) > MAX_DEPTH:
        raise BadRequest(f"the body nests arrays and objects deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}"[:300]) from None


def bad_strings(document) -> dict:
    """A per-field errors map (nested as marshmallow nests them) of the keys and
    strings that hold a NUL character or a lone surrogate; empty when there are none."""
    errors: dict = {}
    stack = [(document, ())]
    while stack:
        value, path = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            where = (*path, _printable(str(key)))
            problem = clean_text(key) if isinstance(key, str) else None
            if problem is None and isinstance(item, str):
                problem = clean_text(item)
            if problem:
                _put(errors, where, problem)
            elif isinstance(item, (dict, list)):
                stack.append((item, where))
    if isinstance(document, str) and clean_text(document):
        errors["_schema"] = [clean_text(document)]
    return errors


def _printable(name: str) -> str:
    return re.sub("[\x00\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", name)


def _put(errors: dict, path: tuple[str, ...], message: str) -> None:
    for part in path[:-1]:
        errors = errors.setdefault(part, {})
        if not isinstance(errors, dict):
            return
    errors[path[-1]] = [message]
