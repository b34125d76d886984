"""Who is calling: one typed value, built once at the service boundary.

The gateway sends the caller context as the first argument of every RPC
call; the kernel's ``@rpc`` entrypoint turns it into a :class:`Caller` before
the worker runs, so use cases never look roles up by string in a dict.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Mapping


class Role(StrEnum):
    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"
    PARTNER = "partner"
    OPS = "ops"
    FINANCE = "finance"
    SUPPORT = "support"
    TECHNICIAN = "technician"


ROLES: tuple[str, ...] = tuple(role.value for role in Role)


@dataclass(frozen=True)
class Caller:
    """The person (or system) on whose behalf a use case runs.

    ``role`` is None for a context that names no known role: the policy
    then allows nothing.
    """

    user_id: str | None
    role: Role | None
    name: str | None = None
    team_id: str | None = None
    branch_id: str | None = None
    partner_id: str | None = None
    request_id: str | None = None

    @classmethod
    def from_context(cls, context: "Caller | Mapping[str, Any] | None") -> "Caller":
        """A caller from the context dict sent over RPC; unknown roles become None."""
        if isinstance(context, Caller):
            return context
        context = context or {}
        try:
            role = Role(context.get("role"))
        except ValueError:
            role = None
        return cls(user_id=context.get("user_id"), role=role, name=context.get("name"),
                   team_id=context.get("team_id"), branch_id=context.get("branch_id"),
                   partner_id=context.get("partner_id"), request_id=context.get("request_id"))

    @classmethod
    def system(cls) -> "Caller":
        """The service itself, for timers and housekeeping (no person behind it)."""
        return cls(user_id=None, role=Role.ADMIN, name="system")

    def to_context(self) -> dict[str, Any]:
        """The context dict as it travels over RPC (JSON-safe)."""
        data = asdict(self)
        data["role"] = self.role.value if self.role else None
        return data

    def is_(self, *roles: Role) -> bool:
        return self.role in roles
