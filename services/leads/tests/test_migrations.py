"""The leads migrations: they build exactly the models, and 0002 keeps no calendar token in clear."""
from __future__ import annotations

import hashlib

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from services.leads.models import metadata
from services.leads.plugin import manifest
from shared.migrate import alembic_config, upgrade


@pytest.fixture(params=["postgresql", "sqlite"])
def url(request, throwaway, tmp_path):
    return throwaway.database("leads_migrations") if request.param == "postgresql" \
        else f"sqlite:///{tmp_path / 'leads.db'}"


def test_clear_calendar_tokens_are_hashed_or_dropped_and_the_schema_is_the_models(url):
    command.upgrade(alembic_config(manifest.migrations, url), "0001")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for user_id, active, token in (("u-on", True, "token-on"), ("u-off", False, "token-off"),
                                           ("u-none", True, None)):
                conn.execute(text("INSERT INTO reps (user_id, role, segments, sources, active, calendar_token)"
                                  " VALUES (:u, 'rep', '[]', '[]', :a, :t)"), {"u": user_id, "a": active, "t": token})
        upgrade(manifest.migrations, url)
        with engine.connect() as conn:
            hashes = dict(conn.execute(text("SELECT user_id, calendar_token_hash FROM reps")).all())
            assert hashes == {"u-on": hashlib.sha256(b"token-on").hexdigest(), "u-off": None, "u-none": None}
            assert compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata) == []
    finally:
        engine.dispose()


def test_0004_recomputes_the_dedupe_keys_of_existing_leads(url, monkeypatch):
    """A national phone number kept as its digits becomes E.164; a zero-width
    character in a company or e-mail key goes."""
    monkeypatch.setenv("LEADS_DEFAULT_REGION", "PL")
    command.upgrade(alembic_config(manifest.migrations, url), "0003")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for lead_id, company, email, phone, merged in (
                    ("l-national", "Acme\u200b", "jan@ac\u200bme.example", "(22) 555 01 02", None),
                    ("l-foreign", "Globex", None, "(212) 555-0102", None),
                    ("l-merged", "Old", None, "(22) 555 01 03", "l-national")):
                conn.execute(text(
                    "INSERT INTO leads (id, company, email, phone, source, tags, interests, status, score,"
                    " merged_into_id, email_norm, phone_norm, company_norm, version, created_at, updated_at)"
                    " VALUES (:id, :company, :email, :phone, 'other', '[]', '[]', 'new', 0, :merged,"
                    " :email, :digits, :company, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                    {"id": lead_id, "company": company, "email": email, "phone": phone, "merged": merged,
                     "digits": "".join(c for c in phone if c.isdigit())})
        upgrade(manifest.migrations, url)
        with engine.connect() as conn:
            keys = {row[0]: tuple(row[1:]) for row in conn.execute(text(
                "SELECT id, email_norm, phone_norm, company_norm FROM leads"))}
    finally:
        engine.dispose()
    assert keys == {"l-national": ("jan@acme.example", "+48225550102", "acme"),
                    "l-foreign": (None, "2125550102", "globex"),
                    "l-merged": (None, "225550103", "Old")}  # a merged lead is left alone
