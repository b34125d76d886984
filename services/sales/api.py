"""The sales service's HTTP routes, served by the service itself (shared.http_face): accounts, contacts, products,
pipelines, opportunities, quotes, contracts, activities, customer selections
and sales targets."""
from __future__ import annotations

from flask import url_for
from flask.views import MethodView
from marshmallow import Schema

from services.sales import schemas as s
from shared import fields
from shared.web import Blueprint, call, page, page_schema, policy

blueprint = Blueprint("sales", __name__, url_prefix="/api/v1",
                      description="Accounts, contacts, products, pipelines, opportunities, quotes, contracts, "
                                  "activities, customer selections and sales targets")


def _paged(method: str, args: dict):
    args = dict(args)
    limit, offset = args.pop("limit"), args.pop("offset")
    return page(call(method, args, limit, offset), limit, offset)


@blueprint.route("/accounts")
class Accounts(MethodView):
    @policy("account.read")
    @blueprint.arguments(s.AccountQuery(), location="query")
    @blueprint.response(200, page_schema(s.AccountOut))
    def get(self, args):
        return _paged("list_accounts", args)

    @policy("account.write")
    @blueprint.arguments(s.AccountIn())
    @blueprint.response(201, s.AccountOut)
    def post(self, data):
        return call("create_account", data)


@blueprint.route("/accounts/follow-ups")
@policy("account.read")
@blueprint.arguments(s.FollowUpQuery(), location="query")
@blueprint.response(200, page_schema(s.FollowUpOut))
def follow_ups(args):
    """Overdue follow-ups: accounts whose next contact (from the cadence rule)
    is due on ``as_of`` or before, most overdue first; a rep sees their own."""
    return _paged("follow_ups", args)


@blueprint.route("/accounts/<account_id>", endpoint="Account")
class Account(MethodView):
    @policy("account.read")
    @blueprint.response(200, s.AccountOut)
    def get(self, account_id):
        return call("get_account", account_id)

    @policy("account.write")
    @blueprint.arguments(s.AccountPatch())
    @blueprint.response(200, s.AccountOut)
    def patch(self, data, account_id):
        """Change fields; a change of competition level, repeat-purchase
        probability or lifecycle plans the next contact again."""
        return call("update_account", account_id, data)


SalesActivityPage = page_schema(s.SalesActivityOut)


def _activities(args, **scope_):
    args = {**args, **scope_}
    return _paged("list_activities", args)


@blueprint.route("/accounts/<account_id>/activities", endpoint="AccountActivities")
class AccountActivities(MethodView):
    @policy("sales_activity.read")
    @blueprint.arguments(s.SalesActivityQuery(), location="query")
    @blueprint.response(200, SalesActivityPage)
    def get(self, args, account_id):
        return _activities(args, account_id=account_id)

    @policy("sales_activity.write")
    @blueprint.arguments(s.SalesActivityIn())
    @blueprint.response(201, s.SalesActivityOut)
    def post(self, data, account_id):
        """Plan or log a call, meeting, e-mail or task; with an outcome it is a
        contact: emits sales.activity_logged and moves the next-contact date."""
        return call("log_activity", {**data, "account_id": account_id})


@blueprint.route("/opportunities/<opportunity_id>/activities", endpoint="OpportunityActivities")
class OpportunityActivities(MethodView):
    @policy("sales_activity.read")
    @blueprint.arguments(s.SalesActivityQuery(), location="query")
    @blueprint.response(200, SalesActivityPage)
    def get(self, args, opportunity_id):
        return _activities(args, opportunity_id=opportunity_id)

    @policy("sales_activity.write")
    @blueprint.arguments(s.SalesActivityIn())
    @blueprint.response(201, s.SalesActivityOut)
    def post(self, data, opportunity_id):
        return call("log_activity", {**data, "opportunity_id": opportunity_id})


@blueprint.route("/sales-activities/<activity_id>/outcome", methods=["POST"])
@policy("sales_activity.write")
@blueprint.arguments(s.OutcomeIn())
@blueprint.response(200, s.SalesActivityOut)
def activity_outcome(data, activity_id):
    """Record what came of a planned account or opportunity activity."""
    return call("record_activity_outcome", activity_id, data["outcome"])


