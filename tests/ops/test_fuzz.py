"""Hostile input against the in-process app and the session's real graph.

* `hypothesis-graphql` generates valid queries (and a few mutations) from our own schema, and
  invalid ones (Mode.NEGATIVE): no 500, no masked internal error, no traceback text, ever.
* Cypher injection: classic injection strings in every string/ID argument of every root field and
  in every string field of every filter input (the list is generated from the schema) → only clean
  client errors, the graph is unchanged, and nothing of an embargoed study comes back.
"""

from __future__ import annotations

import asyncio
import json
import time

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from bioimage_hub.api.app import create_app
from bioimage_hub.api.schema import schema
from tests.conftest import counts

SDL = schema.as_str()
GQL_SCHEMA: graphql.GraphQLSchema = schema._schema  # noqa: SLF001 - the executable schema (SDL has federation directives)
BUDGET_S = 8.0  # per generated-query test: stop sending (pass the rest) once spent
EMBARGOED = "idr9977"
SECRET = "SECRET-EMBARGO-MARKER"


def _string(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


def _object(**fields: graphql.ValueNode) -> graphql.ObjectValueNode:
    return graphql.ObjectValueNode(
        fields=tuple(graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in fields.items())
    )


ENTITY = st.sampled_from(["Study", "Image", "Gene", "OntologyTerm", "Publication", "CrossReference", "Nope"])
CUSTOM_SCALARS = {
    "Long": st.integers(-(2**53), 2**53).map(lambda n: graphql.IntValueNode(value=str(n))),
    "JSON": st.one_of(
        st.text(max_size=20).map(_string),
        st.integers(-1000, 1000).map(lambda n: graphql.IntValueNode(value=str(n))),
        st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.text(max_size=10).map(_string), max_size=3).map(
            lambda d: _object(**d)
        ),
    ),
    "_Any": st.one_of(
        st.tuples(ENTITY, st.text(max_size=30)).map(
            lambda t: _object(__typename=_string(t[0]), id=_string(t[1]), accession=_string(t[1]))
        ),
        st.text(max_size=10).map(_string),
    ),
}


@pytest.fixture(scope="module")
def app_loop(loaded):
    """The app on an event loop of this module's own (hypothesis drives it from sync tests)."""
    loop = asyncio.new_event_loop()
    app = create_app(loaded)
    lifespan = app.router.lifespan_context(app)
    loop.run_until_complete(lifespan.__aenter__())
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test")
    try:
        yield loop, client
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(lifespan.__aexit__(None, None, None))
        loop.close()


def _check(response: httpx.Response, sent: object) -> dict:
    text = response.text
    assert response.status_code < 500, (response.status_code, sent, text[:500])
    assert "Traceback" not in text and 'File "' not in text, (sent, text[:500])
    body = response.json()
    messages = [e.get("message", "") for e in (body.get("errors") or []) if isinstance(e, dict)]
    assert "Unexpected error." not in messages, (sent, body)
    return body


class Budget:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.sent = 0

    def left(self) -> bool:
        return time.monotonic() < self.deadline


def _post(app_loop, payload: object) -> httpx.Response:
    loop, client = app_loop
    return loop.run_until_complete(client.post("/graphql", json=payload))


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)


def test_generated_valid_queries_never_fail_badly(app_loop) -> None:
    budget = Budget(BUDGET_S)

    @FUZZ
    @given(query=from_schema(GQL_SCHEMA, custom_scalars=CUSTOM_SCALARS, allow_x00=False))
    def run(query: str) -> None:
        if not budget.left():
            return
        budget.sent += 1
        _check(_post(app_loop, {"query": query}), query)

    run()
    assert budget.sent >= 30, f"only {budget.sent} generated queries fitted in the time budget"


def test_generated_invalid_queries_get_clean_errors(app_loop) -> None:
    budget = Budget(BUDGET_S / 2)

    @FUZZ
    @given(query=from_schema(GQL_SCHEMA, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE), junk=st.text(max_size=40))
    def run(query: str, junk: str) -> None:
        if not budget.left():
            return
        budget.sent += 1
        body = _check(_post(app_loop, {"query": query}), query)
        assert body.get("errors"), (query, body)
        _check(_post(app_loop, {"query": junk, "variables": {"x": junk}}), junk)

    run()
    assert budget.sent >= 30


# --------------------------------------------------------------------------- injection

INJECTIONS = [
    "' OR 1=1 //",
    "x' }) MATCH (n) DETACH DELETE n //",
    "`) RETURN 1 UNION MATCH (s:Study) RETURN s //",
    "} RETURN {x: 1} AS result //",
    "idr0004' OR s.accession = 'idr9977",
    "$p0",
    "'; CALL db.labels() YIELD label RETURN label //",
    "(?i).*",
    "%",
    "\\' \\\" \\\\",
    "\u0000\u202e\ud7ff",
    EMBARGOED,
    "x" * 5000,
]


