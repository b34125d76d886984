"""Marshmallow fields shared by services and the gateway, bounded by default.

Import this module in place of ``marshmallow.fields`` (``from shared import
fields``): every marshmallow field is here, and those that take unbounded
input are replaced by bounded ones, so a schema is bounded unless it says
otherwise:

- ``String`` (and ``Email``): at most ``MAX_STRING`` characters unless the
  field has its own maximum ``Length``; only JSON strings; no NUL character and no
  lone surrogate (neither survives a database or a UTF-8 encoder);
- ``List`` and ``Dict``: at most ``MAX_ITEMS`` items unless the field has its
  own maximum ``Length``, counted before any item is read;
- ``Integer``: within a PostgreSQL integer on each side the field's own ``Range``
  leaves open;
- ``Decimal``: finite, at most ``max_digits`` digits and no more decimal
  places than ``places`` (refused, not rounded); a JSON number is read as
  written (``0.1`` is 0.1), never as its binary approximation;
- ``Money``: a ``Decimal`` of at most 15 digits and 2 places, a decimal string in and
  out (a JSON number is refused: it may already have been a binary float);
- ``Date``, ``DateTime``, ``AwareDateTime``: years 1900 to 2999; an offset is
  converted to UTC; on output a time always carries its offset (a naive one is UTC).

Limits apply when loading input; dumping an answer never fails on them.
:func:`utc_dump` dumps a service's answer with its times in UTC.
"""
from __future__ import annotations

import decimal as _decimal
import math
import re
from datetime import datetime as _datetime, timezone as _timezone
from typing import Any as _Any, Iterable as _Iterable

from marshmallow import fields as _ma, validate as _validate
from marshmallow.fields import *  # noqa: F401,F403  (this module stands in for marshmallow.fields)

from shared.bounds import MAX_DEPTH, MAX_INT, MAX_ITEMS, MAX_STRING, MAX_YEAR, MIN_YEAR, MONEY_DIGITS, \
    MONEY_PLACES
from shared.db import as_utc

_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_RANGE_MESSAGE = f"must be between the years {MIN_YEAR} and {MAX_YEAR}"


def clean_text(value: str) -> str | None:
    """Why ``value`` cannot be stored, or None: a NUL character or a lone surrogate."""
    found = _BAD_CHARACTERS.search(value)
    if found is None:
        return None
    return "contains a NUL character" if found.group() == "\x00" else "contains a lone surrogate"


def _max_length(field: _ma.Field) -> int | None:
    lengths = [v.max for v in field.validators if isinstance(v, _validate.Length) and v.max is not None]
    return min(lengths) if lengths else None


class _Text:
    """A string field that refuses NUL and lone surrogates and is never unbounded."""

    default_max = MAX_STRING

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if _max_length(self) is None:
            self.validators.append(_validate.Length(max=self.default_max))

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = clean_text(text)
        if problem:
            raise _ma.ValidationError(problem)
        return text


class String(_Text, _ma.String):
    pass


class Email(_Text, _ma.Email):
    default_max = 254


class DefaultCap(_validate.Length):
    """The cap a container gets when it states none. Input is held to it; the
    OpenAPI document leaves it out, since answers (a contract's schedule, a
    page of 500) may hold more than one request may send."""


class _Counted:
    """A container field whose size is checked before its items are read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if _max_length(self) is None:
            self.validators.append(DefaultCap(max=MAX_ITEMS))

    def _deserialize(self, value, attr, data, **kwargs):
        limit = _max_length(self)
        if limit is not None and hasattr(value, "__len__") and len(value) > limit:
            raise _ma.ValidationError(f"at most {limit} items")
        return super()._deserialize(value, attr, data, **kwargs)


class List(_Counted, _ma.List):
    pass


class Dict(_Counted, _ma.Dict):
    """A dict with bounded string keys; values without a field of their own may be
    any JSON of bounded depth, with clean strings."""

    def __init__(self, keys=None, values=None, **kwargs):
        super().__init__(keys=keys if keys is not None else String(validate=_validate.Length(max=200)),
                         values=values, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if self.value_field is None:
            _check_json(result)
        return result


def _check_json(value) -> None:
    """Depth and strings of free JSON, iteratively (no recursion to exhaust)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _ma.ValidationError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            problem = clean_text(item)
            if problem:
                raise _ma.ValidationError(problem)
        elif isinstance(item, float) and not math.isfinite(item):
            raise _ma.ValidationError("not a finite number")
        elif isinstance(item, dict):
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


