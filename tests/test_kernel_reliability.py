"""The reliability contract of the kernel, against the real RabbitMQ and PostgreSQL."""
from __future__ import annotations

import json
import uuid
from dataclasses import replace

import eventlet
import pytest
from kombu import Connection
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from crm_testkit.helpers import signed_context, wait_for
from shared import signing
from shared.caller import Caller, Role
from shared.config import load_settings
from shared.db import UnitOfWork
from shared.errors import Forbidden
from shared.events import make_event
from shared.nameko_ext import queue_names
from shared.outbox import OutboxRelay, event_exchange
from shared.signing import ensure_key_pair
from shared.topology import declare_consumer_queues
from tests import probe


def outbox_rows(engine, published=None):
    outbox = probe.metadata.tables["outbox"]
    query = select(func.count()).select_from(outbox)
    if published is True:
        query = query.where(outbox.c.published_at.is_not(None))
    elif published is False:
        query = query.where(outbox.c.published_at.is_(None))
    with engine.connect() as conn:
        return conn.scalar(query)


def declare_probe_consumer(amqp_uri):
    declare_consumer_queues(amqp_uri, {"probe_consumer": probe.consumer_manifest},
                            load_settings().retry_delays)


def queue_depth(amqp_uri, name):
    with Connection(amqp_uri) as conn:
        _, count, _ = conn.default_channel.queue_declare(name, passive=True)
        return count


def test_rolled_back_transaction_emits_nothing(probe_env, start_service, rpc_proxy):
    declare_probe_consumer(probe_env["amqp_uri"])
    start_service(probe.ProbeService)
    with pytest.raises(Exception, match="boom after emit"):
        rpc_proxy.probe.add_note({}, "n-1", "never", fail_after_emit=True)
    rpc_proxy.probe.add_note({}, "n-2", "kept")
    main, _, _ = queue_names("probe", "probe.note_added", "probe_consumer", "on_note_added", (0.2, 0.4))
    wait_for(lambda: queue_depth(probe_env["amqp_uri"], main) == 1, message="the committed event")
    assert outbox_rows(probe_env["engines"]["probe"]) == 1
    with Connection(probe_env["amqp_uri"]) as conn:
        message = conn.SimpleQueue(main).get(timeout=5)
        assert json.loads(message.body)["payload"]["text"] == "kept"


def test_event_published_before_consumer_first_started_arrives(probe_env, start_service, rpc_proxy):
    """nameko publishes with mandatory=False: without declared queues this event would be dropped."""
    declare_probe_consumer(probe_env["amqp_uri"])
    start_service(probe.ProbeService)
    rpc_proxy.probe.add_note({}, "n-early", "early bird")
    wait_for(lambda: outbox_rows(probe_env["engines"]["probe"], published=True) == 1,
             message="the relay to publish")
    start_service(probe.ProbeConsumer)
    rows = wait_for(lambda: probe.applied_rows(probe_env["engines"]["probe_consumer"]),
                    message="the consumer to apply the early event")
    assert [r.text for r in rows] == ["early bird"]


def test_without_declared_queues_an_early_event_is_lost(probe_env, start_service, rpc_proxy):
    """The trap itself, so the test above is known to guard something real."""
    start_service(probe.ProbeService)
    rpc_proxy.probe.add_note({}, "n-lost", "nobody listens")
    wait_for(lambda: outbox_rows(probe_env["engines"]["probe"], published=True) == 1,
             message="the relay to publish")
    main, _, _ = queue_names("probe", "probe.note_added", "probe_consumer", "on_note_added", (0.2, 0.4))
    declare_probe_consumer(probe_env["amqp_uri"])
    assert queue_depth(probe_env["amqp_uri"], main) == 0


def test_failing_handler_is_retried_then_applies_once(probe_env, start_service, rpc_proxy):
    declare_probe_consumer(probe_env["amqp_uri"])
    probe.FAILURES["remaining"] = 2
    start_service(probe.ProbeService)
    start_service(probe.ProbeConsumer)
    rpc_proxy.probe.add_note({}, "n-flaky", "flaky")
    rows = wait_for(lambda: probe.applied_rows(probe_env["engines"]["probe_consumer"]),
                    message="the retried event to apply")
    eventlet.sleep(1.0)  # let any stray redelivery arrive before counting
    assert [r.text for r in probe.applied_rows(probe_env["engines"]["probe_consumer"])] == ["flaky"]
    assert probe.FAILURES["remaining"] == 0
    assert rows


