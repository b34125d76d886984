"""Lead assignment: the extension point and the built-in strategies.

A strategy is pure: given the lead's facts, the candidate reps and its
persisted cursor (the last rep it chose), it returns the rep to assign (or
None) and the new cursor, which the service stores with the rule.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence


@dataclass(frozen=True)
class Rep:
    user_id: str
    team_id: str | None
    territory: str | None
    segments: tuple[str, ...]
    sources: tuple[str, ...]
    active: bool
    open_leads: int


@dataclass(frozen=True)
class AssignmentFacts:
    territory: str | None
    segment: str | None
    source: str | None
    team_id: str | None


class AssignmentStrategy(Protocol):
    name: str

    def choose(self, lead: AssignmentFacts, reps: Sequence[Rep],
               cursor: str | None) -> tuple[Rep | None, str | None]:
        ...


def round_robin(candidates: Sequence[Rep], cursor: str | None) -> tuple[Rep | None, str | None]:
    """The candidate after ``cursor`` in user-id order, wrapping around."""
    ordered = sorted(candidates, key=lambda r: r.user_id)
    if not ordered:
        return None, cursor
    chosen = next((r for r in ordered if cursor is None or r.user_id > cursor), ordered[0])
    return chosen, chosen.user_id


class _Filtered:
    name = ""
    fits: Callable[[AssignmentFacts, Rep], bool]

    def choose(self, lead, reps, cursor):
        return round_robin([r for r in reps if r.active and self.fits(lead, r)], cursor)


class RoundRobinInTeam(_Filtered):
    name = "round_robin"

    @staticmethod
    def fits(lead, rep):
        return lead.team_id is None or rep.team_id == lead.team_id


class ByTerritory(_Filtered):
    name = "territory"

    @staticmethod
    def fits(lead, rep):
        return lead.territory is not None and rep.territory == lead.territory


class BySegment(_Filtered):
    name = "segment"

    @staticmethod
    def fits(lead, rep):
        return lead.segment is not None and lead.segment in rep.segments


class BySource(_Filtered):
    name = "source"

    @staticmethod
    def fits(lead, rep):
        return lead.source is not None and lead.source in rep.sources
