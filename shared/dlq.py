"""The parked (dead-letter) queues: list what is parked, replay it.

A handler that keeps failing parks its event in ``<queue>.parked``; once the
cause is fixed, an operator replays the parked events into the handler's
queue (``crm dlq list``, ``crm dlq replay``).
"""
from __future__ import annotations

from dataclasses import dataclass

from kombu import Connection
from kombu.exceptions import OperationalError

from shared.nameko_ext import ATTEMPTS_HEADER, queue_names
from shared.plugins import ServiceManifest


@dataclass(frozen=True)
class ParkedQueue:
    service: str
    handler: str
    queue: str
    parked: str
    depth: int


def parked_queues(amqp_uri: str, manifests: dict[str, ServiceManifest], retry_delays) -> list[ParkedQueue]:
    found = []
    with Connection(amqp_uri) as conn:
        for manifest in manifests.values():
            for consumer in manifest.consumes:
                main, _, parked = queue_names(consumer.source_service, consumer.event_type,
                                              manifest.name, consumer.handler, retry_delays)
                try:
                    _, depth, _ = conn.channel().queue_declare(parked, passive=True)
                except OperationalError:
                    depth = 0  # not declared yet: nothing parked
                found.append(ParkedQueue(manifest.name, consumer.handler, main, parked, depth))
    return found


def peek(amqp_uri: str, parked: str, limit: int = 20) -> list[dict]:
    """The first ``limit`` parked messages, left in place."""
    seen = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        for _ in range(limit):
            message = channel.basic_get(parked, no_ack=False)
            if message is None:
                break
            seen.append({"headers": dict(message.headers or {}), "body": message.body})
        channel.close()  # unacknowledged messages return to the queue
    return seen


def replay(amqp_uri: str, parked: str, target: str, limit: int | None = None) -> int:
    """Move parked messages back to the handler's queue; each is acked only after
    the broker confirmed its copy, so a crash duplicates at worst (the inbox dedupes)."""
    moved = 0
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        producer = conn.Producer(channel=conn.channel())
        while limit is None or moved < limit:
            message = channel.basic_get(parked, no_ack=False)
            if message is None:
                break
            headers = {k: v for k, v in (message.headers or {}).items() if k != ATTEMPTS_HEADER}
            headers["x-crm-replayed"] = True
            producer.publish(message.body, exchange="", routing_key=target, headers=headers,
                             content_type=message.content_type or "application/json",
                             content_encoding=message.content_encoding or "utf-8",
                             delivery_mode=2, retry=False)
            channel.basic_ack(message.delivery_tag)
            moved += 1
    return moved
