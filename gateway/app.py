"""The gateway's app factory: one authenticated HTTP API in front of the services."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g
from sqlalchemy.orm import sessionmaker

from gateway import admin, auth, docs, edge, health, idempotency, limits, openapi, problems
from gateway.keycache import KeyCache
from gateway.models import metadata
from gateway.rpc import RpcPool
from gateway.settings import GatewaySettings, load_gateway_settings
from shared.config import Settings, load_settings
from shared.db import make_engine
from shared.outbox import OutboxRelay
from shared.plugins import ServiceManifest, discover_services, load_object

READINESS_TIMEOUT = 2.0


@dataclass
class GatewayState:
    """What the request handlers share, at ``app.extensions["crm"]``."""
    settings: Settings
    gateway_settings: GatewaySettings
    sessions: sessionmaker
    rpc: RpcPool
    probe_rpc: RpcPool          # short timeout, for /readyz
    relay: OutboxRelay
    services: dict[str, ServiceManifest]
    keys: KeyCache


def create_app(settings: Settings | None = None, gateway_settings: GatewaySettings | None = None,
               start_relay: bool = True) -> Flask:
    """The gateway WSGI app. ``start_relay=False`` leaves the outbox relay thread
    (which publishes gateway.user_changed) stopped, for tests. Logging is the
    process's business (``gateway.wsgi``), not the factory's."""
    settings = settings or load_settings()
    own = gateway_settings or load_gateway_settings()
    app = Flask("crm-gateway")
    openapi.configure(app)
    app.config["MAX_CONTENT_LENGTH"] = own.max_body_bytes  # raised per request for uploads (edge)
    engine = make_engine(settings.database_url("gateway"), busy_timeout=settings.sqlite_busy_timeout)
    sessions = sessionmaker(engine, expire_on_commit=False)
    relay = OutboxRelay(engine, metadata.tables["outbox"], settings.amqp_uri,
                        batch_size=settings.relay_batch_size, poll_interval=settings.relay_poll_interval)
    manifests = discover_services()
    app.extensions["crm"] = GatewayState(
        settings, own, sessions, RpcPool(settings, own.rpc_timeout, own.rpc_pool_size),
        RpcPool(settings, READINESS_TIMEOUT, max(2, len(manifests))), relay, manifests,
        KeyCache(own.auth_cache_seconds))

    # Order matters: who is calling, then their rate limit, then the body, then idempotency.
    app.before_request(auth.assign_request_id)
    app.before_request(edge.check_headers)
    app.before_request(auth.authenticate_request)
    limiter = limits.install(app, own)
    app.before_request(edge.check_body)
    app.before_request(idempotency.before)
    app.after_request(idempotency.after)

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response

    app.teardown_request(auth.forget_request_id)

    api = openapi.CrmApi(app)
    openapi.register_converters(api)
    problems.register(app)
    api.register_blueprint(health.blueprint)
    limiter.exempt(health.blueprint)
    app.register_blueprint(docs.blueprint)  # not an API operation: kept out of the document
    limiter.exempt(docs.blueprint)
    api.register_blueprint(admin.blueprint)
    for manifest in manifests.values():
        if manifest.blueprint:
            api.register_blueprint(load_object(manifest.blueprint))
    if start_relay:
        relay.start_thread()
    return app
