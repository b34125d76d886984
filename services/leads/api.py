"""The leads service's HTTP routes, served by the service itself (shared.http_face):
validate with the service's own schemas, call its use cases as the caller, shape the answer."""
from __future__ import annotations

import json
import tempfile

from flask import Response, request, send_file, stream_with_context, url_for
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import Schema, validate

from services.leads import schemas as s
from services.leads.settings import leads_settings
from shared import fields
from shared.bounds import MAX_OFFSET
from shared.errors import Invalid
from shared.web import Blueprint, call, long_running, page, page_schema, policy, public, problem_answer, secret_members, upload
from services.leads.tabular import (XLSX_DATETIME, XLSX_DECIMAL, Limits, TabularError, chunked_by_size, detect_format,
                            iter_rows, write_csv, write_xlsx)

blueprint = Blueprint("leads", __name__, url_prefix="/api/v1", description="Leads, the lead pool, imports and activities")
EXPORT_COLUMNS = ("id", "company", "contact_name", "email", "phone", "address", "territory", "source",
                  "channel", "campaign", "segment", "industry", "estimated_value", "currency",
                  "acquisition_cost", "tags", "interests", "owner_id", "team_id", "partner_id", "status",
                  "score", "created_at", "updated_at")

EXPORT_TYPES = {"estimated_value": XLSX_DECIMAL, "acquisition_cost": XLSX_DECIMAL,
                "created_at": XLSX_DATETIME, "updated_at": XLSX_DATETIME}

LeadPage, ActivityPage = page_schema(s.LeadOut), page_schema(s.ActivityOut)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_PAGE = 1000


class HistoryEntry(Schema):
    at = fields.String(metadata={"format": "date-time"})
    actor_id = fields.String(allow_none=True)
    action = fields.String()
    details = fields.Dict(allow_none=True)


class History(Schema):
    items = fields.List(fields.Nested(HistoryEntry))


class Reassigned(Schema):
    reassigned = fields.Integer()


class CalendarUrl(Schema):
    url = fields.Url()


def _split(args: dict) -> tuple[dict, str, int, int]:
    args = dict(args)
    return args, args.pop("sort"), args.pop("limit"), args.pop("offset")


@blueprint.route("/leads")
class Leads(MethodView):
    @blueprint.arguments(s.LeadListQuery(), location="query")
    @blueprint.response(200, LeadPage)
    @policy("lead.read")
    def get(self, args):
        """List the leads you may see, filtered, sorted and paged."""
        filters, sort, limit, offset = _split(args)
        return page(call("list_leads", filters, sort, limit, offset), limit, offset)

    @blueprint.arguments(s.LeadCreate())
    @blueprint.response(201, s.LeadOut)
    @policy("lead.create")
    def post(self, data):
        """Capture a lead. A duplicate (same normalised e-mail, phone or company) is 409."""
        lead = call("create_lead", data)
        return lead, 201, {"Location": url_for("leads.Lead", lead_id=lead["id"])}


@blueprint.route("/leads/pool")
@policy("lead_pool.read")
@blueprint.arguments(s.LeadListQuery(), location="query")
@blueprint.response(200, LeadPage)
def pool(args):
    """Open leads nobody owns, which reps may claim."""
    filters, sort, limit, offset = _split(args)
    return page(call("list_pool", filters, sort, limit, offset), limit, offset)


@blueprint.route("/leads/export")
@policy("lead.read")
@blueprint.arguments(s.ExportQuery(), location="query")
@blueprint.response(200, description="text/csv, or with format=xlsx an XLSX workbook",
                    content_type="text/csv")
