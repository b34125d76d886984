"""End to end through the gateway: the leads service as a real process, real
RabbitMQ and PostgreSQL (then the SQLite default), the gateway app in this process."""
from __future__ import annotations

import csv
import io
import json
import resource
import time
import uuid
from dataclasses import replace

import pytest
from kombu import Connection, Queue

from crm_testkit.helpers import wait_for
from gateway.app import create_app
from gateway.settings import load_gateway_settings
from services.leads.tests import hostile_files as hostile
from shared.config import load_settings
from shared.outbox import event_exchange
from tests.conftest import BACKENDS, suite_on

JSON = {"Content-Type": "application/json"}



@pytest.fixture(scope="module", params=BACKENDS)
def suite(request, suite):
    """Each test here runs on PostgreSQL and on the SQLite default."""
    return suite_on(request, suite)


def post(suite, path, body=None, key=None, **headers):
    return suite.client.post(path, data=json.dumps(body) if body is not None else None,
                             headers=suite.headers(key, **JSON, **headers))


def get(suite, path, key=None, **kwargs):
    return suite.client.get(path, headers=suite.headers(key), **kwargs)


def make_user(suite, role, team_id=None, partner_id=None, **extra):
    name = f"{role}-{uuid.uuid4().hex[:6]}"
    user = post(suite, "/api/v1/users", {"name": name, "role": role, "team_id": team_id,
                                         "partner_id": partner_id, **extra}).get_json()
    key = post(suite, "/api/v1/api-keys", {"user_id": user["id"], "name": "test"}).get_json()["key"]
    return user, key


def make_team(suite):
    return post(suite, "/api/v1/teams", {"name": f"team-{uuid.uuid4().hex[:6]}"}).get_json()["id"]


def unique_company():
    return f"Company {uuid.uuid4().hex[:10]}"


def test_health_ready_docs_and_request_id(suite):
    assert suite.client.get("/healthz").status_code == 200
    ready = suite.client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["services"] == {"leads": "ok", "sales": "ok", "finance": "ok"}
    spec = suite.client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/v1/leads/{lead_id}/convert" in spec["paths"]
    assert "LeadCreate" in spec["components"]["schemas"]
    answer = suite.client.get("/api/v1/me", headers=suite.headers(**{"X-Request-ID": "trace-me-123"}))
    assert answer.headers["X-Request-ID"] == "trace-me-123"
    assert answer.get_json()["role"] == "admin"


def test_every_error_is_a_problem_document(suite):
    team = make_team(suite)
    rep, rep_key = make_user(suite, "rep", team)
    no_auth = suite.client.get("/api/v1/leads")
    assert no_auth.status_code == 401 and no_auth.mimetype == "application/problem+json"
    assert "Bearer" in no_auth.headers["WWW-Authenticate"]
    assert suite.client.get("/api/v1/leads", headers={"Authorization": "Bearer crm_0000000000000000_nope"}).status_code == 401
    forbidden = get(suite, "/api/v1/users", key=rep_key)
    assert forbidden.status_code == 403 and forbidden.mimetype == "application/problem+json"
    malformed = suite.client.post("/api/v1/leads", data="{not json", headers=suite.headers(rep_key, **JSON))
    assert malformed.status_code == 400 and malformed.get_json()["status"] == 400
    invalid = post(suite, "/api/v1/leads", {"company": "", "email": "nope", "estimated_value": "-1",
                                            "currency": "euro"}, key=rep_key)
    assert invalid.status_code == 422
    assert {"company", "email", "estimated_value", "currency"} <= set(invalid.get_json()["errors"])
    missing = get(suite, f"/api/v1/leads/{uuid.uuid4()}", key=rep_key)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    lead = post(suite, "/api/v1/leads", {"company": unique_company()}, key=rep_key).get_json()
    bad_move = post(suite, f"/api/v1/leads/{lead['id']}/convert", key=rep_key)
    assert bad_move.status_code == 409 and bad_move.get_json()["allowed"] == ["contacted", "qualified", "disqualified"]
    assert suite.client.get("/api/v1/nowhere", headers=suite.headers()).status_code == 404
    wrong_method = suite.client.delete("/api/v1/leads", headers=suite.headers())
    assert wrong_method.status_code == 405 and wrong_method.mimetype == "application/problem+json"
    count_before = get(suite, "/api/v1/leads", key=rep_key).get_json()["total"]
    post(suite, "/api/v1/leads", {"company": "x", "email": "bad"}, key=rep_key)
    assert get(suite, "/api/v1/leads", key=rep_key).get_json()["total"] == count_before


