"""Test helpers for services: a worker on a real database that commits like
the real entrypoints do."""
from __future__ import annotations

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
