"""The import job's life cycle: nothing is imported until the whole file has
arrived, and a file that fails (or never finishes arriving) imports nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from services.leads.models import ImportChunk, ImportJob, Lead
from services.leads.tests.conftest import ADMIN
from shared.errors import Conflict


def leads_of(engine, job_id):
    with engine.connect() as conn:
        return conn.execute(select(Lead.company).where(Lead.import_job_id == job_id)
                            .order_by(Lead.import_row)).scalars().all()


def chunks_of(engine, job_id):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ImportChunk)
                            .where(ImportChunk.job_id == job_id)).scalar()


def test_chunks_wait_until_the_whole_file_has_arrived(service, leads_db):
    job = service.start_import(ADMIN, "leads.csv", None)
    service.add_import_chunk(ADMIN, job["id"], 0, [[2, {"company": "Waits For The End"}]])
    service.process_imports()
    assert service.get_import(ADMIN, job["id"], 0, 10)["status"] == "receiving"
    assert leads_of(leads_db, job["id"]) == []
    service.finish_import(ADMIN, job["id"], 1)
    service.process_imports()
    assert service.get_import(ADMIN, job["id"], 0, 10)["status"] == "done"
    assert leads_of(leads_db, job["id"]) == ["Waits For The End"]


def test_a_file_that_breaks_part_way_imports_nothing_and_ends_failed(service, leads_db):
    job = service.start_import(ADMIN, "broken.csv", None)
    service.add_import_chunk(ADMIN, job["id"], 0, [[2, {"company": "Before The Break"}]])
    reason = "the file is not valid utf-8-sig text beyond row 1; save it as UTF-8 CSV"
    failed = service.fail_import(ADMIN, job["id"], reason)
    assert (failed["status"], failed["total_rows"], failed["imported"]) == ("failed", 0, 0)
    assert failed["finished_at"] is not None
    service.process_imports()
    done = service.get_import(ADMIN, job["id"], 0, 10)
    assert (done["status"], done["imported"]) == ("failed", 0)
    assert done["errors"] == [{"row": 0, "field": "file", "existing_lead_id": None, "reason": reason}]
    assert leads_of(leads_db, job["id"]) == [] and chunks_of(leads_db, job["id"]) == 0
    with pytest.raises(Conflict):
        service.add_import_chunk(ADMIN, job["id"], 1, [[3, {"company": "After The Break"}]])
    with pytest.raises(Conflict):
        service.finish_import(ADMIN, job["id"], 1)
    assert service.fail_import(ADMIN, job["id"], "again")["errors"] == []  # failing twice adds nothing
    assert len(service.get_import(ADMIN, job["id"], 0, 10)["errors"]) == 1


def test_an_upload_left_receiving_is_failed_after_the_upload_timeout(make_service, leads_db):
    service = make_service(import_upload_timeout=600)
    abandoned = service.start_import(ADMIN, "abandoned.csv", None)
    service.add_import_chunk(ADMIN, abandoned["id"], 0, [[2, {"company": "Never Finished"}]])
    recent = service.start_import(ADMIN, "recent.csv", None)
    with leads_db.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == abandoned["id"])
                     .values(created_at=datetime.now(timezone.utc) - timedelta(minutes=11)))
    service.fail_abandoned_imports()
    service.process_imports()
    job = service.get_import(ADMIN, abandoned["id"], 0, 10)
    assert (job["status"], job["imported"]) == ("failed", 0)
    assert job["errors"][0]["field"] == "file" and "within 10 minutes" in job["errors"][0]["reason"]
    assert leads_of(leads_db, abandoned["id"]) == [] and chunks_of(leads_db, abandoned["id"]) == 0
    assert service.get_import(ADMIN, recent["id"], 0, 10)["status"] == "receiving"


def test_cells_the_gateway_refused_make_their_row_rejected(service, leads_db):
    job = service.start_import(ADMIN, "long.csv", None)
    too_long = "longer than 32,767 characters (204,800)"
    service.add_import_chunk(ADMIN, job["id"], 0, [[2, {"company": "Short Ltd"}],
                                                  [3, {"email": "long@x.com"}, {"company": too_long}],
                                                  [4, {"company": "Also Short Ltd"}]])
    service.finish_import(ADMIN, job["id"], 3)
    service.process_imports()
    done = service.get_import(ADMIN, job["id"], 0, 10)
    assert (done["status"], done["imported"], done["rejected"]) == ("done", 2, 1)
    assert done["errors"] == [{"row": 3, "field": "company", "reason": too_long, "existing_lead_id": None}]
    assert leads_of(leads_db, job["id"]) == ["Short Ltd", "Also Short Ltd"]