def test_duplicates_are_409_naming_the_existing_lead(suite):
    company = unique_company()
    first = post(suite, "/api/v1/leads", {"company": f"{company} Sp. z o.o.", "email": f"{uuid.uuid4().hex}@x.com"})
    assert first.status_code == 201
    again = post(suite, "/api/v1/leads", {"company": company.upper()})
    assert again.status_code == 409
    assert again.get_json()["existing_lead_id"] == first.get_json()["id"]
    assert again.get_json()["errors"] == {"company": "matches an existing lead"}


def test_idempotency_key_replays_the_first_answer(suite):
    body = {"company": unique_company()}
    first = post(suite, "/api/v1/leads", body, **{"Idempotency-Key": "k-" + uuid.uuid4().hex})
    key = first.request.headers["Idempotency-Key"]
    again = post(suite, "/api/v1/leads", body, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = post(suite, "/api/v1/leads", {"company": unique_company()}, **{"Idempotency-Key": key})
    assert other.status_code == 422
    listed = get(suite, "/api/v1/leads", query_string={"q": body["company"].lower()}).get_json()
    assert listed["total"] == 1


def test_partner_rep_and_manager_see_what_they_should(suite):
    team_a, team_b = make_team(suite), make_team(suite)
    _, rep_a = make_user(suite, "rep", team_a)
    _, rep_b = make_user(suite, "rep", team_b)
    _, manager_a = make_user(suite, "manager", team_a)
    partner = post(suite, "/api/v1/partners", {"name": f"partner-{uuid.uuid4().hex[:6]}"}).get_json()
    _, partner_key = make_user(suite, "partner", partner_id=partner["id"])
    other_partner = post(suite, "/api/v1/partners", {"name": f"partner-{uuid.uuid4().hex[:6]}"}).get_json()
    _, other_partner_key = make_user(suite, "partner", partner_id=other_partner["id"])

    lead_a = post(suite, "/api/v1/leads", {"company": unique_company()}, key=rep_a).get_json()
    lead_b = post(suite, "/api/v1/leads", {"company": unique_company()}, key=rep_b).get_json()
    submitted = post(suite, "/api/v1/leads", {"company": unique_company()}, key=partner_key).get_json()
    assert submitted["partner_id"] == partner["id"]

    def ids(key):
        return {l["id"] for l in get(suite, "/api/v1/leads", key=key, query_string={"limit": 500}).get_json()["items"]}

    assert lead_a["id"] in ids(rep_a) and lead_b["id"] not in ids(rep_a)
    assert lead_a["id"] in ids(manager_a) and lead_b["id"] not in ids(manager_a)
    assert ids(partner_key) == {submitted["id"]}
    assert ids(other_partner_key) == set()
    assert get(suite, f"/api/v1/leads/{lead_b['id']}", key=rep_a).status_code == 404
    assert get(suite, f"/api/v1/leads/{submitted['id']}", key=other_partner_key).status_code == 404
    assert post(suite, f"/api/v1/leads/{lead_a['id']}/assign", {"owner_id": None}, key=rep_a).status_code == 403


def test_user_events_feed_the_roster_and_assignment(suite):
    team = make_team(suite)
    rep, rep_key = make_user(suite, "rep", team)
    lead = post(suite, "/api/v1/leads", {"company": unique_company()}).get_json()
    assigned = wait_for(lambda: (lambda r: r if r.status_code == 200 else None)(
        post(suite, f"/api/v1/leads/{lead['id']}/assign", {"owner_id": rep["id"]})),
        message="the rep to reach the leads roster through gateway.user_changed")
    assert assigned.get_json()["owner_id"] == rep["id"] and assigned.get_json()["team_id"] == team
    assert get(suite, f"/api/v1/leads/{lead['id']}", key=rep_key).status_code == 200
    unknown = post(suite, f"/api/v1/leads/{lead['id']}/assign", {"owner_id": str(uuid.uuid4())})
    assert unknown.status_code == 422 and "owner_id" in unknown.get_json()["errors"]


def test_conversion_puts_lead_converted_on_the_bus(suite):
    with Connection(suite.env["AMQP_URI"]) as conn:
        watch = Queue(f"watch-{uuid.uuid4().hex[:6]}", exchange=event_exchange("leads.events"),
                      routing_key="leads.lead_converted", auto_delete=True)
        watch(conn.default_channel).declare()
        _, rep_key = make_user(suite, "rep", make_team(suite))
        company = unique_company()
        lead = post(suite, "/api/v1/leads", {"company": company, "estimated_value": "5000.00",
                                             "currency": "EUR", "tags": ["vip"]}, key=rep_key).get_json()
        for step in ("contacted", "qualify", "convert"):
            assert post(suite, f"/api/v1/leads/{lead['id']}/{step}", key=rep_key).status_code == 200
        message = conn.SimpleQueue(watch).get(timeout=20)
        event = json.loads(message.body) if isinstance(message.body, (str, bytes)) else message.body
        assert event["event_type"] == "leads.lead_converted"
        assert event["payload"]["company"] == company and event["payload"]["estimated_value"] == "5000.00"
        assert event["payload"]["tags"] == ["vip"]
        assert event["correlation_id"]
        readonly = suite.client.patch(f"/api/v1/leads/{lead['id']}", data=json.dumps({"notes": "x", "version": 99}),
                                      headers=suite.headers(rep_key, **JSON))
        assert readonly.status_code == 409


def test_import_csv_reports_bad_rows_and_export_returns_them(suite):
    tag = uuid.uuid4().hex[:8]
    lines = ["Firma,Mail,Wert,Currency",
             f"Import A {tag},a-{tag}@x.com,100,EUR",
             f",b-{tag}@x.com,,",
             f"Import C {tag},not-an-email,,",
             f"Import D {tag},A-{tag}@X.com,,",
             f"Import E {tag},e-{tag}@x.com,12.5,EUR"]
    upload = io.BytesIO("\n".join(lines).encode())
    answer = suite.client.post("/api/v1/leads/imports", headers=suite.headers(),
                               data={"file": (upload, "leads.csv"),
                                     "mapping": json.dumps({"Firma": "company", "Mail": "email",
                                                            "Wert": "estimated_value", "Currency": "currency"})},
                               content_type="multipart/form-data")
    assert answer.status_code == 202, answer.get_json()
    job_url = answer.headers["Location"]
    job = wait_for(lambda: (lambda j: j if j["status"] == "done" else None)(get(suite, job_url).get_json()),
                   message="the import to finish")
    assert (job["imported"], job["rejected"], job["total_rows"]) == (2, 3, 5)
    assert {(e["row"], e["field"]) for e in job["errors"]} == {(3, "company"), (4, "email"), (5, "email")}
    exported = get(suite, "/api/v1/leads/export", query_string={"q": "import", "format": "csv"})
    rows = [r for r in csv.DictReader(io.StringIO(exported.get_data(as_text=True))) if tag in r["company"]]
    assert sorted(r["company"] for r in rows) == [f"Import A {tag}", f"Import E {tag}"]
    bad = suite.client.post("/api/v1/leads/imports", headers=suite.headers(),
                            data={"file": (io.BytesIO(b"x"), "leads.pdf")}, content_type="multipart/form-data")
    assert bad.status_code == 422 and "file" in bad.get_json()["errors"]


def test_export_neutralises_formulas_offers_a_bom_and_types_xlsx_cells(suite):
    """CSV injection (OWASP): a company named like a formula is inert in the CSV and
    text in the XLSX; amounts are numbers and times are dates in the XLSX."""
    from datetime import datetime

    from openpyxl import load_workbook
    tag = uuid.uuid4().hex[:8]
    names = [f'=HYPERLINK("http://evil.example","{tag}")', f"+cmd|' /C calc'!A0 {tag}",
             f"-2+3+cmd|' /C calc'!A0 {tag}", f"@SUM(1+1) {tag}", f"Zażółć 北京 {tag}"]
    for name in names:
        made = post(suite, "/api/v1/leads", {"company": name, "estimated_value": "1234.50", "currency": "PLN",
                                             "phone": f"+48 22 {int(tag[:6], 16) % 1000:03d} {names.index(name):02d} 02"})
        assert made.status_code == 201, made.get_json()
    exported = get(suite, "/api/v1/leads/export", query_string={"q": tag, "format": "csv", "bom": "true"})
    assert exported.status_code == 200 and exported.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert sorted(r["company"] for r in rows) == sorted(
        ("'" + n if n[0] in "=+-@" else n) for n in names)
    assert {r["estimated_value"] for r in rows} == {"1234.50"}
    assert all(r["phone"].startswith("+48") for r in rows)  # a phone number is no formula
    plain = get(suite, "/api/v1/leads/export", query_string={"q": tag})
    assert not plain.data.startswith(b"\xef\xbb\xbf")

    workbook = get(suite, "/api/v1/leads/export", query_string={"q": tag, "format": "xlsx"})
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.data)).active
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    cells = [dict(zip(header, row)) for row in sheet.iter_rows(min_row=2)]
    assert sorted(c["company"].value for c in cells) == sorted(names)
    for row in cells:
        assert row["company"].data_type == "s"
        assert row["estimated_value"].data_type == "n" and row["estimated_value"].value == 1234.5
        assert row["created_at"].is_date and isinstance(row["created_at"].value, datetime)