class Integer(_ma.Integer):
    """An integer within a PostgreSQL integer unless the field states its own ``Range``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ranges = [v for v in self.validators if isinstance(v, _validate.Range)]
        if not any(r.min is not None for r in ranges):
            self.validators.append(_validate.Range(min=-MAX_INT))
        if not any(r.max is not None for r in ranges):
            self.validators.append(_validate.Range(max=MAX_INT))

    def _validated(self, value):
        try:
            return super()._validated(value)
        except OverflowError:  # int(float("inf"))
            raise self.make_error("invalid") from None


Int = Integer


class Decimal(_ma.Decimal):
    """A finite decimal of at most ``max_digits`` digits and no more than ``places``
    decimal places (more are refused: rounding would change what was sent)."""

    def __init__(self, places: int | None = None, *, max_digits: int = MONEY_DIGITS, **kwargs):
        super().__init__(places=places, **kwargs)
        self.max_digits = max_digits
        self.decimal_places = places

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, float):
            value = repr(value)  # the number as written in the JSON
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            try:
                number = _decimal.Decimal(value)
            except (_decimal.InvalidOperation, ValueError):
                number = None
            if number is not None and number.is_finite():
                self._check_size(number)
        return super()._deserialize(value, attr, data, **kwargs)

    def _check_size(self, number: _decimal.Decimal) -> None:
        places = self.decimal_places or 0
        if self.decimal_places is not None and number != 0 \
                and number.normalize().as_tuple().exponent < -places:
            raise _ma.ValidationError(f"at most {places} decimal places")
        if number != 0 and number.adjusted() >= self.max_digits - places:
            raise _ma.ValidationError(f"at most {self.max_digits - places} digits before the decimal point")


MONEY_AS_STRING = 'send money as a decimal string, e.g. "12.50"'


class _Money(Decimal):
    """An amount: only a decimal string in JSON. A JSON number is refused: many
    clients have already turned it into a binary float before sending it."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise _ma.ValidationError(MONEY_AS_STRING)
        return super()._deserialize(value, attr, data, **kwargs)


def Money(**kwargs) -> Decimal:
    """An amount: a decimal string in JSON, in and out (a JSON number is refused)."""
    kwargs.setdefault("as_string", True)
    return _Money(places=MONEY_PLACES, max_digits=MONEY_DIGITS, **kwargs)


class Date(_ma.Date):
    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= result.year <= MAX_YEAR:
            raise _ma.ValidationError(_RANGE_MESSAGE)
        return result


class _Instant:
    """A datetime within the accepted years; one with an offset is converted to UTC."""

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if not MIN_YEAR <= result.year <= MAX_YEAR:
            raise _ma.ValidationError(_RANGE_MESSAGE)
        if result.tzinfo is not None:
            try:
                result = result.astimezone(_timezone.utc)
            except OverflowError:
                raise _ma.ValidationError(_RANGE_MESSAGE) from None
            if not MIN_YEAR <= result.year <= MAX_YEAR:
                raise _ma.ValidationError(_RANGE_MESSAGE)
        return result


    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, _datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=_timezone.utc)  # every time we keep is UTC
        return super()._serialize(value, attr, obj, **kwargs)


class DateTime(_Instant, _ma.DateTime):
    pass


class AwareDateTime(_Instant, _ma.AwareDateTime):
    pass


class NaiveDateTime(_Instant, _ma.NaiveDateTime):
    pass


class WireDateTime(_ma.DateTime):
    """A datetime that may already be on the wire as an ISO 8601 string.

    Services answer RPC calls with JSON-safe dicts, and the gateway dumps
    them again through the same schema for the HTTP answer; a string that is
    already ISO 8601 passes through unchanged.
    """

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, str):
            return value
        if isinstance(value, _datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=_timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)


def utc_dump(schema, obj, time_fields: _Iterable[str] | None = None) -> dict[str, _Any]:
    """Dump ``obj`` through ``schema`` with its times as aware UTC ISO 8601 (a naive time set
    in code is UTC, an aware one is converted); ``time_fields`` are the schema's own
    date-time fields unless given. Reads ``obj``, never changes it (an ORM record stays clean)."""
    data = schema.dump(obj)
    if time_fields is None:
        time_fields = [name for name, field in schema.dump_fields.items() if isinstance(field, _ma.DateTime)]
    for name in time_fields:
        value = as_utc(getattr(obj, name))
        data[name] = value.isoformat() if value is not None else None
    return data


BOUNDED = (String, Email, List, Dict, Integer, Decimal, Date, DateTime, AwareDateTime, NaiveDateTime)
# Fields whose input is bounded by nature.
NATURALLY_BOUNDED = (_ma.Boolean, _ma.Time, _ma.Nested, _ma.Constant)


def unbounded_fields(schema, path: str = "") -> list[str]:
    """The input fields of ``schema`` (and its nested schemas) that are not bounded
    types; the guard test asserts there are none."""
    found = []
    for name, field in schema.load_fields.items():
        where = f"{path}{name}"
        found.extend(_unbounded(field, where))
    return found


def _unbounded(field, where: str) -> list[str]:
    if isinstance(field, _ma.Nested):
        return unbounded_fields(field.schema, f"{where}.")
    if isinstance(field, _ma.List):
        inner = _unbounded(field.inner, f"{where}[]")
        return inner + ([] if isinstance(field, List) else [where])
    if isinstance(field, _ma.Dict):
        inner = []
        for part, sub in (("keys", field.key_field), ("values", field.value_field)):
            if sub is not None:
                inner += _unbounded(sub, f"{where}.{part}")
        return inner + ([] if isinstance(field, Dict) else [where])
    if isinstance(field, BOUNDED) or isinstance(field, NATURALLY_BOUNDED):
        return []
    return [where]


__all__ = [name for name in dir(_ma) if not name.startswith("_") and isinstance(getattr(_ma, name), type)] + [
    "Money", "WireDateTime", "clean_text", "unbounded_fields", "utc_dump"]