@long_running
def export(args):
    """The filtered list as CSV (streamed) or XLSX, fetched from the service a page at a time.

    CSV is UTF-8; ``bom=true`` starts it with a byte order mark, so that Excel
    reads accents and CJK right. A cell a spreadsheet would run as a formula
    (starting with = + - @, a tab or CR, other than a plain number or phone
    number) is written behind a single quote. In XLSX amounts are numbers,
    times are dates in UTC, and text is always text, never a formula."""
    args = dict(args)
    fmt, sort, bom = args.pop("format"), args.pop("sort"), args.pop("bom")
    # The first page is fetched before answering, so a service that is down is a 503,
    # not a 200 cut short.
    first = call("export_leads", args, sort, 0, EXPORT_PAGE)["items"]
    rows = _export_rows(first, args, sort)
    if fmt == "csv":
        return Response(stream_with_context(write_csv(rows, EXPORT_COLUMNS, bom=bom)),
                        mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=leads.csv"})
    spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    write_xlsx(rows, EXPORT_COLUMNS, spool, types=EXPORT_TYPES)
    spool.seek(0)
    return send_file(spool, mimetype=XLSX, as_attachment=True, download_name="leads.xlsx")


def _export_rows(first, filters, sort):
    batch, offset = first, 0
    while True:
        yield from batch
        if len(batch) < EXPORT_PAGE:
            return
        offset += EXPORT_PAGE
        batch = call("export_leads", filters, sort, offset, EXPORT_PAGE)["items"]


@blueprint.route("/leads/reassign", methods=["POST"])
@policy("lead.assign")
@blueprint.arguments(s.Reassign())
@blueprint.response(200, Reassigned)
def reassign(data):
    """Move every open lead of a departing rep to another rep, or back to the pool."""
    return call("reassign_owner", data["from_owner_id"], data.get("to_owner_id"))


@blueprint.route("/leads/<lead_id>", endpoint="Lead")
class Lead(MethodView):
    @blueprint.response(200, s.LeadOut)
    @policy("lead.read")
    def get(self, lead_id):
        return call("get_lead", lead_id)

    @blueprint.arguments(s.LeadUpdate())
    @blueprint.response(200, s.LeadOut)
    @policy("lead.update")
    def patch(self, data, lead_id):
        """Change fields; send the version you read (a stale one is 409)."""
        return call("update_lead", lead_id, data)


@blueprint.route("/leads/<lead_id>/history")
@policy("lead.read")
@blueprint.response(200, History)
def history(lead_id):
    """What happened to the lead, oldest first."""
    return {"items": call("lead_history", lead_id)}


def _status_route(path: str, status: str, doc: str):
    @blueprint.route(f"/leads/<lead_id>/{path}", methods=["POST"], endpoint=f"lead_{path}")
    @policy("lead.update")
    @blueprint.arguments(s.StatusChange(), required=False)
    @blueprint.response(200, s.LeadOut)
    @blueprint.doc(summary=doc)
    def change(data, lead_id):
        return call("change_status", lead_id, status, (data or {}).get("reason"))


_status_route("contacted", "contacted", "Mark the lead contacted")
_status_route("qualify", "qualified", "Qualify the lead")
_status_route("reopen", "new", "Reopen a disqualified lead")


@blueprint.route("/leads/<lead_id>/disqualify", methods=["POST"])
@policy("lead.update")
@blueprint.arguments(s.Disqualify())
@blueprint.response(200, s.LeadOut)
def disqualify(data, lead_id):
    return call("change_status", lead_id, "disqualified", data["reason"])


@blueprint.route("/leads/<lead_id>/convert", methods=["POST"])
@policy("lead.update")
@blueprint.response(200, s.LeadOut)
def convert(lead_id):
    """Convert a qualified lead; emits leads.lead_converted for sales."""
    return call("convert_lead", lead_id)


@blueprint.route("/leads/<lead_id>/assign", methods=["POST"])
@policy("lead.assign")
@blueprint.arguments(s.Assign())
@blueprint.response(200, s.LeadOut)
def assign(data, lead_id):
    return call("assign_lead", lead_id, data.get("owner_id"), data.get("rule"))


@blueprint.route("/leads/<lead_id>/claim", methods=["POST"])
@policy("lead_pool.claim")
@blueprint.response(200, s.LeadOut)
def claim(lead_id):
    return call("claim_lead", lead_id)


@blueprint.route("/leads/<lead_id>/release", methods=["POST"])
@policy("lead.update")
@blueprint.response(200, s.LeadOut)
def release(lead_id):
    return call("release_lead", lead_id)


@blueprint.route("/leads/<lead_id>/merge", methods=["POST"])
@policy("lead.update")
@blueprint.arguments(s.Merge())
@blueprint.response(200, s.LeadOut)
def merge(data, lead_id):
    """Fold another lead into this one; both histories are kept."""
    return call("merge_leads", lead_id, data["source_id"])


@blueprint.route("/assignment-rules")
class AssignmentRules(MethodView):
    @blueprint.response(200, s.AssignmentRuleOut(many=True))
    @policy("assignment_rule.read")
    def get(self):
        return call("list_assignment_rules")

    @blueprint.arguments(s.AssignmentRuleIn())
    @blueprint.response(201, s.AssignmentRuleOut)
    @policy("assignment_rule.write")
    def post(self, data):
        return call("create_assignment_rule", data)


@blueprint.route("/assignment-rules/<rule_id>", methods=["DELETE"])
@policy("assignment_rule.write")
@blueprint.response(204)
def delete_rule(rule_id):
    call("delete_assignment_rule", rule_id)


class ImportForm(Schema):
    """The multipart form, for the OpenAPI document; the view reads the parts itself."""
    file = Upload(metadata={"description": "a .csv (UTF-8) or .xlsx file; row 1 names the columns"})
    mapping = fields.String(metadata={"description": "JSON object: file column -> lead field"})


class ImportQuery(s.Strict):
    error_offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))
    error_limit = fields.Integer(load_default=100, validate=validate.Range(min=0, max=1000))


