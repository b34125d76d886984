"""Admin endpoints for the identity store: users, teams, branches, partners, API keys."""
from __future__ import annotations

import logging
from contextlib import contextmanager

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gateway import identity, idempotency
from gateway.models import ApiKey, Branch, Partner, Team, User
from gateway.schemas import (ApiKeyCreated, ApiKeyIn, ApiKeyOut, ApiKeyQuery, Caller, Entity, Named,
                             PageArgs, TeamIn, UserIn, UserOut, UserPatch)
from shared.web import current_caller, page, policy
from shared.db import utcnow
from shared.errors import Conflict, NotFound

blueprint = Blueprint("identity", __name__, url_prefix="/api/v1", description="Users, teams, partners and API keys")
log = logging.getLogger(__name__)


@contextmanager
def unit_of_work():
    state = current_app.extensions["crm"]
    uow = identity.unit_of_work(state.sessions, on_commit=state.relay.wake,
                                correlation_id=g.get("request_id"))
    try:
        yield uow
        uow.commit()
        state.keys.clear()  # a revoked key or a changed user counts from the next request
    except IntegrityError as exc:
        log.warning("integrity error turned into 409: %s", exc.orig)
        raise Conflict("that conflicts with an existing record") from None
    finally:
        uow.close()


def _page(session, model, args, order, *where):
    total = session.scalar(select(func.count()).select_from(model).where(*where))
    items = session.scalars(select(model).where(*where).order_by(order, model.id)
                            .limit(args["limit"]).offset(args["offset"])).all()
    return page({"items": items, "total": total}, args["limit"], args["offset"])


def _get(session, model, ident, what):
    obj = session.get(model, ident)
    if obj is None:
        raise NotFound(f"{what} {ident} not found")
    return obj


def _list_schema(item):
    class ListOf(Schema):
        items = fields.List(fields.Nested(item))
        total = fields.Integer()
        limit = fields.Integer()
        offset = fields.Integer()
    ListOf.__name__ = f"{item.__name__}List"
    return ListOf


def directory(path: str, model, schema_in, what: str) -> None:
    """POST/GET list/GET one for a simple named entity (branches, teams, partners)."""

    @blueprint.route(f"/{path}", endpoint=f"{path}_collection")
    class Collection(MethodView):
        @blueprint.arguments(PageArgs(), location="query")
        @blueprint.response(200, EntityList)
        @policy("identity.read")
        def get(self, args):
            with unit_of_work() as uow:
                return _page(uow.session, model, args, model.name)

        @blueprint.arguments(schema_in())
        @blueprint.response(201, Entity)
        @policy("identity.write")
        def post(self, data):
            with unit_of_work() as uow:
                identity.check_refs(uow.session, data)
                if uow.session.scalars(select(model).where(model.name == data["name"])).first():
                    raise Conflict(f"a {what} named {data['name']!r} exists", errors={"name": "taken"})
                obj = model(created_at=utcnow(), **data)
                uow.session.add(obj)
                uow.session.flush()
                return obj

    @blueprint.route(f"/{path}/<ident>", endpoint=f"{path}_item")
    class Item(MethodView):
        @blueprint.response(200, Entity)
        @policy("identity.read")
        def get(self, ident):
            with unit_of_work() as uow:
                return _get(uow.session, model, ident, what)


EntityList = _list_schema(Entity)
directory("branches", Branch, Named, "branch")
directory("teams", Team, TeamIn, "team")
directory("partners", Partner, Named, "partner")


@blueprint.route("/users")
class Users(MethodView):
    @blueprint.arguments(PageArgs(), location="query")
    @blueprint.response(200, _list_schema(UserOut))
    @policy("identity.read")
    def get(self, args):
        with unit_of_work() as uow:
            return _page(uow.session, User, args, User.name)

    @blueprint.arguments(UserIn())
    @blueprint.response(201, UserOut)
    @policy("identity.write")
    def post(self, data):
        with unit_of_work() as uow:
            return identity.create_user(uow, data)


@blueprint.route("/users/<user_id>")
class OneUser(MethodView):
    @blueprint.response(200, UserOut)
    @policy("identity.read")
    def get(self, user_id):
        with unit_of_work() as uow:
            return _get(uow.session, User, user_id, "user")

    @blueprint.arguments(UserPatch())
    @blueprint.response(200, UserOut)
    @policy("identity.write")
    def patch(self, data, user_id):
        with unit_of_work() as uow:
            return identity.update_user(uow, user_id, data)


@blueprint.route("/users/<user_id>/deactivate", methods=["POST"])
@blueprint.response(200, UserOut)
@policy("identity.write")
def deactivate_user(user_id):
    """A departing user: their keys stop working; reassign their leads with POST /leads/reassign."""
    with unit_of_work() as uow:
        return identity.update_user(uow, user_id, {"active": False})


@blueprint.route("/api-keys")
class ApiKeys(MethodView):
    @blueprint.arguments(ApiKeyQuery(), location="query")
    @blueprint.response(200, _list_schema(ApiKeyOut))
    @policy("identity.read")
    def get(self, args):
        """Keys without their secrets (``prefix`` tells them apart), optionally of one user."""
        where = [ApiKey.user_id == args["user_id"]] if args.get("user_id") else []
        with unit_of_work() as uow:
            return _page(uow.session, ApiKey, args, ApiKey.created_at, *where)

    @blueprint.arguments(ApiKeyIn())
    @blueprint.response(201, ApiKeyCreated)
    @policy("identity.write")
    def post(self, data):
        """Create a key; the full key is in this answer only (it is stored hashed).

        A retry with the same ``Idempotency-Key`` gets this answer without ``key``:
        revoke that key and create another if the first answer was lost."""
        idempotency.withhold("key")
        with unit_of_work() as uow:
            record, key = identity.create_api_key(uow, data["user_id"], data["name"])
            record.key = key  # shown in this answer only; not a column
            return record


@blueprint.route("/api-keys/<key_id>/revoke", methods=["POST"])
@blueprint.response(200, ApiKeyOut)
@policy("identity.write")
def revoke_key(key_id):
    """A revoked key stops working; the last key of the last active admin cannot be revoked (409)."""
    with unit_of_work() as uow:
        return identity.revoke_api_key(uow, key_id)


@blueprint.route("/me")
@blueprint.response(200, Caller)
@policy("me.read")
def me():
    """Who the key in this request belongs to."""
    return current_caller().to_context()
