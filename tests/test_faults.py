"""Fault injection: kill -9 of a service while requests flow, RabbitMQ restarted
while writes go on. Slow; run in their own group (``pytest -m faults``)."""
from __future__ import annotations

import json
import subprocess
import uuid

import eventlet
import pytest
from kombu import Connection, Queue
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from crm_testkit.helpers import wait_for
from services.leads.models import Lead, metadata as leads_metadata
from shared.db import UnitOfWork
from shared.outbox import event_exchange
from tests import probe
from tests.test_kernel_reliability import declare_probe_consumer

pytestmark = pytest.mark.faults
JSON = {"Content-Type": "application/json"}


def drain(amqp_uri, queue_name):
    seen = []
    with Connection(amqp_uri) as conn:
        simple = conn.SimpleQueue(queue_name)
        while True:
            try:
                message = simple.get(timeout=1)
            except simple.Empty:
                return seen
            seen.append(json.loads(message.body) if isinstance(message.body, (str, bytes)) else message.body)
            message.ack()


def test_kill_9_of_leads_while_requests_flow_loses_no_lead_and_no_event(suite):
    watch = f"watch-created-{uuid.uuid4().hex[:6]}"
    with Connection(suite.env["AMQP_URI"]) as conn:
        Queue(watch, exchange=event_exchange("leads.events"), routing_key="leads.lead_created",
              durable=True)(conn.default_channel).declare()
    tag = uuid.uuid4().hex[:8]
    created, failed = {}, []

    def client(worker: int):
        for i in range(60):
            company = f"Fault {tag} {worker}-{i}"
            answer = suite.client.post("/api/v1/leads", data=json.dumps({"company": company}),
                                       headers=suite.headers(**JSON))
            if answer.status_code == 201:
                created[company] = answer.get_json()["id"]
            elif answer.status_code == 409:
                # The request was applied, the service died before acking it, and
                # RabbitMQ gave it to the restarted service: dedupe refuses the
                # second copy and names the lead the first one made.
                created[company] = answer.get_json()["existing_lead_id"]
            else:
                assert answer.status_code == 503, answer.get_data(as_text=True)
                failed.append(company)
            eventlet.sleep(0.01)

    workers = [eventlet.spawn(client, w) for w in range(4)]
    wait_for(lambda: len(created) >= 40, message="requests to flow")
    suite.kill("leads", sig=9)
    eventlet.sleep(1)
    suite.start("leads")
    for w in workers:
        w.wait()
    suite.wait_ready()
    # A request that failed may still have committed (the reply was lost): a retry
    # must then be refused as a duplicate, never create a second lead.
    for company in failed:
        retry = suite.client.post("/api/v1/leads", data=json.dumps({"company": company}), headers=suite.headers(**JSON))
        assert retry.status_code in (201, 409)
        created[company] = retry.get_json().get("id") or retry.get_json()["existing_lead_id"]

    engine = create_engine(suite.env["LEADS_DATABASE_URL"])
    outbox = leads_metadata.tables["outbox"]
    with engine.connect() as conn:
        rows = conn.execute(select(Lead.company, func.count()).where(Lead.company.like(f"Fault {tag}%"))
                            .group_by(Lead.company)).all()
        assert {c for c, _ in rows} == set(created) and all(n == 1 for _, n in rows)
        assert len(created) == 240
    wait_for(lambda: engine.connect().execute(select(func.count()).select_from(outbox)
                                              .where(outbox.c.published_at.is_(None))).scalar() == 0,
             message="the relay to publish every committed event")
    delivered = {e["payload"]["lead_id"] for e in drain(suite.env["AMQP_URI"], watch)
                 if e["payload"]["company"].startswith(f"Fault {tag}")}
    assert delivered == set(created.values())
    engine.dispose()


def rabbitmq(action: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", action], check=True, capture_output=True, timeout=120)


def test_writes_go_on_while_rabbitmq_is_down_and_events_arrive_after(probe_env, start_service):
    declare_probe_consumer(probe_env["amqp_uri"])
    start_service(probe.ProbeService)  # its relay publishes the probe outbox
    start_service(probe.ProbeConsumer)
    sessions = sessionmaker(probe_env["engines"]["probe"])
    outbox = probe.metadata.tables["outbox"]

    def write(n):
        uow = UnitOfWork(sessions, outbox, publishes=probe.PUBLISHED_EVENTS)
        uow.emit("probe.note_added", {"note_id": f"n-{n}", "text": f"while down {n}"})
        uow.commit()
        uow.close()

    write(0)
    wait_for(lambda: len(probe.applied_rows(probe_env["engines"]["probe_consumer"])) == 1, message="first event")
    rabbitmq("stop_app")
    try:
        for n in range(1, 21):
            write(n)  # the state change and its event commit with the broker away
        eventlet.sleep(2)
    finally:
        rabbitmq("start_app")
    texts = wait_for(lambda: (lambda rows: rows if len(rows) >= 21 else None)(
        probe.applied_rows(probe_env["engines"]["probe_consumer"])), timeout=120,
        message="the events written while RabbitMQ was down")
    assert sorted(r.text for r in texts) == sorted(f"while down {n}" for n in range(21))


def test_services_and_gateway_come_back_by_themselves_after_rabbitmq_restarts(suite):
    suite.wait_ready()
    lead = suite.client.post("/api/v1/leads", data=json.dumps({"company": f"Before restart {uuid.uuid4().hex}"}),
                             headers=suite.headers(**JSON))
    assert lead.status_code == 201
    rabbitmq("stop_app")
    try:
        down = suite.client.get(f"/api/v1/leads/{lead.get_json()['id']}", headers=suite.headers())
        assert down.status_code == 503
    finally:
        rabbitmq("start_app")
    wait_for(lambda: suite.client.get("/readyz").status_code == 200, timeout=120,
             message="the leads service and the gateway to reconnect")
    again = suite.client.get(f"/api/v1/leads/{lead.get_json()['id']}", headers=suite.headers())
    assert again.status_code == 200
    assert suite.processes["leads"].poll() is None, "the service process must not have died"
