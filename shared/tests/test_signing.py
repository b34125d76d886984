"""The signed caller, without a broker: what a token says, and what is refused."""
import os
from dataclasses import replace

import pytest

from shared import signing
from shared.caller import Caller, Role
from shared.config import load_settings
from shared.errors import Forbidden


@pytest.fixture
def keys(tmp_path):
    settings = replace(load_settings({}), data_dir=tmp_path / "data")
    return signing.signing_key(settings), signing.verify_key(settings), settings


def test_the_token_carries_the_caller_whole(keys):
    private, public, _ = keys
    manager = Caller(user_id="u-1", role=Role.MANAGER, name="Ann", team_id="t-1", branch_id="b-1",
                     partner_id=None, request_id="r-1")
    assert signing.verify(signing.sign(manager, private, 10), public) == manager
    anonymous = signing.verify(signing.sign(None, private, 10), public)
    assert anonymous.role is None and anonymous.user_id is None


def test_missing_expired_foreign_and_tampered_tokens_are_refused(keys, tmp_path):
    private, public, _ = keys
    rep = Caller(user_id="u-1", role=Role.REP)
    stranger = signing.signing_key(replace(load_settings({}), data_dir=tmp_path / "other"))
    token = signing.sign(rep, private, 10)
    header, payload, signature = token.split(".")
    forged_payload = signing.sign(Caller(user_id="u-1", role=Role.ADMIN), stranger, 10).split(".")[1]
    for bad, reason in ((None, "no signed caller"), (signing.sign(rep, private, -5), "expired"),
                        (signing.sign(rep, stranger, 10), "not valid"),
                        (f"{header}.{forged_payload}.{signature}", "not valid")):
        with pytest.raises(Forbidden, match=reason):
            signing.verify(bad, public)


def test_the_embedded_pair_is_made_once_and_private(keys):
    _, _, settings = keys
    signing_file = settings.data_dir / signing.SIGNING_FILE
    assert signing_file.stat().st_mode & 0o777 == 0o600
    before = signing_file.read_bytes()
    signing.ensure_key_pair(settings.data_dir)
    assert signing_file.read_bytes() == before
    assert os.path.exists(settings.data_dir / signing.VERIFY_FILE)
