"""Pipelines: each company's own stages, their win probabilities and the fields
an opportunity must have before it may enter a stage."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from services.sales import domain
from services.sales.models import Pipeline, new_id
from services.sales.schemas import PipelineOut, dump
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork
from shared.errors import Conflict, Invalid, NotFound

_pipeline_out = PipelineOut()


def stages_of(pipeline: Pipeline) -> list[domain.Stage]:
    return [domain.Stage(key=s["key"], name=s["name"], order=s["order"], probability=s["probability"],
                         required_fields=tuple(s["required_fields"])) for s in pipeline.stages]


def stage_of(pipeline: Pipeline, key: str) -> domain.Stage:
    for stage in stages_of(pipeline):
        if stage.key == key:
            return stage
    raise Invalid(f"pipeline {pipeline.name!r} has no stage {key!r}",
                  errors={"stage": f"one of {', '.join(s.key for s in stages_of(pipeline))}"})


def _stored(stages: list[domain.Stage]) -> list[dict]:
    return [{"key": s.key, "name": s.name, "order": s.order, "probability": s.probability,
             "required_fields": list(s.required_fields)} for s in stages]


def create_pipeline(uow: UnitOfWork, caller: Caller, data: dict) -> dict[str, Any]:
    policy.require(caller, "pipeline.write")
    session = uow.session
    if session.scalars(select(Pipeline).where(Pipeline.name == data["name"])).first():
        raise Conflict(f"a pipeline named {data['name']!r} exists", errors={"name": "taken"})
    stages = domain.validate_pipeline(data["name"], data["stages"])
    if data.get("is_default"):
        session.execute(update(Pipeline).values(is_default=False))
    pipeline = Pipeline(id=new_id(), name=data["name"], line_of_business=data.get("line_of_business"),
                        is_default=bool(data.get("is_default")), stages=_stored(stages))
    session.add(pipeline)
    session.flush()
    return dump(_pipeline_out, pipeline)


def default_pipeline(session) -> Pipeline:
    """The pipeline marked default (a migration seeds one named "Default")."""
    pipeline = session.scalars(select(Pipeline).where(Pipeline.is_default.is_(True))
                               .order_by(Pipeline.created_at)).first()
    if pipeline is None:
        raise NotFound("no default pipeline; create one with is_default true")
    return pipeline


def get_pipeline(session, pipeline_id: str | None) -> Pipeline:
    if not pipeline_id:
        return default_pipeline(session)
    pipeline = session.get(Pipeline, pipeline_id)
    if pipeline is None:
        raise NotFound(f"pipeline {pipeline_id} not found")
    return pipeline


def list_pipelines(session, caller: Caller) -> list[dict[str, Any]]:
    """Every pipeline with its stages (not for partners)."""
    policy.require(caller, "pipeline.read")
    return [dump(_pipeline_out, p) for p in session.scalars(select(Pipeline).order_by(Pipeline.name))]
