"""A service's HTTP face: its routes served inside the service, and its HTTP contract.

A service declares ``web = HttpFace("services.<name>.api:blueprint")`` and
mixes in :class:`ServesHttp`, which adds two RPC methods:

- ``http(caller, request)``: the gateway forwards an authenticated request
  (method, path, query, a few headers, the body); the service runs it
  through its own Flask routes (:mod:`shared.web`), which load the input
  with the service's schemas and call its use cases on this worker, in the
  call's one unit of work, and answers status, headers and body. A request
  the routes refuse before any use case ran (no such route, bad input) is
  answered as a problem, which the gateway renders; a use case's
  :class:`~shared.errors.DomainError` crosses RPC as itself and rolls the
  unit of work back. Bodies above :data:`shared.body_stream.INLINE_BYTES`
  travel through the broker in chunks.
- ``http_contract(caller)``: the service's OpenAPI fragment (paths and
  components), with the ``x-crm-*`` members the gateway guards routes by,
  and the AsyncAPI fragment of the events it publishes.

When the service starts, and whenever a gateway asks (fanout exchange
:data:`WANTED_EXCHANGE`), it announces its contract on the fanout exchange
:data:`ANNOUNCE_EXCHANGE`: a gateway learns new and changed routes without
being redeployed.
"""
from __future__ import annotations

import base64
import logging
import tempfile
import time
from itertools import chain
from urllib.parse import quote

from flask import Flask, Response, g
from kombu import Connection, Exchange, Queue
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer
from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder

from shared import body_stream
from shared.config import load_settings
from shared.contract_docs import asyncapi_document
from shared.events import EventCatalog
from shared.http_problems import describe
from shared.nameko_ext import rpc
from shared.openapi import CrmApi, register_converters
from shared.plugins import load_object
from shared.web import ProblemAnswer

log = logging.getLogger(__name__)

ANNOUNCE_EXCHANGE = "crm.http_contracts"
WANTED_EXCHANGE = "crm.http_contracts.wanted"
# the request headers a route may read; the gateway forwards only these
FORWARDED_HEADERS = ("Content-Type", "Accept", "Accept-Language", "If-Match", "If-None-Match")
SPOOL_BYTES = 8 * 1024 * 1024  # an uploaded body beyond this waits on disk, not in memory


def announce_exchange() -> Exchange:
    return Exchange(ANNOUNCE_EXCHANGE, type="fanout", durable=True)


def wanted_exchange() -> Exchange:
    return Exchange(WANTED_EXCHANGE, type="fanout", durable=True)


def _refuse(error: HTTPException) -> ProblemAnswer:
    status, title, detail, extra, headers = describe(error)
    return ProblemAnswer(status, {"title": title, "detail": detail, **extra}, headers)


def build_app(service: str, blueprint: str) -> tuple[Flask, CrmApi]:
    """A Flask app of the service's routes alone (never served over a socket)."""
    app = Flask(f"crm-{service}")
    app.config.update(API_TITLE=f"CRM {service}", API_VERSION="v1", OPENAPI_VERSION="3.0.3")
    api = CrmApi(app)
    register_converters(api)
    api.register_blueprint(load_object(blueprint))
    app.register_error_handler(HTTPException, _refuse)
    return app, api


def published_events(service_class) -> EventCatalog:
    """The events ``service_class`` declares it publishes (its ``Database``'s contracts)."""
    from shared.nameko_ext import Database
    catalogs = [getattr(service_class, name).publishes for name in dir(service_class)
                if isinstance(getattr(service_class, name, None), Database)]
    return catalogs[0] if catalogs else EventCatalog(())


def contract_of(service: str, api: CrmApi, events: EventCatalog = EventCatalog(())) -> dict:
    """The contract a service publishes: its name, its OpenAPI paths, components and tags,
    and the AsyncAPI channels, operations and components of the events it publishes
    (the gateway serves the bus's document from them)."""
    spec = api.spec.to_dict()
    bus = asyncapi_document(events)
    return {"service": service, "paths": spec.get("paths", {}),
            "components": spec.get("components", {}), "tags": spec.get("tags", []),
            "events": {key: bus[key] for key in ("channels", "operations", "components")}}


