"""Accessions `<prefix><n>` (`S-HUB1`, `S-HUB2`, ...) from a counter node in the graph.

The counter is `(:AccessionCounter {prefix, next})`, unique on `prefix`. It is incremented inside
the SAME write transaction that writes the study, and the increment first takes the node's write
lock (`SET c._lock = true`), so concurrent submissions serialise on it: the second transaction
waits until the first commits and then reads the committed `next`. Consequences:

* two committed studies never share a number (the unique constraint on `Study.accession` would
  also refuse it);
* a transaction that fails rolls its increment back with everything else, so the number it had is
  handed to the next submission; no committed study ever had it, so no accession is ever reused
  and the sequence has no gaps;
* new submissions are written one at a time (the lock is held until commit). Validation and term
  look-ups happen before the transaction, so only the write itself is serialised; resubmissions of
  existing accessions take the same lock (`lock`, no number), because two submission writes at once
  can deadlock on the shared nodes they both link to (organism, genes, publication).

If the counter is lost (e.g. restored from an older backup) numbers already taken by a study are
skipped, never overwritten.
"""

from __future__ import annotations

import re

import neo4j

NEXT_NUMBER = """
MERGE (c:AccessionCounter {prefix: $prefix})
ON CREATE SET c.next = 1
SET c._lock = true
WITH c
WITH c, coalesce(c.next, 1) AS n
SET c.next = n + 1
REMOVE c._lock
RETURN n
"""

LOCK = """
MERGE (c:AccessionCounter {prefix: $prefix})
ON CREATE SET c.next = 1
SET c._lock = true
REMOVE c._lock
"""

TAKEN = "MATCH (s:Study {accession: $accession}) RETURN count(s) > 0 AS taken"

_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,15}[A-Za-z-]$")


class InvalidPrefix(ValueError):
    pass


def check_prefix(prefix: str) -> str:
    """Prefixes end with a letter or '-' so that `<prefix><n>` parses back unambiguously."""
    if not _PREFIX.match(prefix):
        raise InvalidPrefix(f"accession prefix {prefix!r}: 2-17 letters, digits or '-', starting with a letter, "
                            "not ending with a digit")
    return prefix


def accession_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(prefix)}([1-9][0-9]*)$")


def lock(tx: neo4j.ManagedTransaction, prefix: str) -> None:
    """Take the counter's write lock (held until the transaction ends) without taking a number."""
    tx.run(LOCK, prefix=check_prefix(prefix)).consume()


def allocate(tx: neo4j.ManagedTransaction, prefix: str, max_skips: int = 10_000) -> str:
    """The next free accession for `prefix`, inside the caller's write transaction."""
    check_prefix(prefix)
    for _ in range(max_skips):
        number = tx.run(NEXT_NUMBER, prefix=prefix).single(strict=True)["n"]
        accession = f"{prefix}{number}"
        if not tx.run(TAKEN, accession=accession).single(strict=True)["taken"]:
            return accession
    raise RuntimeError(f"no free accession for prefix {prefix!r} after {max_skips} tries")
