"""The generated authorization matrix: every operation of the OpenAPI document,
called as anonymous and as each principal, on records of each owner, against
the policy table (``shared.policy``).

- An operation without ``x-crm-policy`` that is not public fails, by name.
- An operation without an entry in :data:`ROUTES` below fails, by name: a new
  route must say here how to call it validly.
- A 2xx the policy forbids fails; so does a 401/403/404 the policy allows, a
  5xx, and a list item outside the caller's reach.
- Each route must answer 2xx to at least one combination the policy allows,
  so the matrix cannot pass because every request was malformed.

Records that a successful state-changing call consumes are made afresh by
the factory (:class:`Records`); a refused call leaves its record for the next.
Run with ``-s`` to see the counts.
"""
from __future__ import annotations

import io
import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from crm_testkit.helpers import wait_for
from shared import policy
from shared.caller import Caller, Role
from tests.helpers import GUARD_REPORT

METHODS = ("get", "post", "put", "patch", "delete")
PRINCIPALS = ("anonymous", "admin", "ops", "finance", "support", "technician",
              "A1", "A2", "B1", "M1", "M2", "M0", "P1", "P2")
# name -> (role, team, partner)
USERS = {"admin": ("admin", None, None), "ops": ("ops", None, None), "finance": ("finance", None, None),
         "support": ("support", None, None), "technician": ("technician", None, None),
         "A1": ("rep", "T1", None), "A2": ("rep", "T1", None), "B1": ("rep", "T2", None),
         "M1": ("manager", "T1", None), "M2": ("manager", "T2", None), "M0": ("manager", None, None),
         "P1": ("partner", None, "P1"), "P2": ("partner", None, "P2")}
NOBODY = "-"          # the record has no owner (identity entities, products, pipelines)
POOL = "pool"         # a lead nobody owns
SELF = "self"         # a create that names no owner: the caller would own it
PARTNERS = ("P1", "P2")
LEAD_OWNERS = ("A1", "B1", "M1", *PARTNERS, POOL)
SALES_OWNERS = ("A1", "B1", "M1")   # records only people own: contacts, selections, targets
DEAL_OWNERS = (*SALES_OWNERS, *PARTNERS)   # accounts and what hangs on them also come through partners
CREATE_OWNERS = (SELF, "A1", "B1", "M1")
PAGE = {"limit": 500}
LINE = {"description": "Licence", "quantity": "2", "unit_price": "100.00", "unit_cost": "30.00"}


def unique(word: str = "x") -> str:
    return f"{word} {uuid.uuid4().hex[:10]}"


def soon(days: int = 14) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


# ---------------------------------------------------------------- the world


class World:
    """Teams T1/T2, partners P1/P2, a user and key per principal, and the record factory."""

    def __init__(self, suite):
        self.suite = suite
        self.ids: dict[str, str] = {}     # T1, T2, P1, P2 -> id
        self.users: dict[str, dict] = {}  # principal -> user
        self.keys: dict[str, str] = {}    # principal -> key
        self.team_of: dict[str, str | None] = {}   # user id -> team id
        self.records = Records(self)
        self.day = itertools.count()

    def call(self, method, path, who="admin", json_body=None, query=None, data=None, content_type=None):
        headers = {} if who == "anonymous" else {"Authorization": f"Bearer {self.keys[who]}"}
        kwargs: dict[str, Any] = {"headers": headers, "query_string": query}
        if data is not None:
            kwargs.update(data=data, content_type=content_type)
        elif json_body is not None:
            kwargs.update(data=json.dumps(json_body), content_type="application/json")
        return self.suite.client.open(path, method=method.upper(), **kwargs)

    def ok(self, method, path, who="admin", json_body=None, **kw) -> dict:
        answer = self.call(method, path, who, json_body, **kw)
        assert answer.status_code < 300, (f"set-up: {method} {path} as {who} answered {answer.status_code}: "
                                          f"{answer.get_data(as_text=True)[:400]}")
        return answer.get_json()

    def build(self):
        self.keys["admin"] = self.suite.admin_key
        me = self.ok("get", "/api/v1/me")
        self.users["admin"] = {**me, "id": me["user_id"]}
        for label in ("T1", "T2"):
            self.ids[label] = self.ok("post", "/api/v1/teams", json_body={"name": unique(f"team {label}")})["id"]
        for label in ("P1", "P2"):
            self.ids[label] = self.ok("post", "/api/v1/partners", json_body={"name": unique(f"partner {label}")})["id"]
        for name, (role, team, partner) in USERS.items():
            if name == "admin":
                continue
            user = self.ok("post", "/api/v1/users", json_body={
                "name": unique(name), "role": role, "team_id": self.ids.get(team), "partner_id": self.ids.get(partner)})
            self.users[name] = user
            self.keys[name] = self.ok("post", "/api/v1/api-keys", json_body={"user_id": user["id"], "name": "matrix"})["key"]
        for user in self.users.values():
            self.team_of[user["id"]] = user.get("team_id")
        last = self.users["M0"]["id"]
        # The services learn users from gateway.user_changed; wait until both know the last one.
        wait_for(lambda: self.call("post", "/api/v1/leads", json_body={"company": unique("roster"), "owner_id": last})
                 .status_code == 201, timeout=30, interval=0.3, message="the leads roster to know the users")
        wait_for(lambda: self.call("post", "/api/v1/accounts", json_body={"name": unique("roster"), "owner_id": last})
                 .status_code == 201, timeout=30, interval=0.3, message="the sales roster to know the users")
        self.pipelines = self.ok("get", "/api/v1/pipelines")
        self.pipeline = next((p for p in self.pipelines if p.get("is_default")), self.pipelines[0])
        return self

    def caller(self, principal: str) -> Caller:
        user = self.users[principal]
        return Caller(user_id=user["id"], role=Role(user["role"]), team_id=user.get("team_id"),
                      partner_id=user.get("partner_id"))

    def prospective(self, principal: str, owner: str) -> dict:
        """Whom a create would make the owner: the named owner, or the caller itself."""
        user = self.users[principal if owner == SELF else owner]
        return {"owner_id": user["id"], "team_id": user.get("team_id"), "partner_id": user.get("partner_id")}

    def ownership(self, item: dict, known: dict | None = None) -> dict | None:
        """owner/team/partner of a record as it answers, completed from what the factory knows."""
        known = known or self.records.ownership.get(item.get("id"))
        if known is None and not {"owner_id", "team_id", "partner_id"} <= set(item):
            owner = item.get("owner_id")
            if "partner_id" in item or owner not in self.team_of:
                return None  # a record of someone else's making that hides part of its ownership
            known = {"owner_id": owner, "team_id": self.team_of[owner], "partner_id": None}
        if known is None:
            return {k: item[k] for k in ("owner_id", "team_id", "partner_id")}
        return {k: item[k] if k in item else known[k] for k in ("owner_id", "team_id", "partner_id")}


