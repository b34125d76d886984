"""Admin endpoints of the identity store: users, teams, branches, partners, API keys."""
from __future__ import annotations

import hashlib
import json
import uuid

from sqlalchemy import select

from gateway.models import ApiKey, metadata
from gateway.tests.helpers import assert_problem, unique

OUTBOX = metadata.tables["outbox"]


def _user_events(sessions, user_id):
    with sessions() as session:
        rows = session.execute(select(OUTBOX.c.event_type, OUTBOX.c.exchange, OUTBOX.c.body)
                               .order_by(OUTBOX.c.id)).all()
    events = [(r.event_type, r.exchange, json.loads(r.body)) for r in rows]
    return [e for t, x, e in events if t == "gateway.user_changed" and x == "gateway.events"
            and e["payload"]["user_id"] == user_id]


def test_branches_teams_and_partners(client):
    branch = client.post("/api/v1/branches", {"name": unique("Krakow")})
    assert branch.status_code == 201
    team = client.post("/api/v1/teams", {"name": unique("Inside sales"), "branch_id": branch.get_json()["id"]})
    assert team.status_code == 201 and team.get_json()["branch_id"] == branch.get_json()["id"]
    assert str(uuid.UUID(team.get_json()["id"], version=4)) == team.get_json()["id"]
    assert client.get(f"/api/v1/teams/{team.get_json()['id']}").get_json()["name"] == team.get_json()["name"]
    partner = client.post("/api/v1/partners", {"name": unique("Reseller")}).get_json()
    assert partner["active"] is True
    assert partner["id"] in {p["id"] for p in client.get("/api/v1/partners?limit=500").get_json()["items"]}
    clash = client.post("/api/v1/teams", {"name": team.get_json()["name"]})
    assert assert_problem(clash, 409)["errors"] == {"name": "taken"}
    bad_ref = client.post("/api/v1/teams", {"name": unique("t"), "branch_id": str(uuid.uuid4())})
    assert "branch_id" in assert_problem(bad_ref, 422)["errors"]
    assert_problem(client.get(f"/api/v1/branches/{uuid.uuid4()}"), 404)


def test_user_life_cycle_emits_user_changed_in_the_outbox(client, sessions, make_user):
    team = client.post("/api/v1/teams", {"name": unique("team")}).get_json()
    email = f"{unique('ann')}@example.com"
    created = client.post("/api/v1/users", {"name": "Ann", "email": email, "role": "rep", "team_id": team["id"],
                                            "territory": "north", "segments": ["smb"], "sources": ["web"]},
                          headers={"X-Request-ID": "hire-ann"})
    assert created.status_code == 201
    user = created.get_json()
    assert (user["role"], user["team_id"], user["active"], user["segments"]) == ("rep", team["id"], True, ["smb"])
    assert client.get(f"/api/v1/users/{user['id']}").get_json()["email"] == email

    patched = client.patch(f"/api/v1/users/{user['id']}", {"role": "manager", "territory": "south"})
    assert patched.status_code == 200 and patched.get_json()["role"] == "manager"
    deactivated = client.post(f"/api/v1/users/{user['id']}/deactivate")
    assert deactivated.get_json()["active"] is False

    events = _user_events(sessions, user["id"])
    assert [(e["payload"]["role"], e["payload"]["active"]) for e in events] == [
        ("rep", True), ("manager", True), ("manager", False)]
    first = events[0]
    assert (first["producer"], first["version"], first["correlation_id"]) == ("gateway", 1, "hire-ann")
    assert first["payload"] == {"user_id": user["id"], "name": "Ann", "role": "rep", "team_id": team["id"],
                                "branch_id": None, "partner_id": None, "territory": "north",
                                "segments": ["smb"], "sources": ["web"], "active": True}