def test_planner_outcomes_and_calendar_feed(suite):
    rep, rep_key = make_user(suite, "rep", make_team(suite))
    leads = [post(suite, "/api/v1/leads", {"company": unique_company()}, key=rep_key).get_json()["id"]
             for _ in range(3)]
    planned = post(suite, "/api/v1/activities/plan", {"lead_ids": leads, "first_day": "2026-01-05",
                                                       "last_day": "2026-01-06"}, key=rep_key)
    assert planned.status_code == 201 and planned.get_json()["total"] == 3
    required = get(suite, "/api/v1/activities/outcome-required", key=rep_key).get_json()["items"]
    assert len(required) == 3
    done = post(suite, f"/api/v1/activities/{required[0]['id']}/outcome", {"outcome": "call back in May"}, key=rep_key)
    assert done.status_code == 200 and done.get_json()["outcome"] == "call back in May"
    assert len(get(suite, "/api/v1/activities/outcome-required", key=rep_key).get_json()["items"]) == 2
    url = post(suite, "/api/v1/activities/calendar", key=rep_key).get_json()["url"]
    feed = suite.client.get(url.split("localhost", 1)[-1])
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert feed.get_data(as_text=True).count("BEGIN:VEVENT") == 3
    newer = post(suite, "/api/v1/activities/calendar", key=rep_key).get_json()["url"]
    assert suite.client.get(url.split("localhost", 1)[-1]).status_code == 404  # replaced
    assert suite.client.get(newer.split("localhost", 1)[-1]).status_code == 200
    assert post(suite, f"/api/v1/users/{rep['id']}/deactivate").status_code == 200
    wait_for(lambda: suite.client.get(newer.split("localhost", 1)[-1]).status_code == 404,
             message="the calendar feed of a deactivated rep stops")