@blueprint.route("/leads/imports", methods=["POST"])
@policy("lead.import")
@blueprint.arguments(ImportForm(), location="files", required=False)
@blueprint.response(202, s.ImportJobOut)
@upload
def start_import(_files):
    """Upload a CSV or XLSX file; the rows are imported as a job you can poll (Location).

    The file is read as a stream, within the import limits, and staged in
    chunks, in order, in one transaction with the job. A row with a bad value or a cell that is too
    long is rejected on its own (see the job's errors); a file that cannot be
    read to its end (too large, a zip bomb, broken, not UTF-8) is a 422 naming
    ``file`` and the job (``import_id``), which is failed and imports nothing.
    """
    upload = request.files.get("file")
    if upload is None:
        raise Invalid("send the file as multipart field 'file'", errors={"file": "required"})
    mapping = _mapping(request.form.get("mapping"))
    try:
        fmt = detect_format(upload.filename or "", upload.mimetype)
    except TabularError as exc:
        raise Invalid(str(exc), errors={"file": str(exc)}) from None
    job = call("start_import", upload.filename, mapping)
    config, total = leads_settings(), 0
    try:
        rows = iter_rows(upload.stream, fmt, mapping, limits=_import_limits(config))
        for seq, chunk in enumerate(chunked_by_size(rows, config.import_chunk_rows, config.import_chunk_bytes)):
            call("add_import_chunk", job["id"], seq, chunk)
            total += len(chunk)
    except TabularError as exc:
        call("fail_import", job["id"], str(exc))  # kept: the answer below is committed with it
        return problem_answer(Invalid(f"{exc}; nothing was imported (import {job['id']} failed)",
                                      errors={"file": str(exc)}, extra={"import_id": job["id"]}))
    job = call("finish_import", job["id"], total)
    return job, 202, {"Location": url_for("leads.get_import", job_id=job["id"])}


def _import_limits(config) -> Limits:
    return Limits(max_rows=config.import_max_rows, max_columns=config.import_max_columns,
                  max_cell_chars=config.import_max_cell_chars,
                  max_unpacked_bytes=config.import_max_unpacked_bytes)


def _mapping(raw: str | None) -> dict | None:
    if not raw:
        return None
    try:
        mapping = json.loads(raw)
    except ValueError:
        mapping = None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise Invalid("mapping must be a JSON object of column -> field", errors={"mapping": "not a JSON object"})
    return mapping


@blueprint.route("/leads/imports/<job_id>")
@policy("lead.import")
@blueprint.arguments(ImportQuery(), location="query")
@blueprint.response(200, s.ImportJobOut)
def get_import(args, job_id):
    """Progress of an import, and its rejected rows (row number, field, reason)."""
    return call("get_import", job_id, args["error_offset"], args["error_limit"])


@blueprint.route("/activities")
class Activities(MethodView):
    @blueprint.arguments(s.ActivityListQuery(), location="query")
    @blueprint.response(200, ActivityPage)
    @policy("activity.read")
    def get(self, args):
        filters, sort, limit, offset = _split(args)
        return page(call("list_activities", filters, sort, limit, offset), limit, offset)

    @blueprint.arguments(s.ActivityCreate())
    @blueprint.response(201, s.ActivityOut)
    @policy("activity.write")
    def post(self, data):
        return call("create_activity", data)


@blueprint.route("/activities/plan", methods=["POST"])
@policy("activity.write")
@blueprint.arguments(s.PlanCalls())
@blueprint.response(201, ActivityPage)
def plan(data):
    """Put calls for a set of leads on reps' planners, spread evenly over the days."""
    planned = call("plan_calls", data)["planned"]
    return {"items": planned, "total": len(planned), "limit": len(planned), "offset": 0}


@blueprint.route("/activities/outcome-required")
@policy("activity.read")
@blueprint.response(200, ActivityPage)
def outcome_required():
    """Your past-due activities that still wait for an outcome."""
    items = call("outcome_required")
    return {"items": items, "total": len(items), "limit": len(items), "offset": 0}


@blueprint.route("/activities/<activity_id>/outcome", methods=["POST"])
@policy("activity.write")
@blueprint.arguments(s.Outcome())
@blueprint.response(200, s.ActivityOut)
def outcome(data, activity_id):
    return call("record_outcome", activity_id, data["outcome"])


@blueprint.route("/activities/calendar", methods=["POST"])
@policy("calendar.read")
@blueprint.response(201, CalendarUrl)
@secret_members("url")
def calendar_url():
    """Issue a new secret address of your calendar feed, for a phone or desktop calendar.

    The address is shown only in this answer (only a hash of it is kept, and a
    replay with the same Idempotency-Key leaves it out): each call makes a new
    one and the previous address stops working, as it does when you are deactivated."""
    token = call("calendar_token")["token"]
    return {"url": url_for("leads.calendar_feed", token=token, _external=True)}, 201


@blueprint.route("/calendar/<token>.ics")
@blueprint.doc(security=[])
@blueprint.response(200, description="iCalendar (RFC 5545)", content_type="text/calendar")
@public
def calendar_feed(token):
    """iCalendar feed of a rep's activities; the address itself is the secret."""
    return Response(call("calendar_feed", token), mimetype="text/calendar")