@blueprint.route("/contacts")
class Contacts(MethodView):
    @policy("contact.read")
    @blueprint.arguments(s.ContactQuery(), location="query")
    @blueprint.response(200, page_schema(s.ContactOut))
    def get(self, args):
        return _paged("list_contacts", args)

    @policy("contact.write")
    @blueprint.arguments(s.ContactIn())
    @blueprint.response(201, s.ContactOut)
    def post(self, data):
        return call("create_contact", data)


@blueprint.route("/contacts/<contact_id>", endpoint="Contact")
class Contact(MethodView):
    @policy("contact.read")
    @blueprint.response(200, s.ContactOut)
    def get(self, contact_id):
        return call("get_contact", contact_id)

    @policy("contact.write")
    @blueprint.arguments(s.ContactPatch())
    @blueprint.response(200, s.ContactOut)
    def patch(self, data, contact_id):
        """Change details, interests and topics discussed."""
        return call("update_contact", contact_id, data)


@blueprint.route("/contacts/<contact_id>/accounts/<account_id>", methods=["PUT"])
@policy("contact.write")
@blueprint.arguments(s.ContactRoles())
@blueprint.response(200, s.ContactOut)
def contact_roles(data, contact_id, account_id):
    """The contact's roles in one account's buying process; a contact may
    hold roles at several accounts. Empty roles unlink the two."""
    return call("link_contact", contact_id, account_id, data["roles"])


@blueprint.route("/products")
class Products(MethodView):
    @policy("product.read")
    @blueprint.arguments(s.ProductQuery(), location="query")
    @blueprint.response(200, page_schema(s.ProductOut))
    def get(self, args):
        return _paged("list_products", args)

    @policy("product.write")
    @blueprint.arguments(s.ProductIn())
    @blueprint.response(201, s.ProductOut)
    def post(self, data):
        return call("create_product", data)


@blueprint.route("/products/<product_id>", methods=["PATCH"])
@policy("product.write")
@blueprint.arguments(s.ProductPatch())
@blueprint.response(200, s.ProductOut)
def update_product(data, product_id):
    """Change prices, life cycle or the active flag (managers and admins)."""
    return call("update_product", product_id, data)


@blueprint.route("/pipelines")
class Pipelines(MethodView):
    @policy("pipeline.read")
    @blueprint.response(200, s.PipelineOut(many=True))
    def get(self):
        return call("list_pipelines")

    @policy("pipeline.write")
    @blueprint.arguments(s.PipelineIn())
    @blueprint.response(201, s.PipelineOut)
    def post(self, data):
        """A company's own stages; each stage names the fields an opportunity needs to enter it."""
        return call("create_pipeline", data)


@blueprint.route("/opportunities")
class Opportunities(MethodView):
    @policy("opportunity.read")
    @blueprint.arguments(s.OpportunityQuery(), location="query")
    @blueprint.response(200, page_schema(s.OpportunityOut))
    def get(self, args):
        return _paged("list_opportunities", args)

    @policy("opportunity.write")
    @blueprint.arguments(s.OpportunityIn())
    @blueprint.response(201, s.OpportunityOut)
    def post(self, data):
        opportunity = call("create_opportunity", data)
        return opportunity, 201, {"Location": url_for("sales.Opportunity", opportunity_id=opportunity["id"])}


@blueprint.route("/opportunities/<opportunity_id>", endpoint="Opportunity")
class Opportunity(MethodView):
    @policy("opportunity.read")
    @blueprint.response(200, s.OpportunityOut)
    def get(self, opportunity_id):
        return call("get_opportunity", opportunity_id)

    @policy("opportunity.write")
    @blueprint.arguments(s.OpportunityPatch())
    @blueprint.response(200, s.OpportunityOut)
    def patch(self, data, opportunity_id):
        """Change fields and lines; send the version you read (a stale one is 409)."""
        return call("update_opportunity", opportunity_id, data)