class Records:
    """Records by (kind, state, owner), made on demand, kept until a call consumes one."""

    def __init__(self, world: World):
        self.world = world
        self.cache: dict[tuple, dict] = {}
        self.ownership: dict[str, dict] = {}   # record id -> ownership, for answers that do not show it
        self.made = 0

    def get(self, kind: str, state: str, owner: str) -> dict:
        key = (kind, state, owner)
        if key not in self.cache:
            self.cache[key] = self.fresh(kind, state, owner)
        return self.cache[key]

    def consume(self, kind: str, state: str, owner: str) -> None:
        self.cache.pop((kind, state, owner), None)

    def fresh(self, kind: str, state: str, owner: str) -> dict:
        record = MAKERS[kind](self.world, owner, state)
        self.made += 1
        if owner not in (NOBODY, POOL) and owner in self.world.users:
            user = self.world.users[owner]
            own = {"owner_id": user["id"], "team_id": user.get("team_id"), "partner_id": user.get("partner_id")}
        else:
            own = {"owner_id": None, "team_id": None, "partner_id": None}
        own = self.world.ownership(record, own) or own
        record["_ownership"] = own
        self.ownership[record["id"]] = own
        return record


# How each kind of record is made (as its owner where the owner may), and brought to a state.

def make_lead(w: World, owner: str, state: str) -> dict:
    body = {"company": unique("Lead Co"), "contact_name": "Ada Matrix"}
    if owner == POOL:
        lead = w.ok("post", "/api/v1/leads", json_body={**body, "owner_id": None})
        if lead.get("owner_id"):
            lead = w.ok("post", f"/api/v1/leads/{lead['id']}/release")
    elif owner in ("P1", "P2"):  # a partner's lead is one its user submitted
        lead = w.ok("post", "/api/v1/leads", owner, json_body=body)
    else:
        lead = w.ok("post", "/api/v1/leads", json_body={**body, "owner_id": w.users[owner]["id"]})
    if state in ("qualified", "converted"):
        lead = w.ok("post", f"/api/v1/leads/{lead['id']}/qualify", json_body={})
    if state == "converted":
        lead = w.ok("post", f"/api/v1/leads/{lead['id']}/convert")
    if state == "disqualified":
        lead = w.ok("post", f"/api/v1/leads/{lead['id']}/disqualify", json_body={"reason": "matrix"})
    return lead


def make_lead_activity(w, owner, state):
    lead = w.records.fresh("lead", "new", owner)
    due = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    return w.ok("post", "/api/v1/activities", json_body={"lead_id": lead["id"], "type": "call", "due_at": due,
                                                         "owner_id": w.users[owner]["id"]})


def make_import(w, owner, state):
    data = {"file": (io.BytesIO(f"company\n{unique('Imported')}\n".encode()), "leads.csv")}
    answer = w.call("post", "/api/v1/leads/imports", owner, data=data, content_type="multipart/form-data")
    assert answer.status_code == 202, answer.get_data(as_text=True)[:300]
    return answer.get_json()


def make_rule(w, owner, state):
    team = {"A1": w.ids["T1"], "B1": w.ids["T2"]}.get(owner)
    rule = w.ok("post", "/api/v1/assignment-rules", json_body={"name": unique("rule")[:60], "strategy": "round_robin",
                                                               "team_id": team, "active": False})
    return {**rule, "team_id": team, "owner_id": None}


def owner_field(w: World, owner: str) -> dict:
    """Who a record made by the admin belongs to; a partner's come only through its leads."""
    return {} if owner in PARTNERS else {"owner_id": w.users[owner]["id"]}