def _named(type_: graphql.GraphQLType) -> graphql.GraphQLNamedType:
    return graphql.get_named_type(type_)


def _selection(type_: graphql.GraphQLType) -> str:
    named = _named(type_)
    if not isinstance(named, (graphql.GraphQLObjectType, graphql.GraphQLInterfaceType, graphql.GraphQLUnionType)):
        return ""
    fields = getattr(named, "fields", {})
    if "nodes" in fields:
        return "{ __typename totalCount nodes { __typename } }" if "totalCount" in fields else "{ __typename nodes { __typename } }"
    picks = [f for f in ("id", "accession", "title", "name") if f in fields and isinstance(_named(fields[f].type), graphql.GraphQLScalarType)]
    return "{ __typename " + " ".join(picks) + " }"


def _filler(type_: graphql.GraphQLInputType) -> object:
    named = _named(type_)
    if isinstance(named, graphql.GraphQLInputObjectType):
        return {}
    if isinstance(named, graphql.GraphQLEnumType):
        return next(iter(named.values))
    value = {"Int": 1, "Float": 1.0, "Boolean": False, "Long": 1}.get(named.name, "idr0004")
    return [value] if isinstance(graphql.get_nullable_type(type_), graphql.GraphQLList) else value


def _is_text(type_: graphql.GraphQLInputType) -> bool:
    return _named(type_).name in ("String", "ID")


def injection_targets() -> list[tuple[str, str, str | None]]:
    """(root field, argument, input field or None) for every string/ID input of every query root field."""
    targets = []
    for name, field in GQL_SCHEMA.query_type.fields.items():
        if name.startswith("_"):
            continue
        for arg_name, arg in field.args.items():
            named = _named(arg.type)
            if _is_text(arg.type):
                targets.append((name, arg_name, None))
            elif isinstance(named, graphql.GraphQLInputObjectType):
                targets += [(name, arg_name, f) for f, spec in named.fields.items() if _is_text(spec.type)]
    return targets


TARGETS = injection_targets()


def test_every_string_input_is_covered() -> None:
    fields = {t[0] for t in TARGETS}
    assert {"study", "studies", "images", "image", "genes", "term", "searchTerms", "publication", "crossLinks", "node"} <= fields
    assert ("images", "filter", "phenotype") in TARGETS and ("studies", "filter", "text") in TARGETS


@pytest.fixture(scope="module")
def embargoed_study(loaded, driver):
    db = loaded.neo4j_database
    driver.execute_query(
        "MERGE (s:Study {accession: $acc}) SET s.title = $secret, s.releaseDate = date('2999-01-01'), s.owner = 'owner-x' "
        "MERGE (d:Dataset {id: $acc + '-screenA'}) SET d.study = $acc, d.name = $secret "
        "MERGE (i:Image {id: $acc + '-screenA/secret-image'}) SET i.study = $acc, i.name = $secret "
        "MERGE (s)-[:HAS_DATASET]->(d) MERGE (d)-[:HAS_IMAGE]->(i)",
        acc=EMBARGOED, secret=SECRET, database_=db,
    )
    yield
    driver.execute_query("MATCH (n) WHERE n.study = $acc OR n.accession = $acc DETACH DELETE n", acc=EMBARGOED, database_=db)


async def test_cypher_injection_in_every_string_input(client, driver, loaded, embargoed_study) -> None:
    before = counts(driver, loaded.neo4j_database)
    sent = 0
    for field_name, arg_name, input_field in TARGETS:
        field = GQL_SCHEMA.query_type.fields[field_name]
        arg = field.args[arg_name]
        for payload in INJECTIONS:
            variables: dict[str, object] = {}
            declared, passed = [], []
            for other_name, other in field.args.items():
                if other_name == arg_name:
                    value: object = {input_field: payload} if input_field else payload
                    if not input_field and isinstance(graphql.get_nullable_type(arg.type), graphql.GraphQLList):
                        value = [payload]
                elif graphql.is_non_null_type(other.type):
                    value = _filler(other.type)
                else:
                    continue
                variables[other_name] = value
                declared.append(f"${other_name}: {other.type}")
                passed.append(f"{other_name}: ${other_name}")
            query = f"query Inj({', '.join(declared)}) {{ {field_name}({', '.join(passed)}) {_selection(field.type)} }}"
            response = await client.post("/graphql", json={"query": query, "variables": variables})
            sent += 1
            body = _check(response, (query, variables))
            data = json.dumps(body.get("data"))
            assert SECRET not in response.text and EMBARGOED not in data, (query, variables, body)
            for error in body.get("errors") or []:
                assert "Neo.ClientError" not in error["message"] and "Cypher" not in error["message"], (query, variables, error)
    assert sent == len(TARGETS) * len(INJECTIONS)
    assert counts(driver, loaded.neo4j_database) == before  # nothing written, nothing deleted
