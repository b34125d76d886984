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
from bench.env import CpuMeter, Suite, peak_memory_mb, reset_peak_memory
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


def measure_ours(api: Api, suite: Suite, path: Path, meter: CpuMeter, cpu: dict) -> dict:
    """Upload the file and poll the job until it is done. The peak resident
    memory (VmHWM, reset before the upload) of every suite process is read
    at the end."""
    pids = suite.pids()
    for pid in pids.values():
        reset_peak_memory(pid)
    data = path.read_bytes()
    with meter.per_op(cpu, max(1, data.count(b"\n") - 1)):
        started = time.perf_counter()
        job = expect(api.post("/leads/imports", files={"file": (path.name, data, "text/csv")}, timeout=900), 202)
        uploaded = time.perf_counter() - started
        while job["status"] == "processing":
            time.sleep(0.2)
            job = expect(api.get(f"/leads/imports/{job['id']}", params={"error_limit": 1}), 200)
        elapsed = time.perf_counter() - started
    memory = {name: round(peak_memory_mb(pid), 1) for name, pid in pids.items()}
    return {"rate": job["processed_rows"] / elapsed, "imported": job["imported"], "rejected": job["rejected"],
            "status": job["status"], "seconds": round(elapsed, 1), "upload_seconds": round(uploaded, 1),
            "memory": memory}


def measure_copy(db_url: str, path: Path, meter: CpuMeter, cpu: dict) -> float:
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE copied_leads (" + ", ".join(f"{c} text" for c in COLUMNS) + ")")
            conn.commit()
            data = io.BytesIO(path.read_bytes())
            with meter.per_op(cpu, max(1, data.getvalue().count(b"\n") - 1)):
                started = time.perf_counter()
                cur.copy_expert("COPY copied_leads FROM STDIN WITH (FORMAT csv, HEADER true)", data)
                conn.commit()
                elapsed = time.perf_counter() - started
            cur.execute("SELECT count(*) FROM copied_leads")
            return cur.fetchone()[0] / elapsed
    finally:
        conn.close()


def run(api: Api, suite: Suite, copy_db: str, workdir: Path, rows: int, meter: CpuMeter) -> Metric:
    path = workdir / "bench-leads.csv"
    bad = write_csv(path, rows)
    cpu_ours, cpu_baseline = {}, {}
    ours = measure_ours(api, suite, path, meter, cpu_ours)
    baseline = measure_copy(copy_db, path, meter, cpu_baseline)
    peak = max(ours["memory"].values())
    problems = []
    if ours["status"] != "done":
        problems.append(f"the import ended {ours['status']}")
    if ours["rejected"] != bad or ours["imported"] != rows - bad:
        problems.append(f"imported {ours['imported']} and rejected {ours['rejected']}, "
                        f"expected {rows - bad} and {bad}")
    memory = ", ".join(f"{name} {mb:.0f}" for name, mb in sorted(ours["memory"].items(), key=lambda kv: -kv[1]))
    return Metric("lead_import", ours["rate"], baseline, "rows/s", 0.33,
                  extra_target=f"memory <= {MEMORY_LIMIT_MB} MB", extra_met=peak <= MEMORY_LIMIT_MB,
                  problems=problems,
                  note=f"{rows} rows in {ours['seconds']:.0f} s, {bad} bad rows reported; peak MB {memory}",
                  details={"rows": rows, "imported": ours["imported"], "rejected": ours["rejected"], "bad_rows": bad,
                           "seconds": ours["seconds"], "upload_seconds": ours["upload_seconds"],
                           "peak_mb": ours["memory"], "peak_mb_max": peak,
                           "cpu_ms_per_op": {"ours": cpu_ours, "baseline": cpu_baseline}})
