"""``Idempotency-Key`` on POST."""
from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import timedelta

from sqlalchemy import func, select

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
            path="/api/v1/teams", request_hash=hashlib.sha256(json.dumps(body).encode()).hexdigest(),
            created_at=utcnow() - age))
        session.commit()


def test_a_duplicate_while_the_first_is_in_flight_is_409(client, sessions, admin_key):
    key, body = _key(), {"name": unique("team")}
    _claim(sessions, admin_key, key, body)
    assert "in progress" in assert_problem(client.post("/api/v1/teams", body, headers=key), 409)["detail"]


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


def test_an_upload_is_hashed_without_breaking_the_form(client):
    key = _key()

    def upload(content: bytes):
        return client.raw.post("/api/v1/leads/imports", content_type="multipart/form-data",
                               headers=client.headers(**key),
                               data={"file": (io.BytesIO(content), "leads.pdf")})

    first = assert_problem(upload(b"%PDF-1.4 not a spreadsheet"), 422)
    assert "file" in first["errors"]
    assert upload(b"%PDF-1.4 not a spreadsheet").headers["Idempotent-Replayed"] == "true"
    assert_problem(upload(b"%PDF-1.4 another file"), 422)