def test_poisoned_event_is_parked_and_others_go_on(probe_env, start_service, rpc_proxy):
    declare_probe_consumer(probe_env["amqp_uri"])
    probe.FAILURES["always"] = {"poison"}
    start_service(probe.ProbeService)
    start_service(probe.ProbeConsumer)
    rpc_proxy.probe.add_note({}, "n-a", "poison")
    rpc_proxy.probe.add_note({}, "n-b", "healthy")
    _, _, parked = queue_names("probe", "probe.note_added", "probe_consumer", "on_note_added", (0.2, 0.4))
    wait_for(lambda: queue_depth(probe_env["amqp_uri"], parked) == 1, message="the poisoned event to be parked")
    assert [r.text for r in probe.applied_rows(probe_env["engines"]["probe_consumer"])] == ["healthy"]
    with Connection(probe_env["amqp_uri"]) as conn:
        message = conn.SimpleQueue(parked).get(timeout=5)
        assert message.headers["x-crm-attempts"] == 3
        assert "poisoned" in message.headers["x-crm-last-error"]
        assert json.loads(message.body)["payload"]["text"] == "poison"


def publish_raw(amqp_uri, message):
    """An envelope sent to the probe's exchange as any publisher's relay would."""
    with Connection(amqp_uri) as conn:
        conn.Producer(serializer="json").publish(message, exchange=event_exchange("probe.events"),
                                                  routing_key=message["event_type"], delivery_mode=2)


def test_a_handler_skips_the_versions_it_does_not_read_and_parks_what_it_cannot_read(probe_env, start_service):
    declare_probe_consumer(probe_env["amqp_uri"])
    note = probe.PUBLISHED_EVENTS[0]
    v1 = make_event(note, {"note_id": "n-1", "text": "read in v1"}).to_message()
    twin_v2 = {**v1, "event_id": str(uuid.uuid4()), "version": 2, "payload": {"note_id": "n-1", "body": "v2"}}
    unreadable = {**make_event(note, {"note_id": "n-2", "text": "x"}).to_message(), "payload": {"note_id": "n-2"}}
    for message in (twin_v2, unreadable, v1):
        publish_raw(probe_env["amqp_uri"], message)
    main, _, parked = queue_names("probe", "probe.note_added", "probe_consumer", "on_note_added", (0.2, 0.4))
    start_service(probe.ProbeConsumer)
    rows = wait_for(lambda: probe.applied_rows(probe_env["engines"]["probe_consumer"]),
                    message="the v1 event to apply")
    wait_for(lambda: queue_depth(probe_env["amqp_uri"], parked) == 1, message="the unreadable event parked")
    assert [(r.event_id, r.text) for r in rows] == [(v1["event_id"], "read in v1")]
    assert queue_depth(probe_env["amqp_uri"], main) == 0, "the v2 twin is acknowledged, not left behind"
    assert probe.FAILURES["started"] == ["read in v1"], "the handler never ran on the other two"
    with Connection(probe_env["amqp_uri"]) as conn:
        message = conn.SimpleQueue(parked).get(timeout=5)
        assert message.headers["x-crm-attempts"] == 0, "parked at once: a retry would fail the same way"
        assert "payload not readable" in message.headers["x-crm-last-error"]
        assert json.loads(message.body)["event_id"] == unreadable["event_id"]


def test_relay_killed_between_publish_and_mark_publishes_again_consumer_applies_once(
        probe_env, start_service, monkeypatch):
    declare_probe_consumer(probe_env["amqp_uri"])
    engine = probe_env["engines"]["probe"]
    outbox = probe.metadata.tables["outbox"]
    uow = UnitOfWork(sessionmaker(engine), outbox, publishes=probe.PUBLISHED_EVENTS)
    uow.emit("probe.note_added", {"note_id": "n-twice", "text": "published twice"})
    uow.commit()
    uow.close()

    crashing = OutboxRelay(engine, outbox, probe_env["amqp_uri"])

    def crash(*_args):
        raise SystemExit("relay killed after publishing, before marking")

    monkeypatch.setattr(crashing, "_mark", crash)
    with pytest.raises(SystemExit):
        crashing.drain_once()
    crashing._drop_connection()
    assert outbox_rows(engine, published=False) == 1

    OutboxRelay(engine, outbox, probe_env["amqp_uri"]).drain_once()
    assert outbox_rows(engine, published=False) == 0
    main, _, _ = queue_names("probe", "probe.note_added", "probe_consumer", "on_note_added", (0.2, 0.4))
    assert queue_depth(probe_env["amqp_uri"], main) == 2

    start_service(probe.ProbeConsumer)
    wait_for(lambda: queue_depth(probe_env["amqp_uri"], main) == 0, message="both copies consumed")
    eventlet.sleep(0.5)
    assert [r.text for r in probe.applied_rows(probe_env["engines"]["probe_consumer"])] == ["published twice"]


