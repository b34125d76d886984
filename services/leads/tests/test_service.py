"""The leads service's use cases through its entrypoints, on a real PostgreSQL database."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from services.leads.models import Lead, metadata
from services.leads.tests.conftest import ADMIN
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
    rep = {"user_id": "rep-1", "role": "rep", "team_id": "team-a", "partner_id": None}
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
    partner = {"user_id": "p-user", "role": "partner", "team_id": None, "partner_id": "partner-1"}
    other_partner = {**partner, "user_id": "p2", "partner_id": "partner-2"}
    mine = service.create_lead(alice, {"company": "Alice Co"})
    theirs = service.create_lead(bob, {"company": "Bob Co"})
    submitted = service.create_lead(partner, {"company": "Partner Co"})
    assert submitted["partner_id"] == "partner-1" and submitted["source"] == "partner"

    def visible(caller):
        return {lead["company"] for lead in service.list_leads(caller, {}, "-created_at", 50, 0)["items"]}

    assert visible(alice) == {"Alice Co", "Partner Co"}          # own + pool
    assert visible(manager_a) == {"Alice Co", "Partner Co"}      # team + pool
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


def test_pool_claim_with_cap_release_and_stale_return(service, roster, leads_db, monkeypatch):
    monkeypatch.setenv("CRM_POOL_CLAIM_CAP", "1")
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
    feed = service.calendar_feed(token)
    assert feed.count("BEGIN:VEVENT") == 6 and "Call 0" in feed
    with pytest.raises(NotFound):
        service.calendar_feed("not-a-token")


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



def test_a_file_that_breaks_part_way_keeps_its_good_rows_and_ends_failed(service):
    job = service.start_import(ADMIN, "broken.csv", None)
    service.add_import_chunk(ADMIN, job["id"], 0, [[2, {"company": "Before The Break"}]])
    failed = service.fail_import(ADMIN, job["id"], "the file broke after 1 rows: not valid utf-8")
    assert failed["status"] == "failed" and failed["total_rows"] == 1
    service.process_imports()
    done = service.get_import(ADMIN, job["id"], 0, 10)
    assert (done["status"], done["imported"]) == ("failed", 1)
    assert done["finished_at"] is not None
    assert done["errors"][0] == {"row": 0, "field": "file", "existing_lead_id": None,
                                 "reason": "the file broke after 1 rows: not valid utf-8"}
