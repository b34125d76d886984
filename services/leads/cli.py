"""Leads' ``crm leads`` (registered under ``crm.commands``): ``crm leads import``
sends a file to the gateway and follows the import job to its end."""
from __future__ import annotations

import time
from pathlib import Path

import click

from shared.gateway_client import gateway_address, http


@click.group()
def leads() -> None:
    """Leads."""


@leads.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mapping", help='JSON object: file column -> lead field, e.g. \'{"Firma": "company"}\'')
@click.option("--api-key", envvar="CRM_API_KEY", help="defaults to the admin key of `crm up`")
@click.option("--url", envvar="CRM_URL", help="gateway base URL")
@click.option("--follow/--no-follow", default=True, help="follow the job until its rows are imported")
def leads_import(file: Path, mapping: str | None, api_key: str | None, url: str | None, follow: bool) -> None:
    """Import a CSV or XLSX FILE of leads through the gateway: a progress bar while
    the file is sent, then one while its rows are imported. Exits non-zero when
    the gateway cannot be reached, refuses the file or fails the job."""
    from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor

    url, headers = gateway_address(url, api_key)
    with file.open("rb") as stream:
        fields = {"file": (file.name, stream, "application/octet-stream")}
        if mapping:
            fields["mapping"] = mapping
        encoder = MultipartEncoder(fields)
        with click.progressbar(length=encoder.len, label="uploading", show_pos=False) as bar:
            sent = MultipartEncoderMonitor(encoder, lambda monitor: bar.update(monitor.bytes_read - bar.pos))
            answer = http("post", f"{url}/api/v1/leads/imports", url, data=sent, timeout=3600,
                          headers={**headers, "Content-Type": sent.content_type})
    job = answer.json()
    location = answer.headers.get("Location") or f"/api/v1/leads/imports/{job['id']}"
    job_url = location if location.startswith("http") else url + location
    click.echo(f"import {job['id']}: {job['total_rows']} rows received; follow it at {job_url}")
    if not follow:
        return
    with click.progressbar(length=max(job["total_rows"], 1), label="importing", show_pos=True) as bar:
        while True:
            job = http("get", job_url, url, headers=headers, params={"error_limit": 20}, timeout=30).json()
            bar.update(job["processed_rows"] - bar.pos)
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
    click.echo(f"imported {job['imported']}, rejected {job['rejected']} of {job['total_rows']} rows")
    for error in job["errors"]:
        click.echo(f"  row {error['row']}: {error['field'] or '-'}: {error['reason']}")
    if job["rejected"] > len(job["errors"]):
        click.echo(f"  ... see GET {job_url} for all {job['rejected']} rejected rows")
    if job["status"] == "failed":
        raise click.ClickException(f"import {job['id']} failed; nothing was imported")
