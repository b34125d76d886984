"""The sales service's routes in the gateway: accounts, contacts, products,
pipelines, opportunities, quotes and contracts."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from gateway.toolkit import call, page, page_schema
from services.sales import schemas as s

blueprint = Blueprint("sales", __name__, url_prefix="/api/v1",
                      description="Accounts, contacts, products, pipelines, opportunities, quotes and contracts")


def _paged(method: str, args: dict):
    args = dict(args)
    limit, offset = args.pop("limit"), args.pop("offset")
    return page(call("sales", method, args, limit, offset), limit, offset)


@blueprint.route("/accounts")
class Accounts(MethodView):
    @blueprint.arguments(s.AccountQuery, location="query")
    @blueprint.response(200, page_schema(s.AccountOut))
    def get(self, args):
        return _paged("list_accounts", args)

    @blueprint.arguments(s.AccountIn)
    @blueprint.response(201, s.AccountOut)
    def post(self, data):
        return call("sales", "create_account", data)


@blueprint.route("/accounts/<account_id>")
@blueprint.response(200, s.AccountOut)
def account(account_id):
    return call("sales", "get_account", account_id)


@blueprint.route("/contacts")
class Contacts(MethodView):
    @blueprint.arguments(s.ContactQuery, location="query")
    @blueprint.response(200, page_schema(s.ContactOut))
    def get(self, args):
        return _paged("list_contacts", args)

    @blueprint.arguments(s.ContactIn)
    @blueprint.response(201, s.ContactOut)
    def post(self, data):
        return call("sales", "create_contact", data)


@blueprint.route("/contacts/<contact_id>")
@blueprint.response(200, s.ContactOut)
def contact(contact_id):
    return call("sales", "get_contact", contact_id)


class ProductQuery(s.Page):
    active_only = fields.Boolean(load_default=True)


@blueprint.route("/products")
class Products(MethodView):
    @blueprint.arguments(ProductQuery, location="query")
    @blueprint.response(200, page_schema(s.ProductOut))
    def get(self, args):
        return page(call("sales", "list_products", args["active_only"], args["limit"], args["offset"]),
                    args["limit"], args["offset"])

    @blueprint.arguments(s.ProductIn)
    @blueprint.response(201, s.ProductOut)
    def post(self, data):
        return call("sales", "create_product", data)


@blueprint.route("/pipelines")
class Pipelines(MethodView):
    @blueprint.response(200, s.PipelineOut(many=True))
    def get(self):
        return call("sales", "list_pipelines")

    @blueprint.arguments(s.PipelineIn)
    @blueprint.response(201, s.PipelineOut)
    def post(self, data):
        """A company's own stages; each stage names the fields an opportunity needs to enter it."""
        return call("sales", "create_pipeline", data)


@blueprint.route("/opportunities")
class Opportunities(MethodView):
    @blueprint.arguments(s.OpportunityQuery, location="query")
    @blueprint.response(200, page_schema(s.OpportunityOut))
    def get(self, args):
        return _paged("list_opportunities", args)

    @blueprint.arguments(s.OpportunityIn)
    @blueprint.response(201, s.OpportunityOut)
    def post(self, data):
        opportunity = call("sales", "create_opportunity", data)
        return opportunity, 201, {"Location": url_for("sales.Opportunity", opportunity_id=opportunity["id"])}


@blueprint.route("/opportunities/<opportunity_id>", endpoint="Opportunity")
class Opportunity(MethodView):
    @blueprint.response(200, s.OpportunityOut)
    def get(self, opportunity_id):
        return call("sales", "get_opportunity", opportunity_id)

    @blueprint.arguments(s.OpportunityPatch)
    @blueprint.response(200, s.OpportunityOut)
    def patch(self, data, opportunity_id):
        """Change fields and lines; send the version you read (a stale one is 409)."""
        return call("sales", "update_opportunity", opportunity_id, data)


@blueprint.route("/opportunities/<opportunity_id>/stage", methods=["POST"])
@blueprint.arguments(s.StageMove)
@blueprint.response(200, s.OpportunityOut)
def move_stage(data, opportunity_id):
    """Enter another stage; 422 names every field the stage requires that is missing."""
    return call("sales", "move_stage", opportunity_id, data["stage"])


@blueprint.route("/opportunities/<opportunity_id>/won", methods=["POST"])
@blueprint.response(200, s.OpportunityOut)
def won(opportunity_id):
    return call("sales", "mark_won", opportunity_id)


@blueprint.route("/opportunities/<opportunity_id>/lost", methods=["POST"])
@blueprint.arguments(s.Lost)
@blueprint.response(200, s.OpportunityOut)
def lost(data, opportunity_id):
    return call("sales", "mark_lost", opportunity_id, data["reason"], data.get("competitor"))


class QuoteQuery(Schema):
    opportunity_id = fields.String(required=True)


@blueprint.route("/quotes")
class Quotes(MethodView):
    @blueprint.arguments(QuoteQuery, location="query")
    @blueprint.response(200, s.QuoteOut(many=True))
    def get(self, args):
        return call("sales", "list_quotes", args["opportunity_id"])

    @blueprint.arguments(s.QuoteIn)
    @blueprint.response(201, s.QuoteOut)
    def post(self, data):
        """A new version of the opportunity's quote, from its current lines."""
        return call("sales", "create_quote", data["opportunity_id"], data["valid_until"])


def _quote_step(path: str, status: str, doc: str):
    @blueprint.route(f"/quotes/<quote_id>/{path}", methods=["POST"], endpoint=f"quote_{path}")
    @blueprint.response(200, s.QuoteOut)
    @blueprint.doc(summary=doc)
    def step(quote_id):
        return call("sales", "decide_quote", quote_id, status)


_quote_step("send", "sent", "Mark the quote sent to the customer")
_quote_step("accept", "accepted", "Accept: wins the opportunity and drafts a contract (contract_id)")
_quote_step("reject", "rejected", "Reject the quote")


@blueprint.route("/contracts")
class Contracts(MethodView):
    @blueprint.arguments(s.ContractQuery, location="query")
    @blueprint.response(200, page_schema(s.ContractOut))
    def get(self, args):
        """Contracts; with renewal_within_days, the renewals list."""
        return _paged("list_contracts", args)

    @blueprint.arguments(s.ContractCreate)
    @blueprint.response(201, s.ContractOut)
    def post(self, data):
        return call("sales", "create_contract", data)


@blueprint.route("/contracts/<contract_id>", endpoint="Contract")
class Contract(MethodView):
    @blueprint.response(200, s.ContractOut)
    def get(self, contract_id):
        return call("sales", "get_contract", contract_id)

    @blueprint.arguments(s.ContractPatch)
    @blueprint.response(200, s.ContractOut)
    def patch(self, data, contract_id):
        """Dates and billing of a draft; explicit instalments must add up to the total."""
        return call("sales", "update_contract", contract_id, data)


@blueprint.route("/contracts/<contract_id>/sign", methods=["POST"])
@blueprint.response(200, s.ContractOut)
def sign(contract_id):
    """Sign: emits sales.contract_signed with everything finance needs to bill it."""
    return call("sales", "sign_contract", contract_id)


@blueprint.route("/contracts/<contract_id>/terminate", methods=["POST"])
@blueprint.arguments(s.Terminate)
@blueprint.response(200, s.ContractOut)
def terminate(data, contract_id):
    return call("sales", "terminate_contract", contract_id, data["terminated_on"], data["reason"])
