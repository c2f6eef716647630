"""Rasters, H3 cells and file writes on requests that used to escape the guards (issue 13,
items 9, 10, 11 and 13): huge grids, degree grids with metre cells, killed writes and a
full disk."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import dask.array
import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr
from shapely.geometry import box

import geocalliper as gc
from geocalliper.exceptions import CRSError, DiskFullError, GridTooLargeError
from geocalliper.io.geotiff import to_geotiff, write_png
from geocalliper.io.vector import write_vector
from geocalliper.spatial.h3cells import h3_cells
from geocalliper.spatial.raster import embed_grid, to_rgb
from geocalliper.tempfiles import TEMP_TAG, clean_temporaries, stale_temporaries

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

HELSINKI_3067 = (385_000.0, 6_671_000.0, 387_000.0, 6_673_000.0)
HELSINKI_4326 = (24.90, 60.15, 24.98, 60.19)
OUTPUT_SUFFIXES = {".tif", ".tiff", ".gpkg", ".parquet", ".png", ".csv", ".json"}


def _raster(values: np.ndarray | dask.array.Array, res: float = 10.0) -> xr.DataArray:
    bands, ny, nx = values.shape
    da = xr.DataArray(
        values,
        dims=("band", "y", "x"),
        coords={
            "band": [f"b{i}" for i in range(bands)],
            "y": 6_673_000 - (np.arange(ny) + 0.5) * res,
            "x": 385_000 + (np.arange(nx) + 0.5) * res,
        },
    )
    return da.rio.write_crs(3067)


# ---------------------------------------------------------------- item 9: huge requests
@pytest.mark.parametrize("resolution", [1e-5, 1e-300])
@pytest.mark.parametrize("chunks", [None, 1024])
def test_huge_grids_are_refused_before_any_work(fitted, resolution, chunks):
    start = time.perf_counter()
    with pytest.raises(GridTooLargeError, match=r"cells.*max_cells=") as info:
        embed_grid(fitted, HELSINKI_3067, resolution, crs="EPSG:3067", chunks=chunks)
    assert time.perf_counter() - start < 5
    assert "coarser resolution" in str(info.value)


def test_a_big_lazy_grid_is_allowed_with_max_cells_none_and_stays_lazy(fitted):
    grid = embed_grid(fitted, HELSINKI_3067, 0.1, crs="EPSG:3067", chunks=4096, max_cells=None)
    assert grid.shape == (32, 20_000, 20_000)
    assert type(grid.data).__module__.startswith("dask")


def test_to_geotiff_refuses_a_huge_lazy_raster_before_writing(tmp_path):
    huge = _raster(dask.array.zeros((128, 200_000, 200_000), chunks=(128, 1024, 1024)), 0.01)
    start = time.perf_counter()
    with pytest.raises(GridTooLargeError, match=r"4e\+10 cells.*max_cells=None"):
        to_geotiff(huge, tmp_path / "big.tif")
    assert time.perf_counter() - start < 5
    assert list(tmp_path.iterdir()) == []


def test_to_geotiff_max_cells_is_an_explicit_override(tmp_path):
    small = _raster(np.ones((2, 30, 40), dtype=np.float32))
    with pytest.raises(GridTooLargeError, match="1,200 cells"):
        to_geotiff(small, tmp_path / "a.tif", max_cells=1000)
    assert to_geotiff(small, tmp_path / "a.tif", max_cells=None).is_file()


def test_h3_without_a_cell_limit_still_refuses_what_cannot_fit_in_memory():
    finland = box(20.0, 59.8, 31.6, 70.1)
    start = time.perf_counter()
    with pytest.raises(GridTooLargeError, match=r"H3 cells at resolution 15.*memory") as info:
        h3_cells(finland, 15, max_cells=None, area_crs="EPSG:4326")
    assert time.perf_counter() - start < 5
    assert str(info.value).strip()  # not the empty MemoryError of before


# ---------------------------------------------------------------- item 11: degree grids
def test_a_degree_grid_with_a_metre_resolution_is_refused(fitted):
    with pytest.raises(CRSError, match=r"degrees.*25.*EPSG:32635") as info:
        embed_grid(fitted, HELSINKI_4326, 25, crs="EPSG:4326", area_crs="EPSG:4326")
    assert "projected" in str(info.value)


def test_a_degree_grid_with_a_degree_resolution_works(fitted):
    grid = embed_grid(fitted, HELSINKI_4326, 0.01, crs="EPSG:4326", area_crs="EPSG:4326")
    assert grid.sizes["x"] == 8 and np.isfinite(grid.values).all()


def test_a_grid_whose_cells_miss_the_area_is_refused(fitted):
    tiny = box(385_010, 6_671_010, 385_020, 6_671_020)  # 10 m square, 1 km cells
    with pytest.raises(gc.exceptions.EmptyDataError, match="finer resolution"):
        embed_grid(fitted, tiny, 1000, crs="EPSG:3067", area_crs="EPSG:3067")


# ---------------------------------------------------------------- item 10: temporaries
_KILLED_WRITE = """
import os, sys
import numpy as np, geopandas as gpd, xarray as xr, rioxarray  # noqa: F401
from shapely.geometry import Point
from geocalliper.io.geotiff import to_geotiff, write_png
from geocalliper.spatial.raster import to_rgb
from geocalliper.io.vector import write_vector
os.replace = lambda *a, **k: os._exit(3)  # the process dies just before the rename
kind, target = sys.argv[1], sys.argv[2]
if kind == "vector":
    write_vector(gpd.GeoDataFrame({"v": [1]}, geometry=[Point(0, 0)], crs=4326), target)