def test_two_slow_queries_in_one_service_overlap(probe_env, start_service, rpc_proxy):
    """psycogreen makes psycopg2 cooperative: a blocking driver would run these one after the other."""
    start_service(probe.ProbeService)
    first = eventlet.spawn(rpc_proxy.probe.slow, {}, 1.0)
    with ClusterRpcProxy({"AMQP_URI": probe_env["amqp_uri"], "serializer": "json"}, timeout=20,
                         context_data=signed_context()) as other:
        start_b, end_b = other.probe.slow({}, 1.0)
    start_a, end_a = first.wait()
    assert start_a < end_b and start_b < end_a, "the two queries ran one after the other"


def test_rpc_events_and_timers_run_under_the_pinned_eventlet(probe_env, start_service, rpc_proxy):
    declare_probe_consumer(probe_env["amqp_uri"])
    probe.TICKS.clear()
    start_service(probe.ProbeService)
    start_service(probe.ProbeConsumer)
    assert rpc_proxy.probe.add_note({}, str(uuid.uuid4()), "runtime") is not None
    wait_for(lambda: probe.applied_rows(probe_env["engines"]["probe_consumer"]), message="event delivery")
    wait_for(lambda: len(probe.TICKS) >= 3, message="the timer to tick")


def test_consumer_killed_mid_handler_gets_the_event_again_and_applies_it_once(
        probe_env, start_service, rpc_proxy):
    import subprocess
    import sys
    from sqlalchemy import text
    declare_probe_consumer(probe_env["amqp_uri"])
    start_service(probe.ProbeService)
    argv = [sys.executable, "-m", "tests.run_probe_consumer"]
    doomed = subprocess.Popen(argv)
    rpc_proxy.probe.add_note({}, "n-slow", "slow one")

    def handler_running():
        with probe_env["engines"]["probe_consumer"].connect() as conn:
            return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                                     "'INSERT INTO applied%' AND state = 'idle in transaction'")).scalar()

    wait_for(handler_running, message="the handler to be mid-way")
    doomed.kill()
    doomed.wait()
    assert probe.applied_rows(probe_env["engines"]["probe_consumer"]) == []
    survivor = subprocess.Popen(argv)
    try:
        rows = wait_for(lambda: probe.applied_rows(probe_env["engines"]["probe_consumer"]),
                        message="the redelivered event")
        eventlet.sleep(0.5)
        assert [r.text for r in probe.applied_rows(probe_env["engines"]["probe_consumer"])] == ["slow one"]
        assert rows
    finally:
        survivor.kill()
        survivor.wait()


def test_operator_lists_and_replays_parked_events(probe_env, start_service, rpc_proxy):
    from shared.dlq import parked_queues, peek, replay
    declare_probe_consumer(probe_env["amqp_uri"])
    manifests = {"probe_consumer": probe.consumer_manifest}
    probe.FAILURES["always"] = {"bad data"}
    start_service(probe.ProbeService)
    start_service(probe.ProbeConsumer)
    rpc_proxy.probe.add_note({}, "n-bad", "bad data")
    delays = load_settings().retry_delays
    wait_for(lambda: parked_queues(probe_env["amqp_uri"], manifests, delays)[0].depth == 1,
             message="the event to be parked")
    [parked] = parked_queues(probe_env["amqp_uri"], manifests, delays)
    assert parked.service == "probe_consumer" and parked.handler == "on_note_added"
    [shown] = peek(probe_env["amqp_uri"], parked.parked)
    assert "poisoned" in shown["headers"]["x-crm-last-error"]
    assert parked_queues(probe_env["amqp_uri"], manifests, delays)[0].depth == 1  # peek leaves it
    probe.FAILURES["always"] = set()  # the cause is fixed
    assert replay(probe_env["amqp_uri"], parked.parked, parked.queue) == 1
    rows = wait_for(lambda: probe.applied_rows(probe_env["engines"]["probe_consumer"]),
                    message="the replayed event to apply")
    assert [r.text for r in rows] == ["bad data"]
    assert parked_queues(probe_env["amqp_uri"], manifests, delays)[0].depth == 0