@blueprint.route("/opportunities/<opportunity_id>/stage", methods=["POST"])
@policy("opportunity.write")
@blueprint.arguments(s.StageMove())
@blueprint.response(200, s.OpportunityOut)
def move_stage(data, opportunity_id):
    """Enter another stage; 422 names every field the stage requires that is missing."""
    return call("move_stage", opportunity_id, data["stage"])


@blueprint.route("/opportunities/<opportunity_id>/won", methods=["POST"])
@policy("opportunity.write")
@blueprint.response(200, s.OpportunityOut)
def won(opportunity_id):
    return call("mark_won", opportunity_id)


@blueprint.route("/opportunities/<opportunity_id>/lost", methods=["POST"])
@policy("opportunity.write")
@blueprint.arguments(s.Lost())
@blueprint.response(200, s.OpportunityOut)
def lost(data, opportunity_id):
    return call("mark_lost", opportunity_id, data["reason"], data.get("competitor"))


class QuoteQuery(Schema):
    opportunity_id = fields.String(required=True)


@blueprint.route("/quotes")
class Quotes(MethodView):
    @policy("quote.read")
    @blueprint.arguments(QuoteQuery(), location="query")
    @blueprint.response(200, s.QuoteOut(many=True))
    def get(self, args):
        return call("list_quotes", args["opportunity_id"])

    @policy("quote.write")
    @blueprint.arguments(s.QuoteIn())
    @blueprint.response(201, s.QuoteOut)
    def post(self, data):
        """A new version of the opportunity's quote, from its current lines."""
        return call("create_quote", data["opportunity_id"], data["valid_until"])


def _quote_step(path: str, status: str, doc: str):
    @blueprint.route(f"/quotes/<quote_id>/{path}", methods=["POST"], endpoint=f"quote_{path}")
    @policy("quote.write")
    @blueprint.response(200, s.QuoteOut)
    @blueprint.doc(summary=doc)
    def step(quote_id):
        return call("decide_quote", quote_id, status)


_quote_step("send", "sent", "Mark the quote sent to the customer")
_quote_step("accept", "accepted", "Accept: wins the opportunity and drafts a contract (contract_id)")
_quote_step("reject", "rejected", "Reject the quote")


@blueprint.route("/contracts")
class Contracts(MethodView):
    @policy("contract.read")
    @blueprint.arguments(s.ContractQuery(), location="query")
    @blueprint.response(200, page_schema(s.ContractOut))
    def get(self, args):
        """Contracts; with renewal_within_days, the renewals list."""
        return _paged("list_contracts", args)

    @policy("contract.write")
    @blueprint.arguments(s.ContractCreate())
    @blueprint.response(201, s.ContractOut)
    def post(self, data):
        return call("create_contract", data)


@blueprint.route("/contracts/<contract_id>", endpoint="Contract")
class Contract(MethodView):
    @policy("contract.read")
    @blueprint.response(200, s.ContractOut)
    def get(self, contract_id):
        return call("get_contract", contract_id)

    @policy("contract.write")
    @blueprint.arguments(s.ContractPatch())
    @blueprint.response(200, s.ContractOut)
    def patch(self, data, contract_id):
        """Dates and billing of a draft; explicit instalments must add up to the total."""
        return call("update_contract", contract_id, data)


@blueprint.route("/contracts/<contract_id>/sign", methods=["POST"])
@policy("contract.write")
@blueprint.response(200, s.ContractOut)
def sign(contract_id):
    """Sign: emits sales.contract_signed with everything finance needs to bill it."""
    return call("sign_contract", contract_id)


@blueprint.route("/contracts/<contract_id>/terminate", methods=["POST"])
@policy("contract.write")
@blueprint.arguments(s.Terminate())
@blueprint.response(200, s.ContractOut)
def terminate(data, contract_id):
    return call("terminate_contract", contract_id, data["terminated_on"], data["reason"])


