"""API tokens: created by an admin (`bioimage-hub token create`), shown once, stored hashed.

A token is `bih_` + 43 URL-safe characters (32 random bytes from `secrets`). The graph keeps
`(:ApiToken {id, name, role, hash, prefix, createdAt, revokedAt})`, never the secret:

* `hash` is the hex SHA-256 of the secret. A slow, salted hash (scrypt, PBKDF2) protects
  *low-entropy* secrets such as passwords against guessing; a 256-bit random token cannot be
  guessed whatever the hash, and a plain digest lets `verify_token` find the token with one
  unique-index seek (`ApiToken.hash` is unique) instead of trying every salt. This is what GitHub
  and PyPI do for their API tokens.
* `prefix` (the first 8 characters, e.g. `bih_Xy3k`) lets people recognise a token in lists.
* `name` is the principal's identity: a study's `owner` is the name of the token that submitted
  it, so a person can rotate tokens (create a new one with the same name, revoke the old one)
  and keep editing their studies. Only admins create tokens, so names cannot be squatted.

Roles, each including the rights of the one before: `submitter` (submit studies, revise their
own), `curator` (revise any study, load ontologies, see embargoed studies), `admin` (manage tokens).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import neo4j

Role = Literal["submitter", "curator", "admin"]
ROLES: tuple[str, ...] = ("submitter", "curator", "admin")
TOKEN_PREFIX = "bih_"
_SECRET = re.compile(r"^bih_[A-Za-z0-9_-]{43}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@+-]{0,99}$")


class TokenError(ValueError):
    """Bad token name or role, or an unknown token id."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name (the identity studies are owned by), role and token id."""

    name: str
    role: str
    token_id: str

    def has_role(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    @property
    def can_edit_any(self) -> bool:
        """Curators and admins may revise any study and see embargoed ones."""
        return self.has_role("curator")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    role: str
    prefix: str
    created_at: str
    revoked_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role, "prefix": self.prefix,
                "createdAt": self.created_at, "revokedAt": self.revoked_at}


@dataclass(frozen=True)
class CreatedToken:
    info: TokenInfo
    secret: str  # shown once; not stored anywhere


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (None when absent or malformed)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


CREATE = """
CREATE (t:ApiToken {id: $id, name: $name, role: $role, hash: $hash, prefix: $prefix,
                    createdAt: datetime(), createdBy: $created_by})
RETURN t.id AS id, t.name AS name, t.role AS role, t.prefix AS prefix,
       toString(t.createdAt) AS createdAt, null AS revokedAt
"""

VERIFY = """
MATCH (t:ApiToken {hash: $hash}) WHERE t.revokedAt IS NULL
RETURN t.id AS id, t.name AS name, t.role AS role
"""

REVOKE = """
MATCH (t:ApiToken {id: $id})
SET t.revokedAt = coalesce(t.revokedAt, datetime())
RETURN t.id AS id, t.name AS name, t.role AS role, t.prefix AS prefix,
       toString(t.createdAt) AS createdAt, toString(t.revokedAt) AS revokedAt
"""

LIST = """
MATCH (t:ApiToken) WHERE $include_revoked OR t.revokedAt IS NULL
RETURN t.id AS id, t.name AS name, t.role AS role, t.prefix AS prefix,
       toString(t.createdAt) AS createdAt, toString(t.revokedAt) AS revokedAt
ORDER BY t.createdAt, t.id
"""


def _info(row: Any) -> TokenInfo:
    return TokenInfo(row["id"], row["name"], row["role"], row["prefix"], row["createdAt"], row["revokedAt"])


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME.match(name):
        raise TokenError(f"token name {name!r}: 1-100 letters, digits, spaces or . _ @ + -, starting with a letter or digit")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise TokenError(f"role {role!r}: one of {', '.join(ROLES)}")
    return role


def create_token(driver: neo4j.Driver, database: str, name: str, role: str, *, created_by: str | None = None) -> CreatedToken:
    """Create a token; the returned secret is the only copy there will ever be."""
    name, role = check_name(name), check_role(role)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    records, _, _ = driver.execute_query(
        CREATE, id="tok_" + secrets.token_hex(8), name=name, role=role, hash=hash_secret(secret),
        prefix=secret[:8], created_by=created_by, database_=database,
    )
    return CreatedToken(_info(records[0]), secret)


def verify_token(driver: neo4j.Driver, database: str, secret: str | None) -> Principal | None:
    """The principal of a live token; None for a missing, malformed, unknown or revoked one."""
    if not secret or not _SECRET.match(secret):
        return None
    records, _, _ = driver.execute_query(VERIFY, hash=hash_secret(secret), database_=database,
                                         routing_=neo4j.RoutingControl.READ)
    return Principal(records[0]["name"], records[0]["role"], records[0]["id"]) if records else None


async def averify_token(driver: neo4j.AsyncDriver, database: str, secret: str | None) -> Principal | None:
    """`verify_token` for the API's async driver."""
    if not secret or not _SECRET.match(secret):
        return None
    records, _, _ = await driver.execute_query(VERIFY, hash=hash_secret(secret), database_=database,
                                               routing_=neo4j.RoutingControl.READ)
    return Principal(records[0]["name"], records[0]["role"], records[0]["id"]) if records else None


def revoke_token(driver: neo4j.Driver, database: str, token_id: str) -> TokenInfo:
    """Revoke a token (idempotent: revoking twice keeps the first time); TokenError if unknown."""
    records, _, _ = driver.execute_query(REVOKE, id=token_id, database_=database)
    if not records:
        raise TokenError(f"no token with id {token_id!r}")
    return _info(records[0])


def list_tokens(driver: neo4j.Driver, database: str, *, include_revoked: bool = True) -> list[TokenInfo]:
    """Every token (never its secret or hash), oldest first."""
    records, _, _ = driver.execute_query(LIST, include_revoked=include_revoked, database_=database,
                                         routing_=neo4j.RoutingControl.READ)
    return [_info(r) for r in records]