else:
    v = np.random.default_rng(0).random((5, 64, 64), dtype=np.float32)
    da = xr.DataArray(v, dims=("band", "y", "x"),
                      coords={"y": 100.0 - np.arange(64), "x": np.arange(64.0)})
    da = da.rio.write_crs(3067)
    if kind == "png":
        write_png(to_rgb(da), target)
    else:
        to_geotiff(da, target, cog=kind == "cog", progress=False)
"""


def _kill_during_write(kind: str, target: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(gc.__file__).parent.parent))
    res = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLED_WRITE), kind, str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 3, res.stderr


@pytest.mark.parametrize(
    ("kind", "name"),
    [("cog", "big.tif"), ("plain", "plain.tif"), ("png", "p.png"), ("vector", "v.gpkg"),
     ("vector", "v.parquet"), ("vector", "v.csv")],
)  # fmt: skip
def test_temporaries_of_a_killed_write_are_named_after_the_target_and_removed_next_time(
    tmp_path, kind, name
):
    target = tmp_path / name
    _kill_during_write(kind, target)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left, "the killed write left nothing to clean: the test did not kill it mid-write"
    assert not target.exists()
    # the file and its side files (QGIS style, world file, PAM) travel together
    stem = Path(name).stem
    own = {name, f"{stem}.qml", f"{stem}.pgw", f"{name}.aux.xml"}
    for leftover in left:  # predictable, and never mistaken for an output file
        assert any(leftover.startswith(f".{n}{TEMP_TAG}") for n in own), leftover
        assert Path(leftover).suffix not in OUTPUT_SUFFIXES, leftover
    assert sorted(p.name for p in stale_temporaries(tmp_path)) == left

    # the next write to the same target removes them
    if kind == "vector":
        write_vector(gpd.GeoDataFrame({"v": [2]}, geometry=gpd.points_from_xy([1], [1]),
                                      crs=4326), target)  # fmt: skip
    else:
        da = _raster(np.ones((5, 8, 8), dtype=np.float32))
        if kind == "png":
            write_png(to_rgb(da.fillna(0) + np.arange(64).reshape(8, 8)), target)
        else:
            to_geotiff(da, target, cog=kind == "cog", progress=False)
    after = sorted(p.name for p in tmp_path.iterdir())
    assert name in after and set(after) <= own, after  # no temporary is left


def test_clean_removes_only_stale_temporaries(tmp_path):
    _kill_during_write("cog", tmp_path / "a.tif")
    stale = sorted(p.name for p in tmp_path.iterdir())
    (tmp_path / "keep.tif").write_bytes(b"an output")
    (tmp_path / ".hidden-but-mine.tif").write_bytes(b"not ours")
    live = tmp_path / f".b.tif{TEMP_TAG}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    live.write_bytes(b"a write in progress")  # its process (this one) is alive
    old = tmp_path / ".c.tif.x8k2_q0a.part.tif"  # left by an older geocalliper
    old.write_bytes(b"old")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    removed = clean_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == sorted([*stale, old.name])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".hidden-but-mine.tif", "keep.tif", live.name]
    )


# ---------------------------------------------------------------- item 13: disk full
@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MB tmpfs; skipped where mounting is not allowed."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip() or res.returncode})")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@pytest.mark.parametrize("cog", [True, False])
def test_disk_full_is_one_clear_error_and_leaves_the_old_file(tiny_disk, cog):
    target = tiny_disk / "out.tif"
    old = to_geotiff(_raster(np.ones((2, 16, 16), dtype=np.float32)), target, cog=cog)
    before = old.read_bytes()
    style = (tiny_disk / "out.qml").read_bytes()
    noise = np.random.default_rng(0).random((128, 200, 200), dtype=np.float32)
    with pytest.raises(DiskFullError, match="No space left on device") as info:
        to_geotiff(_raster(noise), target, cog=cog, progress=False)
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert str(tiny_disk) in str(info.value)
    # no partial output: the old file and its style, unchanged
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["out.qml", "out.tif"]
    assert target.read_bytes() == before and (tiny_disk / "out.qml").read_bytes() == style
    with rasterio.open(target) as src:
        assert src.count == 2


def test_disk_full_while_writing_a_vector(tiny_disk):
    n = 60_000
    rng = np.random.default_rng(0)
    frame = gpd.GeoDataFrame(
        {"v": rng.random(n)}, geometry=gpd.points_from_xy(rng.random(n), rng.random(n)), crs=4326
    )
    with pytest.raises(DiskFullError, match="No space left on device"):
        write_vector(frame, tiny_disk / "cells.gpkg")
    assert list(tiny_disk.iterdir()) == []