def make_account(w, owner, state):
    if owner in PARTNERS:  # a partner's account is one converted from a lead it submitted
        company = make_lead(w, owner, "converted")["company"]
        return wait_for(lambda: next(iter(w.ok("get", "/api/v1/accounts", query={"q": company})["items"]), None),
                        timeout=30, interval=0.2, message=f"sales to open the account of converted {company}")
    return w.ok("post", "/api/v1/accounts", json_body={"name": unique("Account"), **owner_field(w, owner)})


def make_contact(w, owner, state):
    return w.ok("post", "/api/v1/contacts", owner, json_body={"name": unique("Contact")})


def make_opportunity(w, owner, state):
    account = w.records.fresh("account", "new", owner)
    if owner in PARTNERS:  # the conversion opened it beside the account
        opp = wait_for(lambda: next(iter(w.ok("get", "/api/v1/opportunities",
                                              query={"account_id": account["id"]})["items"]), None),
                       timeout=30, interval=0.2, message="sales to open the converted lead's opportunity")
    else:
        opp = w.ok("post", "/api/v1/opportunities", json_body={"name": unique("Deal"), "account_id": account["id"],
                                                               **owner_field(w, owner)})
    if state == "with_lines":
        opp = w.ok("patch", f"/api/v1/opportunities/{opp['id']}", json_body={
            "version": opp["version"], "currency": "EUR", "lines": [LINE], "expected_close_date": soon(30),
            "next_step": "call back"})
    return opp


def make_quote(w, owner, state):
    opp = w.records.fresh("opportunity", "with_lines", owner)
    quote = w.ok("post", "/api/v1/quotes", json_body={"opportunity_id": opp["id"], "valid_until": soon()})
    if state == "sent":
        quote = w.ok("post", f"/api/v1/quotes/{quote['id']}/send")
    return {**quote, **{k: opp.get(k) for k in ("owner_id", "team_id", "partner_id")}}


def make_contract(w, owner, state):
    account = w.records.fresh("account", "new", owner)
    contract = w.ok("post", "/api/v1/contracts", json_body={
        "account_id": account["id"], "currency": "EUR", "lines": [LINE], "start_date": soon(1),
        "billing_frequency": "one_off"})
    if state == "signed":
        contract = w.ok("post", f"/api/v1/contracts/{contract['id']}/sign")
    return contract


def make_sales_activity(w, owner, state):
    account = w.records.fresh("account", "new", owner)
    activity = w.ok("post", f"/api/v1/accounts/{account['id']}/activities",
                    json_body={"type": "call", **owner_field(w, owner)})
    return {**activity, "account_id": account["id"]}


def make_selection(w, owner, state):
    return w.ok("post", "/api/v1/selections", owner, json_body={"name": unique("Selection"), "criteria": {}})


def make_target(w, owner, state):
    start = (date(2031, 1, 1) + timedelta(days=next(w.day))).isoformat()
    # Made by its owner: the owner is then also its author, whom four eyes keep from passing it.
    target = w.ok("post", "/api/v1/targets", owner, json_body={
        "period": "day", "period_start": start, "currency": "EUR", "lines": [{"label": "all", "revenue": "1000.00"}]})
    if state == "submitted":
        target = w.ok("post", f"/api/v1/targets/{target['id']}/submit")
    return target


def make_product(w, owner, state):
    return w.ok("post", "/api/v1/products", json_body={"sku": uuid.uuid4().hex[:12], "name": unique("Product"),
                                                        "list_price": "10.00", "unit_cost": "4.00", "currency": "EUR"})


def make_user(w, owner, state):
    return w.ok("post", "/api/v1/users", json_body={"name": unique("someone"), "role": "rep"})


def make_named(path):
    return lambda w, owner, state: w.ok("post", path, json_body={"name": unique(path.rsplit("/", 1)[-1])})


def make_api_key(w, owner, state):
    user = w.records.get("user", "active", NOBODY)
    answer = w.ok("post", "/api/v1/api-keys", json_body={"user_id": user["id"], "name": "matrix"})
    return {"id": answer["id"], "user_id": user["id"]}


INVOICE_LINE = {"description": "Service", "quantity": "1", "unit_price": "10.00", "tax_rate": "23"}


def make_invoice(w, owner, state):
    """A draft of an account of ``owner``'s, once finance has its copy of the account (sales.account_created)."""
    account = w.records.fresh("account", "new", owner)

    def drafted():
        answer = w.call("post", "/api/v1/invoices", json_body={"account_id": account["id"], "lines": [INVOICE_LINE]})
        return answer.get_json() if answer.status_code == 201 else None
    invoice = wait_for(drafted, timeout=30, interval=0.2, message="finance to know the account")
    if state != "draft":   # issued; "to_pay" and "to_credit" are issued ones the payment and credit-note routes use
        invoice = w.ok("post", f"/api/v1/invoices/{invoice['id']}/issue")
    return invoice


def make_payment(w, owner, state):
    """A payment the finance user records for an account of ``owner``'s with an issued invoice."""
    invoice = w.records.fresh("invoice", "issued", owner)
    return w.ok("post", "/api/v1/payments", "finance", json_body={"account_id": invoice["account_id"],
                                                                  "amount": "1.00"})


