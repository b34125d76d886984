"""Nobody locks the suite out: the last working key of the last active admin
cannot be revoked, nor that admin deactivated or demoted."""
from __future__ import annotations

import pytest

from gateway.identity import ensure_admin_key, new_key_string
from gateway.tests.conftest import MIGRATIONS, Client
from gateway.tests.helpers import assert_problem, unique
from shared.migrate import upgrade


@pytest.fixture
def lone_admin(backends, make_app) -> Client:
    """A gateway on a database of its own, with exactly one admin and one key."""
    url = backends.database()
    upgrade(MIGRATIONS, url)
    app = make_app(database_urls={"gateway": url})
    key = new_key_string()
    ensure_admin_key(app.extensions["crm"].sessions, key)
    return Client(app.test_client(), key)


def _refused(answer) -> dict:
    body = assert_problem(answer, 409)
    assert body["reason"] == "last_admin" and "no active admin with a working API key" in body["detail"]
    return body


def _me(client, key=None):
    return client.get("/api/v1/me", key=key).get_json()


def test_the_last_admin_key_and_user_stay(lone_admin):
    me = _me(lone_admin)
    [key] = lone_admin.get(f"/api/v1/api-keys?user_id={me['user_id']}").get_json()["items"]
    _refused(lone_admin.post(f"/api/v1/api-keys/{key['id']}/revoke"))
    _refused(lone_admin.post(f"/api/v1/users/{me['user_id']}/deactivate"))
    _refused(lone_admin.patch(f"/api/v1/users/{me['user_id']}", {"active": False}))
    _refused(lone_admin.patch(f"/api/v1/users/{me['user_id']}", {"role": "manager"}))
    assert _me(lone_admin)["role"] == "admin"
    # an admin without a working key does not count: they could not act either
    keyless = lone_admin.post("/api/v1/users", {"name": unique("admin"), "role": "admin"}).get_json()
    _refused(lone_admin.post(f"/api/v1/api-keys/{key['id']}/revoke"))
    rep = lone_admin.post("/api/v1/users", {"name": unique("rep"), "role": "rep"}).get_json()
    rep_key = lone_admin.post("/api/v1/api-keys", {"user_id": rep["id"], "name": "rep"}).get_json()
    assert lone_admin.post(f"/api/v1/api-keys/{rep_key['id']}/revoke").status_code == 200
    assert lone_admin.post(f"/api/v1/users/{rep['id']}/deactivate").status_code == 200
    # once another admin holds a working key, the first may go
    other = lone_admin.post("/api/v1/api-keys", {"user_id": keyless["id"], "name": "second admin"}).get_json()
    assert lone_admin.post(f"/api/v1/api-keys/{key['id']}/revoke").status_code == 200
    assert lone_admin.get("/api/v1/me").status_code == 401
    _refused(lone_admin.post(f"/api/v1/users/{keyless['id']}/deactivate", key=other["key"]))
    _refused(lone_admin.post(f"/api/v1/api-keys/{other['id']}/revoke", key=other["key"]))
    assert lone_admin.post(f"/api/v1/api-keys/{key['id']}/revoke", key=other["key"]).status_code == 200
