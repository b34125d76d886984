"""What an HTTP error means as problem details, for the gateway and the services' HTTP faces alike.

webargs (through flask-smorest) reports bad input as a 422 whose ``messages``
are grouped by location; clients want them by field. A body that is not JSON
at all, or JSON but not an object, is malformed (400), not invalid.
"""
from __future__ import annotations

from marshmallow import Schema
from werkzeug.exceptions import HTTPException

NOT_AN_OBJECT = Schema._default_error_messages["type"]
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def validation_errors(messages: dict) -> dict:
    """webargs groups messages by location (json, query, form, files); clients want fields."""
    errors: dict = {}
    for location, fields in messages.items():
        errors.update(fields if isinstance(fields, dict) else {location: fields})
    return errors


def describe(error: HTTPException) -> tuple[int, str, str | None, dict, list[tuple[str, str]]]:
    """``(status, title, detail, extra members, headers to keep)`` of ``error``."""
    messages = (getattr(error, "data", None) or {}).get("messages")
    if error.code == 400 and messages:  # webargs: the body is not JSON at all
        return 400, "Malformed request", "the body is not valid JSON", {}, []
    if error.code == 422 and messages:
        errors = validation_errors(messages)
        if errors.get("_schema") == [NOT_AN_OBJECT]:  # JSON, but not an object
            return 400, "Malformed request", "the body must be a JSON object", {"errors": errors}, []
        return 422, "Invalid input", "the request has invalid fields", {"errors": errors}, []
    title = "Malformed request" if error.code == 400 else error.name
    headers = [(name, value) for name, value in error.get_headers() if name in KEPT_HEADERS]
    return error.code or 500, title, error.description, {}, headers
