"""The GraphQL-over-HTTP conformance audit (`auditServer` of the npm package graphql-http) against
the running hub: no MUST requirement may fail. The SHOULD/MAY warnings are listed in
docs/graphql-http-audit.md, which this test generates from the run: when the findings change,
the doc is rewritten and the test fails once, asking for the new doc to be reviewed and committed.
"""

from __future__ import annotations

import json
from datetime import date
from importlib.metadata import version
from pathlib import Path

from bioimage_hub.config import PROJECT_ROOT
from tests.federation.conftest import Hub, run_node

DOC = PROJECT_ROOT / "docs" / "graphql-http-audit.md"
SUMMARY = "## Summary"

# Why each warning happens, by audit id (see the doc's "Why" column). Unknown ids are listed too.
WHY = {
    "22EB": "strawberry's ASGI view always answers `application/json`; it does not implement the "
    "`application/graphql-response+json` media type of the GraphQL-over-HTTP draft.",
    "865D": "follows from 22EB: the response is `application/json`, for which the spec asks for 200 on request errors.",
    "556A": "follows from 22EB (status 200 with `application/json`).",
    "D586": "strawberry serialises `data: null` next to `errors` for request errors; the spec wants no `data` "
    "entry with `application/graphql-response+json`.",
    "51FE": "follows from 22EB (status 200 with `application/json`).",
    "74FF": "follows from 22EB (status 200 with `application/json`).",
    "5E5B": "as D586, for validation errors.",
    "86EE": "follows from 22EB (status 200 with `application/json`).",
}


def findings(doc: str) -> str:
    return doc.split(SUMMARY, 1)[-1] if SUMMARY in doc else ""


def audit(url: str) -> dict:
    return json.loads(run_node("audit.mjs", url, ok_codes=(0, 1), timeout=120))


def render(report: dict, hub_versions: dict[str, str]) -> str:
    results = report["results"]
    must = [r for r in results if r["name"].startswith("MUST")]
    failing_must = [r for r in must if r["status"] != "ok"]
    warnings = [r for r in results if r["status"] == "warn"]
    versions = {**report["versions"], **hub_versions}
    lines = [
        "# GraphQL-over-HTTP conformance audit",
        "",
        f"Generated on {date.today().isoformat()} by `tests/federation/test_graphql_http_audit.py`, which runs",
        "`auditServer` of the npm package [graphql-http](https://github.com/graphql/graphql-http) (`tests/js/audit.mjs`)",
        "against the hub served by uvicorn on `/graphql`. The test fails on any MUST failure, and rewrites",
        "this file when the findings change. Versions: "
        + ", ".join(f"{name} {v}" for name, v in versions.items())
        + ".",
        "",
        SUMMARY,
        "",
        f"- {len(results)} checks: {report['summary']['ok']} pass, {report['summary']['warn']} warnings, "
        f"{report['summary']['error']} errors.",
        f"- MUST requirements: {len(must)}, failing: {len(failing_must)}"
        + ("." if not failing_must else ": " + ", ".join(f"`{r['id']}` {r['name']}" for r in failing_must) + "."),
        f"- SHOULD / MAY warnings: {len(warnings)} (below).",
        "",
        "## Warnings (SHOULD / MAY)",
        "",
    ]
    if warnings:
        lines += ["| Id | Requirement | What the hub answered | Why |", "|---|---|---|---|"]
        for r in warnings:
            response = r.get("response") or {}
            answered = f"{r['reason']} (status {response.get('status')}, `{response.get('contentType')}`)"
            why = WHY.get(r["id"], "not analysed yet")
            lines.append(f"| `{r['id']}` | {r['name']} | {answered} | {why} |")
    else:
        lines.append("None.")
    lines += [
        "",
        "All the warnings come from one gap: the hub answers in the legacy `application/json` format",
        "only, which the GraphQL-over-HTTP draft still requires servers to support during its transition",
        "period (\"watershed\"). Supporting `application/graphql-response+json` (answering with it when",
        "the client's `Accept` prefers it, with 4xx for request errors and no `data` entry) would clear",
        "all of them.",
        "",
        "## Every check",
        "",
        "| Id | Status | Requirement |",
        "|---|---|---|",
    ]
    lines += [f"| `{r['id']}` | {r['status']} | {r['name']} |" for r in results]
    return "\n".join(lines) + "\n"


def test_no_must_failure_and_doc_lists_the_warnings(node_modules: Path, hub: Hub) -> None:
    report = audit(hub.url)
    assert report["results"], "the audit ran no check"
    failing_must = [r for r in report["results"] if r["status"] == "error" or (r["name"].startswith("MUST") and r["status"] != "ok")]
    assert not failing_must, json.dumps(failing_must, indent=2)

    hub_versions = {name: version(name) for name in ("bioimage-hub", "strawberry-graphql", "graphql-core", "uvicorn")}
    new = render(report, hub_versions)
    old = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    if findings(old) != findings(new):  # the header (date, versions) alone does not count
        DOC.write_text(new, encoding="utf-8")
        raise AssertionError(f"{DOC.relative_to(PROJECT_ROOT)} was out of date and has been regenerated: review and commit it")