class HttpFace(DependencyProvider):
    """Serves the service's HTTP routes (see the module's docstring)."""

    def __init__(self, blueprint: str):
        self.blueprint = blueprint

    def setup(self):
        service = self.container.service_name
        self.amqp_uri = load_settings().amqp_uri
        self.app, api = build_app(service, self.blueprint)
        self.contract = contract_of(service, api, published_events(self.container.service_cls))

    def start(self):
        self.container.spawn_managed_thread(self._announce_when_ready)

    def get_dependency(self, worker_ctx):
        return self

    # -- the contract on the bus

    def _announce_when_ready(self) -> None:
        for extension in self.container.extensions:
            if isinstance(extension, QueueConsumer):
                extension._consumers_ready.wait()  # the http method can be called from now
        self.announce()
        self._answer_gateways()

    def announce(self) -> None:
        try:
            with Connection(self.amqp_uri, transport_options={"confirm_publish": True}) as connection:
                connection.Producer().publish(self.contract, exchange=announce_exchange(), routing_key="",
                                              declare=[announce_exchange()], serializer="json")
        except Exception as exc:  # the broker is away: the next gateway to ask learns it
            log.warning("could not announce the HTTP contract of %s: %s", self.container.service_name, exc)

    def _answer_gateways(self) -> None:
        """Announce again whenever a gateway asks (it started, or lost its connection)."""
        while True:
            try:
                with Connection(self.amqp_uri, heartbeat=30) as connection:
                    queue = Queue(exchange=wanted_exchange(), exclusive=True, auto_delete=True, durable=False)
                    with connection.Consumer(queue, callbacks=[self._on_wanted], accept=["json"]):
                        while True:
                            try:
                                connection.drain_events(timeout=5)
                            except TimeoutError:
                                connection.heartbeat_check()
            except Exception as exc:  # reconnect after a broker restart
                log.warning("lost the gateways' contract requests: %s; reconnecting", exc)
                time.sleep(2)

    def _on_wanted(self, _body, message) -> None:
        message.ack()
        self.announce()

    # -- serving a request

    def serve(self, service, caller, request: dict) -> dict:
        """Run the forwarded ``request`` through the service's routes as ``caller``."""
        body, length = self._request_body(request)
        try:
            environ = EnvironBuilder(
                method=request["method"], base_url=request["base_url"], path=quote(request["path"]),
                query_string=request.get("query_string", ""), headers=request.get("headers", {}),
                input_stream=body, content_length=length).get_environ()
            with self.app.request_context(environ):
                g.caller, g.crm_service = caller, service
                response = self.app.full_dispatch_request()
                try:
                    return self._answer(response)
                finally:
                    response.close()
        finally:
            body.close()

    def _request_body(self, request: dict):
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        if request.get("body_queue"):
            for chunk in body_stream.receive(self.amqp_uri, request["body_queue"]):
                spool.write(chunk)
        elif request.get("body_base64"):
            spool.write(base64.b64decode(request["body_base64"]))
        elif request.get("body"):
            spool.write(request["body"].encode("utf-8"))
        length = spool.tell()
        spool.seek(0)
        return spool, length

    def _answer(self, response: Response) -> dict:
        if isinstance(response, ProblemAnswer):
            return {"status": response.status_code, "problem": response.problem,
                    "headers": response.problem_headers}
        headers = [[name, value] for name, value in response.headers.items() if name != "Content-Length"]
        answer = {"status": response.status_code, "headers": headers}
        pieces = iter(response.iter_encoded())
        head = bytearray()
        for piece in pieces:
            head += piece
            if len(head) > body_stream.INLINE_BYTES:
                answer["body_queue"] = body_stream.send(self.amqp_uri, chain([bytes(head)], pieces))
                return answer
        try:
            answer["body"] = head.decode("utf-8")
        except UnicodeDecodeError:
            answer["body_base64"] = base64.b64encode(head).decode("ascii")
        return answer


class ServesHttp:
    """Mixed into a service class that declares ``web = HttpFace(...)``: its two HTTP RPC methods."""

    @rpc
    def http(self, caller, request):
        return self.web.serve(self, caller, request)

    @rpc
    def http_contract(self, caller):
        return self.web.contract
