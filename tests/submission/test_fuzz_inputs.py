"""Hostile submission documents through the three entry points: the Python service, the CLI
(`bioimage-hub submit`) and the `submitStudy` mutation over HTTP.

Every rejected input must come back as a list of problems naming a path (or, for documents that
cannot be parsed, line and column), the CLI must exit 2 without a traceback, the HTTP answer must
be < 500, and the graph's node + relationship count must not move.

The fields probed with wrong types are derived from the exported JSON Schema of the submission
model (not from a hand-copied list); expected paths are formatted here, independently of the code
under test.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bioimage_hub.cli import app
from bioimage_hub.models.submission import Submission
from bioimage_hub.submission.service import submit
from bioimage_hub.submission.validate import SubmissionInvalid, ValidSubmission, validate, validate_document
from tests.conftest import counts
from tests.submission.conftest import EXAMPLE, example

SUBMIT = """mutation($doc: JSON!) { submitStudy(document: $doc) { ok accession errors { path message } } }"""
FUZZ = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")
EXAMPLE_JSON = json.dumps(example(), default=str, indent=1)


# --------------------------------------------------------------------------- fields from the schema


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _branches(schema: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives a property accepts (anyOf flattened, $refs resolved, null left out)."""
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return [b for alt in schema["anyOf"] for b in _branches(alt, root)]
    return [] if schema.get("type") == "null" else [schema]


def _json_types(schema: dict[str, Any], root: dict[str, Any]) -> set[str]:
    types: set[str] = set()
    for branch in _branches(schema, root):
        if "properties" in branch or branch.get("type") == "object":
            types.add("object")
        elif "type" in branch:
            types.add(branch["type"])
        else:  # const / enum
            types.add("scalar")
    return types


def schema_fields() -> list[tuple[tuple[Any, ...], set[str]]]:
    """Every property path of the submission format (list items at index 0), with its JSON types."""
    root = Submission.model_json_schema(mode="validation")
    found: list[tuple[tuple[Any, ...], set[str]]] = []

    def walk(schema: dict[str, Any], path: tuple[Any, ...]) -> None:
        for branch in _branches(schema, root):
            if branch.get("type") == "array" and isinstance(branch.get("items"), dict):
                walk(branch["items"], (*path, 0))
            for name, prop in (branch.get("properties") or {}).items():
                found.append(((*path, name), _json_types(prop, root)))
                walk(prop, (*path, name))

    walk(root, ())
    return found


FIELDS = schema_fields()