@blueprint.route("/selections/search", methods=["POST"])
@policy("selection.read")
@blueprint.arguments(s.SelectionSearch())
@blueprint.arguments(s.Page(), location="query")
@blueprint.response(200, s.CustomerPage)
def search_customers(data, paging):
    """Find accounts or contacts (``target``) by criteria; items are accounts
    or contacts accordingly."""
    return page(call("search_customers", data["target"], data["criteria"], paging["limit"],
                     paging["offset"]), paging["limit"], paging["offset"])


@blueprint.route("/selections")
class Selections(MethodView):
    @policy("selection.read")
    @blueprint.arguments(s.Page(), location="query")
    @blueprint.response(200, page_schema(s.SelectionOut))
    def get(self, args):
        return page(call("list_selections", args["limit"], args["offset"]), args["limit"], args["offset"])

    @policy("selection.write")
    @blueprint.arguments(s.SelectionIn())
    @blueprint.response(201, s.SelectionOut)
    def post(self, data):
        """Save criteria under a name to run again later."""
        return call("save_selection", data)


@blueprint.route("/selections/<selection_id>", endpoint="Selection")
class Selection(MethodView):
    @policy("selection.read")
    @blueprint.response(200, s.SelectionOut)
    def get(self, selection_id):
        return call("get_selection", selection_id)

    @policy("selection.write")
    @blueprint.response(204)
    def delete(self, selection_id):
        call("delete_selection", selection_id)


@blueprint.route("/selections/<selection_id>/results")
@policy("selection.read")
@blueprint.arguments(s.Page(), location="query")
@blueprint.response(200, s.CustomerPage)
def selection_results(args, selection_id):
    """The saved criteria run again now, as you: accounts or contacts."""
    return page(call("selection_results", selection_id, args["limit"], args["offset"]),
                args["limit"], args["offset"])


def _period_range(args: dict) -> dict:
    args = dict(args)
    args["from"] = args.pop("from_", None)
    return args


@blueprint.route("/targets")
class Targets(MethodView):
    @policy("target.read")
    @blueprint.arguments(s.TargetQuery(), location="query")
    @blueprint.response(200, page_schema(s.TargetOut))
    def get(self, args):
        return _paged("list_targets", _period_range(args))

    @policy("target.write")
    @blueprint.arguments(s.TargetIn())
    @blueprint.response(201, s.TargetOut)
    def post(self, data):
        """A draft plan of revenue and margin for one rep and period."""
        return call("create_target", data)


@blueprint.route("/targets/consolidated")
@policy("target.read")
@blueprint.arguments(s.ConsolidationQuery(), location="query")
@blueprint.response(200, s.ConsolidatedRow(many=True))
def consolidated_targets(args):
    """The plan summed per rep, team, branch or company, period and currency;
    approved plans without their doubtful lines unless ``status`` says otherwise."""
    args = _period_range(args)
    level = args.pop("level")
    return call("consolidated_targets", args, level)


@blueprint.route("/targets/<target_id>", endpoint="Target")
class Target(MethodView):
    @policy("target.read")
    @blueprint.response(200, s.TargetOut)
    def get(self, target_id):
        return call("get_target", target_id)

    @policy("target.write")
    @blueprint.arguments(s.TargetPatch())
    @blueprint.response(200, s.TargetOut)
    def patch(self, data, target_id):
        """Change a draft's lines or currency; send the version you read."""
        return call("update_target", target_id, data)


@blueprint.route("/targets/<target_id>/submit", methods=["POST"])
@policy("target.write")
@blueprint.response(200, s.TargetOut)
def submit_target(target_id):
    return call("submit_target", target_id)


@blueprint.route("/targets/<target_id>/approve", methods=["POST"])
@policy("target.approve")
@blueprint.response(200, s.TargetOut)
def approve_target(target_id):
    """The rep's manager or an admin approves; emits sales.target_approved
    with the plan without its doubtful lines."""
    return call("approve_target", target_id)


@blueprint.route("/targets/<target_id>/reject", methods=["POST"])
@policy("target.approve")
@blueprint.arguments(s.Review())
@blueprint.response(200, s.TargetOut)
def reject_target(data, target_id):
    """Send a submitted plan back to draft with a note."""
    return call("reject_target", target_id, data["note"])
