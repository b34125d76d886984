"""The gateway's public face on the bus: the event it publishes when a user changes.

Consumers read it from the exported documents (``docs/contracts/``,
``crm contracts export``), never from this module.
"""
from __future__ import annotations

from marshmallow import fields

from shared.events import EventContract, PayloadSchema, Str

# --- Events published ----------------------------------------------------------


class UserChanged(PayloadSchema):
    user_id = fields.String(required=True)
    name = Str()
    role = fields.String(required=True)
    team_id = Str()
    branch_id = Str()
    partner_id = Str()
    territory = Str()
    segments = fields.List(fields.String(), load_default=list)
    sources = fields.List(fields.String(), load_default=list)
    active = fields.Boolean(required=True)


PUBLISHED_EVENTS = (
    EventContract("gateway.user_changed", 1, UserChanged,
                  "A user was created or changed (role, team, reach, deactivation): the whole user as it is now."),
)
