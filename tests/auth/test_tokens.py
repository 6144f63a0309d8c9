"""API tokens: shown once, stored hashed, verifiable, revocable."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bioimage_hub.auth.tokens import (
    Principal, TokenError, create_token, hash_secret, list_tokens, parse_bearer, revoke_token, verify_token,
)
from bioimage_hub.cli import app


@pytest.fixture
def db(loaded, driver):
    yield loaded.neo4j_database
    driver.execute_query("MATCH (t:ApiToken) WHERE t.name STARTS WITH 'test-' DELETE t", database_=loaded.neo4j_database)


def test_create_verify_revoke(driver, db) -> None:
    created = create_token(driver, db, "test-alice", "submitter")
    assert created.secret.startswith("bih_") and len(created.secret) == 47
    principal = verify_token(driver, db, created.secret)
    assert principal == Principal("test-alice", "submitter", created.info.id)
    assert not principal.can_edit_any and not principal.is_admin
    assert verify_token(driver, db, created.secret[:-1] + ("A" if created.secret[-1] != "A" else "B")) is None
    assert verify_token(driver, db, "") is None and verify_token(driver, db, "not-a-token") is None
    revoked = revoke_token(driver, db, created.info.id)
    assert revoked.revoked_at is not None
    assert verify_token(driver, db, created.secret) is None
    assert revoke_token(driver, db, created.info.id).revoked_at == revoked.revoked_at  # idempotent
    with pytest.raises(TokenError):
        revoke_token(driver, db, "tok_nope")


def test_only_the_hash_is_stored(driver, db) -> None:
    created = create_token(driver, db, "test-curator", "curator")
    records, _, _ = driver.execute_query("MATCH (t:ApiToken {id: $id}) RETURN properties(t) AS p", id=created.info.id, database_=db)
    stored = records[0]["p"]
    assert stored["hash"] == hash_secret(created.secret)
    assert created.secret not in json.dumps(stored, default=str)
    assert stored["prefix"] == created.secret[:8]
    assert all(t.id != created.info.id or t.role == "curator" for t in list_tokens(driver, db))
    assert verify_token(driver, db, created.secret).can_edit_any


def test_names_and_roles_are_checked(driver, db) -> None:
    with pytest.raises(TokenError):
        create_token(driver, db, "test-x", "root")
    with pytest.raises(TokenError):
        create_token(driver, db, "", "admin")
    assert Principal("a", "admin", "t").has_role("curator")
    assert not Principal("a", "curator", "t").has_role("admin")


def test_parse_bearer() -> None:
    assert parse_bearer("Bearer bih_abc") == "bih_abc"
    assert parse_bearer("bearer  bih_abc ") == "bih_abc"
    assert parse_bearer("Basic xyz") is None and parse_bearer(None) is None and parse_bearer("Bearer ") is None


def test_token_cli(loaded, driver, db, monkeypatch) -> None:
    monkeypatch.setattr("bioimage_hub.cli.get_settings", lambda: loaded)
    runner = CliRunner()
    result = runner.invoke(app, ["token", "create", "--name", "test-cli", "--role", "admin", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)
    assert verify_token(driver, db, created["secret"]).role == "admin"
    listed = json.loads(runner.invoke(app, ["token", "list", "--json"]).stdout)["tokens"]
    mine = next(t for t in listed if t["id"] == created["id"])
    assert "secret" not in mine and "hash" not in mine
    assert runner.invoke(app, ["token", "revoke", created["id"]]).exit_code == 0
    assert verify_token(driver, db, created["secret"]) is None
    assert runner.invoke(app, ["token", "create", "--name", "test-cli", "--role", "god"]).exit_code == 2
    assert runner.invoke(app, ["token", "revoke", "tok_missing"]).exit_code == 2
