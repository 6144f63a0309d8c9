"""Convert an image file (TIFF / OME-TIFF through tifffile, PNG / JPEG through Pillow) to OME-Zarr 0.5.

What is written: a Zarr v3 group with `ome.multiscales` (axes t, c, z, y, x; a 2D mean-downsampled
pyramid down to <= 256 px in y and x), `ome.omero` channel metadata (label, colour, window), every
level a sharded, Blosc-zstd compressed array; optionally label images under `labels/<name>` with
`image-label` metadata (nearest-neighbour pyramid, same level shapes).

Order matters for "nothing half-written gets registered": arrays first, labels next, the root
group's OME metadata last; then the result is validated (ome-zarr-models) and only then may the
caller register it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bioimage_hub.config import Settings
from bioimage_hub.pixels.store import Location, PixelsError, open_store, parse_url

AXES = ("t", "c", "z", "y", "x")
AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}
MIN_LEVEL_SIZE = 256  # the pyramid stops once y and x are both <= this
CHUNK_YX = 256
SHARD_CHUNKS_YX = 4  # chunks per shard along y and x
SHARD_Z = 16  # z planes per shard
COLORS_RGB = ("FF0000", "00FF00", "0000FF")
COLORS = ("00FF00", "FF00FF", "00FFFF", "FF0000", "0000FF", "FFFF00", "FFFFFF")
LABEL_COLORS = 64

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class SourceImage:
    """An image in memory as a 5D (t, c, z, y, x) array, with what we know about it."""

    data: np.ndarray
    name: str
    channel_names: list[str | None] = field(default_factory=list)
    channel_colors: list[str | None] = field(default_factory=list)
    # physical size per axis ("z", "y", "x", "t") -> (size, unit)
    physical: dict[str, tuple[float, str | None]] = field(default_factory=dict)


# --------------------------------------------------------------------------- reading inputs

_TIFF_AXES = {"T": "t", "C": "c", "S": "c", "Z": "z", "Y": "y", "X": "x", "I": "z", "Q": "z"}
_UNITS = {"µm": "micrometer", "um": "micrometer", "micron": "micrometer", "nm": "nanometer", "mm": "millimeter",
          "s": "second", "ms": "millisecond", "min": "minute", "h": "hour"}


def _to_5d(data: np.ndarray, axes: str) -> np.ndarray:
    """Reorder/expand an array with single-letter axes (subset of tczyx) to (t, c, z, y, x)."""
    if len(axes) != data.ndim:
        raise PixelsError(f"axes {axes!r} do not match the image's {data.ndim} dimensions {data.shape}")
    if sorted(set(axes)) != sorted(axes) or not set(axes) <= set(AXES) or not {"y", "x"} <= set(axes):
        raise PixelsError(f"axes {axes!r}: use each of t, c, z, y, x at most once, with y and x")
    present = [a for a in AXES if a in axes]
    arr = np.transpose(data, [axes.index(a) for a in present])
    shape = [arr.shape[present.index(a)] if a in present else 1 for a in AXES]
    return arr.reshape(shape)


def _unit(text: Any) -> str | None:
    if not text:
        return None
    text = str(text).strip()
    return _UNITS.get(text, text if re.fullmatch(r"[a-z]+", text) else None)


def read_tiff(path: Path, axes: str | None = None) -> SourceImage:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            data = series.asarray()
            tiff_axes = series.axes
            names: list[str | None] = []
            physical: dict[str, tuple[float, str | None]] = {}
            if tif.is_ome and tif.ome_metadata:
                meta = tifffile.xml2dict(tif.ome_metadata).get("OME", {})
                image = meta.get("Image", {})
                image = image[0] if isinstance(image, list) else image
                pixels = image.get("Pixels", {})
                channels = pixels.get("Channel", [])
                channels = channels if isinstance(channels, list) else [channels]
                names = [c.get("Name") for c in channels]
                for ax in ("X", "Y", "Z"):
                    size = pixels.get(f"PhysicalSize{ax}")
                    if size:
                        physical[ax.lower()] = (float(size), _unit(pixels.get(f"PhysicalSize{ax}Unit", "µm")))
            elif tif.is_imagej and tif.imagej_metadata:
                ij = tif.imagej_metadata
                unit = _unit(ij.get("unit"))
                if ij.get("spacing"):
                    physical["z"] = (float(ij["spacing"]), unit)
                page = tif.pages.first
                xres = page.tags.get("XResolution")
                yres = page.tags.get("YResolution")
                if xres and yres and xres.value[0] and yres.value[0]:
                    physical["x"] = (xres.value[1] / xres.value[0], unit)
                    physical["y"] = (yres.value[1] / yres.value[0], unit)
    except (tifffile.TiffFileError, OSError, ValueError) as exc:
        raise PixelsError(f"{path}: cannot read TIFF: {exc}") from exc
    if axes is None:
        axes = "".join(_TIFF_AXES.get(a, "?") for a in tiff_axes)
        if "?" in axes or len(set(axes)) != len(axes):
            raise PixelsError(f"{path}: TIFF axes {tiff_axes!r}; say which they are with --axes (e.g. tczyx)")
    rgb = "S" in tiff_axes and data.shape[tiff_axes.index("S")] in (3, 4)
    arr = _to_5d(data, axes.lower())
    colors: list[str | None] = list(COLORS_RGB) if rgb else []
    return SourceImage(arr, path.stem, names, colors, physical)


def read_pillow(path: Path) -> SourceImage:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "P", "PA", "CMYK", "YCbCr", "HSV"):
                img = img.convert("RGB" if img.mode not in ("LA",) else "L")
            data = np.asarray(img)
    except (UnidentifiedImageError, OSError) as exc:
        raise PixelsError(f"{path}: cannot read image: {exc}") from exc
    if data.ndim == 3:  # y, x, rgb
        return SourceImage(_to_5d(data, "yxc"), path.stem, ["red", "green", "blue"], list(COLORS_RGB))
    return SourceImage(_to_5d(data, "yx"), path.stem)


def read_image(path: str | Path, axes: str | None = None) -> SourceImage:
    """Read a TIFF / OME-TIFF (tifffile) or PNG / JPEG (Pillow) into a 5D array."""
    path = Path(path)
    if not path.is_file():
        raise PixelsError(f"{path}: no such file")
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".tif", ".tiff", ".btf", ".tf8")):
        return read_tiff(path, axes)
    if suffix.endswith((".png", ".jpg", ".jpeg")):
        src = read_pillow(path)
        if axes:
            raise PixelsError("--axes applies to TIFF input only")
        return src
    raise PixelsError(f"{path}: unsupported format (TIFF/OME-TIFF, PNG or JPEG)")


# --------------------------------------------------------------------------- pyramid


def level_shapes(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Shapes of the pyramid: halve y and x (rounding up) until both are <= 256."""
    shapes = [tuple(shape)]
    while max(shapes[-1][-2:]) > MIN_LEVEL_SIZE:
        *head, y, x = shapes[-1]
        shapes.append((*head, math.ceil(y / 2), math.ceil(x / 2)))
    return shapes


