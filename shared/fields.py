"""Marshmallow fields shared by services and the gateway."""
from marshmallow import fields


class WireDateTime(fields.DateTime):
    """A datetime that may already be on the wire as an ISO 8601 string.

    Services answer RPC calls with JSON-safe dicts, and the gateway dumps
    them again through the same schema for the HTTP answer; a string that is
    already ISO 8601 passes through unchanged.
    """

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, str):
            return value
        return super()._serialize(value, attr, obj, **kwargs)
