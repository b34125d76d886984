"""``Idempotency-Key`` on POST."""
from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from gateway.idempotency import _canonical_body
from gateway.identity import split_key
from gateway.models import IdempotencyRecord, Team
from gateway.tests.helpers import assert_problem, unique
from shared.db import utcnow


def _key() -> dict:
    return {"Idempotency-Key": f"idem-{uuid.uuid4()}"}


def test_a_retry_gets_the_first_answer_and_creates_nothing_twice(client, sessions):
    name, key = unique("team"), _key()
    first = client.post("/api/v1/teams", {"name": name}, headers=key)
    again = client.post("/api/v1/teams", {"name": name}, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.mimetype == "application/json"
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team).where(Team.name == name)) == 1
    without_key = client.post("/api/v1/teams", {"name": name})
    assert_problem(without_key, 409)


def test_the_same_key_with_another_request_is_422(client):
    key = _key()
    assert client.post("/api/v1/teams", {"name": unique("team")}, headers=key).status_code == 201
    other_body = assert_problem(client.post("/api/v1/teams", {"name": unique("team")}, headers=key), 422)
    assert "Idempotency-Key" in other_body["detail"]
    assert_problem(client.post("/api/v1/branches", {"name": unique("branch")}, headers=key), 422)


def test_the_same_json_spaced_or_ordered_otherwise_is_the_same_request(client, sessions):
    """A retry may come from another JSON library: the fingerprint is of the JSON, not its bytes."""
    name, key = unique("team"), _key()
    bodies = [json.dumps({"name": name, "branch_id": None}),
              '{\n  "branch_id": null,\n  "name": "%s"\n}\n' % name,
              json.dumps({"branch_id": None, "name": name}, indent=4)]
    answers = [client.raw.post("/api/v1/teams", data=body, content_type="application/json",
                               headers=client.headers(**key)) for body in bodies]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.get_json() for a in answers]
    assert all(a.get_json() == answers[0].get_json() for a in answers)
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team).where(Team.name == name)) == 1
    other = client.raw.post("/api/v1/teams", data=json.dumps({"name": name + "x", "branch_id": None}),
                            content_type="application/json", headers=client.headers(**key))
    assert_problem(other, 422)


def test_a_client_error_is_kept_and_replayed(client):
    key = _key()
    first = assert_problem(client.post("/api/v1/teams", {"name": ""}, headers=key), 422)
    again = client.post("/api/v1/teams", {"name": ""}, headers=key)
    assert assert_problem(again, 422)["errors"] == first["errors"]
    assert again.headers["Idempotent-Replayed"] == "true"


def _claim(sessions, admin_key, key, body, age=timedelta(0)):
    """A claim as the first of two concurrent requests leaves it while it runs."""
    with sessions() as session:
        session.add(IdempotencyRecord(
            key_id=admin_key.split("_")[1], idempotency_key=key["Idempotency-Key"], method="POST",
            path="/api/v1/teams", request_hash=hashlib.sha256(_canonical_body(json.dumps(body).encode())).hexdigest(),
            created_at=utcnow() - age))
        session.commit()


def test_a_duplicate_while_the_first_is_in_flight_is_409(client, sessions, admin_key):
    key, body = _key(), {"name": unique("team")}
    _claim(sessions, admin_key, key, body)
    assert "in progress" in assert_problem(client.post("/api/v1/teams", body, headers=key), 409)["detail"]


def test_a_claim_is_409_with_retry_after_until_it_may_be_taken_over(client, sessions, admin_key, app):
    """A claim without an answer is taken over once its request can no longer be running
    (RPC timeout + margin), not after 30 minutes; until then 409 says when to retry."""
    from gateway import idempotency
    timeout = app.extensions["crm"].gateway_settings.rpc_timeout
    key, body = _key(), {"name": unique("team")}
    _claim(sessions, admin_key, key, body, age=timedelta(seconds=1))
    answer = client.post("/api/v1/teams", body, headers=key)
    assert_problem(answer, 409)
    assert 1 <= int(answer.headers["Retry-After"]) <= timeout + idempotency.TAKEOVER_MARGIN.total_seconds()
    key, body = _key(), {"name": unique("team")}
    _claim(sessions, admin_key, key, body,
           age=timedelta(seconds=timeout) + idempotency.TAKEOVER_MARGIN + timedelta(seconds=1))
    assert client.post("/api/v1/teams", body, headers=key).status_code == 201