def fmt(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def wrong_value(types: set[str]) -> Any:
    """A value of a JSON type the field does not accept."""
    if "object" not in types and "array" not in types:
        return {"wrong": "type"}
    if "array" not in types:
        return ["wrong", "type"]
    return 12.5


def put(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """DOC with VALUE at PATH, creating the containers on the way when the example has none."""
    doc = copy.deepcopy(doc)
    node: Any = doc
    for here, nxt in zip(path, path[1:]):
        fresh: Any = [] if isinstance(nxt, int) else {}
        if isinstance(here, int):
            while len(node) <= here:
                node.append(fresh)
            if not isinstance(node[here], type(fresh)):
                node[here] = fresh
        elif not isinstance(node.get(here), type(fresh)):
            node[here] = fresh
        node = node[here]
    last = path[-1]
    if isinstance(last, int):
        while len(node) <= last:
            node.append(None)
    node[last] = value
    return doc


def _example_json() -> dict[str, Any]:
    return json.loads(EXAMPLE_JSON)


# --------------------------------------------------------------------------- hand-picked documents

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi")
)
DUP_IMAGES = example()
DUP_IMAGES["datasets"][1]["images"].append(copy.deepcopy(DUP_IMAGES["datasets"][1]["images"][0]))
DUP_DATASET = example()
DUP_DATASET["datasets"][1]["id"] = DUP_DATASET["datasets"][0]["id"]
UNKNOWN_TERMS = example()
UNKNOWN_TERMS["datasets"][0]["images"][1]["phenotypes"] = ["CMPO:9999999"]
UNKNOWN_TERMS["acquisitions"][0]["imaging_method"] = "FBbi:09999999"


def _dump(doc: dict[str, Any]) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")


def _with_line(text: str, line: str, new: str) -> bytes:
    assert line in text
    return text.replace(line, new, 1).encode("utf-8")


# (name, raw document, expected problem path, regex the message must match)
HOSTILE: list[tuple[str, bytes, str, str]] = [
    ("empty", b"", "", "must be a mapping"),
    ("blank", b"  \n\n\t\n", "", "must be a mapping|invalid YAML"),
    ("null", b"null\n", "", "must be a mapping"),
    ("list", b"- study\n- datasets\n", "", "must be a mapping"),
    ("scalar", b"42", "", "must be a mapping"),
    ("tab indentation", _with_line(EXAMPLE_TEXT, "  title: Nuclear", "\ttitle: Nuclear"), "", r"line \d+, column \d+: invalid YAML"),
    ("unclosed quote", _with_line(EXAMPLE_TEXT, "  licence: CC BY 4.0", '  licence: "CC BY 4.0'), "", r"line \d+, column \d+: invalid YAML"),
    ("unclosed flow", _with_line(EXAMPLE_TEXT, "keywords: [nuclear envelope,", "keywords: [[nuclear envelope,"), "", r"line \d+, column \d+: invalid YAML"),
    ("alias bomb", BOMB.encode(), "", "aliases"),
    ("alias reuse", b"x: &h {id: hela}\nbiosamples: [*h, *h]\n", "", "aliases"),
    ("deep flow nesting", b"study: " + b"[" * 50_000 + b"]" * 50_000, "", r"invalid YAML: .*(nesting|deep)"),
    ("deep block nesting", "".join("  " * i + "-\n" for i in range(2_000)).encode(), "", r"invalid YAML: .*(nesting|deep)"),
    ("deep JSON nesting", b'{"study": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "", "nested deeper"),
    ("huge scalar", _with_line(EXAMPLE_TEXT, "  title: Nuclear envelope protein localisation after siRNA knock-down in HeLa cells",
                               "  title: " + "x" * 3_000_000), "study.title", "at most 500 characters"),
    ("huge integer YAML", _with_line(EXAMPLE_TEXT, "size_bytes: 8388608", "size_bytes: " + "9" * 5_000), "", r"line \d+, column \d+: invalid YAML: integer"),
    ("impossible date", _with_line(EXAMPLE_TEXT, "release_date: 2024-03-01", "release_date: 2024-02-30"), "", r"line 13, column \d+: invalid YAML: invalid date"),
    ("python tag", b"study: !!python/object/apply:os.system ['true']\n", "", "invalid YAML"),
    ("duplicate YAML key", _with_line(EXAMPLE_TEXT, "  licence: CC BY 4.0", "  licence: CC BY 4.0\n  licence: CC0"), "", r"duplicate key 'licence'"),
    ("broken JSON", EXAMPLE_JSON[: len(EXAMPLE_JSON) // 2].encode(), "", r"line \d+, column \d+: invalid JSON"),
    ("JSON trailing comma", b'{"study": {"title": "x",}}', "", r"line 1, column \d+: invalid JSON"),
    ("duplicate JSON key", b'{"study": {}, "study": {}}', "", "duplicate key 'study'"),
    ("huge integer JSON", EXAMPLE_JSON.replace('"size_bytes": 8388608', '"size_bytes": ' + "9" * 5_000, 1).encode(),
     "datasets[0].images[0].size_bytes", ""),
    ("JSON NaN", EXAMPLE_JSON.replace('"size_bytes": 8388608', '"size_bytes": NaN', 1).encode(), "datasets[0].images[0].size_bytes", ""),
    ("unpaired surrogate", EXAMPLE_JSON.replace('"path": "plate1/A1.ome.tiff"', '"path": "plate1/\\ud800.tiff"', 1).encode(),
     "datasets[0].images[0].path", "surrogate"),
    ("Latin-1 bytes", EXAMPLE_TEXT.replace("37 °C", "37 \xb0C").encode("latin-1"), "", r"line \d+, column \d+: not UTF-8"),
    ("binary garbage", bytes(range(256)) * 8, "", "not UTF-8|invalid YAML"),
    ("NUL byte", EXAMPLE_TEXT.replace("CMPO:0000445", "CMPO:00\x0000445").encode(), "", r"line \d+, column \d+: invalid YAML"),
    ("UTF-16", EXAMPLE_TEXT.encode("utf-16"), "", "UTF-16"),
    ("UTF-16 without BOM", EXAMPLE_TEXT.encode("utf-16-le"), "", r"not UTF-8|invalid YAML"),
    ("BOM + broken", b"\xef\xbb\xbf" + _with_line(EXAMPLE_TEXT, "  licence: CC BY 4.0", '  licence: "CC'), "", "invalid YAML"),
    ("duplicate image path", _dump(DUP_IMAGES), "datasets[1].images[1].path", "duplicate path"),
    ("duplicate dataset id", _dump(DUP_DATASET), "datasets[1].id", "duplicate dataset id"),
    ("unknown ontology terms", _dump(UNKNOWN_TERMS), "datasets[0].images[1].phenotypes[0]", "unknown term CMPO:9999999"),
    ("markup in values", _with_line(EXAMPLE_TEXT, "size_bytes: 8388608", "size_bytes: '[/bold] [red]'"), "datasets[0].images[0].size_bytes", ""),
]


def _check_problems(exc: SubmissionInvalid, path: str, pattern: str) -> None:
    assert exc.problems, exc
    assert all(isinstance(p.path, str) and p.message for p in exc.problems)
    at = [p for p in exc.problems if p.path == path]
    assert at, (path, [str(p) for p in exc.problems][:10])
    if pattern:
        assert any(re.search(pattern, p.message) for p in at), (pattern, [str(p) for p in at])


@pytest.fixture(scope="module")
def db(loaded) -> str:
    return loaded.neo4j_database


@pytest.mark.parametrize("name,raw,path,pattern", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_documents_through_the_service(driver, db, prefix, name, raw, path, pattern) -> None:
    before = counts(driver, db)
    with pytest.raises(SubmissionInvalid) as err:
        submit(driver, db, raw, submitter="fuzz", prefix=prefix, source=f"{name}.yaml")
    _check_problems(err.value, path, pattern)
    assert str(err.value).startswith(f"{name}.yaml: ")  # the source is named
    assert counts(driver, db) == before


def test_a_utf8_bom_and_crlf_line_ends_are_tolerated(driver, db) -> None:
    text = EXAMPLE_TEXT.replace("\n", "\r\n")
    plain = validate(driver, db, EXAMPLE_TEXT.encode())
    for raw in (b"\xef\xbb\xbf" + EXAMPLE_TEXT.encode(), text.encode(), b"\xef\xbb\xbf" + EXAMPLE_JSON.encode()):
        assert validate(driver, db, raw).checksum == plain.checksum


# --------------------------------------------------------------------------- wrong types at every field


def test_the_schema_walk_finds_every_section_and_deep_field() -> None:
    paths = {fmt(p) for p, _ in FIELDS}
    assert len(paths) >= 70
    for expected in ("schema_version", "study.authors[0].orcid", "biosamples[0].organism.id",
                     "datasets[0].images[0].genes[0].organism.name", "datasets[0].images[0].reagents[0].properties",
                     "annotation_methods[0].method_type", "datasets[0].images[0].phenotypes[0].term"):
        assert expected in paths


def _wrong_type_docs() -> list[tuple[str, dict[str, Any]]]:
    base = _example_json()
    return [(fmt(path), put(base, path, wrong_value(types))) for path, types in FIELDS]


WRONG = _wrong_type_docs()


def test_wrong_type_at_every_field_through_the_service(driver, db, prefix) -> None:
    before = counts(driver, db)
    for path, doc in WRONG:
        with pytest.raises(SubmissionInvalid) as err:
            submit(driver, db, doc, submitter="fuzz", prefix=prefix)
        assert any(p.path == path or p.path.startswith(path + ".") or p.path.startswith(path + "[")
                   for p in err.value.problems), (path, [str(p) for p in err.value.problems])
        assert counts(driver, db) == before, path


# --------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def cli(loaded, prefix) -> Iterator[CliRunner]:
    mp = pytest.MonkeyPatch()
    mp.setattr("bioimage_hub.cli.get_settings", lambda: loaded.model_copy(update={"accession_prefix": prefix}))
    yield CliRunner()
    mp.undo()


def _run_cli(cli: CliRunner, file: Path, *extra: str):  # noqa: ANN202
    result = cli.invoke(app, ["submit", str(file), "--as", "fuzz", *extra])
    assert result.exit_code in (1, 2), (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    return result


@pytest.mark.parametrize("name,raw,path,pattern", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_documents_through_the_cli(cli, driver, db, tmp_path, name, raw, path, pattern) -> None:
    file = tmp_path / "x[" / "bold].yaml"  # `[/bold]`: rich markup in the path must not break the output
    file.parent.mkdir()
    file.write_bytes(raw)
    before = counts(driver, db)
    result = _run_cli(cli, file)
    assert result.exit_code == 2
    assert str(file) in result.stderr
    expected_line = f"{path}: " if path else ""
    assert any(line.strip().startswith(expected_line) and re.search(pattern, line)
               for line in result.stderr.splitlines()[1:]), result.stderr[:2000]
    as_json = json.loads(_run_cli(cli, file, "--json").stdout)
    assert as_json["valid"] is False and path in {p["path"] for p in as_json["problems"]}
    assert counts(driver, db) == before


def test_wrong_type_at_every_field_through_the_cli(cli, driver, db, tmp_path) -> None:
    before = counts(driver, db)
    file = tmp_path / "doc.json"
    for path, doc in WRONG[::3]:  # every third field: the CLI adds its own start-up per call
        file.write_text(json.dumps(doc), encoding="utf-8")
        result = _run_cli(cli, file, "--json")
        assert result.exit_code == 2
        paths = [p["path"] for p in json.loads(result.stdout)["problems"]]
        assert any(p == path or p.startswith((path + ".", path + "[")) for p in paths), (path, paths)
    assert counts(driver, db) == before


# --------------------------------------------------------------------------- GraphQL over HTTP


@pytest.fixture(scope="module")
def token(loaded, driver) -> Iterator[str]:
    from bioimage_hub.auth.tokens import create_token

    made = create_token(driver, loaded.neo4j_database, "fuzz-submitter", "submitter")
    yield made.secret
    driver.execute_query("MATCH (t:ApiToken {id: $id}) DETACH DELETE t", id=made.info.id, database_=loaded.neo4j_database)


async def _post(client, token: str, body: Any, raw: bytes | None = None):  # noqa: ANN001, ANN202
    headers = {"Authorization": f"Bearer {token}"}
    if raw is not None:
        response = await client.post("/graphql", content=raw, headers={**headers, "content-type": "application/json"})
    else:
        response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text and "Unexpected error" not in response.text, response.text[:500]
    return response


def _http_problems(response) -> list[dict[str, str]]:  # noqa: ANN001
    body = response.json()
    data = (body.get("data") or {}).get("submitStudy")
    if data is not None:
        assert data["ok"] is False and data["accession"] is None
        return data["errors"]
    return [{"path": "", "message": e["message"]} for e in body["errors"]]


@pytest.mark.asyncio
async def test_hostile_documents_over_http(client, token, driver, db) -> None:
    before = counts(driver, db)
    for name, raw, path, pattern in HOSTILE:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            # not representable in a JSON request: the raw body carries the bytes
            body = b'{"query": ' + json.dumps(SUBMIT).encode() + b', "variables": {"doc": "' + raw[:2000].replace(b'"', b"'") + b'"}}'
            response = await _post(client, token, None, raw=body)
            assert 400 <= response.status_code < 500 or response.json().get("errors"), (name, response.text[:300])
            continue
        if "\\ud800" in text:
            # a lone surrogate can only travel as a JSON escape: send the document as an object
            response = await _post(client, token, None, raw=b'{"query": ' + json.dumps(SUBMIT).encode()
                                   + b', "variables": {"doc": ' + raw + b"}}")
        else:
            response = await _post(client, token, {"query": SUBMIT, "variables": {"doc": text}})
        problems = _http_problems(response)
        assert any(p["path"] == path and re.search(pattern, p["message"]) for p in problems), (name, problems[:5])
        assert counts(driver, db) == before, name


@pytest.mark.asyncio
async def test_wrong_type_at_every_field_over_http(client, token, driver, db) -> None:
    before = counts(driver, db)
    for path, doc in WRONG:
        problems = _http_problems(await _post(client, token, {"query": SUBMIT, "variables": {"doc": doc}}))
        assert any(p["path"] == path or p["path"].startswith((path + ".", path + "[")) for p in problems), (path, problems)
    assert counts(driver, db) == before


@pytest.mark.asyncio
async def test_non_document_values_over_http(client, token, driver, db) -> None:
    before = counts(driver, db)
    for value in (None, 42, 1.5, True, [], ["study"], "", "[[[", {"study": None}):
        response = await _post(client, token, {"query": SUBMIT, "variables": {"doc": value}})
        body = response.json()
        assert body.get("errors") or body["data"]["submitStudy"]["ok"] is False, (value, body)
    deep = '{"query": ' + json.dumps(SUBMIT) + ', "variables": {"doc": ' + "[" * 50_000 + "]" * 50_000 + "}}"
    response = await _post(client, token, None, raw=deep.encode())
    assert response.json().get("errors") or response.status_code >= 400
    assert counts(driver, db) == before


# --------------------------------------------------------------------------- hypothesis


def _is_path_under(problem_path: str, path: str) -> bool:
    return problem_path == path or problem_path.startswith((path + ".", path + "["))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10**30) | st.floats()
    | st.text(max_size=30) | st.text(st.characters(codec=None, categories=("Cs", "Cc", "Zs", "Lo")), max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def test_hypothesis_any_value_at_any_field(driver, db) -> None:
    """Any JSON-like value at any field: accepted as a whole, or refused at (or under) that field."""
    base = _example_json()

    @FUZZ
    @given(index=st.integers(0, len(FIELDS) - 1), value=JSON_VALUES)
    def run(index: int, value: Any) -> None:
        path, types = FIELDS[index]
        try:
            result = validate(driver, db, put(base, path, value))
        except SubmissionInvalid as exc:
            assert exc.problems and all(isinstance(p.message, str) and p.message for p in exc.problems)
            if isinstance(value, (dict, list)) and not types & {"object", "array"}:  # surely the wrong type
                assert any(_is_path_under(p.path, fmt(path)) for p in exc.problems), (
                    fmt(path), value, [str(p) for p in exc.problems][:5])
        else:
            assert isinstance(result, ValidSubmission)

    run()


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    """The example (YAML or JSON) with a few bytes cut, doubled, replaced or inserted."""
    data = bytearray((EXAMPLE_TEXT if draw(st.booleans()) else EXAMPLE_JSON).encode("utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["cut", "insert", "truncate", "replace"]))
        junk = draw(st.sampled_from([b"\t", b'"', b"'", b":", b"{", b"[", b"&a", b"*a", b"\x00", b"\xff\xfe",
                                     b"\xc3", b"\n  - ", b"- ", b"!!", b"%", b"#", b"\xef\xbb\xbf", b"\\u", b"999999999999"]))
        if action == "cut":
            del data[at:at + draw(st.integers(1, 40))]
        elif action == "insert":
            data[at:at] = junk
        elif action == "replace":
            data[at:at + len(junk)] = junk
        else:
            del data[at:]
    return bytes(data)


def test_hypothesis_mangled_documents(driver, db, prefix) -> None:
    """Mangled text never escapes as anything but SubmissionInvalid; rejected ones write nothing."""
    rejected = 0

    @FUZZ
    @given(raw=mangled())
    def run(raw: bytes) -> None:
        nonlocal rejected
        try:
            validate(driver, db, raw)
        except SubmissionInvalid as exc:
            assert exc.problems and all(p.message for p in exc.problems)
            rejected += 1
            if rejected % 10 == 1:  # the write path too, now and then
                before = counts(driver, db)
                with pytest.raises(SubmissionInvalid):
                    submit(driver, db, raw, submitter="fuzz", prefix=prefix)
                assert counts(driver, db) == before

    run()
    assert rejected > 10


@FUZZ
@given(raw=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_hypothesis_arbitrary_bytes(raw: bytes) -> None:
    try:
        validate_document(raw)
    except SubmissionInvalid as exc:
        assert exc.problems and all(p.message for p in exc.problems)


def test_hypothesis_odd_text_is_stored_intact_or_refused(driver, db, prefix) -> None:
    """Control characters, odd spaces, astral characters: a title is refused at its path, or stored as sent."""

    @settings(max_examples=12, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(title=st.text(st.characters(codec=None, exclude_categories=("Cs",)), min_size=1, max_size=40))
    def run(title: str) -> None:
        doc = example()
        doc["study"]["title"] = title
        try:
            result = submit(driver, db, doc, submitter="fuzz", prefix=prefix)
        except SubmissionInvalid as exc:
            assert [p.path for p in exc.problems] == ["study.title"], [str(p) for p in exc.problems]
            return
        stored = driver.execute_query("MATCH (s:Study {accession: $a}) RETURN s.title AS t", a=result.accession,
                                      database_=db).records[0]["t"]
        assert stored == title.strip()

    run()