@pytest.mark.parametrize("suite", ["postgresql"], indirect=True)  # the environment is the PostgreSQL suite's
def test_rate_limit_answers_429(suite):
    app = create_app(load_settings(), replace(load_gateway_settings(), rate_limit="3/minute"), start_relay=False)
    try:
        client = app.test_client()
        answers = [client.get("/api/v1/me", headers=suite.headers()).status_code for _ in range(5)]
        assert answers[:3] == [200, 200, 200] and answers[3] == 429
        limited = client.get("/api/v1/me", headers=suite.headers())
        assert limited.mimetype == "application/problem+json"
    finally:
        app.extensions["crm"].close()


@pytest.mark.parametrize("suite", ["postgresql"], indirect=True)  # a fault; the fault group covers SQLite
def test_a_stopped_service_makes_only_its_routes_answer_503(suite):
    suite.kill("leads", sig=15)
    try:
        down = get(suite, "/api/v1/leads")
        assert down.status_code == 503 and down.mimetype == "application/problem+json"
        assert "leads" in down.get_json()["detail"] and down.headers["Retry-After"]
        assert get(suite, "/api/v1/me").status_code == 200
        assert get(suite, "/api/v1/accounts").status_code == 200  # other services answer on
        assert suite.client.get("/readyz").status_code == 503
    finally:
        suite.start("leads")
        suite.wait_ready()