def make_credit_note(w, owner, state):
    """A credit note the finance user issues on an issued invoice of ``owner``'s."""
    invoice = w.records.fresh("invoice", "issued", owner)
    return w.ok("post", "/api/v1/credit-notes", "finance", json_body={"invoice_id": invoice["id"],
                                                                      "amount": "1.00", "reason": "matrix"})


def make_plan(w, owner, state):
    """The receivable plan finance makes from a signed contract (sales.contract_signed)."""
    contract = w.records.fresh("contract", "signed", owner)
    return wait_for(lambda: next(iter(w.ok("get", "/api/v1/receivable-plans",
                                           query={"contract_id": contract["id"]})["items"]), None),
                    timeout=30, interval=0.2, message="finance to plan the signed contract")


def past_day() -> str:
    return (date(2000, 1, 1) + timedelta(days=uuid.uuid4().int % 9000)).isoformat()


MAKERS: dict[str, Callable[[World, str, str], dict]] = {
    "invoice": make_invoice, "plan": make_plan, "payment": make_payment, "credit_note": make_credit_note,
    "lead": make_lead, "lead_activity": make_lead_activity, "import": make_import, "rule": make_rule,
    "account": make_account, "contact": make_contact, "opportunity": make_opportunity, "quote": make_quote,
    "contract": make_contract, "sales_activity": make_sales_activity, "selection": make_selection,
    "target": make_target, "product": make_product, "user": make_user, "api_key": make_api_key,
    "team": make_named("/api/v1/teams"), "branch": make_named("/api/v1/branches"),
    "partner": make_named("/api/v1/partners"),
}


# ---------------------------------------------------------------- the route table


@dataclass
class Route:
    """How to call one operation validly.

    ``kind``/``state``: the record in the path (None: a collection); ``owners``:
    whose records (or, for creates, whom the body names as owner); ``body``/
    ``query``: ``f(world, record, owner, principal)``; ``consumes``: a 2xx uses
    the record up; ``path``: fills the path from the record when it has two ids.
    """
    kind: str | None = None
    state: str = "new"
    owners: tuple = (NOBODY,)
    body: Callable | None = None
    query: Callable | None = None
    consumes: bool = False
    path: Callable | None = None
    multipart: bool = False
    collection: bool = False   # a list under a record: out of its reach, 2xx is fine if every item is in reach


def next_stage(w: World, opportunity: dict) -> str:
    """A stage to move to that asks for no fields and neither wins nor loses."""
    pipeline = next((p for p in w.pipelines if p["id"] == opportunity.get("pipeline_id")), w.pipeline)
    filled = {"amount", "currency", "expected_close_date", "next_step", "lines"}  # state "with_lines"
    return next(stage["key"] for stage in pipeline["stages"] if stage["key"] != opportunity.get("stage")
                and set(stage.get("required_fields") or ()) <= filled and 0 < stage["probability"] < 100)


def owned_by(owner_key="owner_id"):
    """A create body's owner field: the named owner, or none for SELF."""
    return lambda w, owner: {} if owner == SELF else {owner_key: w.users[owner]["id"]}


def lead_body(w, rec, owner, who):
    return {"company": unique("Matrix Co"), **owned_by()(w, owner)}


def version(extra):
    return lambda w, rec, owner, who: {"version": rec["version"], **extra}


