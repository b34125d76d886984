from importlib.metadata import entry_points

from crm_plugin_example.assignment import LeastLoaded
from services.leads.domain import AssignmentFacts, Rep


def rep(user_id, open_leads, team="t1", active=True):
    return Rep(user_id=user_id, team_id=team, territory=None, segments=(), sources=(),
               active=active, open_leads=open_leads)


def test_registered_under_the_leads_assignment_extension_point():
    names = {ep.name: ep.value for ep in entry_points(group="crm.leads.assignment")}
    assert names["least_loaded"] == "crm_plugin_example.assignment:LeastLoaded"


def test_picks_the_active_team_member_with_fewest_open_leads():
    lead = AssignmentFacts(territory=None, segment=None, source="web_form", team_id="t1")
    reps = [rep("a", 5), rep("b", 2), rep("c", 0, active=False), rep("d", 1, team="t2")]
    chosen, cursor = LeastLoaded().choose(lead, reps, None)
    assert chosen.user_id == "b" and cursor == "b"


def test_no_candidate_keeps_the_cursor():
    lead = AssignmentFacts(territory=None, segment=None, source=None, team_id="t9")
    assert LeastLoaded().choose(lead, [rep("a", 0)], "x") == (None, "x")
