"""Apply `graph_schema/*.cypher` to the database, idempotently, and record what was applied.

Each file is a numbered migration (`001_constraints.cypher`). Its statements are schema commands
written with `IF NOT EXISTS`, so re-running is harmless; a file is recorded as a
`(:SchemaMigration {id, checksum, appliedAt})` node and the highest applied number is the schema
version. A file whose checksum changed since it was applied is re-applied and re-recorded.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import neo4j

from bioimage_hub.config import PROJECT_ROOT

SCHEMA_DIR = PROJECT_ROOT / "graph_schema"
_NAME = re.compile(r"^(?P<number>\d+)_[\w-]+\.cypher$")


class MigrationError(RuntimeError):
    """A schema file is malformed or a statement failed."""


@dataclass(frozen=True)
class Migration:
    id: str
    number: int
    path: Path
    checksum: str
    statements: tuple[str, ...]


@dataclass(frozen=True)
class MigrationResult:
    applied: list[str]
    unchanged: list[str]
    version: int


def split_statements(text: str) -> list[str]:
    """Statements are separated by `;` at the end of a line; `//` comment lines are dropped."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("//")]
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", "\n".join(lines)) if s.strip()]


def discover(schema_dir: Path = SCHEMA_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(schema_dir.glob("*.cypher")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: schema files must be named NNN_name.cypher")
        text = path.read_text(encoding="utf-8")
        migrations.append(
            Migration(
                id=path.stem,
                number=int(match["number"]),
                path=path,
                checksum=hashlib.sha256(text.encode()).hexdigest(),
                statements=tuple(split_statements(text)),
            )
        )
    numbers = [m.number for m in migrations]
    if len(numbers) != len(set(numbers)):
        raise MigrationError("two schema files share a number")
    return migrations


def applied_checksums(driver: neo4j.Driver, database: str) -> dict[str, str]:
    records, _, _ = driver.execute_query(
        "MATCH (m:SchemaMigration) RETURN m.id AS id, m.checksum AS checksum", database_=database
    )
    return {r["id"]: r["checksum"] for r in records}


def migrate(driver: neo4j.Driver, database: str, schema_dir: Path = SCHEMA_DIR) -> MigrationResult:
    """Apply every new or changed migration; schema commands run one per auto-commit transaction."""
    migrations = discover(schema_dir)
    done = applied_checksums(driver, database)
    applied, unchanged = [], []
    with driver.session(database=database) as session:
        for migration in migrations:
            if done.get(migration.id) == migration.checksum:
                unchanged.append(migration.id)
                continue
            for statement in migration.statements:
                try:
                    session.run(statement).consume()
                except neo4j.exceptions.Neo4jError as exc:
                    raise MigrationError(f"{migration.path.name}: {exc.message}") from exc
            session.run(
                "MERGE (m:SchemaMigration {id: $id}) "
                "SET m.number = $number, m.checksum = $checksum, m.appliedAt = datetime()",
                id=migration.id,
                number=migration.number,
                checksum=migration.checksum,
            ).consume()
            applied.append(migration.id)
        session.run("CALL db.awaitIndexes(300)").consume()
    version = max((m.number for m in migrations), default=0)
    return MigrationResult(applied=applied, unchanged=unchanged, version=version)


def schema_version(driver: neo4j.Driver, database: str) -> int:
    records, _, _ = driver.execute_query(
        "MATCH (m:SchemaMigration) RETURN max(m.number) AS v", database_=database
    )
    return records[0]["v"] or 0
