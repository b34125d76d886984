"""Liveness and readiness, open to everyone (load balancers, ``crm up``)."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import current_app
from flask_smorest import Blueprint
from sqlalchemy import text

from gateway.auth import public
from shared.caller import Caller, Role

blueprint = Blueprint("health", __name__, description="Liveness and readiness")
PROBE_CALLER = Caller(user_id=None, role=Role.OPS, name="readyz", request_id="readyz")


@blueprint.route("/healthz")
@blueprint.doc(security=[])
@public
def healthz():
    """The gateway process is alive."""
    return {"status": "ok"}


@blueprint.route("/readyz")
@blueprint.doc(security=[])
@public
def readyz():
    """Ready (200) when the gateway's database answers and every service whose routes
    it knows (from their published contracts) answers a ping within 2 s, which it does only while it can write its own
    database; otherwise 503, naming what is down ("not running" when nothing
    consumes the service's queue, "cannot use its database" during a storage fault)."""
    state = current_app.extensions["crm"]
    database = _database(state.sessions)
    names = state.routes.services()
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        answers = dict(zip(names, pool.map(lambda name: _ping(state.probe_rpc, name), names)))
    ready = database == "ok" and all(v == "ok" for v in answers.values())
    body = {"status": "ready" if ready else "not ready", "database": database, "services": answers}
    return body, 200 if ready else 503


def _database(sessions) -> str:
    session = sessions()
    try:
        session.execute(text("SELECT 1"))
        return "ok"
    except Exception as exc:  # reported, not raised: this endpoint describes failures
        return f"down: {exc.__class__.__name__}"
    finally:
        session.close()


def _ping(pool, name: str) -> str:
    try:
        return "ok" if pool.call(name, "ping", PROBE_CALLER.to_context(), signed_as=PROBE_CALLER) == "pong" else "down: unexpected answer"
    except Exception as exc:  # ServiceUnavailable, a remote error: all mean not ready
        return f"down: {getattr(exc, 'detail', None) or exc.__class__.__name__}"
