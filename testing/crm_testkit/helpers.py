"""What a service's tests need besides fixtures: a worker on a real database that
commits like the real entrypoints do, calls signed as the gateway signs them, and
waiting for asynchronous work."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import eventlet
from nameko.testing.services import worker_factory
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from shared.db import UnitOfWork
from shared.plugins import ServiceManifest


class CommittingWorker:
    """``worker.method(...)`` runs the service method in a fresh unit of work,
    committed on success and rolled back on error, so tests see exactly what a
    committed RPC or event handler leaves behind. ``dependencies`` are given to
    the worker as they are (e.g. ``settings=``); any other is a mock."""

    def __init__(self, service_cls: type, manifest: ServiceManifest, engine: Engine, **dependencies):
        self._service_cls = service_cls
        self._dependencies = dependencies
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._outbox = manifest.load_metadata().tables["outbox"]

    def __getattr__(self, name: str):
        def call(*args, **kwargs):
            uow = UnitOfWork(self._sessions, self._outbox, publishes=self._service_cls.db.publishes)
            worker = worker_factory(self._service_cls, db=uow, **self._dependencies)
            try:
                result = getattr(worker, name)(*args, **kwargs)
                uow.commit()
                return result
            finally:
                uow.rollback()
                uow.close()
        return call


def signed_context(caller=None, ttl: float = 600.0, **extra) -> dict:
    """Context data for a standalone RPC proxy that calls services as the gateway
    would: ``caller`` (a ``Caller``, or None for anonymous) signed with this
    machine's key pair (``CRM_DATA_DIR``), plus ``extra`` entries."""
    from shared import signing
    from shared.config import load_settings
    token = signing.sign(caller, signing.signing_key(load_settings()), ttl)
    return {signing.TOKEN: token, **extra}


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"):
    """Poll until ``predicate()`` is truthy; fail with ``message`` after ``timeout`` seconds.

    The timeout is a bound on waiting for asynchronous work, not a speed assert.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        eventlet.sleep(interval)


BUS_DOCUMENT = "CRM_BUS_DOCUMENT"


def published_bus_document() -> dict:
    """The bus's exported AsyncAPI document, which consumer contract tests check what
    a service reads against: the file ``CRM_BUS_DOCUMENT`` names (a service built and
    tested on its own points it at the suite's published ``docs/contracts/asyncapi.json``),
    else the copy in the workspace the tests run from."""
    named = os.environ.get(BUS_DOCUMENT)
    candidates = [Path(named)] if named else [
        folder / "docs" / "contracts" / "asyncapi.json" for folder in (Path.cwd(), *Path.cwd().parents)]
    for path in candidates:
        if path.is_file():
            return json.loads(path.read_text())
    raise FileNotFoundError(f"no bus document: set {BUS_DOCUMENT} to the suite's docs/contracts/asyncapi.json "
                            "(found none in or above the working directory)")


def http_contract(service_class) -> dict:
    """The HTTP contract ``service_class`` publishes (its ``web = HttpFace(...)``), built
    here without starting it: to give a gateway under test the routes of a service."""
    from shared.http_face import build_app, contract_of, published_events
    _app, api = build_app(service_class.name, service_class.web.blueprint)
    return contract_of(service_class.name, api, published_events(service_class))


class NoUseCase:
    """Stands for the service behind a request that must be refused before any use case runs."""

    def __getattr__(self, method):
        raise AssertionError(f"the use case {method} ran; the request should have been refused before")


def serve_http(service_class, caller, method: str, path: str, body: bytes | str | None = None,
               query_string: str = "", content_type: str | None = None) -> dict:
    """``service_class``'s HTTP routes answering one request as ``caller``, as its ``http``
    RPC method answers the gateway, with no use case behind them (:class:`NoUseCase`)."""
    from shared.http_face import HttpFace, build_app
    face = HttpFace(service_class.web.blueprint)
    face.amqp_uri = None
    face.app, _api = build_app(service_class.name, service_class.web.blueprint)
    request = {"method": method, "path": path, "base_url": "http://gateway.test/", "query_string": query_string,
               "headers": {"Content-Type": content_type} if content_type else {}}
    if body is not None:
        request["body"] = body if isinstance(body, str) else body.decode("utf-8")
    return face.serve(NoUseCase(), caller, request)
