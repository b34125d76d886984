"""The policy table and the typed caller, without I/O."""
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from shared import policy
from shared.caller import ROLES, Caller, Role
from shared.errors import Forbidden

README = Path(__file__).resolve().parents[2] / "README.md"


def caller(role, user="u1", team="t1", partner=None):
    return Caller(user_id=user, role=Role(role) if role else None, team_id=team, partner_id=partner)


def record(owner=None, team=None, partner=None):
    return {"owner_id": owner, "team_id": team, "partner_id": partner}


def test_a_context_becomes_a_typed_caller_and_back():
    context = {"user_id": "u1", "role": "manager", "team_id": "t1", "name": "Ann", "request_id": "r"}
    made = Caller.from_context(context)
    assert made.role is Role.MANAGER and made.team_id == "t1"
    assert Caller.from_context(made) is made
    assert Caller.from_context(made.to_context()) == made


@pytest.mark.parametrize("role", ["root", None, "", "ADMIN"])
def test_an_unknown_role_is_allowed_nothing(role):
    stranger = Caller.from_context({"user_id": "u1", "role": role})
    assert stranger.role is None
    assert not any(policy.allows(stranger, action) for action in policy.POLICY)
    with pytest.raises(Forbidden):
        policy.require(stranger, "lead.read")


def test_reach_own_team_partner_all():
    rep, manager, admin = caller("rep"), caller("manager"), caller("admin")
    assert policy.allows(rep, "lead.update", record(owner="u1"))
    assert not policy.allows(rep, "lead.update", record(owner="u2", team="t1"))
    assert policy.allows(manager, "lead.update", record(owner="u2", team="t1"))
    assert not policy.allows(manager, "lead.update", record(owner="u2", team="t2"))
    assert policy.allows(admin, "lead.update", record(owner="u9", team="t9"))
    partner = caller("partner", team=None, partner="p1")
    assert policy.allows(partner, "lead.read", record(partner="p1"))
    assert not policy.allows(partner, "lead.read", record(partner="p2"))
    assert not policy.allows(partner, "lead.update", record(partner="p1"))


def test_a_manager_without_a_team_reaches_only_own_records():
    loner = caller("manager", team=None)
    assert not policy.allows(loner, "account.write", record(owner="u2", team=None))
    assert policy.allows(loner, "account.write", record(owner="u1", team=None))


def test_a_partner_without_a_partner_reaches_nothing():
    assert not policy.allows(caller("partner", team=None, partner=None), "lead.read", record(partner=None))


def test_ops_only_reads():
    ops = caller("ops")
    writes = [a for a in policy.POLICY if not a.endswith((".read",))]
    assert not any(policy.allows(ops, action) for action in writes)
    assert policy.allows(ops, "lead.read", record(owner="anyone"))


def test_four_eyes_on_approval():
    manager = caller("manager")
    with pytest.raises(Forbidden, match="another person"):
        policy.require_other_person(manager, "target.approve", author_id="u1")
    policy.require_other_person(manager, "target.approve", author_id="u2")


def test_the_refusal_names_who_may():
    with pytest.raises(Forbidden) as refused:
        policy.require(caller("rep"), "pipeline.write")
    assert "admin" in refused.value.detail and refused.value.extra["action"] == "pipeline.write"


def test_an_action_missing_from_the_table_is_a_programming_error():
    with pytest.raises(LookupError):
        policy.allows(caller("admin"), "lead.teleport")


@given(role=st.sampled_from(ROLES), action=st.sampled_from(sorted(policy.POLICY)),
       owner=st.sampled_from(["u1", "u2", None]), team=st.sampled_from(["t1", "t2", None]),
       partner=st.sampled_from(["p1", "p2", None]))
def test_reach_never_exceeds_all_and_record_checks_imply_the_role_may(role, action, owner, team, partner):
    who = caller(role, partner="p1" if role == "partner" else None)
    on_record = policy.allows(who, action, record(owner, team, partner))
    assert not on_record or policy.allows(who, action)
    if policy.reach(who, action) is policy.Reach.ALL:
        assert on_record


def test_the_readme_shows_the_policy_table_as_it_is():
    text = README.read_text()
    for action, reaches in policy.table():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{action}` |")), None)
        assert row is not None, f"README has no row for {action}"
        cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert cells == [reaches.get(role, "") for role in ROLES], f"README row of {action} is stale"


def test_giving_a_record_beyond_reach_is_refused_naming_the_field():
    manager = caller("manager")
    policy.require_within_reach(manager, "lead.create", record(owner="u2", team="t1"))
    with pytest.raises(Forbidden) as refused:
        policy.require_within_reach(manager, "lead.create", record(owner="u2", team="t2"), "owner_ids")
    assert refused.value.errors == {"owner_ids": "beyond your reach"}
    with pytest.raises(Forbidden, match="allowed"):  # no reach at all: told who may
        policy.require_within_reach(caller("ops"), "lead.create", record(owner="u1", team="t1"))