LEADS, SALES, DEALS = LEAD_OWNERS, SALES_OWNERS, DEAL_OWNERS
ROUTES: dict[tuple[str, str], Route] = {
    # gateway identity
    ("GET", "/api/v1/branches"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/branches"): Route(body=lambda *_: {"name": unique("branch")}),
    ("GET", "/api/v1/branches/{ident}"): Route(kind="branch"),
    ("GET", "/api/v1/teams"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/teams"): Route(body=lambda *_: {"name": unique("team")}),
    ("GET", "/api/v1/teams/{ident}"): Route(kind="team"),
    ("GET", "/api/v1/partners"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/partners"): Route(body=lambda *_: {"name": unique("partner")}),
    ("GET", "/api/v1/partners/{ident}"): Route(kind="partner"),
    ("GET", "/api/v1/users"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/users"): Route(body=lambda *_: {"name": unique("user"), "role": "rep"}),
    ("GET", "/api/v1/users/{user_id}"): Route(kind="user", state="active"),
    ("PATCH", "/api/v1/users/{user_id}"): Route(kind="user", state="active",
                                                body=lambda *_: {"territory": unique("north")}),
    ("POST", "/api/v1/users/{user_id}/deactivate"): Route(kind="user", state="active", consumes=True),
    ("GET", "/api/v1/api-keys"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/api-keys"): Route(body=lambda w, *_: {"user_id": w.records.get("user", "active", NOBODY)["id"],
                                                            "name": "matrix"}),
    ("POST", "/api/v1/api-keys/{key_id}/revoke"): Route(kind="api_key", consumes=True),
    ("GET", "/api/v1/me"): Route(),
    # leads
    ("GET", "/api/v1/leads"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/leads"): Route(owners=CREATE_OWNERS, body=lead_body),
    ("GET", "/api/v1/leads/pool"): Route(query=lambda *_: PAGE),
    ("GET", "/api/v1/leads/export"): Route(),
    ("POST", "/api/v1/leads/reassign"): Route(kind="lead", owners=("A1", "B1", "M1"), consumes=True,
                                             body=lambda w, rec, owner, who: {"from_owner_id": rec["owner_id"],
                                                                              "to_owner_id": rec["owner_id"]}),
    ("GET", "/api/v1/leads/{lead_id}"): Route(kind="lead", owners=LEADS),
    ("PATCH", "/api/v1/leads/{lead_id}"): Route(kind="lead", owners=LEADS, consumes=True,
                                                body=lambda w, rec, *_: {"version": rec["version"],
                                                                         "phone": f"+48 {uuid.uuid4().int % 10**9:09d}"}),
    ("GET", "/api/v1/leads/{lead_id}/history"): Route(kind="lead", owners=LEADS),
    ("POST", "/api/v1/leads/{lead_id}/contacted"): Route(kind="lead", owners=LEADS, consumes=True, body=lambda *_: {}),
    ("POST", "/api/v1/leads/{lead_id}/qualify"): Route(kind="lead", owners=LEADS, consumes=True, body=lambda *_: {}),
    ("POST", "/api/v1/leads/{lead_id}/reopen"): Route(kind="lead", state="disqualified", owners=LEADS, consumes=True,
                                                      body=lambda *_: {}),
    ("POST", "/api/v1/leads/{lead_id}/disqualify"): Route(kind="lead", owners=LEADS, consumes=True,
                                                          body=lambda *_: {"reason": "matrix"}),
    ("POST", "/api/v1/leads/{lead_id}/convert"): Route(kind="lead", state="qualified", owners=LEADS, consumes=True),
    ("POST", "/api/v1/leads/{lead_id}/assign"): Route(kind="lead", owners=LEADS, consumes=True,
                                                      body=lambda w, rec, *_: {
                                                          "owner_id": rec["owner_id"] or w.users["A1"]["id"]}),
    ("POST", "/api/v1/leads/{lead_id}/claim"): Route(kind="lead", owners=LEADS, consumes=True),
    ("POST", "/api/v1/leads/{lead_id}/release"): Route(kind="lead", owners=LEADS, consumes=True),
    ("POST", "/api/v1/leads/{lead_id}/merge"): Route(kind="lead", owners=LEADS, consumes=True,
                                                     body=lambda w, rec, owner, who: {
                                                         "source_id": w.records.fresh("lead", "new", owner)["id"]}),
    ("GET", "/api/v1/assignment-rules"): Route(),
    ("POST", "/api/v1/assignment-rules"): Route(owners=(SELF, "A1", "B1"), body=lambda w, rec, owner, who: {
        "name": unique("rule")[:60], "strategy": "round_robin", "active": False,
        **({} if owner == SELF else {"team_id": w.users[owner]["team_id"]})}),
    ("DELETE", "/api/v1/assignment-rules/{rule_id}"): Route(kind="rule", owners=("A1", "B1", POOL), consumes=True),
    ("POST", "/api/v1/leads/imports"): Route(multipart=True, body=lambda *_: {
        "file": (io.BytesIO(f"company\n{unique('Imported')}\n".encode()), "leads.csv")}),
    ("GET", "/api/v1/leads/imports/{job_id}"): Route(kind="import", owners=("A1", "B1", "M1")),
    ("GET", "/api/v1/activities"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/activities"): Route(owners=("A1", "B1", "M1"), body=lambda w, rec, owner, who: {
        "lead_id": w.records.get("lead", "new", owner)["id"], "type": "call",
        "due_at": (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()}),
    ("POST", "/api/v1/activities/plan"): Route(kind="lead", owners=("A1", "B1", "M1"), body=lambda w, rec, owner, who: {
        "lead_ids": [rec["id"]], "owner_ids": [rec["owner_id"]], "first_day": soon(1), "last_day": soon(2)}),
    ("GET", "/api/v1/activities/outcome-required"): Route(),
    ("POST", "/api/v1/activities/{activity_id}/outcome"): Route(kind="lead_activity", owners=("A1", "B1", "M1"),
                                                                consumes=True, body=lambda *_: {"outcome": "reached"}),
    ("POST", "/api/v1/activities/calendar"): Route(),
    # sales
    ("GET", "/api/v1/accounts"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/accounts"): Route(owners=CREATE_OWNERS, body=lambda w, rec, owner, who: {
        "name": unique("Account"), **owned_by()(w, owner)}),
    ("GET", "/api/v1/accounts/follow-ups"): Route(query=lambda *_: {**PAGE, "as_of": soon(400)}),
    ("GET", "/api/v1/accounts/{account_id}"): Route(kind="account", owners=DEALS),
    ("PATCH", "/api/v1/accounts/{account_id}"): Route(kind="account", owners=DEALS, body=lambda *_: {"industry": "retail"}),
    ("GET", "/api/v1/accounts/{account_id}/activities"): Route(kind="account", owners=DEALS, collection=True),
    ("POST", "/api/v1/accounts/{account_id}/activities"): Route(kind="account", owners=DEALS,
                                                                body=lambda *_: {"type": "call"}),
    ("GET", "/api/v1/opportunities/{opportunity_id}/activities"): Route(kind="opportunity", owners=DEALS,
                                                                        collection=True),
    ("POST", "/api/v1/opportunities/{opportunity_id}/activities"): Route(kind="opportunity", owners=DEALS,
                                                                         body=lambda *_: {"type": "call"}),
    ("POST", "/api/v1/sales-activities/{activity_id}/outcome"): Route(kind="sales_activity", owners=DEALS,
                                                                      consumes=True, body=lambda *_: {"outcome": "reached"}),
    ("GET", "/api/v1/contacts"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/contacts"): Route(body=lambda *_: {"name": unique("Contact")}, owners=(SELF,)),
    ("GET", "/api/v1/contacts/{contact_id}"): Route(kind="contact", owners=SALES),
    ("PATCH", "/api/v1/contacts/{contact_id}"): Route(kind="contact", owners=SALES, body=lambda *_: {"phone": "+48 1"}),
    ("PUT", "/api/v1/contacts/{contact_id}/accounts/{account_id}"): Route(
        kind="contact", owners=SALES, body=lambda *_: {"roles": ["influencer"]},
        path=lambda w, rec, owner: f"/api/v1/contacts/{rec['id']}/accounts/"
                                   f"{w.records.get('account', 'new', owner)['id']}"),
    ("GET", "/api/v1/products"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/products"): Route(body=lambda *_: {"sku": uuid.uuid4().hex[:12], "name": unique("Product"),
                                                         "list_price": "10.00", "unit_cost": "4.00", "currency": "EUR"}),
    ("PATCH", "/api/v1/products/{product_id}"): Route(kind="product", body=lambda *_: {"list_price": "11.00"}),
    ("GET", "/api/v1/pipelines"): Route(),
    ("POST", "/api/v1/pipelines"): Route(body=lambda *_: {"name": unique("Pipeline")[:60], "is_default": False,
                                                          "stages": [{"key": "new", "name": "New", "probability": 10}]}),
    ("GET", "/api/v1/opportunities"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/opportunities"): Route(owners=SALES, body=lambda w, rec, owner, who: {
        "name": unique("Deal"), "account_id": w.records.get("account", "new", owner)["id"]}),
    ("GET", "/api/v1/opportunities/{opportunity_id}"): Route(kind="opportunity", owners=DEALS),
    ("PATCH", "/api/v1/opportunities/{opportunity_id}"): Route(kind="opportunity", owners=DEALS, consumes=True,
                                                               body=version({"next_step": "call back"})),
    ("POST", "/api/v1/opportunities/{opportunity_id}/stage"): Route(
        kind="opportunity", state="with_lines", owners=DEALS, consumes=True,
        body=lambda w, rec, *_: {"stage": next_stage(w, rec)}),
    ("POST", "/api/v1/opportunities/{opportunity_id}/won"): Route(kind="opportunity", state="with_lines",
                                                                  owners=DEALS, consumes=True),
    ("POST", "/api/v1/opportunities/{opportunity_id}/lost"): Route(kind="opportunity", owners=DEALS, consumes=True,
                                                                   body=lambda *_: {"reason": "price"}),
    ("GET", "/api/v1/quotes"): Route(kind="opportunity", owners=DEALS, collection=True,
                                     query=lambda w, rec, *_: {"opportunity_id": rec["id"]}),
    ("POST", "/api/v1/quotes"): Route(kind="opportunity", state="with_lines", owners=DEALS,
                                      body=lambda w, rec, *_: {"opportunity_id": rec["id"], "valid_until": soon()}),
    ("POST", "/api/v1/quotes/{quote_id}/send"): Route(kind="quote", owners=DEALS, consumes=True),
    ("POST", "/api/v1/quotes/{quote_id}/accept"): Route(kind="quote", state="sent", owners=DEALS, consumes=True),
    ("POST", "/api/v1/quotes/{quote_id}/reject"): Route(kind="quote", state="sent", owners=DEALS, consumes=True),
    ("GET", "/api/v1/contracts"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/contracts"): Route(kind="account", owners=DEALS, body=lambda w, rec, *_: {
        "account_id": rec["id"], "currency": "EUR", "lines": [LINE], "start_date": soon(1),
        "billing_frequency": "one_off"}),
    ("GET", "/api/v1/contracts/{contract_id}"): Route(kind="contract", owners=DEALS),
    ("PATCH", "/api/v1/contracts/{contract_id}"): Route(kind="contract", owners=DEALS, consumes=True,
                                                        body=version({"start_date": soon(2)})),
    ("POST", "/api/v1/contracts/{contract_id}/sign"): Route(kind="contract", owners=DEALS, consumes=True),
    ("POST", "/api/v1/contracts/{contract_id}/terminate"): Route(
        kind="contract", state="signed", owners=DEALS, consumes=True,
        body=lambda *_: {"terminated_on": soon(30), "reason": "matrix"}),
    ("POST", "/api/v1/selections/search"): Route(body=lambda *_: {"target": "accounts", "criteria": {}},
                                                 query=lambda *_: PAGE),
    ("GET", "/api/v1/selections"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/selections"): Route(owners=(SELF,), body=lambda *_: {"name": unique("Selection"), "criteria": {}}),
    ("GET", "/api/v1/selections/{selection_id}"): Route(kind="selection", owners=SALES),
    ("DELETE", "/api/v1/selections/{selection_id}"): Route(kind="selection", owners=SALES, consumes=True),
    ("GET", "/api/v1/selections/{selection_id}/results"): Route(kind="selection", owners=SALES),
    ("GET", "/api/v1/targets"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/targets"): Route(owners=CREATE_OWNERS, body=lambda w, rec, owner, who: {
        "period": "day", "period_start": (date(2031, 1, 1) + timedelta(days=next(w.day))).isoformat(),
        "currency": "EUR", "lines": [{"label": "all", "revenue": "1000.00"}], **owned_by()(w, owner)}),
    ("GET", "/api/v1/targets/consolidated"): Route(query=lambda *_: {"level": "team"}),
    ("GET", "/api/v1/targets/{target_id}"): Route(kind="target", owners=SALES),
    ("PATCH", "/api/v1/targets/{target_id}"): Route(kind="target", owners=SALES, consumes=True,
                                                    body=version({"currency": "USD"})),
    ("POST", "/api/v1/targets/{target_id}/submit"): Route(kind="target", owners=SALES, consumes=True),
    ("POST", "/api/v1/targets/{target_id}/approve"): Route(kind="target", state="submitted", owners=SALES, consumes=True),
    ("POST", "/api/v1/targets/{target_id}/reject"): Route(kind="target", state="submitted", owners=SALES, consumes=True,
                                                          body=lambda *_: {"note": "again"}),
    # finance
    ("GET", "/api/v1/invoices"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/invoices"): Route(kind="invoice", state="draft", owners=DEALS, body=lambda w, rec, *_: {
        "account_id": rec["account_id"], "lines": [INVOICE_LINE]}),
    ("GET", "/api/v1/invoices/{invoice_id}"): Route(kind="invoice", state="draft", owners=DEALS),
    ("GET", "/api/v1/invoices/{invoice_id}/pdf"): Route(kind="invoice", state="issued", owners=DEALS),
    ("POST", "/api/v1/invoices/{invoice_id}/issue"): Route(kind="invoice", state="draft", owners=DEALS,
                                                           consumes=True),
    ("POST", "/api/v1/invoices/{invoice_id}/void"): Route(kind="invoice", state="issued", owners=DEALS,
                                                          consumes=True),
    # payments and credit notes of 0.01 each: the invoice (12.30) stays open for the next caller
    ("GET", "/api/v1/payments"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/payments"): Route(kind="invoice", state="to_pay", owners=DEALS, body=lambda w, rec, *_: {
        "account_id": rec["account_id"], "amount": "0.01"}),
    ("GET", "/api/v1/payments/{payment_id}"): Route(kind="payment", owners=DEALS),
    ("GET", "/api/v1/credit-notes"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/credit-notes"): Route(kind="invoice", state="to_credit", owners=DEALS,
                                            body=lambda w, rec, *_: {"invoice_id": rec["id"], "amount": "0.01",
                                                                     "reason": "matrix"}),
    ("GET", "/api/v1/credit-notes/{credit_note_id}"): Route(kind="credit_note", owners=DEALS),
    ("GET", "/api/v1/receivable-plans"): Route(query=lambda *_: PAGE),
    ("GET", "/api/v1/receivable-plans/{plan_id}"): Route(kind="plan", owners=DEALS),
    ("GET", "/api/v1/exchange-rates"): Route(query=lambda *_: PAGE),
    ("POST", "/api/v1/exchange-rates"): Route(body=lambda *_: {"currency": "GBP", "rate": "1.17",
                                                              "valid_from": past_day()}),
}


