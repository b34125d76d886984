"""Authentication, roles and the request id."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from gateway.models import ApiKey
from gateway.tests.helpers import PROBLEM, assert_problem, unique


def test_health_is_open_and_everything_else_needs_a_key(client):
    assert client.raw.get("/healthz").get_json() == {"status": "ok"}
    for path in ("/api/v1/me", "/api/v1/users", "/api/v1/leads"):
        answer = client.raw.get(path)
        assert answer.status_code == 401 and answer.mimetype == PROBLEM
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert answer.get_json()["status"] == 401 and answer.get_json()["instance"] == path


def test_unknown_malformed_and_non_bearer_keys_are_401(client, admin_key):
    wrong_secret = admin_key[: admin_key.rindex("_") + 1] + "x" * 43
    for header in (f"Bearer crm_{uuid.uuid4()}_secret", f"Bearer {wrong_secret}", "Bearer nonsense",
                   f"Basic {admin_key}", "Bearer ", admin_key):
        answer = client.raw.get("/api/v1/me", headers={"Authorization": header})
        assert_problem(answer, 401)


def test_me_describes_the_caller(client, make_user):
    user, key = make_user("rep", territory="north")
    me = client.get("/api/v1/me", key=key).get_json()
    assert {k: me[k] for k in ("user_id", "name", "role")} == {
        "user_id": user["id"], "name": user["name"], "role": "rep"}
    assert me["request_id"]


def test_roles_other_than_admin_cannot_administer(client, make_user):
    for role in ("rep", "manager", "partner", "ops", "finance", "support", "technician"):
        _, key = make_user(role)
        answer = client.post("/api/v1/teams", {"name": unique("t")}, key=key)
        assert answer.status_code == 403 and answer.mimetype == PROBLEM, role
        expected = 200 if role == "ops" else 403  # ops reads everything, changes nothing
        assert client.get("/api/v1/users", key=key).status_code == expected, role


def test_revoked_key_and_deactivated_user_are_locked_out(client, make_user):
    user, key = make_user("rep")
    assert client.get("/api/v1/me", key=key).status_code == 200
    second = client.post("/api/v1/api-keys", {"user_id": user["id"], "name": "laptop"}).get_json()
    assert client.post(f"/api/v1/api-keys/{second['id']}/revoke").get_json()["revoked_at"]
    assert client.get("/api/v1/me", key=second["key"]).status_code == 401
    assert client.get("/api/v1/me", key=key).status_code == 200
    client.post(f"/api/v1/users/{user['id']}/deactivate")
    assert client.get("/api/v1/me", key=key).status_code == 401


def test_last_use_of_a_key_is_recorded(client, make_user, sessions):
    _, key = make_user("rep")
    client.get("/api/v1/me", key=key)
    key_id = key.split("_")[1]
    with sessions() as session:
        assert session.scalars(select(ApiKey).where(ApiKey.id == key_id)).one().last_used_at is not None


def test_request_id_is_echoed_sanitised_or_made(client):
    given = client.get("/api/v1/me", headers={"X-Request-ID": "trace-42.a_b"})
    assert given.headers["X-Request-ID"] == "trace-42.a_b"
    assert given.get_json()["request_id"] == "trace-42.a_b"
    dirty = client.get("/api/v1/me", headers={"X-Request-ID": "a b<script>" + "x" * 300})
    assert dirty.headers["X-Request-ID"] == ("abscript" + "x" * 300)[:128]
    made = client.get("/api/v1/me")
    assert str(uuid.UUID(made.headers["X-Request-ID"])) == made.headers["X-Request-ID"]
    problem = client.raw.get("/api/v1/me", headers={"X-Request-ID": "no-key-here"})
    assert problem.headers["X-Request-ID"] == "no-key-here"
    assert problem.get_json()["request_id"] == "no-key-here"


def test_a_change_made_elsewhere_counts_once_the_cached_key_expires(app, client, make_user, sessions):
    """Another gateway process deactivating the user: this one trusts its
    cached check for at most GATEWAY_AUTH_CACHE_SECONDS."""
    import time

    from gateway.models import User

    cache = app.extensions["crm"].keys
    saved, cache.ttl = cache.ttl, 0.5
    try:
        user, key = make_user("rep")
        assert client.get("/api/v1/me", key=key).status_code == 200
        with sessions() as session:
            session.get(User, user["id"]).active = False
            session.commit()
        assert client.get("/api/v1/me", key=key).status_code == 200  # still cached
        time.sleep(0.6)
        assert client.get("/api/v1/me", key=key).status_code == 401
    finally:
        cache.ttl = saved
