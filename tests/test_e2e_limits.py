"""Limits at the edge and in the services, through the running suite: the hostile
corpus (tests/hostile_inputs.py) is refused with 4xx problems and changes nothing,
a call the gateway stopped waiting for commits nothing, a stored out-of-range
activity does not break a calendar feed."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy.orm import Session

from crm_testkit.helpers import signed_context
from services.leads.models import Activity
from shared.caller import Caller, Role
from shared.db import make_engine
from shared.errors import DeadlinePassed
from tests.hostile_inputs import CORPUS, Hostile
from tests.test_e2e_leads import get, make_team, make_user, post, unique_company

PROBLEM = "application/problem+json"


def send(suite, entry: Hostile):
    body = entry.body if isinstance(entry.body, bytes) or entry.body is None else json.dumps(entry.body)
    headers = suite.headers(**(entry.headers or {}))
    return suite.client.open(entry.path, method=entry.method, data=body, query_string=entry.query,
                             content_type=entry.content_type if body is not None else None, headers=headers)


def lead_count(suite) -> int:
    return get(suite, "/api/v1/leads", query_string={"limit": 1}).get_json()["total"]


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.what)
def test_hostile_input_is_a_4xx_problem(suite, entry):
    answer = send(suite, entry)
    low, high = entry.statuses
    assert low <= answer.status_code <= high, (entry.what, answer.status_code, answer.get_data(as_text=True)[:300])
    assert answer.mimetype == PROBLEM and answer.get_json()["status"] == answer.status_code


def test_hostile_input_changes_nothing(suite):
    before = lead_count(suite)
    for entry in CORPUS:
        if entry.path == "/api/v1/leads" and entry.method == "POST":
            assert 400 <= send(suite, entry).status_code < 500
    assert lead_count(suite) == before


def test_a_call_plan_is_bounded_and_its_reps_must_exist(suite):
    admin_key = None  # the admin: sees every lead at once, without waiting for the roster
    lead = post(suite, "/api/v1/leads", {"company": unique_company()}, key=admin_key).get_json()
    year = post(suite, "/api/v1/activities/plan", {"lead_ids": [lead["id"]], "first_day": "2026-01-01",
                                                    "last_day": "2026-12-31"}, key=admin_key)
    assert year.status_code == 422 and "last_day" in year.get_json()["errors"]
    stranger = str(uuid.uuid4())
    unknown = post(suite, "/api/v1/activities/plan", {"lead_ids": [lead["id"]], "owner_ids": [stranger],
                                                       "first_day": "2026-01-05", "last_day": "2026-01-06"},
                   key=admin_key)
    assert unknown.status_code == 422 and "owner_ids" in unknown.get_json()["errors"]
    assert stranger in unknown.get_json()["detail"]
    assert get(suite, "/api/v1/activities", key=admin_key,
               query_string={"lead_id": lead["id"]}).get_json()["total"] == 0


def test_a_call_past_its_deadline_commits_nothing(suite):
    admin = get(suite, "/api/v1/me").get_json()
    company = unique_company()
    caller = Caller(user_id=admin["user_id"], role=Role.ADMIN, name="admin", request_id="deadline-test")
    with ClusterRpcProxy({"AMQP_URI": suite.env["AMQP_URI"], "serializer": "json"}, timeout=20,
                         context_data=signed_context(caller, deadline=time.time() - 1)) as late:
        with pytest.raises(DeadlinePassed):
            late.leads.create_lead(caller.to_context(), {"company": company})
    found = get(suite, "/api/v1/leads", query_string={"q": company}).get_json()
    assert found["total"] == 0
    with ClusterRpcProxy({"AMQP_URI": suite.env["AMQP_URI"], "serializer": "json"}, timeout=20,
                         context_data=signed_context(caller, deadline=time.time() + 30)) as in_time:
        in_time.leads.create_lead(caller.to_context(), {"company": company})
    assert get(suite, "/api/v1/leads", query_string={"q": company}).get_json()["total"] == 1


def test_a_stored_activity_in_9999_does_not_break_the_calendar_feed(suite):
    rep, rep_key = make_user(suite, "rep", make_team(suite))
    lead = post(suite, "/api/v1/leads", {"company": unique_company()}, key=rep_key).get_json()
    due = post(suite, "/api/v1/activities", {"lead_id": lead["id"], "type": "call",
                                             "due_at": "2026-03-02T10:00:00+01:00"}, key=rep_key)
    assert due.status_code == 201, due.get_json()
    engine = make_engine(suite.env["LEADS_DATABASE_URL"])
    with Session(engine) as session:  # as stored before dates were bounded at the edge
        session.add(Activity(lead_id=lead["id"], type="call", owner_id=rep["id"],
                             due_at=datetime(9999, 12, 31, 23, 50, tzinfo=timezone.utc), duration_minutes=30))
        session.commit()
    engine.dispose()
    url = post(suite, "/api/v1/activities/calendar", key=rep_key).get_json()["url"]
    feed = suite.client.get(url.split("localhost", 1)[-1])
    assert feed.status_code == 200 and feed.get_data(as_text=True).count("BEGIN:VEVENT") == 1
