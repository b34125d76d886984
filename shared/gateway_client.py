"""What a ``crm`` command needs to talk to the gateway over HTTP: its address and
a key (from the options, else from the gateway installed here and the admin key
of ``crm up``), and one call at a time whose failure is a ClickException a
person can read. A service's own command (``crm.commands``) uses these."""
from __future__ import annotations

import os

import click

from shared.config import load_settings


def _gateway_identity(hint: str):
    """The installed gateway's identity store module; where none is installed, an error
    that ends with ``hint``: what the person can do instead."""
    from shared.plugins import discover_gateway

    gateway = discover_gateway()
    if gateway is None:
        raise click.ClickException(f"no gateway is installed here (crm-gateway); {hint}")
    return gateway.load_identity()


def admin_key(settings, configured: str | None) -> str:
    """``configured`` (GATEWAY_ADMIN_KEY) if set, else the key made by an earlier ``crm up``,
    else a new one."""
    from shared.db import private_data_dir

    if configured:
        return configured
    path = settings.data_dir / "admin.key"
    private_data_dir(settings)
    if path.exists():
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # left readable by an older version
        return path.read_text().strip()
    identity = _gateway_identity("it makes the admin key: give a key instead (--api-key or CRM_API_KEY)")
    key = identity.new_key_string()
    # Created 0600, never chmodded afterwards: no moment where others may read it.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key)
    return key


def gateway_address(url: str | None, api_key: str | None) -> tuple[str, dict[str, str]]:
    """The gateway's base URL (``url``, else the installed gateway's host and port)
    and the headers that carry the key (``api_key``, else the admin key)."""
    from shared.plugins import discover_gateway

    settings, gateway = load_settings(), discover_gateway()
    gateway_settings = gateway.load_settings() if gateway else None
    if url is None and gateway_settings is None:
        raise click.ClickException("no gateway is installed here: give its address (--url or CRM_URL)")
    url = (url or f"http://{gateway_settings.host}:{gateway_settings.port}").rstrip("/")
    headers = {"Authorization": "Bearer " + (api_key or admin_key(
        settings, gateway_settings.admin_key if gateway_settings else None))}
    return url, headers


def http(method: str, address: str, base: str, **kwargs):
    """One call to the gateway; an error becomes one readable ClickException
    (exit status 1): the gateway cannot be reached, or its problem document."""
    import requests

    try:
        answer = requests.request(method, address, **kwargs)
    except requests.ConnectionError:
        raise click.ClickException(f"cannot reach the gateway at {base}; is the suite running "
                                   "(`crm up`), and is --url / CRM_URL right?") from None
    except requests.Timeout:
        raise click.ClickException(f"the gateway at {base} did not answer in time") from None
    if answer.status_code >= 400:
        raise click.ClickException(problem_text(answer))
    return answer


def problem_text(answer) -> str:
    """A problem document (RFC 9457) for a person: status, title and detail,
    then one line per field error."""
    try:
        problem = answer.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return f"HTTP {answer.status_code}: {answer.text.strip()[:500] or answer.reason}"
    text = f"{answer.status_code} {problem.get('title') or answer.reason}"
    if problem.get("detail"):
        text += f": {problem['detail']}"
    lines = [text] + [f"  {field}: {message}" for field, message in _field_errors(problem.get("errors"))]
    return "\n".join(lines)


def _field_errors(errors, prefix: str = ""):
    if isinstance(errors, dict):
        for name, value in errors.items():
            yield from _field_errors(value, f"{prefix}{name}" if not prefix else f"{prefix}.{name}")
    elif isinstance(errors, list) and all(not isinstance(e, (dict, list)) for e in errors):
        yield prefix or "-", "; ".join(str(e) for e in errors)
    elif isinstance(errors, list):
        for i, value in enumerate(errors):
            yield from _field_errors(value, f"{prefix}[{i}]")
    elif errors is not None:
        yield prefix or "-", str(errors)