# ---------------------------------------------------------------- the checks


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def is_public(operation: dict) -> bool:
    return operation.get("security") == []


@pytest.fixture(scope="module")
def spec(suite):
    answer = suite.client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return answer.get_json()


@pytest.fixture(scope="module")
def world(suite):
    return World(suite).build()


def test_every_operation_names_its_policy_action(spec):
    missing = [f"{method} {path}" for method, path, op in operations(spec)
               if not is_public(op) and "x-crm-policy" not in op]
    unknown = [f"{method} {path}: {op['x-crm-policy']}" for method, path, op in operations(spec)
               if "x-crm-policy" in op and op["x-crm-policy"] not in policy.POLICY]
    assert not missing, (f"{len(missing)} operations have no x-crm-policy (decorate them with "
                         f"@policy(...) or @public):\n" + "\n".join(missing))
    assert not unknown, "x-crm-policy names an action missing from shared.policy.POLICY:\n" + "\n".join(unknown)


def test_every_operation_has_a_matrix_entry(spec):
    missing = [f"{method} {path}" for method, path, op in operations(spec)
               if not is_public(op) and (method, path) not in ROUTES]
    stale = [f"{method} {path}" for method, path in ROUTES
             if path not in spec["paths"] or method.lower() not in spec["paths"][path]]
    assert not missing, ("these operations have no entry in ROUTES of tests/test_authorization_matrix.py "
                         "(say there how to call them validly):\n" + "\n".join(missing))
    assert not stale, "ROUTES names operations the API no longer has:\n" + "\n".join(stale)