def downsample_mean(data: np.ndarray) -> np.ndarray:
    """2x2 mean over the last two axes (edges replicated when odd), in the input dtype."""
    y, x = data.shape[-2:]
    pad = [(0, 0)] * (data.ndim - 2) + [(0, y % 2), (0, x % 2)]
    padded = np.pad(data, pad, mode="edge") if (y % 2 or x % 2) else data
    h, w = padded.shape[-2] // 2, padded.shape[-1] // 2
    blocks = padded.reshape(*padded.shape[:-2], h, 2, w, 2).astype(np.float64)
    mean = blocks.mean(axis=(-3, -1))
    if np.issubdtype(data.dtype, np.integer):
        info = np.iinfo(data.dtype)
        return np.clip(np.rint(mean), info.min, info.max).astype(data.dtype)
    return mean.astype(data.dtype)


def downsample_nearest(data: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(data[..., ::2, ::2])


def pyramid(data: np.ndarray, labels: bool = False) -> list[np.ndarray]:
    shapes = level_shapes(data.shape)
    levels = [data]
    for _ in shapes[1:]:
        levels.append(downsample_nearest(levels[-1]) if labels else downsample_mean(levels[-1]))
    return levels


def chunking(shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(chunks, shards) of a (t, c, z, y, x) level: 256x256 planes, shards of 16 z x 4 x 4 chunks."""
    _, _, z, y, x = shape
    cy, cx = min(CHUNK_YX, y), min(CHUNK_YX, x)
    chunks = (1, 1, 1, cy, cx)
    shards = (
        1,
        1,
        min(SHARD_Z, z),
        cy * min(SHARD_CHUNKS_YX, math.ceil(y / cy)),
        cx * min(SHARD_CHUNKS_YX, math.ceil(x / cx)),
    )
    return chunks, shards


# --------------------------------------------------------------------------- metadata


def _axes_meta(physical: dict[str, tuple[float, str | None]]) -> list[dict[str, Any]]:
    out = []
    for a in AXES:
        entry: dict[str, Any] = {"name": a, "type": AXIS_TYPES[a]}
        unit = physical.get(a, (1.0, None))[1]
        if unit is None and a in ("z", "y", "x") and any(physical.get(k, (0, None))[1] for k in ("z", "y", "x")):
            unit = next(physical[k][1] for k in ("x", "y", "z") if physical.get(k, (0, None))[1])
        if unit:
            entry["unit"] = unit
        out.append(entry)
    return out


def _scales(physical: dict[str, tuple[float, str | None]], n_levels: int, shapes: list[tuple[int, ...]]) -> list[list[float]]:
    base = [physical.get(a, (1.0, None))[0] for a in AXES]
    out = []
    for shape in shapes[:n_levels]:
        fy = shapes[0][3] / shape[3]
        fx = shapes[0][4] / shape[4]
        out.append([base[0], base[1], base[2], base[3] * fy, base[4] * fx])
    return out


def multiscales(name: str, physical: dict[str, tuple[float, str | None]], shapes: list[tuple[int, ...]], kind: str) -> list[dict[str, Any]]:
    scales = _scales(physical, len(shapes), shapes)
    return [
        {
            "name": name,
            "axes": _axes_meta(physical),
            "datasets": [
                {"path": str(i), "coordinateTransformations": [{"type": "scale", "scale": scales[i]}]}
                for i in range(len(shapes))
            ],
            "type": kind,
            "metadata": {"description": f"2D pyramid, {kind} of 2x2 blocks", "written_by": "bioimage-hub"},
        }
    ]


def _window(data: np.ndarray) -> dict[str, float]:
    """OMERO window: min/max of the data, start/end at the 0.1 and 99.9 percentiles."""
    if data.size == 0:
        return {"min": 0.0, "max": 1.0, "start": 0.0, "end": 1.0}
    lo, hi = float(data.min()), float(data.max())
    start, end = (float(v) for v in np.percentile(data, [0.1, 99.9]))
    if end <= start:
        start, end = lo, max(hi, lo + 1)
    return {"min": lo, "max": hi, "start": start, "end": end}


def omero(src: SourceImage, smallest: np.ndarray) -> dict[str, Any]:
    n_c = src.data.shape[1]
    channels = []
    for c in range(n_c):
        label = src.channel_names[c] if c < len(src.channel_names) and src.channel_names[c] else f"Channel {c}"
        color = src.channel_colors[c] if c < len(src.channel_colors) and src.channel_colors[c] else (
            "FFFFFF" if n_c == 1 else COLORS[c % len(COLORS)]
        )
        channels.append(
            {
                "label": label,
                "color": color,
                "window": _window(smallest[:, c]),
                "active": c < 4,
                "coefficient": 1.0,
                "family": "linear",
                "inverted": False,
            }
        )
    return {
        "name": src.name,
        "channels": channels,
        "rdefs": {"defaultT": 0, "defaultZ": src.data.shape[2] // 2, "model": "greyscale" if n_c == 1 else "color"},
    }


def label_colors(data: np.ndarray) -> list[dict[str, Any]]:
    """A distinct colour for (up to) the first label values: a golden-ratio hue walk."""
    import colorsys

    values = np.unique(data)
    values = values[values != 0][:LABEL_COLORS]
    out = []
    for i, v in enumerate(values):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.65, 1.0)
        out.append({"label-value": int(v), "rgba": [int(r * 255), int(g * 255), int(b * 255), 255]})
    return out


# --------------------------------------------------------------------------- writing


@dataclass
class ConvertResult:
    url: str
    levels: list[tuple[int, ...]]
    labels: list[str]
    bytes_in: int


def _codecs() -> Any:
    from zarr.codecs import BloscCodec

    return [BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")]


def _write_levels(store: Any, group_path: str, levels: list[np.ndarray], progress: Progress | None, stage: str) -> None:
    import zarr

    total = sum(lv.shape[0] * lv.shape[1] * math.ceil(lv.shape[2] / chunking(lv.shape)[1][2]) for lv in levels)
    done = 0
    for i, level in enumerate(levels):
        chunks, shards = chunking(level.shape)
        name = f"{group_path}/{i}" if group_path else str(i)
        arr = zarr.create_array(
            store,
            name=name,
            shape=level.shape,
            dtype=level.dtype,
            chunks=chunks,
            shards=shards,
            compressors=_codecs(),
            fill_value=0,
            dimension_names=list(AXES),
            overwrite=True,
        )
        sz = shards[2]
        for t in range(level.shape[0]):
            for c in range(level.shape[1]):
                for z0 in range(0, level.shape[2], sz):  # whole shards: no read-modify-write
                    arr[t, c, z0 : z0 + sz] = level[t, c, z0 : z0 + sz]
                    done += 1
                    if progress:
                        progress(stage, done, total)


def _destination_is_empty(store: Any) -> bool:
    from zarr.core.sync import sync

    async def check() -> bool:
        for key in ("zarr.json", ".zattrs", ".zgroup", "0/zarr.json"):
            if await store.exists(key):
                return False
        return True

    return sync(check())


def _clear(store: Any, loc: Location) -> None:
    from zarr.core.sync import sync

    if loc.scheme == "file":
        import shutil

        assert loc.path is not None
        if loc.path.exists():
            shutil.rmtree(loc.path)
        return
    sync(store.delete_dir(""))


def _group_attrs(store: Any, path: str, attributes: dict[str, Any]) -> None:
    """Set a group's attributes (creating the group if needed) without touching its children."""
    import zarr

    group = zarr.open_group(store, path=path, mode="a", zarr_format=3)
    group.attrs.put(attributes)


def convert(
    source: SourceImage,
    dest: str | Path,
    settings: Settings,
    *,
    labels: dict[str, SourceImage] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ConvertResult:
    """Write `source` (and label images) to `dest` as OME-Zarr 0.5. Root metadata is written last."""
    loc = parse_url(dest, settings)
    if loc.scheme not in ("file", "s3"):
        raise PixelsError(f"{loc.url}: can only write to a folder or s3://")
    store = open_store(loc, settings, read_only=False)
    try:
        empty = _destination_is_empty(store)
    except Exception as exc:  # noqa: BLE001 - store unreachable, bucket missing, no permission
        raise PixelsError(f"{loc.url}: cannot reach the store: {type(exc).__name__}: {exc}") from exc
    if not empty:
        if not overwrite:
            raise PixelsError(f"{loc.url} already holds a Zarr group; pass --overwrite to replace it")
        _clear(store, loc)
        store = open_store(loc, settings, read_only=False)

    data = source.data
    labels = labels or {}
    for name, lab in labels.items():
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise PixelsError(f"label name {name!r}: use letters, digits, _ . -")
        want = (data.shape[0], 1, *data.shape[2:])
        if lab.data.shape != want:
            raise PixelsError(f"label image {name!r} has shape {lab.data.shape}, expected {want} (t, 1, z, y, x)")
        if not np.issubdtype(lab.data.dtype, np.integer):
            raise PixelsError(f"label image {name!r} must hold integers, not {lab.data.dtype}")

    levels = pyramid(data)
    shapes = [lv.shape for lv in levels]
    _write_levels(store, "", levels, progress, "image")

    root_attrs: dict[str, Any] = {
        "version": "0.5",
        "multiscales": multiscales(source.name, source.physical, shapes, "mean"),
        "omero": omero(source, levels[-1]),
    }
    if labels:
        for name, lab in labels.items():
            label_levels = pyramid(lab.data, labels=True)
            _write_levels(store, f"labels/{name}", label_levels, progress, f"label {name}")
            _group_attrs(
                store,
                f"labels/{name}",
                {
                    "ome": {
                        "version": "0.5",
                        "multiscales": multiscales(name, source.physical, [lv.shape for lv in label_levels], "nearest"),
                        "image-label": {"colors": label_colors(label_levels[-1]), "source": {"image": "../../"}},
                    }
                },
            )
        _group_attrs(store, "labels", {"ome": {"version": "0.5", "labels": list(labels)}})
    # Last: the root group's metadata makes it an OME-Zarr image.
    _group_attrs(store, "", {"ome": root_attrs})
    if progress:
        progress("metadata", 1, 1)
    return ConvertResult(loc.url, shapes, list(labels), int(data.nbytes))
