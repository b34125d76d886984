"""``lead_import``: a CSV uploaded to /api/v1/leads/imports until the job is
done, with the peak memory of every process, against PostgreSQL ``COPY`` of
the same rows into a plain table."""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import psycopg2

from bench.client import Api, expect
from bench.env import Suite, peak_memory_mb, reset_peak_memory
from bench.report import Metric

COLUMNS = ["company", "contact_name", "email", "phone", "source", "segment", "industry", "estimated_value",
           "currency", "tags"]
MEMORY_LIMIT_MB = 300


def write_csv(path: Path, rows: int) -> int:
    """``rows`` leads, with one bad row in a thousand (no company, a bad e-mail,
    or a duplicate of a row above); returns how many are bad."""
    bad = 0
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for n in range(rows):
            company, email = f"Import Co {n:07d}", f"contact{n}@import{n}.example"
            kind = n % 1000
            if kind == 1:
                company, bad = "", bad + 1
            elif kind == 2:
                email, bad = "not-an-email", bad + 1
            elif kind == 3 and n > 10:
                company, email, bad = f"Import Co {n - 10:07d}", f"contact{n - 10}@import{n - 10}.example", bad + 1
            writer.writerow([company, f"Person {n}", email, f"+48 {n:09d}",
                             "import", "smb", "software", f"{1000 + n % 5000}.00", "EUR", "bench;import"])
    return bad


def measure_ours(api: Api, suite: Suite, path: Path) -> dict:
    pids = suite.pids()
    for pid in pids.values():
        reset_peak_memory(pid)
    started = time.perf_counter()
    with path.open("rb") as f:
        job = expect(api.post("/leads/imports", files={"file": (path.name, f, "text/csv")}), 202)
    while job["status"] == "processing":
        time.sleep(0.5)
        job = expect(api.get(f"/leads/imports/{job['id']}", params={"error_limit": 1}), 200)
    elapsed = time.perf_counter() - started
    memory = {name: round(peak_memory_mb(pid), 1) for name, pid in pids.items()}
    return {"rate": job["processed_rows"] / elapsed, "imported": job["imported"], "rejected": job["rejected"],
            "status": job["status"], "seconds": round(elapsed, 1), "memory": memory}


def measure_copy(db_url: str, path: Path) -> float:
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE copied_leads (" + ", ".join(f"{c} text" for c in COLUMNS) + ")")
            conn.commit()
            data = io.BytesIO(path.read_bytes())
            started = time.perf_counter()
            cur.copy_expert("COPY copied_leads FROM STDIN WITH (FORMAT csv, HEADER true)", data)
            conn.commit()
            elapsed = time.perf_counter() - started
            cur.execute("SELECT count(*) FROM copied_leads")
            return cur.fetchone()[0] / elapsed
    finally:
        conn.close()


def run(api: Api, suite: Suite, copy_db: str, workdir: Path, rows: int) -> Metric:
    path = workdir / "bench-leads.csv"
    bad = write_csv(path, rows)
    ours = measure_ours(api, suite, path)
    baseline = measure_copy(copy_db, path)
    peak = max(ours["memory"].values())
    return Metric("lead_import", ours["rate"], baseline, "rows/s", 0.33, extra_target=f"memory <= {MEMORY_LIMIT_MB} MB",
                  extra_met=peak <= MEMORY_LIMIT_MB and ours["status"] == "done" and ours["rejected"] == bad,
                  details={
                      "rows": rows, "imported": ours["imported"], "rejected": ours["rejected"], "bad_rows": bad,
                      "seconds": ours["seconds"], "peak_mb": ours["memory"]})