def test_refused_user_changes_leave_no_event(client, sessions, make_user):
    user, _ = make_user("rep", email=f"{unique('bob')}@example.com")
    other, _ = make_user("rep", email=f"{unique('eve')}@example.com")
    before = len(_user_events(sessions, other["id"]))
    taken = client.patch(f"/api/v1/users/{other['id']}", {"email": user["email"]})
    assert assert_problem(taken, 409)["errors"] == {"email": "taken"}
    no_partner = client.patch(f"/api/v1/users/{other['id']}", {"role": "partner"})
    assert "partner_id" in assert_problem(no_partner, 422)["errors"]
    unknown_team = client.patch(f"/api/v1/users/{other['id']}", {"team_id": str(uuid.uuid4())})
    assert "team_id" in assert_problem(unknown_team, 422)["errors"]
    assert len(_user_events(sessions, other["id"])) == before
    assert client.get(f"/api/v1/users/{other['id']}").get_json()["role"] == "rep"
    assert_problem(client.patch(f"/api/v1/users/{uuid.uuid4()}", {"name": "x"}), 404)


def test_user_validation_is_a_422_with_field_errors(client):
    invalid = client.post("/api/v1/users", {"name": "", "role": "emperor", "email": "nope", "shoe": 42})
    errors = assert_problem(invalid, 422)["errors"]
    assert {"name", "role", "email", "shoe"} <= set(errors)


def test_user_list_pages_with_a_next_link(client, make_user):
    for _ in range(3):
        make_user("ops")
    first = client.get("/api/v1/users", query_string={"limit": 2, "offset": 0})
    body = first.get_json()
    assert (body["limit"], body["offset"], len(body["items"])) == (2, 0, 2) and body["total"] >= 4
    assert 'rel="next"' in first.headers["Link"] and "offset=2" in first.headers["Link"]
    last = client.get("/api/v1/users", query_string={"limit": 2, "offset": body["total"] - 1})
    assert len(last.get_json()["items"]) == 1 and "Link" not in last.headers
    assert_problem(client.get("/api/v1/users", query_string={"limit": 0}), 422)


def test_api_key_secret_is_shown_once_and_stored_hashed(client, sessions, make_user):
    user, _ = make_user("rep")
    created = client.post("/api/v1/api-keys", {"user_id": user["id"], "name": "crm sync"})
    assert created.status_code == 201
    record = created.get_json()
    key = record["key"]
    prefix, key_id, secret = key.split("_", 2)
    assert prefix == "crm" and key_id == record["id"] and record["prefix"] == f"crm_{key_id}"
    assert len(secret) >= 43
    assert client.get("/api/v1/me", key=key).get_json()["user_id"] == user["id"]

    listed = client.get("/api/v1/api-keys", query_string={"user_id": user["id"]}).get_json()
    assert record["id"] in {k["id"] for k in listed["items"]}
    assert all(k["user_id"] == user["id"] for k in listed["items"])
    assert secret not in json.dumps(listed) and all("key" not in k for k in listed["items"])
    with sessions() as session:
        stored = session.get(ApiKey, key_id)
        assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        columns = [getattr(stored, c.key) for c in ApiKey.__table__.columns]
        assert not any(isinstance(v, str) and secret in v for v in columns)

    assert "user_id" in assert_problem(client.post("/api/v1/api-keys", {"user_id": str(uuid.uuid4()),
                                                                        "name": "x"}), 422)["errors"]
    assert_problem(client.post(f"/api/v1/api-keys/{uuid.uuid4()}/revoke"), 404)


def test_identity_answers_give_every_time_with_its_offset(client, make_user):
    from datetime import datetime, timedelta
    user, key = make_user("rep")
    assert client.get("/api/v1/me", key=key).status_code == 200  # sets last_used_at
    key_id = key.split("_")[1]
    client.post(f"/api/v1/api-keys/{key_id}/revoke")
    times = [client.get(f"/api/v1/users/{user['id']}").get_json()["created_at"]]
    for item in client.get(f"/api/v1/api-keys?user_id={user['id']}").get_json()["items"]:
        times += [item["created_at"], item["last_used_at"], item["revoked_at"]]
    times += [t["created_at"] for t in client.get("/api/v1/teams").get_json()["items"]]
    assert None not in times[:4]
    for value in times:
        assert datetime.fromisoformat(value).utcoffset() == timedelta(0), value
