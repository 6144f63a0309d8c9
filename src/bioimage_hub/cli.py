"""`bioimage-hub` command line: run Neo4j, migrate, import, load ontologies, serve.

Conventions: `--help` everywhere, exit code 0 on success, 1 on a failed operation, 2 on bad
usage or bad input; `--json` prints a machine-readable result on stdout (progress goes to stderr).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bioimage_hub.config import PROJECT_ROOT, Settings, get_settings

app = typer.Typer(help="BioImage Hub: a GraphQL metadata hub over a Neo4j graph.", no_args_is_help=True)
neo4j_app = typer.Typer(help="Run the embedded Neo4j (ignored when NEO4J_URI is set).", no_args_is_help=True)
import_app = typer.Typer(help="Import study metadata.", no_args_is_help=True)
ontology_app = typer.Typer(help="Load ontologies (term sets).", no_args_is_help=True)
app.add_typer(neo4j_app, name="neo4j")
app.add_typer(import_app, name="import")


@app.callback()
def _validate_configuration() -> None:
    """Settings are checked before any command runs: a bad value stops with a message naming it."""
    from bioimage_hub.config import ConfigError

    try:
        get_settings()
    except ConfigError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None


app.add_typer(ontology_app, name="ontology")

err = Console(stderr=True, soft_wrap=True)  # messages stay on one line for scripts and logs
out = Console()

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")]


class Failure(Exception):
    """An operation failed; message shown to the user, exit code 1 (or 2 for bad input)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@contextmanager