def test_relay_confirms_a_batch_at_once_and_keeps_nacked_rows_for_later(probe_env):
    """A queue that refuses what it cannot hold makes the broker nack: only the
    confirmed rows are marked, the rest wait for the next pass."""
    from kombu import Queue
    from shared.outbox import event_exchange

    engine = probe_env["engines"]["probe"]
    outbox = probe.metadata.tables["outbox"]
    full = Queue(f"full-{uuid.uuid4().hex[:6]}", exchange=event_exchange("probe.events"),
                 routing_key="probe.note_added", durable=True,
                 queue_arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    with Connection(probe_env["amqp_uri"]) as conn:
        full(conn.default_channel).declare()
    uow = UnitOfWork(sessionmaker(engine), outbox, publishes=probe.PUBLISHED_EVENTS)
    for n in range(5):
        uow.emit("probe.note_added", {"note_id": f"n-{n}", "text": "batch"})
    uow.commit()
    uow.close()

    relay = OutboxRelay(engine, outbox, probe_env["amqp_uri"])
    assert relay.drain_once() == 2
    assert outbox_rows(engine, published=False) == 3
    with Connection(probe_env["amqp_uri"]) as conn:
        full(conn.default_channel).purge()
    assert relay.drain_once() == 2
    assert outbox_rows(engine, published=False) == 1
    relay._drop_connection()


def test_expected_refusals_are_one_info_line_and_real_errors_keep_their_traceback(
        probe_env, start_service, rpc_proxy, caplog):
    """A 404/409/422 is the service answering as designed: not an ERROR with a traceback."""
    import logging
    caplog.set_level(logging.INFO)
    start_service(probe.ProbeService)
    for status in (404, 409, 422, 500):
        with pytest.raises(Exception, match="on purpose" if status != 500 else "unexpected failure"):
            rpc_proxy.probe.refuse({}, status)
    worker_lines = [r for r in caplog.records if r.name == "nameko.containers" and r.levelno >= logging.INFO
                    and "refuse" in r.getMessage()]
    expected = [r for r in worker_lines if "on purpose" in r.getMessage()]
    assert [(r.levelname, r.exc_info) for r in expected] == [("INFO", None)] * 3, worker_lines
    assert [r.getMessage() for r in expected] == [
        f"probe.refuse answered {status} {name}: refused with {status} on purpose"
        for status, name in ((404, "NotFound"), (409, "Conflict"), (422, "Invalid"))]
    [unexpected] = [r for r in worker_lines if "unexpected failure" in r.getMessage()]
    assert unexpected.levelname == "ERROR" and unexpected.exc_info is not None


def _proxy(probe_env, context_data):
    return ClusterRpcProxy({"AMQP_URI": probe_env["amqp_uri"], "serializer": "json"}, timeout=20,
                           context_data=context_data)


def test_a_service_acts_only_for_the_caller_the_gateway_signed(probe_env, start_service, tmp_path):
    """A forged caller context (any process on the bus claiming to be an admin) is not
    believed: the service takes the caller from the gateway's signature alone, and
    refuses a call with no signature, a foreign one or an expired one before it runs."""
    start_service(probe.ProbeService)
    rep = Caller(user_id="u-rep", role=Role.REP, team_id="t-1", request_id="signed")
    claimed_admin = {"user_id": "u-rep", "role": "admin", "team_id": None}
    with _proxy(probe_env, signed_context(rep)) as signed:
        assert signed.probe.whoami(claimed_admin) == rep.to_context()
    other_pair = tmp_path / "elsewhere"
    ensure_key_pair(other_pair)
    foreign = signing.sign(Caller(user_id="u-x", role=Role.ADMIN), signing.signing_key(
        replace(load_settings(), data_dir=other_pair)), 60)
    for context, reason in (({}, "no signed caller"), ({signing.TOKEN: foreign}, "not valid"),
                            ({signing.TOKEN: foreign[:-4] + "AAAA"}, "not valid"),
                            (signed_context(rep, ttl=-30), "expired")):
        with _proxy(probe_env, context) as forged:
            with pytest.raises(Forbidden, match=reason):
                forged.probe.add_note(claimed_admin, f"n-{uuid.uuid4()}", "forged")
    with probe_env["engines"]["probe"].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM notes WHERE text = 'forged'")).scalar() == 0

