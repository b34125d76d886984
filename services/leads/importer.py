"""Bulk import of leads as a job.

The gateway (or ``crm leads import``) parses the file as a stream and sends
it in numbered chunks; they are stored, and a chunk sent twice is stored once.
Only once the whole file has arrived (``finish_upload``) does a timer process
them in order, one transaction per chunk: valid rows become leads (with their
events), invalid and duplicate rows are reported with row number, field and
reason. A crash resumes at the first unprocessed chunk.

A file that cannot be read to its end imports nothing: ``fail_upload``
discards the chunks received and ends the job failed with the reason, and an
upload that never finishes (its gateway stopped) is failed the same way once
the upload timeout has passed.
"""
from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Iterable

from marshmallow import EXCLUDE, ValidationError
from sqlalchemy import delete, insert, or_, select

from services.leads import scoping
from services.leads.leads import build_lead, created_payload
from services.leads.models import ImportChunk, ImportJob, ImportRowError, Lead
from services.leads.schemas import ImportJobOut, LeadCreate
from shared import policy
from shared.caller import Caller
from shared.db import UnitOfWork, utcnow
from shared.errors import Conflict, DomainError
from shared.fields import utc_dump

_row_schema = LeadCreate(unknown=EXCLUDE)
_job_out = ImportJobOut()
_LIST_SEPARATOR = re.compile(r"\s*[;,|]\s*")


def job_dict(job: ImportJob, errors: Iterable[ImportRowError] = ()) -> dict[str, Any]:
    data = utc_dump(_job_out, job, ("created_at", "finished_at"))
    data["errors"] = [{"row": e.row, "field": e.field, "reason": e.reason,
                       "existing_lead_id": e.existing_lead_id} for e in errors]
    return data


def _job(session, caller: Caller, job_id: str, for_update: bool = False) -> ImportJob:
    return scoping.import_job(session, caller, job_id, for_update)


def start_import(uow: UnitOfWork, caller: Caller, filename: str, mapping: dict | None) -> dict[str, Any]:
    policy.require(caller, "lead.import")
    # The rows are imported later, by a timer, as the person who started the job.
    job = ImportJob(filename=filename, mapping=mapping, caller=caller.to_context(), created_at=utcnow())
    uow.session.add(job)
    uow.session.flush()
    return job_dict(job)


def add_chunk(uow: UnitOfWork, caller: Caller, job_id: str, seq: int, rows: list) -> dict[str, Any]:
    session = uow.session
    job = _job(session, caller, job_id, for_update=True)
    _require_receiving(job)
    if session.get(ImportChunk, (job_id, seq)) is None:
        session.add(ImportChunk(job_id=job_id, seq=seq, rows=rows, processed=False))
        job.received_chunks += 1
    return job_dict(job)


def finish_upload(uow: UnitOfWork, caller: Caller, job_id: str, total_rows: int) -> dict[str, Any]:
    job = _job(uow.session, caller, job_id, for_update=True)
    _require_receiving(job)
    job.upload_complete, job.total_rows = True, total_rows
    job.status = "processing"
    _finish_if_done(job)
    return job_dict(job)


def fail_upload(uow: UnitOfWork, caller: Caller, job_id: str, reason: str) -> dict[str, Any]:
    """The file could not be read to its end: nothing of it is imported. The chunks
    received are discarded and the job ends failed, the reason reported as a
    file-level error (row 0). Failing a failed job again changes nothing."""
    job = _job(uow.session, caller, job_id, for_update=True)
    if job.status != "failed":
        _require_receiving(job)
        _fail(uow.session, job, reason)
    return job_dict(job)


def fail_abandoned_uploads(uow: UnitOfWork, timeout: timedelta) -> int:
    """Fail the jobs still receiving their file ``timeout`` after they started
    (the gateway that was sending it stopped); how many were failed."""
    session = uow.session
    jobs = session.scalars(select(ImportJob).where(ImportJob.status == "receiving",
                                                   ImportJob.created_at < utcnow() - timeout)
                           .with_for_update(skip_locked=True)).all()
    for job in jobs:
        _fail(session, job, f"the file did not finish arriving within {timeout.total_seconds() / 60:g} "
                            "minutes; nothing was imported")
    return len(jobs)


def _require_receiving(job: ImportJob) -> None:
    if job.status != "receiving":
        raise Conflict(f"import {job.id} is {job.status}, no longer receiving its file; start a new import")


def _fail(session, job: ImportJob, reason: str) -> None:
    session.execute(delete(ImportChunk).where(ImportChunk.job_id == job.id))
    session.add(ImportRowError(job_id=job.id, row=0, field="file", reason=reason[:500]))
    job.upload_complete, job.status, job.finished_at = True, "failed", utcnow()
    job.total_rows = job.received_chunks = 0


def get_import(session, caller: Caller, job_id: str, error_offset: int = 0,
               error_limit: int = 100) -> dict[str, Any]:
    job = _job(session, caller, job_id)
    errors = session.scalars(select(ImportRowError).where(ImportRowError.job_id == job_id)
                             .order_by(ImportRowError.row, ImportRowError.id)
                             .offset(error_offset).limit(error_limit)).all()
    return job_dict(job, errors)


def _finish_if_done(job: ImportJob) -> None:
    if job.upload_complete and job.processed_chunks >= job.received_chunks and job.finished_at is None:
        job.finished_at = utcnow()
        if job.status == "processing":
            job.status = "done"


