"""A service that is not running makes only its own routes answer 503, quickly and clearly.

No leads service runs in these tests' vhost, so nothing consumes its RPC queue.
"""
from __future__ import annotations

import time

from kombu import Connection, Exchange, Queue

from gateway.tests.helpers import assert_problem


def test_leads_routes_are_503_while_the_rest_answers(client):
    for answer in (client.get("/api/v1/leads"), client.post("/api/v1/leads", {"company": "Acme"}),
                   client.get("/api/v1/leads/export"), client.raw.get("/api/v1/calendar/abc.ics")):
        body = assert_problem(answer, 503)
        assert "leads service" in body["detail"] and "try again later" in body["detail"]
        assert body["service"] == "leads" and answer.headers["Retry-After"] == "5"
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/users").status_code == 200
    assert client.raw.get("/healthz").status_code == 200


def test_input_is_validated_by_the_service_before_any_use_case(client):
    """The gateway forwards (the service is down here: 503); the service's schemas refuse."""
    from crm_testkit.helpers import serve_http
    from services.leads.service import LeadsService
    from shared.caller import Caller, Role
    assert_problem(client.post("/api/v1/leads", {"company": "", "currency": "euro"}), 503)
    answer = serve_http(LeadsService, Caller(user_id="u1", role=Role.ADMIN), "POST", "/api/v1/leads",
                        '{"company": "", "currency": "euro"}', content_type="application/json")
    assert answer["status"] == 422 and {"company", "currency"} <= set(answer["problem"]["errors"])


def test_readyz_names_what_is_down(client):
    answer = client.raw.get("/readyz")
    assert answer.status_code == 503
    body = answer.get_json()
    assert body["status"] == "not ready" and body["database"] == "ok"
    assert body["services"]["leads"].startswith("down: the leads service")


def _rpc_queue() -> Queue:
    return Queue("rpc-leads", exchange=Exchange("nameko-rpc", type="topic", durable=True),
                 routing_key="leads.*", durable=True)


def test_a_stopped_service_is_503_at_once_and_nothing_waits_in_its_queue(backends, make_app, client):
    """The service's queue exists (it ran once) but no process consumes it: the gateway
    asks RabbitMQ for the queue's consumers and does not wait the RPC timeout."""
    amqp_uri = backends.vhost()
    queue = _rpc_queue()
    with Connection(amqp_uri) as conn:
        queue(conn.default_channel).declare()
        app = make_app(amqp_uri=amqp_uri, rpc_timeout=20.0)
        gateway = app.test_client()
        for _ in range(3):
            started = time.monotonic()
            answer = gateway.get("/api/v1/leads", headers=client.headers())
            assert time.monotonic() - started < 10  # far below the 20 s timeout: nobody waited for it
            body = assert_problem(answer, 503)
            assert "leads service is not running" in body["detail"] and answer.headers["Retry-After"] == "5"
        assert "not running" in gateway.get("/readyz").get_json()["services"]["leads"]
        assert queue(conn.default_channel).queue_declare(passive=True).message_count == 0


def test_a_call_nobody_answers_times_out_and_expires_in_the_queue(backends, make_app, client):
    """A process consumes the service's queue but never answers (stuck): the caller gets
    503 after the timeout, and its request expires in the queue instead of being
    carried out when the service comes back."""
    amqp_uri = backends.vhost()
    queue = _rpc_queue()
    with Connection(amqp_uri) as conn, Connection(amqp_uri) as stuck:
        queue(conn.default_channel).declare()
        channel = stuck.channel()
        channel.basic_qos(prefetch_size=0, prefetch_count=1, a_global=False)
        consumer = stuck.Consumer(queue(channel), callbacks=[lambda body, message: None])
        consumer.consume()  # takes one request and sits on it; the next ones wait in the queue
        app = make_app(amqp_uri=amqp_uri, rpc_timeout=1.0)
        gateway = app.test_client()
        for _ in range(2):
            started = time.monotonic()
            answer = gateway.get("/api/v1/leads", headers=client.headers())
            assert time.monotonic() - started < 30  # a bound on hanging, not a speed claim
            assert "did not answer within 1s" in assert_problem(answer, 503)["detail"]
        # The abandoned request must not be carried out when the service comes back.
        deadline = time.monotonic() + 15
        while queue(conn.default_channel).queue_declare(passive=True).message_count:
            assert time.monotonic() < deadline, "the abandoned RPC request never expired"
            time.sleep(0.2)
        consumer.cancel()


def test_a_broker_that_cannot_be_reached_is_503(make_app, client):
    app = make_app(amqp_uri="amqp://guest:guest@127.0.0.1:1/")
    body = assert_problem(app.test_client().get("/api/v1/leads", headers=client.headers()), 503)
    assert "broker" in body["detail"]