def test_a_manager_stays_within_the_own_team_and_ops_only_reads(suite):
    team_a, team_b = make_team(suite), make_team(suite)
    rep_a, rep_a_key = make_user(suite, "rep", team_a)
    rep_b, _ = make_user(suite, "rep", team_b)
    _, manager_key = make_user(suite, "manager", team_a)
    _, ops_key = make_user(suite, "ops")
    owned = {}
    for rep in (rep_a, rep_b):  # wait until gateway.user_changed put both on the leads roster
        owned[rep["id"]] = wait_for(lambda: (lambda r: r.get_json() if r.status_code == 201 else None)(
            post(suite, "/api/v1/leads", {"company": unique_company(), "owner_id": rep["id"]})),
            message="the reps to reach the leads roster")
    theirs, ours = owned[rep_b["id"]], owned[rep_a["id"]]
    assert post(suite, f"/api/v1/leads/{theirs['id']}/assign", {"owner_id": rep_a["id"]},
                key=manager_key).status_code == 404
    assert post(suite, "/api/v1/leads/reassign", {"from_owner_id": rep_b["id"], "to_owner_id": rep_a["id"]},
                key=manager_key).status_code == 403
    assert post(suite, "/api/v1/leads/reassign", {"from_owner_id": rep_a["id"], "to_owner_id": rep_b["id"]},
                key=manager_key).status_code == 403
    assert get(suite, f"/api/v1/leads/{theirs['id']}").get_json()["owner_id"] == rep_b["id"]
    assert post(suite, "/api/v1/leads", {"company": unique_company(), "owner_id": rep_b["id"]},
                key=manager_key).status_code == 403
    unknown = post(suite, "/api/v1/leads", {"company": unique_company(), "owner_id": str(uuid.uuid4())},
                   key=manager_key)
    assert unknown.status_code == 422 and "owner_id" in unknown.get_json()["errors"]
    plan = {"lead_ids": [ours["id"]], "first_day": "2026-01-05", "last_day": "2026-01-05"}
    assert post(suite, "/api/v1/activities/plan", {**plan, "owner_ids": [rep_b["id"]]},
                key=manager_key).status_code == 403
    assert post(suite, "/api/v1/assignment-rules", {"name": f"rule {uuid.uuid4().hex[:8]}",
                                                    "strategy": "round_robin", "team_id": team_b,
                                                    "active": False}, key=manager_key).status_code == 403
    rule = post(suite, "/api/v1/assignment-rules", {"name": f"rule {uuid.uuid4().hex[:8]}",
                                                    "strategy": "round_robin", "active": False}, key=manager_key)
    assert rule.status_code == 201 and rule.get_json()["team_id"] == team_a
    assert {r["team_id"] for r in get(suite, "/api/v1/assignment-rules", key=manager_key).get_json()} == {team_a}
    activity = post(suite, "/api/v1/activities", {"lead_id": ours["id"], "type": "call",
                                                  "due_at": "2026-01-05T10:00:00+00:00"}, key=rep_a_key).get_json()
    assert post(suite, f"/api/v1/activities/{activity['id']}/outcome", {"outcome": "ops was here"},
                key=ops_key).status_code == 403
    assert get(suite, "/api/v1/activities", key=ops_key, query_string={"lead_id": ours["id"]}).get_json()["total"] == 1
    spec = suite.client.get("/api/v1/openapi.json").get_json()
    unlabelled = [f"{method} {path}" for path, item in spec["paths"].items()
                  if path.startswith(("/api/v1/leads", "/api/v1/activities", "/api/v1/assignment-rules"))
                  for method, op in item.items() if method in ("get", "post", "patch", "delete")
                  and "x-crm-policy" not in op]
    assert unlabelled == []


