"""Give the lead to the active rep with the fewest open leads.

A plugin implements the same small protocol as the built-in strategies
(``services.leads.domain.AssignmentStrategy``): a ``name`` and a pure
``choose(lead, reps, cursor) -> (rep or None, new cursor)``.
"""
from __future__ import annotations


class LeastLoaded:
    name = "least_loaded"

    def choose(self, lead, reps, cursor):
        team = [r for r in reps if r.active and (lead.team_id is None or r.team_id == lead.team_id)]
        if not team:
            return None, cursor
        chosen = min(team, key=lambda r: (r.open_leads, r.user_id))
        return chosen, chosen.user_id
