"""Rate limits per principal and failed authentication per address, on the
in-memory store and on the Redis that several gateway processes share."""
from __future__ import annotations

import os

import pytest
import redis

from gateway.tests.helpers import assert_problem, unique

REDIS = os.environ.get("CRM_TEST_REDIS", "redis://127.0.0.1:6379")


@pytest.fixture(params=["memory", "redis"])
def store(request):
    """Settings of a limit store of this test alone, and how many gateway processes share it."""
    prefix = unique("crm-test-limits")
    if request.param == "memory":
        yield {"rate_limit_storage_uri": "memory://", "rate_limit_key_prefix": prefix}, 1
        return
    server = redis.Redis.from_url(REDIS)
    server.ping()  # Redis runs here and in CI (scripts/ensure-backends.sh): no skipping
    yield {"rate_limit_storage_uri": REDIS, "rate_limit_key_prefix": prefix}, 2
    for key in server.scan_iter(f"*{prefix}*"):
        server.delete(key)
    server.close()


def _gateways(make_app, store, **settings):
    overrides, processes = store
    return [make_app(**overrides, **settings).test_client() for _ in range(processes)]


def _me(gateways, i, key, address="127.0.0.1"):
    return gateways[i % len(gateways)].get("/api/v1/me", headers={"Authorization": f"Bearer {key}"},
                                           environ_base={"REMOTE_ADDR": address})


def test_one_partner_has_one_budget_whatever_its_users_and_keys(make_app, client, make_user, store):
    first_user, first_key = make_user("partner")
    second_key = client.post("/api/v1/api-keys", {"user_id": first_user["id"], "name": "second"}).get_json()["key"]
    _, colleague_key = make_user("partner", partner_id=first_user["partner_id"])
    _, other_partner_key = make_user("partner")
    gateways = _gateways(make_app, store, rate_limit="4/minute")
    keys = [first_key, second_key, colleague_key]
    statuses = [_me(gateways, i, keys[i % 3]).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 200]
    limited = _me(gateways, 4, second_key)
    assert_problem(limited, 429)
    assert int(limited.headers["Retry-After"]) > 0
    assert _me(gateways, 5, other_partner_key).status_code == 200
    assert _me(gateways, 6, client.key).status_code == 200


def test_a_user_with_two_keys_has_one_budget(make_app, client, make_user, store):
    user, key = make_user("rep")
    second_key = client.post("/api/v1/api-keys", {"user_id": user["id"], "name": "second"}).get_json()["key"]
    gateways = _gateways(make_app, store, rate_limit="3/minute")
    assert [_me(gateways, i, (key, second_key)[i % 2]).status_code for i in range(3)] == [200, 200, 200]
    assert_problem(_me(gateways, 3, second_key), 429)
    assert_problem(_me(gateways, 4, key), 429)


def test_failed_authentication_is_limited_per_address_before_any_key_is_checked(make_app, client, store):
    gateways = _gateways(make_app, store, auth_failure_limit="3/minute")
    guesses = [_me(gateways, i, f"crm_guess-{i}", address="10.9.8.7") for i in range(3)]
    assert [g.status_code for g in guesses] == [401, 401, 401]
    assert "Retry-After" not in guesses[0].headers
    for i, key in enumerate(("crm_guess-4", client.key)):  # even a good key waits: nothing is checked
        refused = _me(gateways, i, key, address="10.9.8.7")
        body = assert_problem(refused, 429)
        assert "failed authentication" in body["detail"]
        assert 0 < int(refused.headers["Retry-After"]) <= 60
    missing = gateways[0].get("/api/v1/me", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert_problem(missing, 429)
    assert _me(gateways, 1, client.key, address="10.9.8.6").status_code == 200
    assert gateways[0].get("/healthz", environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200