def failures() -> Iterator[None]:
    from bioimage_hub.graph.driver import GraphUnavailable
    from bioimage_hub.graph.embedded import EmbeddedNeo4jError
    from bioimage_hub.graph.migrations import MigrationError
    from bioimage_hub.importers.idr.errors import IdrFormatError
    from bioimage_hub.ontology.reader import OntologyFormatError

    import neo4j

    try:
        yield
    except Failure as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(exc.code) from exc
    except (IdrFormatError, OntologyFormatError) as exc:
        err.print(f"[red]invalid input:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    except (EmbeddedNeo4jError, MigrationError, GraphUnavailable) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from exc
    except neo4j.exceptions.Neo4jError as exc:
        err.print(f"[red]database error:[/red] {escape(str(exc.message))} (nothing of this unit of work was written)")
        raise typer.Exit(1) from exc
    except neo4j.exceptions.ServiceUnavailable as exc:
        err.print(f"[red]error:[/red] Neo4j is not reachable at {get_settings().uri}: {escape(str(exc))}. "
                  "Run `bioimage-hub neo4j start` or set NEO4J_URI.")
        raise typer.Exit(1) from exc


def emit(result: dict[str, Any], as_json: bool, table: Table | None = None) -> None:
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    elif table is not None:
        out.print(table)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def _driver(settings: Settings):  # noqa: ANN202
    from bioimage_hub.graph.driver import sync_driver

    return sync_driver(settings)


# --------------------------------------------------------------------------- neo4j


def _status_dict(status: Any) -> dict[str, Any]:
    return {
        "running": status.running,
        "boltReady": status.bolt_ready,
        "pid": status.pid,
        "uri": status.uri,
        "neo4jVersion": getattr(status, "neo4j_version", None),
        "home": str(status.home),
        "log": str(status.log_file),
    }


def _print_status(status: Any, as_json: bool) -> None:
    data = _status_dict(status)
    if as_json:
        emit(data, True)
        return
    state = "[green]running[/green]" if status.running else "[yellow]stopped[/yellow]"
    out.print(f"Neo4j {data['neo4jVersion'] or ''} {state} pid={data['pid']} bolt={data['uri']}")
    out.print(f"  data: {data['home']}\n  log:  {data['log']}")


@neo4j_app.command("start")
def neo4j_start(as_json: JsonOpt = False) -> None:
    """Start the embedded Neo4j (idempotent); waits until Bolt answers."""
    from bioimage_hub.graph import embedded

    settings = get_settings()
    with failures():
        if not settings.embedded:
            raise Failure(f"NEO4J_URI is set ({settings.neo4j_uri}): the hub uses that server", 2)
        embedded.ensure_built(settings)
        _print_status(embedded.start(settings), as_json)


@neo4j_app.command("stop")
def neo4j_stop(as_json: JsonOpt = False) -> None:
    """Stop the embedded Neo4j (idempotent)."""
    from bioimage_hub.graph import embedded

    with failures():
        _print_status(embedded.stop(get_settings()), as_json)


@neo4j_app.command("status")
def neo4j_status(as_json: JsonOpt = False) -> None:
    """Show whether the embedded Neo4j runs; exit code 3 when it does not."""
    from bioimage_hub.graph import embedded

    with failures():
        status = embedded.status(get_settings())
        _print_status(status, as_json)
    if not status.running:
        raise typer.Exit(3)


# --------------------------------------------------------------------------- schema


@app.command("migrate")
def migrate_cmd(as_json: JsonOpt = False) -> None:
    """Apply graph_schema/*.cypher (constraints, indexes, full-text index) idempotently."""
    from bioimage_hub.graph.migrations import migrate

    settings = get_settings()
    with failures(), _driver(settings) as driver:
        result = migrate(driver, settings.neo4j_database)
    data = {"applied": result.applied, "unchanged": result.unchanged, "schemaVersion": result.version}
    if as_json:
        emit(data, True)
    else:
        out.print(f"schema version {result.version}: applied {result.applied or 'nothing'}, "
                  f"unchanged {len(result.unchanged)}")


# --------------------------------------------------------------------------- imports


def import_idr_folders(settings: Settings, path: Path, quiet: bool = False) -> list[dict[str, Any]]:
    """Read and write every study folder under `path`; one transaction per study."""
    from bioimage_hub.graph.writer import label_counts, write_study
    from bioimage_hub.importers.idr.reader import find_study_folders, read_study

    folders = find_study_folders(path)
    if not folders:
        raise Failure(f"{path}: no IDR study folder (with an idr*-study.txt) found", 2)
    results = []
    with _driver(settings) as driver, progress_bar() as bar:
        for folder in folders:
            started = time.perf_counter()
            parsed = read_study(folder)
            total = sum(len(v) for v in parsed.images.values())
            task = bar.add_task(f"{parsed.study.accession} images", total=total)
            write_study(driver, settings.neo4j_database, parsed, progress=lambda n, t=task: bar.advance(t, n))
            counts = label_counts(driver, settings.neo4j_database, parsed.study.accession)
            results.append(
                {
                    "accession": parsed.study.accession,
                    "folder": str(folder),
                    "seconds": round(time.perf_counter() - started, 2),
                    "parsed": {
                        "datasets": len(parsed.datasets),
                        "images": total,
                        "genes": len(parsed.genes),
                        "reagents": len(parsed.reagents),
                        "phenotypes": len(parsed.phenotypes),
                        "publications": len(parsed.publications),
                    },
                    "graph": dict(sorted(counts.items())),
                    "warnings": list(getattr(parsed, "warnings", []) or []),
                }
            )
    return results


@import_app.command("idr")
def import_idr(
    path: Annotated[Path, typer.Argument(help="A study folder (with idrNNNN-study.txt) or a folder of them.")],
    as_json: JsonOpt = False,
) -> None:
    """Import IDR study folders (IDR/idr-metadata layout): idempotent, one transaction per study."""
    settings = get_settings()
    with failures():
        if not path.exists():
            raise Failure(f"{path}: no such file or directory", 2)
        results = import_idr_folders(settings, path)
    if as_json:
        emit({"studies": results}, True)
        return
    table = Table(title="Imported studies")
    for col in ("study", "datasets", "images", "genes", "phenotypes", "publications", "seconds"):
        table.add_column(col)
    for r in results:
        p = r["parsed"]
        table.add_row(r["accession"], str(p["datasets"]), str(p["images"]), str(p["genes"]),
                      str(p["phenotypes"]), str(p["publications"]), str(r["seconds"]))
    out.print(table)
    for r in results:
        for w in r["warnings"][:5]:
            err.print(f"[yellow]warning[/yellow] {r['accession']}: {escape(w)}")


# --------------------------------------------------------------------------- ontologies


def load_ontology_file(
    settings: Settings,
    file: Path,
    ontology_id: str | None = None,
    version: str | None = None,
    apply_replacements: bool = False,
    force: bool = False,
) -> dict[str, Any]:
    """Read and write one ontology file (one transaction); the result as a JSON-able dict, with
    the upgrade report under "upgrade" when the load upgraded an ontology."""
    from bioimage_hub.graph.writer import OntologyWriteError
    from bioimage_hub.ontology.loader import load_ontology

    with progress_bar() as bar, _driver(settings) as driver:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                label = f"read {file.name}" if stage == "read" else "write"
                tasks[stage] = bar.add_task(label, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            result = load_ontology(
                driver, settings.neo4j_database, file, ontology_id=ontology_id, version=version,
                apply_replacements=apply_replacements, progress=on_progress, force=force,
            )
        except OntologyWriteError as exc:
            raise Failure(str(exc)) from exc
    return result.to_dict()


def _print_upgrade(upgrade: dict[str, Any]) -> None:
    from bioimage_hub.ontology.upgrade import UpgradeReport, render

    for part in render(UpgradeReport.from_dict(upgrade)):
        out.print(part)


@ontology_app.command("load")
def ontology_load(
    file: Annotated[Path, typer.Argument(help="OBO, OBO Graphs JSON or RDF/XML file.")],
    ontology: Annotated[str | None, typer.Option("--ontology", help="Ontology id (default: from the file).")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Version (default: from the file).")] = None,
    apply_replacements: Annotated[bool, typer.Option(
        "--apply-replacements",
        help="On an upgrade, move annotations on newly obsolete terms to their single replaced_by term "
             "(the old term is kept on the annotation as originalTerm).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Rewrite even if this exact file is already loaded.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Load an ontology: terms, synonyms, xrefs, is_a / part_of / other relationships, closures.

    Loading a new release of a loaded ontology is an upgrade: the report (terms added, removed,
    made obsolete, relabelled, moved; hub annotations on obsolete terms) is printed and stored.
    Loading the same file again changes nothing.
    """
    settings = get_settings()
    with failures():
        if not file.is_file():
            raise Failure(f"{file}: no such file", 2)
        result = load_ontology_file(settings, file, ontology, version, apply_replacements, force)
    if as_json:
        emit(result, True)
        return
    status = {"unchanged": "already loaded, nothing changed", "upgraded": "upgraded",
              "reloaded": "reloaded", "loaded": "loaded",
              "applied": "already loaded; the pending replacements of its upgrade applied"}[result["status"]]
    out.print(f"{result['ontology']} {result['version']}: {status}; {result['terms']} terms "
              f"({result['obsolete']} obsolete), {result['stubs']} stubs, {result['isA']} is_a, "
              f"{result['partOf']} part_of, {result['relations']} other edges in {result['seconds']} s")
    if result["upgrade"]:
        _print_upgrade(result["upgrade"])
    for w in result["warnings"][:5]:
        err.print(f"[yellow]warning[/yellow] {escape(str(w))}")


# --------------------------------------------------------------------------- submissions, tokens

token_app = typer.Typer(help="API tokens (shown once, stored hashed): create, list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")


def _default_submitter() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers)
        return "cli"


@app.command("submit")
def submit_cmd(
    file: Annotated[Path, typer.Argument(help="Submission document (YAML or JSON; see docs/submission.md).")],
    accession: Annotated[str | None, typer.Option("--accession", help="Submit a new version of this study.")] = None,
    submitter: Annotated[str | None, typer.Option("--as", help="Submitter name recorded (default: your login).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate and submit a study: a new accession and version 1, or (--accession) version N+1.

    Every problem of an invalid document is listed (exit code 2) and nothing is written.
    """
    from bioimage_hub.submission.service import SubmissionRefused, submit
    from bioimage_hub.submission.validate import SubmissionInvalid

    settings = get_settings()
    name = submitter or _default_submitter()
    with failures():
        if not file.is_file():
            raise Failure(f"{file}: no such file", 2)
        text = file.read_bytes()
        with _driver(settings) as driver, progress_bar() as bar:
            task = bar.add_task(f"validate {file.name}", total=None)

            def on_valid(valid: Any) -> None:
                bar.update(task, description=f"write {file.name} images", total=valid.submission.image_count(), completed=0)

            try:
                result = submit(
                    driver, settings.neo4j_database, text, submitter=name, accession=accession,
                    may_edit_any=True, prefix=settings.accession_prefix, source=str(file),
                    progress=lambda n, _total: bar.advance(task, n), on_valid=on_valid,
                )
            except SubmissionInvalid as exc:
                bar.stop()
                if as_json:
                    emit({"valid": False, "file": str(file), "problems": [p.as_dict() for p in exc.problems]}, True)
                else:
                    err.print(f"[red]invalid submission:[/red] {escape(str(file))}: {len(exc.problems)} problem(s)")
                    for problem in exc.problems:
                        err.print(f"  {problem}", markup=False, highlight=False)
                raise typer.Exit(2) from exc
            except SubmissionRefused as exc:
                raise Failure(str(exc), 2) from exc
    if as_json:
        emit({"valid": True, **result.as_dict()}, True)
    elif result.changed:
        what = "new study" if result.created else "new version"
        out.print(f"{result.accession} version {result.version} ({what}, {result.images} images, {result.seconds} s)")
    else:
        out.print(f"{result.accession} version {result.version}: identical document, nothing changed")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option("--name", help="Who the token is for; studies it submits are owned by this name.")],
    role: Annotated[str, typer.Option("--role", help="submitter | curator | admin")] = "submitter",
    as_json: JsonOpt = False,
) -> None:
    """Create an API token and print its secret (the only time it is shown)."""
    from bioimage_hub.auth.tokens import TokenError, create_token

    settings = get_settings()
    with failures(), _driver(settings) as driver:
        try:
            created = create_token(driver, settings.neo4j_database, name, role, created_by="cli")
        except TokenError as exc:
            raise Failure(str(exc), 2) from exc
    if as_json:
        emit({**created.info.as_dict(), "secret": created.secret}, True)
        return
    err.print(f"token {created.info.id} for {created.info.name!r} ({created.info.role}); "
              "the secret below is shown only this once:", markup=False, highlight=False)
    print(created.secret)


@token_app.command("list")
def token_list(
    all_tokens: Annotated[bool, typer.Option("--all/--active", help="Include revoked tokens.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """List tokens (id, name, role, prefix, created, revoked); never their secrets."""
    from bioimage_hub.auth.tokens import list_tokens

    settings = get_settings()
    with failures(), _driver(settings) as driver:
        tokens = list_tokens(driver, settings.neo4j_database, include_revoked=all_tokens)
    if as_json:
        emit({"tokens": [t.as_dict() for t in tokens]}, True)
        return
    table = Table(title="API tokens")
    for col in ("id", "name", "role", "prefix", "created", "revoked"):
        table.add_column(col, overflow="fold")
    for t in tokens:
        table.add_row(t.id, t.name, t.role, t.prefix, t.created_at, t.revoked_at or "")
    out.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="Token id (tok_..., from `token list`).")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke a token: it stops working at once (idempotent)."""
    from bioimage_hub.auth.tokens import TokenError, revoke_token

    settings = get_settings()
    with failures(), _driver(settings) as driver:
        try:
            info = revoke_token(driver, settings.neo4j_database, token_id)
        except TokenError as exc:
            raise Failure(str(exc), 2) from exc
    if as_json:
        emit(info.as_dict(), True)
    else:
        out.print(f"revoked {info.id} ({info.name}, {info.role}) at {info.revoked_at}")


# --------------------------------------------------------------------------- serve / demo


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql)."""
    import uvicorn

    from bioimage_hub.api.app import create_app

    from bioimage_hub.api.ops import configure_logging

    settings = get_settings()
    configure_logging(settings)  # LOG_FORMAT=json|text; one line per request from the app itself
    err.print(f"BioImage Hub on http://{host}:{port}/graphql")
    # timeout_graceful_shutdown: on SIGTERM, stop accepting and let in-flight requests finish.
    # uvicorn re-raises the SIGTERM to the handler that was there before it once it has shut down;
    # a no-op one makes that graceful stop exit 0 instead of dying of the signal (exit -15/143).
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower(),
                    access_log=False, log_config=None, timeout_graceful_shutdown=settings.shutdown_grace_s)
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command("export-schema")
def export_schema(
    check: Annotated[bool, typer.Option("--check", help="Fail if schema.graphql is out of date.")] = False,
) -> None:
    """Write the GraphQL SDL to schema.graphql (or check it is current)."""
    from bioimage_hub.api.schema import SCHEMA_FILE, schema

    sdl = schema.as_str() + "\n"
    if check:
        current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
        if current != sdl:
            err.print("schema.graphql is out of date: run `bioimage-hub export-schema`")
            raise typer.Exit(1)
        out.print("schema.graphql is current")
        return
    SCHEMA_FILE.write_text(sdl, encoding="utf-8")
    out.print(f"wrote {SCHEMA_FILE}")


def _manifest() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "ontologies" / "manifest.yaml").read_text(encoding="utf-8"))


@app.command("demo")
def demo(
    idr: Annotated[Path, typer.Option(help="Folder of IDR study folders.")] = PROJECT_ROOT / ".." / "shared" / "data" / "idr",
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve once loaded.")] = True,
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """Start Neo4j (unless NEO4J_URI), migrate, load the manifest's ontologies, import IDR, serve."""
    from bioimage_hub.graph import embedded
    from bioimage_hub.graph.migrations import migrate

    settings = get_settings()
    with failures():
        if settings.embedded:
            embedded.ensure_built(settings)
            _print_status(embedded.start(settings), False)
        with _driver(settings) as driver:
            result = migrate(driver, settings.neo4j_database)
        out.print(f"schema version {result.version}")
        for entry in _manifest()["ontologies"]:
            path = (PROJECT_ROOT / entry["path"]).resolve()
            if not path.is_file():
                err.print(f"[yellow]skip[/yellow] {entry['id']}: {path} not found")
                continue
            r = load_ontology_file(settings, path, entry["id"], entry.get("version"))
            out.print(f"ontology {r['ontology']} {r['version']}: {r['terms']} terms")
        if idr.is_dir():
            for r in import_idr_folders(settings, idr):
                out.print(f"study {r['accession']}: {r['parsed']['images']} images in {r['seconds']} s")
        else:
            err.print(f"[yellow]skip[/yellow] IDR import: {idr} not found")
        # Pixels: sample microscopy images as OME-Zarr in the demo store, on some idr0023 images.
        with pixel_failures():
            for r in demo_pixels(settings):
                out.print(f"pixels {r['url']} -> image {r['image']}")
    if serve_after:
        serve(port=port)


# Sub-apps defined in their own packages (they import the helpers above).
from bioimage_hub.xrefs.cli import xrefs_app  # noqa: E402

app.add_typer(xrefs_app, name="xrefs")
from bioimage_hub.pixels.cli import demo_pixels, pixel_failures, pixels_app  # noqa: E402

app.add_typer(pixels_app, name="pixels")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
