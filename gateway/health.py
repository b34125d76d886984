"""Liveness and readiness, open to everyone (load balancers, ``crm up``)."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint
from sqlalchemy import text

from gateway.problems import ServiceUnavailable

blueprint = Blueprint("health", __name__, description="Liveness and readiness")
SYSTEM = {"user_id": None, "role": "ops", "request_id": "readyz"}


@blueprint.route("/healthz")
@blueprint.doc(security=[])
def healthz():
    """The gateway process is alive."""
    return {"status": "ok"}


@blueprint.route("/readyz")
@blueprint.doc(security=[])
def readyz():
    """Ready when the gateway's database answers and every installed service answers a ping."""
    state = current_app.extensions["crm"]
    checks = {}
    session = state.sessions()
    try:
        session.execute(text("SELECT 1"))
        checks["gateway_db"] = "ok"
    except Exception as exc:  # reported, not raised: this endpoint describes failures
        checks["gateway_db"] = f"down: {exc.__class__.__name__}"
    finally:
        session.close()
    services = {}
    for name in state.services:
        try:
            state.rpc.call(name, "ping", SYSTEM)
            services[name] = "ok"
        except ServiceUnavailable as exc:
            services[name] = f"down: {exc.detail}"
    ready = checks["gateway_db"] == "ok" and all(v == "ok" for v in services.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks, "services": services}
    return body, 200 if ready else 503
