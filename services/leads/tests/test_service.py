"""The leads service's use cases through its entrypoints, on a real PostgreSQL database."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from services.leads.models import AssignmentRule, Lead, Rep, metadata
from services.leads.tests.conftest import ADMIN, person
from shared.errors import Conflict, Forbidden, Invalid, NotFound

outbox = metadata.tables["outbox"]


def events(engine, event_type=None):
    with engine.connect() as conn:
        rows = conn.execute(select(outbox.c.event_type, outbox.c.body).order_by(outbox.c.id)).all()
    found = [(t, json.loads(b)) for t, b in rows]
    return [m for t, m in found if event_type in (None, t)]


def test_create_lead_stores_it_and_emits_lead_created(service, leads_db):
    lead = service.create_lead(ADMIN, {"company": "Acme Sp. z o.o.", "email": "Jan@Acme.PL",
                                       "source": "web_form", "estimated_value": "1200.50",
                                       "currency": "PLN", "segment": "smb"})
    assert lead["status"] == "new" and lead["in_pool"] is True and lead["score"] > 0
    assert lead["estimated_value"] == "1200.50"
    [created] = events(leads_db, "leads.lead_created")
    assert created["payload"]["lead_id"] == lead["id"]
    assert created["payload"]["estimated_value"] == "1200.50"
    assert created["producer"] == "leads" and created["version"] == 1


def test_duplicate_by_normalised_email_phone_or_company_is_refused(service, leads_db):
    first = service.create_lead(ADMIN, {"company": "Globex Inc.", "email": "a@globex.com",
                                        "phone": "+48 22 555 01 02"})
    for clash in ({"company": "Other", "email": " A@GLOBEX.com "},
                  {"company": "Other 2", "phone": "0048 22-555-01-02"},
                  {"company": "globex"}):
        with pytest.raises(Conflict) as caught:
            service.create_lead(ADMIN, clash)
        assert caught.value.extra["existing_lead_id"] == first["id"]
    assert len(events(leads_db, "leads.lead_created")) == 1


def test_status_transitions_and_conversion(service, leads_db):
    rep = person("rep-1", team_id="team-a")
    lead = service.create_lead(rep, {"company": "Initech"})
    assert lead["owner_id"] == "rep-1"
    with pytest.raises(Conflict) as caught:
        service.convert_lead(rep, lead["id"])
    assert "qualified" in caught.value.detail
    service.change_status(rep, lead["id"], "contacted")
    service.change_status(rep, lead["id"], "qualified")
    converted = service.convert_lead(rep, lead["id"])
    assert converted["status"] == "converted"
    [event] = events(leads_db, "leads.lead_converted")
    assert event["payload"]["company"] == "Initech" and event["payload"]["owner_id"] == "rep-1"
    with pytest.raises(Conflict):
        service.update_lead(rep, lead["id"], {"notes": "late", "version": converted["version"]})
    with pytest.raises(Conflict) as caught:
        service.change_status(rep, lead["id"], "new")
    assert caught.value.extra["allowed"] == []


def test_disqualify_needs_a_reason_and_reopen_clears_it(service):
    lead = service.create_lead(ADMIN, {"company": "Hooli"})
    with pytest.raises(Invalid):
        service.change_status(ADMIN, lead["id"], "disqualified", "")
    out = service.change_status(ADMIN, lead["id"], "disqualified", "no budget")
    assert out["disqualify_reason"] == "no budget"
    assert service.change_status(ADMIN, lead["id"], "prospect")["status"] == "new"


def test_stale_version_is_a_conflict(service):
    lead = service.create_lead(ADMIN, {"company": "Vandelay"})
    service.update_lead(ADMIN, lead["id"], {"notes": "first", "version": lead["version"]})
    with pytest.raises(Conflict) as caught:
        service.update_lead(ADMIN, lead["id"], {"notes": "second", "version": lead["version"]})
    assert caught.value.extra["current_version"] == lead["version"] + 1


def test_scoping_rep_manager_partner(service, roster):
    alice, bob = roster("alice", "team-a"), roster("bob", "team-b")
    manager_a = roster("mgr-a", "team-a", role="manager")
    partner = person("p-user", "partner", partner_id="partner-1")
    other_partner = person("p2", "partner", partner_id="partner-2")
    mine = service.create_lead(alice, {"company": "Alice Co"})
    theirs = service.create_lead(bob, {"company": "Bob Co"})
    submitted = service.create_lead(partner, {"company": "Partner Co"})
    assert submitted["partner_id"] == "partner-1" and submitted["source"] == "partner"

    def visible(caller):
        return {lead["company"] for lead in service.list_leads(caller, {}, "-created_at", 50, 0)["items"]}

    def pool(caller):
        return {lead["company"] for lead in service.list_pool(caller, {}, "-created_at", 50, 0)["items"]}

    assert visible(alice) == {"Alice Co"}                        # own; the pool through its own route
    assert visible(manager_a) == {"Alice Co"}                    # the team's
    assert pool(alice) == pool(manager_a) == {"Partner Co"}
    assert visible(partner) == {"Partner Co"}
    assert visible(other_partner) == set()
    assert visible(ADMIN) == {"Alice Co", "Bob Co", "Partner Co"}
    with pytest.raises(NotFound):
        service.get_lead(alice, theirs["id"])
    with pytest.raises(NotFound):
        service.get_lead(other_partner, submitted["id"])
    with pytest.raises(Forbidden):
        service.change_status(partner, submitted["id"], "contacted")
    assert service.get_lead(alice, mine["id"])["id"] == mine["id"]


def test_pool_claim_with_cap_release_and_stale_return(make_service, roster, leads_db):
    service = make_service(pool_claim_cap=1)
    alice = roster("alice")
    first = service.create_lead(ADMIN, {"company": "Pool One"})
    second = service.create_lead(ADMIN, {"company": "Pool Two"})
    assert {l["id"] for l in service.list_pool(alice, {}, "-created_at", 50, 0)["items"]} == {first["id"], second["id"]}
    assert service.claim_lead(alice, first["id"])["owner_id"] == "alice"
    with pytest.raises(Conflict, match="cap"):
        service.claim_lead(alice, second["id"])
    with pytest.raises(Conflict):
        service.claim_lead(alice, first["id"])
    assert service.release_lead(alice, first["id"])["in_pool"] is True
    service.claim_lead(alice, second["id"])
    with leads_db.begin() as conn:
        conn.execute(update(Lead).where(Lead.id == second["id"])
                     .values(last_touched_at=datetime.now(timezone.utc) - timedelta(days=30)))
    service.return_stale_leads()
    assert service.get_lead(ADMIN, second["id"])["owner_id"] is None
    rules = [e["payload"]["rule"] for e in events(leads_db, "leads.lead_assigned")]
    assert rules == ["claimed", "released", "claimed", "stale"]


def test_assignment_rules_round_robin_and_reassign_departing_rep(service, roster):
    roster("alice", "team-a")
    roster("bob", "team-a")
    roster("carol", "team-b")
    service.create_assignment_rule(ADMIN, {"name": "web to team a", "strategy": "round_robin",
                                           "priority": 1, "team_id": "team-a", "source": "web_form"})
    owners = [service.create_lead(ADMIN, {"company": f"RR {i}", "source": "web_form"})["owner_id"]
              for i in range(4)]
    assert owners == ["alice", "bob", "alice", "bob"]
    assert service.create_lead(ADMIN, {"company": "Referral", "source": "referral"})["owner_id"] is None
    with pytest.raises(Invalid):
        service.create_assignment_rule(ADMIN, {"name": "bad", "strategy": "no-such-thing"})
    moved = service.reassign_owner(ADMIN, "alice", "carol")
    assert moved == {"reassigned": 2}
    assert service.list_leads(ADMIN, {"owner_id": "alice"}, "-created_at", 50, 0)["total"] == 0
    assert service.reassign_owner(ADMIN, "bob", None) == {"reassigned": 2}
    assert service.list_pool(ADMIN, {}, "-created_at", 50, 0)["total"] == 3


def test_merge_folds_source_into_target_keeping_both_histories(service):
    target = service.create_lead(ADMIN, {"company": "Merge Target", "tags": ["a"]})
    source = service.create_lead(ADMIN, {"company": "Merge Source", "email": "m@src.com",
                                         "tags": ["b"], "notes": "from source"})
    service.change_status(ADMIN, source["id"], "contacted")
    merged = service.merge_leads(ADMIN, target["id"], source["id"])
    assert merged["email"] == "m@src.com" and merged["tags"] == ["a", "b"]
    actions = [h["action"] for h in service.lead_history(ADMIN, target["id"])]
    assert {"created", "status_changed", "merged"} <= set(actions)
    assert service.get_lead(ADMIN, source["id"])["merged_into_id"] == target["id"]
    with pytest.raises(Conflict):
        service.merge_leads(ADMIN, target["id"], target["id"])


def test_batch_planner_outcome_required_and_calendar(service, roster, leads_db):
    alice = roster("alice")
    leads = [service.create_lead(alice, {"company": f"Call {i}"})["id"] for i in range(6)]
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).date()
    planned = service.plan_calls(alice, {"lead_ids": leads, "first_day": yesterday.isoformat(),
                                         "last_day": yesterday.isoformat(), "day_start": "09:00",
                                         "day_end": "12:00", "duration_minutes": 15,
                                         "skip_weekends": False})["planned"]
    assert len(planned) == 6 and {a["owner_id"] for a in planned} == {"alice"}
    due = sorted(a["due_at"] for a in planned)
    assert len(set(due)) == 6
    required = service.outcome_required(alice)
    assert {a["id"] for a in required} == {a["id"] for a in planned}
    service.record_outcome(alice, planned[0]["id"], "interested, send offer")
    assert len(service.outcome_required(alice)) == 5
    [logged] = events(leads_db, "leads.activity_logged")
    assert logged["payload"]["outcome"] == "interested, send offer"
    token = service.calendar_token(alice)["token"]
    feed = service.calendar_feed(None, token)
    assert feed.count("BEGIN:VEVENT") == 6 and "Call 0" in feed
    with pytest.raises(NotFound):
        service.calendar_feed(None, "not-a-token")


def test_calendar_tokens_are_kept_hashed_and_die_with_the_rep(service, roster, leads_db):
    alice = roster("alice")
    service.create_lead(alice, {"company": "Feed Co"})
    token = service.calendar_token(alice)["token"]
    with leads_db.connect() as conn:
        [stored] = conn.execute(select(Rep)).mappings().all()
    assert stored["calendar_token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in json.dumps({k: str(v) for k, v in stored.items()})
    assert "BEGIN:VCALENDAR" in service.calendar_feed(None, token)
    newer = service.calendar_token(alice)["token"]  # a new address retires the old one
    with pytest.raises(NotFound):
        service.calendar_feed(None, token)
    assert "BEGIN:VCALENDAR" in service.calendar_feed(None, newer)
    roster("alice", active=False)  # gateway.user_changed: the user was deactivated
    with pytest.raises(NotFound):
        service.calendar_feed(None, newer)
    roster("alice", active=True)  # coming back does not bring the old address back
    with pytest.raises(NotFound):
        service.calendar_feed(None, newer)
    revived = service.calendar_token(alice)["token"]
    with leads_db.begin() as conn:  # an inactive rep's feed is refused even with a token on file
        conn.execute(update(Rep).values(active=False))
    with pytest.raises(NotFound):
        service.calendar_feed(None, revived)
    with pytest.raises(Forbidden):
        service.calendar_token(alice)


def test_import_reports_bad_and_duplicate_rows_and_imports_the_rest(service, leads_db):
    existing = service.create_lead(ADMIN, {"company": "Already Here", "email": "here@x.com"})
    job = service.start_import(ADMIN, "leads.csv", None)
    rows = [[2, {"company": "Good One", "email": "one@x.com", "estimated_value": "100", "currency": "EUR"}],
            [3, {"company": "", "email": "two@x.com"}],
            [4, {"company": "Bad Mail", "email": "not-an-email"}],
            [5, {"company": "Dup In File", "email": "ONE@x.com"}]]
    service.add_import_chunk(ADMIN, job["id"], 0, rows)
    service.add_import_chunk(ADMIN, job["id"], 0, rows)  # a retried chunk is stored once
    service.add_import_chunk(ADMIN, job["id"], 1, [[6, {"company": "Clash", "email": "here@x.com"}],
                                                  [7, {"company": "Good Two", "tags": "x; y"}]])
    service.finish_import(ADMIN, job["id"], 6)
    service.process_imports()
    done = service.get_import(ADMIN, job["id"], 0, 100)
    assert done["status"] == "done"
    assert (done["imported"], done["rejected"], done["processed_rows"]) == (2, 4, 6)
    by_row = {e["row"]: e for e in done["errors"]}
    assert by_row[3]["field"] == "company"
    assert by_row[4]["field"] == "email"
    assert by_row[5]["reason"] == "duplicate of row 2 in this file"
    assert by_row[6]["existing_lead_id"] == existing["id"]
    assert len(events(leads_db, "leads.lead_created")) == 3
    tags = service.list_leads(ADMIN, {"q": "good two"}, "-created_at", 5, 0)["items"][0]["tags"]
    assert tags == ["x", "y"]



def test_a_manager_reassigns_only_within_the_own_team(service, roster, leads_db):
    alice, bob, carol = roster("alice", "team-a"), roster("bob", "team-a"), roster("carol", "team-b")
    manager = roster("mgr-a", "team-a", role="manager")
    carols = service.create_lead(ADMIN, {"company": "Carol Co", "owner_id": "carol"})
    service.create_lead(ADMIN, {"company": "Alice Co", "owner_id": "alice"})
    former = service.create_lead(ADMIN, {"company": "From Team B Days", "owner_id": "alice"})
    with leads_db.begin() as conn:  # a lead alice kept from her time in team b
        conn.execute(update(Lead).where(Lead.id == former["id"]).values(team_id="team-b"))
    with pytest.raises(NotFound):  # the sibling route refuses it, and so must reassign
        service.assign_lead(manager, carols["id"], "alice")
    with pytest.raises(Forbidden) as refused:
        service.reassign_owner(manager, "carol", "alice")
    assert "from_owner_id" in refused.value.errors
    with pytest.raises(Forbidden) as refused:
        service.reassign_owner(manager, "alice", "carol")
    assert "to_owner_id" in refused.value.errors
    assert service.get_lead(ADMIN, carols["id"])["owner_id"] == "carol"
    assert service.reassign_owner(manager, "alice", "bob") == {"reassigned": 1}
    assert service.get_lead(ADMIN, former["id"])["owner_id"] == "alice"
    assert service.list_leads(bob, {}, "-created_at", 50, 0)["total"] == 1
    assert service.list_leads(carol, {"owner_id": "carol"}, "-created_at", 50, 0)["total"] == 1
    assert service.list_leads(alice, {"owner_id": "alice"}, "-created_at", 50, 0)["total"] == 1


def test_records_are_created_only_for_owners_within_reach(service, roster, leads_db):
    roster("alice", "team-a"), roster("carol", "team-b")
    manager, rep = roster("mgr-a", "team-a", role="manager"), person("alice", team_id="team-a")
    with pytest.raises(Forbidden):
        service.create_lead(manager, {"company": "Not Yours", "owner_id": "carol"})
    with pytest.raises(Invalid) as unknown:
        service.create_lead(manager, {"company": "Nobody's", "owner_id": "ghost"})
    assert "owner_id" in unknown.value.errors
    assert events(leads_db, "leads.lead_created") == []
    lead = service.create_lead(manager, {"company": "Team Co", "owner_id": "alice"})
    assert (lead["owner_id"], lead["team_id"]) == ("alice", "team-a")
    due = datetime.now(timezone.utc).isoformat()
    with pytest.raises(Forbidden):
        service.create_activity(manager, {"lead_id": lead["id"], "type": "call", "due_at": due,
                                          "owner_id": "carol"})
    with pytest.raises(Invalid) as unknown:
        service.create_activity(manager, {"lead_id": lead["id"], "type": "call", "due_at": due,
                                          "owner_id": "ghost"})
    assert "owner_id" in unknown.value.errors
    with pytest.raises(Forbidden):
        service.create_activity(rep, {"lead_id": lead["id"], "type": "call", "due_at": due,
                                      "owner_id": "mgr-a"})
    plan = {"lead_ids": [lead["id"]], "first_day": "2026-01-05", "last_day": "2026-01-05"}
    with pytest.raises(Forbidden):
        service.plan_calls(manager, {**plan, "owner_ids": ["alice", "carol"]})
    with pytest.raises(Forbidden):
        service.plan_calls(rep, {**plan, "owner_ids": ["mgr-a"]})
    assert service.list_activities(ADMIN, {}, "due_at", 50, 0)["total"] == 0
    made = service.create_activity(manager, {"lead_id": lead["id"], "type": "call", "due_at": due,
                                             "owner_id": "alice"})
    assert (made["owner_id"], made["team_id"]) == ("alice", "team-a")
    assert service.plan_calls(manager, {**plan, "owner_ids": ["alice"]})["planned"][0]["owner_id"] == "alice"


def test_a_manager_writes_and_sees_the_own_team_assignment_rules_only(service, roster):
    manager = roster("mgr-a", "team-a", role="manager")
    loner = person("mgr-none", "manager")
    ops = person("ops-1", "ops")
    mine = service.create_assignment_rule(manager, {"name": "a web", "strategy": "round_robin"})
    assert mine["team_id"] == "team-a"
    with pytest.raises(Forbidden):
        service.create_assignment_rule(manager, {"name": "b web", "strategy": "round_robin",
                                                 "team_id": "team-b"})
    with pytest.raises(Invalid):  # no team to default to: not a global rule
        service.create_assignment_rule(loner, {"name": "no team", "strategy": "round_robin"})
    with pytest.raises(Forbidden):
        service.create_assignment_rule(loner, {"name": "into a", "strategy": "round_robin",
                                               "team_id": "team-a"})
    with pytest.raises(Forbidden):
        service.create_assignment_rule(ops, {"name": "ops", "strategy": "round_robin"})
    theirs = service.create_assignment_rule(ADMIN, {"name": "b referral", "strategy": "round_robin",
                                                    "team_id": "team-b"})
    everyone = service.create_assignment_rule(ADMIN, {"name": "global", "strategy": "round_robin"})
    assert everyone["team_id"] is None
    assert [r["name"] for r in service.list_assignment_rules(manager)] == ["a web"]
    assert service.list_assignment_rules(loner) == []
    assert {r["name"] for r in service.list_assignment_rules(ops)} == {"a web", "b referral", "global"}
    for rule in (theirs, everyone):
        with pytest.raises(NotFound):
            service.delete_assignment_rule(manager, rule["id"])
    with pytest.raises(Forbidden):
        service.delete_assignment_rule(ops, mine["id"])
    service.delete_assignment_rule(manager, mine["id"])
    service.delete_assignment_rule(ADMIN, theirs["id"])
    assert [r["name"] for r in service.list_assignment_rules(ADMIN)] == ["global"]


def test_ops_only_reads(service, roster):
    alice, ops = roster("alice"), person("ops-1", "ops")
    lead = service.create_lead(alice, {"company": "Watched Co"})
    activity = service.create_activity(alice, {"lead_id": lead["id"], "type": "call",
                                               "due_at": datetime.now(timezone.utc).isoformat()})
    assert service.get_lead(ops, lead["id"])["id"] == lead["id"]
    assert service.list_activities(ops, {}, "due_at", 50, 0)["total"] == 1
    with pytest.raises(Forbidden):
        service.record_outcome(ops, activity["id"], "noted by ops")
    with pytest.raises(Forbidden):
        service.update_lead(ops, lead["id"], {"notes": "ops", "version": lead["version"]})
    with pytest.raises(Forbidden):
        service.create_lead(ops, {"company": "Ops Co"})
    with pytest.raises(Forbidden):
        service.plan_calls(ops, {"lead_ids": [lead["id"]], "first_day": "2026-01-05",
                                 "last_day": "2026-01-05"})
    assert service.list_activities(ADMIN, {}, "due_at", 50, 0)["items"][0]["outcome"] is None


def test_a_manager_without_a_team_reaches_no_teamless_records(service, roster):
    loner_rep = roster("loner", team_id=None)
    boss = roster("boss", team_id=None, role="manager")
    lead = service.create_lead(loner_rep, {"company": "Teamless Co"})
    assert (lead["owner_id"], lead["team_id"]) == ("loner", None)
    service.create_activity(loner_rep, {"lead_id": lead["id"], "type": "call",
                                        "due_at": datetime.now(timezone.utc).isoformat()})
    pooled = service.create_lead(ADMIN, {"company": "Pooled Co"})
    assert service.list_leads(boss, {}, "-created_at", 50, 0)["total"] == 0
    assert {l["id"] for l in service.list_pool(boss, {}, "-created_at", 50, 0)["items"]} == {pooled["id"]}
    with pytest.raises(NotFound):
        service.get_lead(boss, lead["id"])
    with pytest.raises(NotFound):
        service.update_lead(boss, lead["id"], {"notes": "mine now", "version": lead["version"]})
    assert service.list_activities(boss, {}, "due_at", 50, 0)["total"] == 0
    assert service.outcome_required(boss) == []
    bosses = service.create_lead(boss, {"company": "Boss Co", "owner_id": "boss"})
    assert (bosses["owner_id"], bosses["team_id"]) == ("boss", None)
    with pytest.raises(Forbidden):  # a teamless rep is not in a teamless manager's team
        service.assign_lead(boss, bosses["id"], "loner")
    with pytest.raises(Forbidden):
        service.reassign_owner(boss, "loner", None)
    assert service.get_lead(ADMIN, lead["id"])["owner_id"] == "loner"


def test_partners_see_only_what_they_submitted_and_only_create(service, roster):
    alice = roster("alice")
    partner = person("p-user", "partner", partner_id="partner-1")
    nobody = person("p-none", "partner")
    submitted = service.create_lead(partner, {"company": "Partner Co"})
    service.create_lead(alice, {"company": "Alice Co"})
    service.create_lead(ADMIN, {"company": "Pool Co"})
    assert [l["company"] for l in service.list_leads(partner, {}, "-created_at", 50, 0)["items"]] == ["Partner Co"]
    assert service.list_leads(nobody, {}, "-created_at", 50, 0)["total"] == 0
    with pytest.raises(NotFound):
        service.get_lead(nobody, submitted["id"])
    with pytest.raises(Forbidden):
        service.create_lead(nobody, {"company": "Orphan Co"})
    with pytest.raises(Forbidden):
        service.create_lead(partner, {"company": "Placed Co", "owner_id": "alice"})
    with pytest.raises(Forbidden):
        service.list_pool(partner, {}, "-created_at", 50, 0)
    with pytest.raises(Forbidden):
        service.claim_lead(partner, submitted["id"])
    with pytest.raises(Forbidden):
        service.update_lead(partner, submitted["id"], {"notes": "x", "version": submitted["version"]})
    with pytest.raises(Forbidden):
        service.create_activity(partner, {"lead_id": submitted["id"], "type": "call",
                                          "due_at": datetime.now(timezone.utc).isoformat()})
    with pytest.raises(Forbidden):
        service.list_activities(partner, {}, "due_at", 50, 0)
    with pytest.raises(Forbidden):
        service.start_import(partner, "leads.csv", None)
    assert service.list_leads(ADMIN, {}, "-created_at", 50, 0)["total"] == 3


def test_rules_a_manager_sets_off_choose_only_among_the_own_team(service, roster, leads_db):
    roster("carol", "team-b")
    alice = roster("alice", "team-a")
    manager = roster("mgr-a", "team-a", role="manager")
    service.create_assignment_rule(ADMIN, {"name": "team b's", "strategy": "round_robin", "team_id": "team-b",
                                           "active": False})
    lead = service.create_lead(ADMIN, {"company": "Rule Run Co", "owner_id": "alice"})
    with leads_db.begin() as conn:
        conn.execute(update(AssignmentRule).values(active=True))
    with pytest.raises(Conflict):  # the rule's only rep is out of the manager's reach
        service.assign_lead(manager, lead["id"], None, "team b's")
    assert service.get_lead(ADMIN, lead["id"])["owner_id"] == alice.user_id
    assert service.assign_lead(ADMIN, lead["id"], None, "team b's")["owner_id"] == "carol"


def test_times_are_instants_and_the_planner_uses_the_reps_zone(service, roster):
    alice = roster("alice")
    lead = service.create_lead(alice, {"company": "Zone Co"})["id"]
    # An offset sent by a caller is an instant: 09:00+01:00 is 08:00 UTC, on either backend.
    logged = service.create_activity(alice, {"lead_id": lead, "type": "meeting",
                                             "due_at": "2027-03-01T09:00:00+01:00"})
    assert datetime.fromisoformat(logged["due_at"]) == datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)
    feed = service.calendar_feed(None, service.calendar_token(alice)["token"])
    assert "DTSTART:20270301T080000Z" in (feed if isinstance(feed, str) else feed.decode())
    found = service.list_activities(alice, {"due_after": "2027-03-01T08:30:00+01:00",
                                            "due_before": "2027-03-01T08:00:01Z"})
    assert [a["id"] for a in found["items"]] == [logged["id"]]
    assert service.list_activities(alice, {"due_after": "2027-03-01T08:00:01Z"})["items"] == []
    planned = service.plan_calls(alice, {"lead_ids": [lead], "first_day": "2027-03-29", "last_day": "2027-03-29",
                                         "day_start": "09:00", "day_end": "10:00",
                                         "time_zone": "Europe/Warsaw"})["planned"]
    assert datetime.fromisoformat(planned[0]["due_at"]) == datetime(2027, 3, 29, 7, 0, tzinfo=timezone.utc)
    with pytest.raises(Invalid) as caught:
        service.plan_calls(alice, {"lead_ids": [lead], "first_day": "2027-03-29", "last_day": "2027-03-29",
                                   "time_zone": "Mars/Olympus"})
    assert "time_zone" in caught.value.errors


def test_created_filters_compare_instants_and_money_keeps_its_digits(service, roster):
    alice = roster("alice")
    lead = service.create_lead(alice, {"company": "Filter Co", "estimated_value": "1234567890123456.78",
                                       "currency": "EUR"})
    assert service.get_lead(alice, lead["id"])["estimated_value"] == "1234567890123456.78"
    today = datetime.now(timezone.utc).date().isoformat()
    after_midnight = service.list_leads(alice, {"created_after": f"{today}T00:00:00Z"})["items"]
    assert [item["id"] for item in after_midnight] == [lead["id"]]
    assert service.list_leads(alice, {"created_before": f"{today}T00:00:00Z"})["items"] == []
    later = (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()
    assert [i["id"] for i in service.list_leads(alice, {"created_before": later})["items"]] == [lead["id"]]
    assert service.list_leads(alice, {"created_after": later})["items"] == []
