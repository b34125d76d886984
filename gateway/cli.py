"""The gateway's ``crm keys`` (registered under ``crm.commands``): users and their
API keys in the gateway's identity store, on the host where the gateway is installed."""
from __future__ import annotations

import click

from shared.caller import ROLES


def _identity_session():
    from sqlalchemy.orm import sessionmaker

    from shared.config import load_settings
    from shared.db import make_engine
    return sessionmaker(make_engine(load_settings().database_url("gateway")), expire_on_commit=False)


@click.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--name", required=True, help="the user the key belongs to (created if missing)")
def keys_create(role: str, name: str) -> None:
    """Create a user with ROLE and an API key; the key is shown once."""
    from gateway.identity import create_user_with_key
    from shared.errors import DomainError

    try:
        click.echo(create_user_with_key(_identity_session(), role=role, name=name))
    except DomainError as exc:  # e.g. the user exists with another role
        raise click.ClickException(str(exc)) from None
