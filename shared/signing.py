"""The caller, signed: the gateway signs each call's caller; services verify it.

Every RPC call carries a short-lived JWT (EdDSA, Ed25519) in its context data
(``caller_token``), naming the caller (user, role, team, branch, partner,
request id). A service builds its :class:`~shared.caller.Caller` from that
token alone and refuses a call whose token is missing, expired or tampered
with before any use case runs, so no other process on the bus can call as
anyone. Services hold only the public key: they can check a caller, not make
one.

Keys: ``CRM_CALLER_SIGNING_KEY`` (the gateway's private key, a PEM file) and
``CRM_CALLER_VERIFY_KEY`` (the public key, a PEM file, for the services). When
they are not set, the embedded default keeps a pair in ``CRM_DATA_DIR``,
made once by whichever process needs it first (the private file 0600).
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.caller import Caller
from shared.config import Settings
from shared.errors import Forbidden

TOKEN = "caller_token"  # the context data key (a message header) of the signed caller
ALGORITHM = "EdDSA"
ISSUER = "crm-gateway"
SIGNING_FILE, VERIFY_FILE = "caller-signing.pem", "caller-verify.pem"
_CLAIMS = ("name", "team_id", "branch_id", "partner_id")


def ensure_key_pair(data_dir: Path) -> None:
    """Make the embedded default's key pair in ``data_dir`` unless it is there."""
    signing, verifying = data_dir / SIGNING_FILE, data_dir / VERIFY_FILE
    if signing.exists() and verifying.exists():
        return
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    try:  # O_EXCL: when two processes race, the first pair wins whole
        descriptor = os.open(signing, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _wait_for(verifying)
        return
    with os.fdopen(descriptor, "wb") as file:
        file.write(private)
    partial = verifying.with_suffix(".tmp")
    partial.write_bytes(public)
    partial.replace(verifying)


def _wait_for(path: Path, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    path = settings.caller_signing_key
    if path is None:
        ensure_key_pair(settings.data_dir)
        path = settings.data_dir / SIGNING_FILE
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def verify_key(settings: Settings) -> Ed25519PublicKey:
    path = settings.caller_verify_key
    if path is None:
        ensure_key_pair(settings.data_dir)
        path = settings.data_dir / VERIFY_FILE
    return serialization.load_pem_public_key(Path(path).read_bytes())


def sign(caller: Caller | None, key: Ed25519PrivateKey, ttl: float) -> str:
    """A token naming ``caller`` (None: an anonymous call) valid for ``ttl`` seconds."""
    now = int(time.time())
    claims = {"iss": ISSUER, "iat": now, "exp": now + math.ceil(ttl)}
    if caller is not None:
        claims.update(uid=caller.user_id, role=caller.role.value if caller.role else None,
                      rid=caller.request_id, **{name: getattr(caller, name) for name in _CLAIMS})
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(token: str | None, key: Ed25519PublicKey) -> Caller:
    """The caller a valid token names; Forbidden for a missing, expired or forged one."""
    if not token:
        raise Forbidden("the call carries no signed caller; only the gateway may call services")
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "iss"]})
    except jwt.ExpiredSignatureError:
        raise Forbidden("the call's signed caller has expired") from None
    except jwt.PyJWTError:
        raise Forbidden("the call's caller signature is not valid") from None
    return Caller.from_context({"user_id": claims.get("uid"), "role": claims.get("role"),
                                "request_id": claims.get("rid"), **{n: claims.get(n) for n in _CLAIMS}})
