"""Declares the durable queues of every installed consumer.

nameko publishes events with ``mandatory=False``, so an event sent before its
consumer has ever started would be confirmed and dropped. ``crm migrate``
(and every service start) declares all consumers' queues from the plugin
manifests, so events wait in their queue until the consumer comes.
"""
from __future__ import annotations

from kombu import Connection

from shared.nameko_ext import handler_queues
from shared.plugins import ServiceManifest


def declare_consumer_queues(amqp_uri: str, manifests: dict[str, ServiceManifest],
                            retry_delays) -> list[str]:
    declared = []
    with Connection(amqp_uri) as conn:
        channel = conn.default_channel
        for manifest in manifests.values():
            for consumer in manifest.consumes:
                for queue in handler_queues(consumer.source_service, consumer.event_type,
                                            manifest.name, consumer.handler, retry_delays):
                    queue(channel).declare()
                    declared.append(queue.name)
    return declared