def test_public_operations_answer_without_a_key(suite, spec):
    public = [(m, p) for m, p, op in operations(spec) if is_public(op)]
    assert ("GET", "/healthz") in public
    assert suite.client.get("/healthz").status_code == 200   # anonymous, no key at all


def _items(body) -> list | None:
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        return body["items"]
    return None


def test_the_authorization_matrix(suite, spec, world):
    checked = [(m, p, op) for m, p, op in operations(spec)
               if not is_public(op) and "x-crm-policy" in op and (m, p) in ROUTES]
    failures: list[str] = []
    notes: list[str] = []
    counts = {"routes": len(checked), "requests": 0, "combinations": 0, "allowed": 0, "forbidden": 0,
              "allowed_2xx": 0, "list_items_checked": 0, "list_items_unknown": 0}
    principals_checked, owners_checked = set(), set()
    for method, path, op in checked:
        try:
            _check_route(world, method, path, op, failures, notes, counts, principals_checked, owners_checked)
        except AssertionError as exc:  # the factory could not make a record
            failures.append(f"{method} {path}: {exc}")
    summary = (f"authorization matrix: {counts['routes']} routes x {len(principals_checked)} principals x "
               f"up to {len(owners_checked)} owners = {counts['combinations']} combinations "
               f"({counts['allowed']} allowed, {counts['forbidden']} forbidden, {counts['allowed_2xx']} allowed "
               f"answered 2xx); {counts['list_items_checked']} list items checked against the reach "
               f"({counts['list_items_unknown']} of unknown ownership); {world.records.made} records made")
    print("\n" + summary)
    GUARD_REPORT.append(summary)
    if notes:
        print("allowed combinations refused by a business rule (409/422), at most two a route:\n  "
              + "\n  ".join(notes))
    assert not failures, f"{len(failures)} authorization failures:\n" + "\n".join(failures)


