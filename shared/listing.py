"""What every service's lists and inputs share: strict input schemas, paging and
sorting parameters, and the sort and count of a list query."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, validate
from sqlalchemy import Select, func, select

from shared import fields
from shared.bounds import MAX_OFFSET
from shared.errors import Invalid


class Strict(Schema):
    """An input schema that refuses fields it does not know."""

    class Meta:
        unknown = "raise"


class Page(Strict):
    """``limit`` and ``offset`` of a list."""
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))


def sort_field(allowed: tuple[str, ...], default: str):
    """The ``sort`` parameter of a list: a field, or -field for descending."""
    choices = [*allowed, *(f"-{name}" for name in allowed)]
    return fields.String(load_default=default, validate=validate.OneOf(choices),
                         metadata={"description": "a field, with - for descending"})


def load(schema: Schema, data: dict) -> dict:
    """Validate RPC input again inside the service (callers other than the gateway
    exist); a bad field is a 422 naming it."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise Invalid("some fields are not valid", errors=exc.messages) from None


def ordering(model, sort: str | None, allowed: tuple[str, ...], default: str) -> tuple:
    """``name`` or ``-name`` (descending) among ``allowed``, then the id so pages are stable."""
    sort = sort or default
    name = sort.lstrip("-")
    if name not in allowed:
        raise Invalid(f"cannot sort by {name!r}", errors={"sort": f"one of {', '.join(allowed)}, optionally with -"})
    column = getattr(model, name)
    return (column.desc() if sort.startswith("-") else column, model.id)


def count(session, query: Select) -> int:
    """How many rows ``query`` has, whatever its order."""
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
