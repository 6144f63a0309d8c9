"""Conversion to OME-Zarr 0.5: what is written opens with ome-zarr-py and validates with
ome-zarr-models; pyramid, sharding, compression and channel metadata are as documented."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import zarr

from bioimage_hub.config import Settings
from bioimage_hub.pixels.convert import convert, downsample_mean, level_shapes, read_image
from bioimage_hub.pixels.register import inspect
from bioimage_hub.pixels.store import InvalidPixels, PixelsError


@pytest.fixture
def cfg(tmp_path) -> Settings:
    return Settings(pixels_root=tmp_path)


def test_nuclei_with_labels_is_valid_ome_zarr_05(samples, cfg, tmp_path) -> None:
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader
    from ome_zarr_models import open_ome_zarr
    from ome_zarr_models.v05.image import Image
    from ome_zarr_models.v05.image_label import ImageLabel

    src = read_image(samples["nuclei"], "zyx")
    labels = {"nuclei": read_image(samples["nuclei_label"], "zyx")}
    dest = tmp_path / "nuclei.ome.zarr"
    convert(src, dest, cfg, labels=labels)

    group = zarr.open_group(dest, mode="r")
    assert isinstance(open_ome_zarr(group), Image)
    assert isinstance(open_ome_zarr(group["labels/nuclei"]), ImageLabel)
    ome = json.loads((dest / "zarr.json").read_text())["attributes"]["ome"]
    assert ome["version"] == "0.5"
    assert [a["name"] for a in ome["multiscales"][0]["axes"]] == ["t", "c", "z", "y", "x"]
    assert ome["omero"]["channels"][0]["window"]["end"] > ome["omero"]["channels"][0]["window"]["start"]

    arr = group["0"]
    assert arr.shape == (1, 1, 60, 256, 256) and arr.dtype == np.uint16
    assert arr.shards == (1, 1, 16, 256, 256) and arr.chunks == (1, 1, 1, 256, 256)
    assert type(arr.compressors[0]).__name__ == "BloscCodec"
    np.testing.assert_array_equal(arr[0, 0], tifffile.imread(samples["nuclei"]))
    np.testing.assert_array_equal(group["labels/nuclei/0"][0, 0], tifffile.imread(samples["nuclei_label"]))

    # ome-zarr-py reads it: the image node with its pyramid, and the labels
    nodes = list(Reader(parse_url(str(dest)))())
    specs = {str(n.zarr.path).rstrip("/").rsplit(".zarr", 1)[-1]: [type(s).__name__ for s in n.specs] for n in nodes}
    assert specs == {"": ["Multiscales", "OMERO"], "/labels": ["Labels"], "/labels/nuclei": ["Label", "Multiscales"]}
    assert nodes[0].data[0].shape == (1, 1, 60, 256, 256)
    np.testing.assert_array_equal(np.asarray(nodes[0].data[0][0, 0, 5]), tifffile.imread(samples["nuclei"])[5])


def test_timelapse_pyramid_down_to_256(samples, cfg, tmp_path) -> None:
    src = read_image(samples["timelapse"], "tyx")
    assert src.data.shape == (30, 1, 1, 511, 511)
    result = convert(src, tmp_path / "tl.zarr", cfg)
    assert result.levels == [(30, 1, 1, 511, 511), (30, 1, 1, 256, 256)]
    summary = inspect(result.url, cfg)
    assert summary["sizes"] == {"x": 511, "y": 511, "z": 1, "c": 1, "t": 30}
    assert [lv["scale"][-1] for lv in summary["levels"]] == [1.0, pytest.approx(511 / 256)]
    group = zarr.open_group(tmp_path / "tl.zarr", mode="r")
    np.testing.assert_array_equal(group["1"][:], downsample_mean(src.data))


def test_level_shapes_halve_until_256() -> None:
    assert level_shapes((1, 1, 1, 2048, 1000)) == [
        (1, 1, 1, 2048, 1000), (1, 1, 1, 1024, 500), (1, 1, 1, 512, 250), (1, 1, 1, 256, 125)
    ]
    assert level_shapes((1, 1, 1, 100, 100)) == [(1, 1, 1, 100, 100)]


def test_downsample_mean_odd_edges() -> None:
    data = np.arange(15, dtype=np.uint16).reshape(1, 1, 1, 3, 5)
    out = downsample_mean(data)
    assert out.shape == (1, 1, 1, 2, 3)
    assert out[0, 0, 0, 0, 0] == round((0 + 1 + 5 + 6) / 4)
    assert out[0, 0, 0, 1, 2] == 14  # edge replicated: the corner pixel alone


def test_png_and_jpeg_inputs(cfg, tmp_path) -> None:
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 255, (300, 200, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "in.jpg", quality=95)
    png = read_image(tmp_path / "in.png")
    assert png.data.shape == (1, 3, 1, 300, 200)
    result = convert(png, tmp_path / "png.zarr", cfg)
    summary = inspect(result.url, cfg)
    assert [c["color"] for c in summary["channels"]] == ["FF0000", "00FF00", "0000FF"]
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "png.zarr" / "0")[0, :, 0], np.moveaxis(rgb, -1, 0))
    jpg = read_image(tmp_path / "in.jpg")
    assert jpg.data.shape == (1, 1, 1, 300, 200)


def test_refuses_to_overwrite_without_flag(samples, cfg, tmp_path) -> None:
    src = read_image(samples["img2d"]) if "img2d" in samples else read_image(samples["nuclei"], "zyx")
    convert(src, tmp_path / "x.zarr", cfg)
    with pytest.raises(PixelsError, match="--overwrite"):
        convert(src, tmp_path / "x.zarr", cfg)
    convert(src, tmp_path / "x.zarr", cfg, overwrite=True)


def test_bad_axes_and_label_shape_are_clear_errors(samples, cfg, tmp_path) -> None:
    with pytest.raises(PixelsError, match="axes 'yx' do not match"):
        read_image(samples["nuclei"], "yx")
    with pytest.raises(PixelsError, match="at most once"):
        read_image(samples["nuclei"], "yyx")
    src = read_image(samples["nuclei"], "zyx")
    bad = read_image(samples["timelapse"], "tyx")
    with pytest.raises(PixelsError, match="label image"):
        convert(src, tmp_path / "y.zarr", cfg, labels={"nuclei": bad})


def test_interrupted_conversion_is_not_an_ome_zarr(samples, cfg, tmp_path) -> None:
    """Arrays are written before the root metadata: stopping half-way leaves no valid OME-Zarr."""
    src = read_image(samples["nuclei"], "zyx")

    def stop(stage: str, done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        convert(src, tmp_path / "half.zarr", cfg, progress=stop)
    with pytest.raises(InvalidPixels, match="without OME-Zarr metadata"):
        inspect(str(tmp_path / "half.zarr"), cfg)
