"""Request and response schemas of the gateway's own (identity) endpoints."""
from marshmallow import Schema, validate

from gateway.identity import ROLES
from shared import fields
from shared.bounds import MAX_OFFSET


class Strict(Schema):
    class Meta:
        unknown = "raise"


class Named(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TeamIn(Named):
    branch_id = fields.String(allow_none=True)


class Entity(Schema):
    id = fields.String()
    name = fields.String()
    branch_id = fields.String(allow_none=True)
    active = fields.Boolean()
    created_at = fields.DateTime()


class UserIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(allow_none=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    team_id = fields.String(allow_none=True)
    branch_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    territory = fields.String(allow_none=True)
    segments = fields.List(fields.String())
    sources = fields.List(fields.String())


class UserPatch(UserIn):
    name = fields.String(validate=validate.Length(min=1, max=200))
    role = fields.String(validate=validate.OneOf(ROLES))
    active = fields.Boolean()


class UserOut(Schema):
    id = fields.String()
    name = fields.String()
    email = fields.String(allow_none=True)
    role = fields.String()
    team_id = fields.String(allow_none=True)
    branch_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    territory = fields.String(allow_none=True)
    segments = fields.List(fields.String())
    sources = fields.List(fields.String())
    active = fields.Boolean()
    created_at = fields.DateTime()


class ApiKeyIn(Strict):
    user_id = fields.String(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class ApiKeyOut(Schema):
    id = fields.String()
    user_id = fields.String()
    name = fields.String()
    prefix = fields.String(metadata={"description": "the start of the key, to tell keys apart"})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeyCreated(ApiKeyOut):
    key = fields.String(metadata={"description": "the full key; shown only in this answer "
                                                 "(an Idempotency-Key replay leaves it out)"})


class PageArgs(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))


class ApiKeyQuery(PageArgs):
    user_id = fields.String()


class Caller(Schema):
    user_id = fields.String()
    name = fields.String()
    role = fields.String()
    team_id = fields.String(allow_none=True)
    branch_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    request_id = fields.String()
