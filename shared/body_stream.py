"""Large HTTP bodies between the gateway and a service, in chunks through the broker.

An RPC message carries a request or an answer whole, so a body larger than
:data:`INLINE_BYTES` (an upload, an export) does not travel in it: the sender
publishes it in chunks of :data:`CHUNK_BYTES` to a queue of its own (named in
the RPC message, deleted by the broker when unused for :data:`EXPIRES_MS`)
and the receiver reads them back in order. Neither side holds more than a
chunk in memory, and any replica of the service may take the call: the
queue, not a process, holds the body.
"""
from __future__ import annotations

import time
import uuid
from typing import Iterable, Iterator

from amqp.exceptions import ChannelError
from kombu import Connection, Exchange, Queue

INLINE_BYTES = 256 * 1024
CHUNK_BYTES = 256 * 1024
EXPIRES_MS = 5 * 60 * 1000
_END = "x-crm-end"
_DEFAULT = Exchange("", type="direct")


class BodyLost(Exception):
    """The body's queue is gone or ran dry before its last chunk."""


def _queue(name: str) -> Queue:
    return Queue(name, exchange=_DEFAULT, routing_key=name, durable=False, auto_delete=False,
                 queue_arguments={"x-expires": EXPIRES_MS})


def rechunk(pieces: Iterable[bytes], size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The bytes of ``pieces`` in chunks of ``size`` (the last one shorter)."""
    buffer = bytearray()
    for piece in pieces:
        buffer += piece
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


def send(amqp_uri: str, pieces: Iterable[bytes]) -> str:
    """Publish the body made of ``pieces`` (confirmed by the broker); the queue's name."""
    name = f"crm.body.{uuid.uuid4().hex}"
    queue = _queue(name)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as connection:
        producer = connection.Producer()
        queue(connection.default_channel).declare()
        previous = None
        for chunk in rechunk(pieces):
            if previous is not None:
                _publish(producer, name, previous, last=False)
            previous = chunk
        _publish(producer, name, previous or b"", last=True)
    return name


def _publish(producer, name: str, chunk: bytes, last: bool) -> None:
    producer.publish(chunk, routing_key=name, exchange=_DEFAULT, content_type="application/octet-stream",
                     content_encoding="binary", headers={_END: last}, delivery_mode=1)


def receive(amqp_uri: str, name: str, timeout: float = 30.0) -> Iterator[bytes]:
    """The chunks of the body in queue ``name``, in order; the queue is deleted after
    the last. BodyLost when it is missing or stays empty for ``timeout`` seconds."""
    with Connection(amqp_uri) as connection:
        channel = connection.channel()
        try:
            channel.queue_declare(queue=name, passive=True)
        except ChannelError as exc:  # NotFound: expired, or never sent
            raise BodyLost(f"the body {name} is no longer there") from exc
        queue = _queue(name)(channel)
        waited_since = time.monotonic()
        while True:
            message = queue.get(no_ack=True)
            if message is None:
                if time.monotonic() - waited_since > timeout:
                    raise BodyLost(f"the body {name} stopped before its end")
                time.sleep(0.005)
                continue
            waited_since = time.monotonic()
            yield message.body if isinstance(message.body, bytes) else message.body.encode("utf-8")
            if (message.headers or {}).get(_END):
                break
        queue.delete()
