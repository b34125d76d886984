"""Who may do what: the one authorization table of the suite.

Every use case asks this module, and the gateway refuses at the edge the
roles that have no reach at all for a route's action. The table is data
(``POLICY``): for each ``resource.action`` and role, how far the caller
reaches among the records:

- ``OWN``: records the caller owns (``owner_id``);
- ``TEAM``: those, and records of the caller's team (``team_id``); a
  manager without a team reaches only their own;
- ``PARTNER``: records that came through the caller's partner (``partner_id``);
- ``ALL``: every record.

A role not named for an action may not do it. The README shows the table;
``tests`` generate the authorization matrix from it.
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Mapping

from shared.caller import Caller, Role
from shared.errors import Forbidden


class Reach(Enum):
    OWN = "own"
    TEAM = "own team"
    PARTNER = "own partner's"
    ALL = "all"


R, M, A, P, O, F, S, T = (Role.REP, Role.MANAGER, Role.ADMIN, Role.PARTNER, Role.OPS,
                          Role.FINANCE, Role.SUPPORT, Role.TECHNICIAN)
OWN, TEAM, PARTNER, ALL = Reach.OWN, Reach.TEAM, Reach.PARTNER, Reach.ALL

_READ_OWNED = {R: OWN, M: TEAM, A: ALL, O: ALL, P: PARTNER}
_WRITE_OWNED = {R: OWN, M: TEAM, A: ALL}
_INTERNAL_READ_ALL = {R: ALL, M: ALL, A: ALL, O: ALL, F: ALL, S: ALL}

POLICY: dict[str, dict[Role, Reach]] = {
    # leads
    "lead.read": _READ_OWNED,
    "lead.create": {R: OWN, M: TEAM, A: ALL, P: PARTNER},
    "lead.update": _WRITE_OWNED,
    "lead.assign": {M: TEAM, A: ALL},
    "lead.import": _WRITE_OWNED,
    "lead_pool.read": {R: ALL, M: ALL, A: ALL, O: ALL},
    "lead_pool.claim": {R: ALL, M: ALL},
    "assignment_rule.read": {M: TEAM, A: ALL, O: ALL},
    "assignment_rule.write": {M: TEAM, A: ALL},
    "activity.read": {R: OWN, M: TEAM, A: ALL, O: ALL},
    "activity.write": _WRITE_OWNED,
    "calendar.read": {R: OWN, M: OWN, A: OWN},
    # sales
    "account.read": {**_READ_OWNED, F: ALL, S: ALL},
    "account.write": _WRITE_OWNED,
    "contact.read": {**_READ_OWNED, F: ALL, S: ALL},
    "contact.write": _WRITE_OWNED,
    "product.read": _INTERNAL_READ_ALL,
    "product.write": {M: ALL, A: ALL},
    "cost.read": {R: ALL, M: ALL, A: ALL, O: ALL, F: ALL},
    "pipeline.read": {R: ALL, M: ALL, A: ALL, O: ALL},
    "pipeline.write": {A: ALL},
    "opportunity.read": _READ_OWNED,
    "opportunity.write": _WRITE_OWNED,
    "quote.read": _READ_OWNED,
    "quote.write": _WRITE_OWNED,
    "contract.read": {**_READ_OWNED, F: ALL},
    "contract.write": _WRITE_OWNED,
    "sales_activity.read": {R: OWN, M: TEAM, A: ALL, O: ALL},
    "sales_activity.write": _WRITE_OWNED,
    "selection.read": {R: OWN, M: TEAM, A: ALL, O: ALL},
    "selection.write": _WRITE_OWNED,
    "target.read": {R: OWN, M: TEAM, A: ALL, O: ALL},
    "target.write": _WRITE_OWNED,
    "target.approve": {M: TEAM, A: ALL},
    # finance
    "invoice.read": {**_READ_OWNED, F: ALL},
    "invoice.write": {A: ALL, F: ALL},
    "receivable_plan.read": {**_READ_OWNED, F: ALL},
    "payment.read": {**_READ_OWNED, F: ALL},
    "payment.write": {A: ALL, F: ALL},
    "credit_note.read": {**_READ_OWNED, F: ALL},
    "credit_note.write": {A: ALL, F: ALL},
    "exchange_rate.read": _INTERNAL_READ_ALL,
    "exchange_rate.write": {A: ALL, F: ALL},
    # the gateway's identity directory
    "identity.read": {A: ALL, O: ALL},
    "identity.write": {A: ALL},
    "me.read": {role: ALL for role in Role},
}

# Actions where the person who wrote a record may not also pass it.
FOUR_EYES = frozenset({"target.approve"})


def rule(action: str) -> Mapping[Role, Reach]:
    try:
        return POLICY[action]
    except KeyError:
        raise LookupError(f"no policy entry for {action!r}") from None


def reach(caller: Caller, action: str) -> Reach | None:
    """How far ``caller`` reaches for ``action``; None when not at all."""
    return rule(action).get(caller.role) if caller.role else None


def roles_for(action: str) -> tuple[str, ...]:
    return tuple(role.value for role in rule(action))


def covers(caller: Caller, scope: Reach | None, owner_id: str | None, team_id: str | None,
           partner_id: str | None) -> bool:
    """Whether ``scope`` of ``caller`` takes in a record owned so."""
    if scope is Reach.ALL:
        return True
    own = caller.user_id is not None and owner_id == caller.user_id
    if scope is Reach.OWN:
        return own
    if scope is Reach.TEAM:
        return own or (caller.team_id is not None and team_id == caller.team_id)
    if scope is Reach.PARTNER:
        return caller.partner_id is not None and partner_id == caller.partner_id
    return False


def allows(caller: Caller, action: str, record: Any = None) -> bool:
    """Whether ``caller`` may do ``action``; on ``record`` (anything with
    ``owner_id``/``team_id``/``partner_id`` attributes or keys) when given."""
    scope = reach(caller, action)
    if scope is None:
        return False
    if record is None:
        return True
    return covers(caller, scope, *_ownership(record))


def require(caller: Caller, action: str, record: Any = None) -> None:
    """Raise :class:`Forbidden` unless ``caller`` may do ``action`` (on ``record``)."""
    if not allows(caller, action, record):
        allowed = ", ".join(f"{role.value} ({scope.value})" for role, scope in rule(action).items())
        raise Forbidden(f"{_name(caller)} may not {_verb(action)}; allowed: {allowed}",
                        extra={"action": action})


def require_within_reach(caller: Caller, action: str, ownership: Mapping[str, Any],
                         field: str = "owner_id") -> None:
    """Refuse (403, naming ``field``) to give a record owned so to someone beyond
    ``caller``'s reach for ``action``: a rep may name only themselves, a manager
    their own team. A caller with no reach at all is told who may."""
    if allows(caller, action, ownership):
        return
    require(caller, action)
    raise Forbidden(f"{ownership.get('owner_id') or 'that owner'} is beyond your reach for {_verb(action)}",
                    errors={field: "beyond your reach"}, extra={"action": action})


def require_other_person(caller: Caller, action: str, author_id: str | None) -> None:
    """Four eyes: the author of a record may not pass it themselves."""
    if action in FOUR_EYES and author_id is not None and author_id == caller.user_id:
        raise Forbidden(f"{_verb(action)} needs another person than its author",
                        extra={"action": action})


def _ownership(record: Any) -> tuple[str | None, str | None, str | None]:
    if isinstance(record, Mapping):
        return record.get("owner_id"), record.get("team_id"), record.get("partner_id")
    return (getattr(record, "owner_id", None), getattr(record, "team_id", None),
            getattr(record, "partner_id", None))


def _name(caller: Caller) -> str:
    return f"role {caller.role.value!r}" if caller.role else "an unknown role"


def _verb(action: str) -> str:
    resource, _, verb = action.partition(".")
    return f"{verb} {resource.replace('_', ' ')}"


def table() -> list[tuple[str, dict[str, str]]]:
    """The policy as rows for documentation: action -> {role: reach}."""
    return [(action, {role.value: scope.value for role, scope in entry.items()})
            for action, entry in POLICY.items()]