def test_a_claim_abandoned_by_a_dead_process_is_taken_over(client, sessions, admin_key):
    key, body = _key(), {"name": unique("team")}
    _claim(sessions, admin_key, key, body, age=timedelta(hours=1))
    assert client.post("/api/v1/teams", body, headers=key).status_code == 201
    assert client.post("/api/v1/teams", body, headers=key).headers["Idempotent-Replayed"] == "true"


def test_keys_belong_to_one_api_key(client, make_user):
    _, other_admin = make_user("admin")
    key = _key()
    first = client.post("/api/v1/branches", {"name": unique("branch")}, headers=key)
    theirs = client.post("/api/v1/branches", {"name": unique("branch")}, key=other_admin, headers=key)
    assert first.status_code == theirs.status_code == 201
    assert theirs.get_json()["id"] != first.get_json()["id"]


def test_a_503_is_not_kept_so_the_retry_really_runs(client, sessions):
    key = _key()
    for _ in range(2):
        answer = client.post("/api/v1/leads", {"company": "Acme"}, headers=key)
        assert_problem(answer, 503)
        assert "Idempotent-Replayed" not in answer.headers
    with sessions() as session:
        assert session.scalars(select(IdempotencyRecord).where(
            IdempotencyRecord.idempotency_key == key["Idempotency-Key"])).first() is None


def test_a_new_api_key_is_never_stored_and_its_replay_leaves_it_out(client, sessions, make_user):
    user, _ = make_user("rep")
    key, body = _key(), {"user_id": user["id"], "name": "retried"}
    first = client.post("/api/v1/api-keys", body, headers=key)
    again = client.post("/api/v1/api-keys", body, headers=key)
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    secret = first.get_json()["key"]
    assert again.get_json() == {k: v for k, v in first.get_json().items() if k != "key"}
    with sessions() as session:
        stored = session.scalars(select(IdempotencyRecord.body)).all()
    _, secret_part, _ = split_key(secret)  # the secret itself may hold "_"; the key's own parser knows its shape
    assert stored and not any(secret in text or secret_part in text for text in stored if text)


def test_records_expire_and_are_purged_a_batch_per_claim(make_app, client, sessions, monkeypatch):
    from gateway import idempotency
    with sessions() as session:  # answers of other keys, long expired
        session.add_all(IdempotencyRecord(key_id=f"gone-{i}", idempotency_key="k", request_hash="h", status=201,
                                          body="{}", created_at=utcnow() - timedelta(hours=2)) for i in range(3))
        session.commit()
    monkeypatch.setattr(idempotency, "PURGE_BATCH", 2)
    gateway = make_app(idempotency_ttl_hours=1).test_client()
    key = _key()
    first = gateway.post("/api/v1/teams", json={"name": unique("team")}, headers=client.headers(**key))
    assert first.status_code == 201

    def expired_left():
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(IdempotencyRecord)
                                  .where(IdempotencyRecord.key_id.like("gone-%")))
    assert expired_left() == 1
    with sessions() as session:  # the first answer outlives its hour
        record = session.scalars(select(IdempotencyRecord).where(
            IdempotencyRecord.idempotency_key == key["Idempotency-Key"])).one()
        record.created_at = utcnow() - timedelta(hours=1, minutes=1)
        session.commit()
    reused = gateway.post("/api/v1/teams", json={"name": unique("team")}, headers=client.headers(**key))
    assert reused.status_code == 201 and "Idempotent-Replayed" not in reused.headers
    assert reused.get_json()["id"] != first.get_json()["id"]
    assert expired_left() == 0
