"""The gateway's app factory: one authenticated HTTP API in front of the services."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g
from sqlalchemy.orm import sessionmaker

from gateway import admin, auth, docs, edge, forward, health, idempotency, limits, openapi, problems
from gateway.contract_feed import ContractFeed
from gateway.keycache import KeyCache
from gateway.models import metadata
from gateway.route_table import RouteTable
from gateway.rpc import ConsumerCheck, RpcPool
from gateway.settings import GatewaySettings, load_gateway_settings
from shared.config import Settings, load_settings
from shared.db import make_engine
from shared.outbox import OutboxRelay
from shared.openapi import register_converters

READINESS_TIMEOUT = 2.0
LONG_CALLS = 4  # uploads and exports in flight at once, per gateway process


@dataclass
class GatewayState:
    """What the request handlers share, at ``app.extensions["crm"]``."""
    settings: Settings
    gateway_settings: GatewaySettings
    sessions: sessionmaker
    rpc: RpcPool
    long_rpc: RpcPool           # GATEWAY_LONG_RPC_TIMEOUT, for uploads and exports
    probe_rpc: RpcPool          # short timeout, for /readyz
    relay: OutboxRelay
    routes: RouteTable          # the services' routes, from their published contracts
    feed: ContractFeed
    keys: KeyCache

    def close(self) -> None:
        """Stop the threads and close the connections of this app (tests make many)."""
        self.relay.stop()
        self.feed.stop()
        for pool in (self.rpc, self.long_rpc, self.probe_rpc):
            pool.close()
        self.sessions.kw["bind"].dispose()


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
    routes = RouteTable()
    feed = ContractFeed(settings.amqp_uri, sessions, routes)
    consumers = ConsumerCheck(settings.amqp_uri)
    app.extensions["crm"] = GatewayState(
        settings, own, sessions, RpcPool(settings, own.rpc_timeout, own.rpc_pool_size, consumers),
        RpcPool(settings, own.long_rpc_timeout, LONG_CALLS, consumers),
        RpcPool(settings, READINESS_TIMEOUT, 4, consumers), relay, routes, feed, KeyCache(own.auth_cache_seconds))

    # Order matters: who is calling, then their rate limit, then the body, then idempotency.
    app.before_request(auth.assign_request_id)
    app.before_request(forward.find_route)
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

    api = openapi.GatewayApi(app)
    register_converters(api)
    problems.register(app)
    api.register_blueprint(health.blueprint)
    limiter.exempt(health.blueprint)
    app.register_blueprint(docs.blueprint)  # not an API operation: kept out of the document
    limiter.exempt(docs.blueprint)
    api.register_blueprint(admin.blueprint)
    # last: a path the gateway serves itself wins over the catch-all (werkzeug ranks <path:> last)
    app.add_url_rule("/api/v1/<path:path>", "forward.forward", forward.forward,
                     methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"], provide_automatic_options=False)
    routes.own_paths = set(api.spec.to_dict().get("paths", {}))
    feed.load_stored()
    if start_relay:
        relay.start_thread()
        feed.start_thread()
    return app
