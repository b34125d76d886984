"""The routes the gateway forwards, learnt from the HTTP contracts the services publish.

A contract (:func:`shared.http_face.contract_of`) is a service's OpenAPI
paths and components; each operation says what the gateway guards it by
(``x-crm-policy``, ``x-crm-public``, ``x-crm-upload``, ``x-crm-long``,
``x-crm-secret``, see :mod:`shared.web`). A path belongs to the first
service that published it and must lie under ``/api/v1/``; a later claim by
another service, or a path the gateway serves itself, is refused and logged:
a process on the bus cannot take over another service's routes.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from shared import web

log = logging.getLogger(__name__)
PREFIX = "/api/v1/"
METHODS = ("get", "put", "post", "patch", "delete")
_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Operation:
    """One method of one path of a service, as the gateway guards and forwards it."""
    service: str
    path: str
    method: str
    policy: str | None
    public: bool
    upload: bool
    long: bool
    secret: tuple[str, ...]


def _operation(service: str, path: str, method: str, doc: dict) -> Operation:
    return Operation(service, path, method, doc.get(web.POLICY), bool(doc.get(web.PUBLIC)),
                     bool(doc.get(web.UPLOAD)), bool(doc.get(web.LONG)),
                     tuple(str(m) for m in doc.get(web.SECRET) or ()))


class RouteTable:
    """Thread-safe; rebuilt whole when a contract changes (rare), read on every request."""

    def __init__(self, own_paths: set[str] = frozenset()):
        self.own_paths = set(own_paths)
        self._lock = threading.Lock()
        self._contracts: dict[str, dict] = {}
        self._operations: dict[tuple[str, str], Operation] = {}
        self._map = Map(strict_slashes=False)

    def update(self, contract: dict) -> bool:
        """Take a service's contract; False when it is malformed or the same as before."""
        service = contract.get("service") if isinstance(contract, dict) else None
        if not isinstance(service, str) or not _SERVICE_NAME.match(service) \
                or not isinstance(contract.get("paths"), dict):
            log.error("ignoring a malformed HTTP contract (service %r)", service)
            return False
        with self._lock:
            if self._contracts.get(service) == contract:
                return False
            contracts = {**self._contracts, service: contract}
            self._operations, self._map = self._compile(contracts)
            self._contracts = contracts
        log.info("routes of %s learnt: %d paths", service, len(contract["paths"]))
        return True

    def _compile(self, contracts: dict[str, dict]):
        owners: dict[str, str] = {}
        operations: dict[tuple[str, str], Operation] = {}
        rules = []
        for service, contract in contracts.items():
            for path, item in contract["paths"].items():
                if not isinstance(path, str) or not path.startswith(PREFIX) or not isinstance(item, dict) \
                        or path in self.own_paths or owners.get(path, service) != service:
                    log.error("%s may not serve %r: %s", service, path,
                              f"it is {owners[path]}'s" if path in owners else "not one of its paths to claim")
                    continue
                owners[path] = service
                methods = [m for m in METHODS if isinstance(item.get(m), dict)]
                for method in methods:
                    operations[(path, method)] = _operation(service, path, method, item[method])
                rules.append(Rule(_PARAMETER.sub(r"<\1>", path), endpoint=path,
                                  methods=[m.upper() for m in methods]))
        return operations, Map(rules, strict_slashes=False)

    def match(self, path: str, method: str) -> tuple[Operation | None, dict]:
        """The operation serving ``method path`` and its path arguments; (None, {"allowed": [...]})
        when the path is known but not the method; (None, {}) when nobody serves it."""
        with self._lock:
            routes, operations = self._map, self._operations
        adapter = routes.bind("crm")
        try:
            template, arguments = adapter.match(path, method.upper())
        except MethodNotAllowed as exc:
            return None, {"allowed": sorted(exc.valid_methods or ())}
        except NotFound:
            return None, {}
        return operations.get((template, method.lower())), arguments

    def services(self) -> list[str]:
        with self._lock:
            return sorted(self._contracts)

    def contracts(self) -> list[dict]:
        with self._lock:
            return [self._contracts[name] for name in sorted(self._contracts)]

    def owned_paths(self) -> dict[str, str]:
        """path -> service, for the merged OpenAPI document."""
        with self._lock:
            return {path: op.service for (path, _method), op in self._operations.items()}