def _check_route(world, method, path, op, failures, notes, counts, principals_checked, owners_checked):
    action, route = op["x-crm-policy"], ROUTES[(method, path)]
    route_2xx = False
    for owner in route.owners:
        owners_checked.add(owner)
        for principal in PRINCIPALS:
            principals_checked.add(principal)
            record = world.records.get(route.kind, route.state, owner) if route.kind else None
            url = route.path(world, record, owner) if route.path else _fill(path, record)
            body = route.body(world, record, owner, principal) if route.body else None
            query = route.query(world, record, owner, principal) if route.query else None
            if route.multipart:
                answer = world.call(method, url, principal, data=body, query=query,
                                    content_type="multipart/form-data")
            else:
                answer = world.call(method, url, principal, json_body=body, query=query)
            answer.get_data()  # drain streamed answers (export) inside their context
            answer.close()
            counts["requests"] += 1
            counts["combinations"] += 1
            status = answer.status_code
            where = f"{method} {path} as {principal} on {owner}'s (action {action})"
            if principal == "anonymous":
                if status != 401:
                    failures.append(f"{where}: anonymous got {status}, expected 401")
                continue
            caller = world.caller(principal)
            if record is not None:
                ownership = record["_ownership"]
            elif owner not in (NOBODY, POOL):
                ownership = world.prospective(principal, owner)
            else:
                ownership = None
            allowed = policy.allows(caller, action, ownership) and not (
                action in policy.FOUR_EYES and ownership and ownership["owner_id"] == caller.user_id)
            # A list under a record out of reach may be refused (403/404) or answer
            # only what is in reach: its items are checked one by one below.
            filtered_ok = route.collection and not allowed and policy.allows(caller, action)
            counts["allowed" if allowed else "forbidden"] += 1
            if status >= 500:
                failures.append(f"{where}: server error {status}: {answer.get_data(as_text=True)[:200]}")
            elif allowed and status in (401, 403, 404):
                failures.append(f"{where}: the policy allows it, the suite answered {status}: "
                                f"{(answer.get_json(silent=True) or {}).get('detail')}")
            elif not allowed and status < 300 and not filtered_ok:
                failures.append(f"{where}: the policy forbids it (ownership {ownership}), "
                                f"the suite answered {status}")
            elif allowed and status >= 300 and sum(n.startswith(f"{method} {path} ") for n in notes) < 2:
                notes.append(f"{where}: allowed, answered {status}: "
                             f"{(answer.get_json(silent=True) or {}).get('detail')}")
            if status < 300:
                if allowed:
                    counts["allowed_2xx"] += 1
                    route_2xx = True
                if route.consumes and route.kind:
                    world.records.consume(route.kind, route.state, owner)
                made = (answer.get_json(silent=True) or {}) if answer.is_json else {}
                if isinstance(made, dict) and made.get("contract_id") and record is not None:
                    world.records.ownership[made["contract_id"]] = record["_ownership"]  # an accepted quote's
                if method == "GET" or path.endswith("/search"):  # the reads, searches included
                    _check_items(world, answer, caller, action, where, failures, counts)
    if not route_2xx:
        failures.append(f"{method} {path}: no combination the policy allows answered 2xx; "
                        f"its ROUTES entry probably sends a request the API refuses")


def _fill(path: str, record: dict | None) -> str:
    if "{" not in path:
        return path
    assert record is not None, f"{path} needs a record kind in ROUTES"
    head, _, rest = path.partition("{")
    return head + record["id"] + rest.partition("}")[2]


def _check_items(world, answer, caller, action, where, failures, counts):
    items = _items(answer.get_json(silent=True))
    for item in items or []:
        if not isinstance(item, dict) or "id" not in item:
            continue
        ownership = world.ownership(item)
        if ownership is None:
            counts["list_items_unknown"] += 1
            continue
        counts["list_items_checked"] += 1
        if not policy.allows(caller, action, ownership):
            failures.append(f"{where}: list item {item['id']} is outside the caller's reach ({ownership})")
