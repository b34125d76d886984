"""Every ``/api/v1/...`` request the gateway does not answer itself goes to the service
whose published contract serves it (:mod:`gateway.route_table`), as one ``http``
RPC call (:mod:`shared.http_face`), after authentication, rate limits, the body
limits and idempotency have run (``gateway.app``).

:func:`find_route` runs first of all, so that authentication and the body
limits know whether the route is public or takes an upload. Here the caller's
role must have some reach for the route's policy action (403 otherwise, before
any RPC); the service decides about the records themselves.
"""
from __future__ import annotations

import base64
import uuid

from flask import Response, current_app, g, request, stream_with_context
from werkzeug.exceptions import Forbidden, HTTPException, MethodNotAllowed, NotFound

from gateway import idempotency
from gateway.problems import answer_problem
from shared import body_stream, policy
from shared.http_face import FORWARDED_HEADERS
from shared.caller import Caller

ANONYMOUS: dict = {}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


def find_route() -> None:
    """``g.route``: the service operation this request is for, if it is one."""
    g.route, g.route_arguments = None, {}
    if request.endpoint != "forward.forward":
        return
    method = "GET" if request.method == "HEAD" else request.method
    g.route, g.route_arguments = _state().routes.match(request.path, method)


def _state():
    return current_app.extensions["crm"]


def forward(path: str) -> Response:
    route = g.get("route")
    if route is None:
        allowed = g.get("route_arguments", {}).get("allowed") or _own_methods(request.path)
        if allowed:
            raise MethodNotAllowed(valid_methods=allowed)
        raise NotFound(f"there is no {request.path}")
    caller: Caller | None = g.get("caller")
    if not route.public:
        if route.policy is None or caller is None or not policy.allows(caller, route.policy):
            roles = policy.roles_for(route.policy) if route.policy else ()
            raise Forbidden(f"this needs one of the roles: {', '.join(roles)}" if roles
                            else "this route states no policy; nobody may call it")
    if route.secret:
        idempotency.withhold(*route.secret)
    state = _state()
    pool = state.long_rpc if (route.upload or route.long) else state.rpc
    answer = pool.call(route.service, "http", caller.to_context() if caller and not route.public else ANONYMOUS,
                       _request_document(state.settings.amqp_uri, route),
                       signed_as=None if route.public else caller,
                       answer_key=idempotency.answer_key(route.service, "http"))
    return _response(state.settings.amqp_uri, answer, pool.timeout)


def _own_methods(path: str) -> list[str]:
    """The methods of a path the gateway serves itself (its catch-all took another method)."""
    adapter = current_app.url_map.bind("crm")
    methods = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _arguments = adapter.match(path, method)
        except HTTPException:
            continue
        if endpoint != "forward.forward":
            methods.add(method)
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))


def _request_document(amqp_uri: str, route) -> dict:
    document = {"method": request.method, "path": request.path, "base_url": request.host_url,
                "query_string": request.query_string.decode("latin-1"),
                "headers": {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}}
    if route.upload and request.mimetype == "multipart/form-data":
        # Parsed here already (gateway.idempotency fingerprints its parts; files over 500 KB
        # wait on disk), so the raw stream is spent: it goes on as a multipart body made anew.
        boundary = uuid.uuid4().hex
        document["headers"]["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        document["body_queue"] = body_stream.send(amqp_uri, _multipart(boundary))
    elif route.upload:
        if request.content_length or "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            document["body_queue"] = body_stream.send(amqp_uri, iter(lambda: request.stream.read(65536), b""))
    else:
        raw = request.get_data(cache=True)  # checked by gateway.edge: UTF-8 JSON within the limits
        if raw:
            document["body"] = raw.decode("utf-8")
    return document


def _multipart(boundary: str):
    """The request's form fields and files as a multipart/form-data body, piece by piece."""
    for name, value in request.form.items(multi=True):
        yield _part_head(boundary, name) + b"\r\n" + value.encode("utf-8") + b"\r\n"
    for name, upload in request.files.items(multi=True):
        content_type = upload.mimetype or "application/octet-stream"
        yield (_part_head(boundary, name, upload.filename or "")
               + f"Content-Type: {content_type}\r\n\r\n".encode("utf-8"))
        upload.stream.seek(0)
        yield from iter(lambda: upload.stream.read(65536), b"")
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode("ascii")


def _part_head(boundary: str, name: str, filename: str | None = None) -> bytes:
    def quoted(text: str) -> str:  # as browsers escape them (HTML's multipart/form-data)
        return text.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    disposition = f'form-data; name="{quoted(name)}"'
    if filename is not None:
        disposition += f'; filename="{quoted(filename)}"'
    return f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode("utf-8")


def _response(amqp_uri: str, answer: dict, timeout: float) -> Response:
    headers = [(name, value) for name, value in answer.get("headers", ())
               if name.lower() not in _HOP_BY_HOP]
    if "problem" in answer:
        problem = dict(answer["problem"])
        title, detail = problem.pop("title", "Error"), problem.pop("detail", None)
        return answer_problem(answer["status"], title, detail, problem, headers)
    if answer.get("body_queue"):
        body = stream_with_context(body_stream.receive(amqp_uri, answer["body_queue"], timeout=timeout))
    elif answer.get("body_base64"):
        body = base64.b64decode(answer["body_base64"])
    else:
        body = answer.get("body", "")
    return Response(body, status=answer["status"], headers=headers)