def upload(suite, data, filename, key=None):
    stream = data if hasattr(data, "read") else io.BytesIO(data)
    return suite.client.post("/api/v1/leads/imports", headers=suite.headers(key),
                             data={"file": (stream, filename)}, content_type="multipart/form-data")


def test_a_hostile_spreadsheet_is_a_422_naming_the_file_and_a_failed_job_that_imports_nothing(suite):
    tag = uuid.uuid4().hex[:8]
    files = {"bomb.xlsx": hostile.xlsx_sheet_bomb(),              # 3 MB unpacking to 1 GB
             "corner.xlsx": hostile.xlsx_huge_dimension(),        # declares 16,384 x 20,000
             "far-row.xlsx": hostile.xlsx_huge_row_index(),
             "big-cell.xlsx": hostile.xlsx_huge_shared_string(),  # one cell of 200 MB
             "broken.xlsx": b"PK\x03\x04 not really a zip",
             "half-utf8.csv": hostile.csv_broken_midway(2500, tag)}  # breaks after 2 chunks
    for filename, data in files.items():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        answer = upload(suite, data, filename)
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert answer.status_code == 422, (filename, answer.get_json())
        problem = answer.get_json()
        assert answer.mimetype == "application/problem+json" and "file" in problem["errors"], filename
        assert "nothing was imported" in problem["detail"]
        assert grown_mb < 64, f"{filename}: the gateway grew by {grown_mb:.0f} MB"
        job = get(suite, f"/api/v1/leads/imports/{problem['import_id']}").get_json()
        assert (job["status"], job["imported"], job["total_rows"]) == ("failed", 0, 0), filename
        assert job["errors"] == [{"row": 0, "field": "file", "reason": problem["errors"]["file"],
                                  "existing_lead_id": None}]
    time.sleep(1.5)  # the import timer runs every 0.5 s: give it the chance to import what it must not
    assert get(suite, "/api/v1/leads", query_string={"q": tag}).get_json()["total"] == 0


def test_a_csv_field_over_the_cell_limit_is_a_rejected_row_and_the_rest_is_imported(suite):
    tag = uuid.uuid4().hex[:8]
    answer = upload(suite, hostile.csv_with_long_field(200 * 1024, rows=5, long_row=3, tag=tag), "long.csv")
    assert answer.status_code == 202, answer.get_json()
    job = wait_for(lambda: (lambda j: j if j["status"] == "done" else None)(get(suite, answer.headers["Location"]).get_json()),
                   message="the import to finish")
    assert (job["imported"], job["rejected"], job["total_rows"]) == (4, 1, 5)
    assert [(e["row"], e["field"]) for e in job["errors"]] == [(3, "company")]
    assert "longer than 32,767 characters" in job["errors"][0]["reason"]


def test_an_upload_with_an_idempotency_key_is_hashed_without_breaking_the_form(suite):
    """The gateway hashes the multipart body for the key and still forwards it whole."""
    key = {"Idempotency-Key": uuid.uuid4().hex}

    def send(content: bytes):
        return suite.client.post("/api/v1/leads/imports", content_type="multipart/form-data",
                                 headers=suite.headers(**key), data={"file": (io.BytesIO(content), "leads.pdf")})

    first = send(b"%PDF-1.4 not a spreadsheet")
    assert first.status_code == 422 and "file" in first.get_json()["errors"], first.get_json()
    assert send(b"%PDF-1.4 not a spreadsheet").headers["Idempotent-Replayed"] == "true"
    other = send(b"%PDF-1.4 another file")
    assert other.status_code == 422 and "Idempotent-Replayed" not in other.headers