def process_next_chunk(uow: UnitOfWork) -> bool:
    """Process the next chunk of the oldest unfinished import; False if none is ready."""
    session = uow.session
    chunk = session.scalars(
        select(ImportChunk).join(ImportJob, ImportJob.id == ImportChunk.job_id)
        .where(ImportChunk.processed.is_(False), ImportChunk.seq == ImportJob.processed_chunks,
               ImportJob.status == "processing")
        .order_by(ImportJob.created_at).limit(1).with_for_update(skip_locked=True)).first()
    if chunk is None:
        return False
    job = session.get(ImportJob, chunk.job_id, with_for_update=True)
    _import_rows(uow, job, chunk.rows)
    chunk.processed, chunk.rows = True, []
    job.processed_chunks += 1
    _finish_if_done(job)
    return True


_MONEY = ("estimated_value", "acquisition_cost")


def _record_values(record: dict) -> dict:
    values = {k: v for k, v in record.items() if v not in (None, "")}
    for name in ("tags", "interests"):
        if isinstance(values.get(name), str):
            values[name] = [t for t in _LIST_SEPARATOR.split(values[name]) if t]
    if values.get("currency"):
        values["currency"] = values["currency"].upper()
    for name in _MONEY:
        # A spreadsheet cell is a number (its text in the file, read as written);
        # the API takes money only as a decimal string.
        if isinstance(values.get(name), (int, float)) and not isinstance(values[name], bool):
            values[name] = repr(values[name])
    values.setdefault("source", "import")
    return values


def _import_rows(uow: UnitOfWork, job: ImportJob, rows: list) -> None:
    session, caller, now = uow.session, Caller.from_context(job.caller), utcnow()
    errors: list[ImportRowError] = []
    candidates: list[tuple[int, Lead]] = []
    for row_number, record, *refused in rows:
        if refused and refused[0]:  # cells the gateway did not send: too long
            errors.extend(ImportRowError(job_id=job.id, row=row_number, field=field[:60], reason=reason[:500])
                          for field, reason in refused[0].items())
            continue
        try:
            data = _row_schema.load(_record_values(record))
            data.pop("owner_id", None)
            lead = build_lead(caller, data, now)
        except ValidationError as exc:
            errors.extend(ImportRowError(job_id=job.id, row=row_number, field=field,
                                         reason="; ".join(_messages(msgs)))
                          for field, msgs in exc.messages.items())
            continue
        except DomainError as exc:
            field = next(iter(exc.errors), None)
            errors.append(ImportRowError(job_id=job.id, row=row_number, field=field, reason=exc.detail))
            continue
        lead.import_job_id, lead.import_row = job.id, row_number
        candidates.append((row_number, lead))
    existing = _existing_by_key(session, [lead for _, lead in candidates])
    accepted: list[Lead] = []
    for row_number, lead in candidates:
        hit = _first_hit(existing, lead)
        if hit is not None:
            field, other = hit
            reason = (f"duplicate of row {other.import_row} in this file" if other.import_job_id == job.id
                      else f"duplicate of existing lead {other.id}")
            errors.append(ImportRowError(job_id=job.id, row=row_number, field=field, reason=reason,
                                         existing_lead_id=other.id))
            continue
        for field, key in _key_items(lead):
            existing[(field, key)] = lead
        accepted.append(lead)
    # Bulk INSERTs, not the ORM unit of work: the rows are new and nothing
    # else in this transaction reads them back as objects.
    if accepted:
        session.execute(insert(Lead), [_columns(lead, LEAD_COLUMNS) for lead in accepted])
    if errors:
        session.execute(insert(ImportRowError), [_columns(error, ERROR_COLUMNS) for error in errors])
    uow.emit_many([("leads.lead_created", created_payload(lead)) for lead in accepted])
    job.processed_rows += len(rows)
    job.imported += len(accepted)
    job.rejected += len({e.row for e in errors})


LEAD_COLUMNS = tuple(c.key for c in Lead.__table__.columns)
ERROR_COLUMNS = tuple(c.key for c in ImportRowError.__table__.columns if c.key != "id")


def _columns(obj, names: tuple[str, ...]) -> dict:
    row = {name: getattr(obj, name) for name in names}
    if "version" in row and row["version"] is None:
        row["version"] = 1
    return row


def _messages(msgs) -> list[str]:
    if isinstance(msgs, dict):
        return [m for v in msgs.values() for m in _messages(v)]
    if isinstance(msgs, list):
        return [str(m) for m in msgs]
    return [str(msgs)]


def _key_items(lead: Lead):
    for field, key in (("email", lead.email_norm), ("phone", lead.phone_norm),
                       ("company", lead.company_norm)):
        if key:
            yield field, key


def _first_hit(existing: dict, lead: Lead):
    for field, key in _key_items(lead):
        other = existing.get((field, key))
        if other is not None:
            return field, other
    return None


def _existing_by_key(session, leads: list[Lead]) -> dict:
    """Live leads already stored that share a key with any of ``leads``: one query."""
    emails = {lead.email_norm for lead in leads if lead.email_norm}
    phones = {lead.phone_norm for lead in leads if lead.phone_norm}
    companies = {lead.company_norm for lead in leads if lead.company_norm}
    clauses = [c for c in (Lead.email_norm.in_(emails) if emails else None,
                           Lead.phone_norm.in_(phones) if phones else None,
                           Lead.company_norm.in_(companies) if companies else None) if c is not None]
    found: dict = {}
    if not clauses:
        return found
    rows = session.execute(select(Lead.id, Lead.email_norm, Lead.phone_norm, Lead.company_norm,
                                  Lead.import_job_id, Lead.import_row)
                           .where(or_(*clauses), Lead.merged_into_id.is_(None))).all()
    for row in rows:
        for field, key in (("email", row.email_norm), ("phone", row.phone_norm),
                           ("company", row.company_norm)):
            if key:
                found.setdefault((field, key), row)
    return found
