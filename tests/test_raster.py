"""Study-area rasters: grids of embeddings, GeoTIFF/COG and PNG files, dask chunks."""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import dask.array
import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
import xarray as xr
from affine import Affine
from shapely.geometry import Polygon, box

import geocalliper as gc
from geocalliper.exceptions import MissingCRSError, NotFittedError
from geocalliper.io import geotiff
from geocalliper.io.geotiff import to_geotiff, write_png
from geocalliper.spatial.raster import embed_grid, to_rgb

# rioxarray's rio.transform() uses affine's deprecated ``*``; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

#: 2 km x 2 km of central Helsinki in ETRS-TM35FIN (EPSG:3067), on 100 m multiples.
HELSINKI_3067 = (385_000.0, 6_671_000.0, 387_000.0, 6_673_000.0)
RES = 100.0


def centres(grid) -> gpd.GeoSeries:
    """The grid's cell centres as points, row by row (north to south)."""
    x, y = np.meshgrid(grid.x.values, grid.y.values)
    return gpd.GeoSeries(gpd.points_from_xy(x.ravel(), y.ravel()), crs=grid.rio.crs)


def embed_at_centres(model: gc.CaLLiPer, grid) -> np.ndarray:
    """``model.embed`` at every cell centre, as a (band, y, x) array."""
    emb = model.embed(centres(grid)).to_numpy()
    return emb.T.reshape(-1, grid.sizes["y"], grid.sizes["x"])


def count_embed_calls(model: gc.CaLLiPer, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the number of points of every ``embed_coords`` call from now on."""
    calls: list[int] = []
    real = type(model).embed_coords

    def counting(self, xy, **kwargs):
        calls.append(len(xy))
        return real(self, xy, **kwargs)

    monkeypatch.setattr(type(model), "embed_coords", counting)
    return calls


@pytest.fixture(scope="module")
def grid_3067(fitted: gc.CaLLiPer):
    return embed_grid(fitted, HELSINKI_3067, RES, crs="EPSG:3067")


def test_grid_is_the_model_at_cell_centres(fitted: gc.CaLLiPer, grid_3067) -> None:
    g = grid_3067
    assert g.dims == ("band", "y", "x")
    assert g.shape == (32, 20, 20)
    assert g.dtype == np.float32
    assert list(g.band.values) == [f"calliper_{i}" for i in range(32)]
    assert g.rio.crs.to_epsg() == 3067
    assert g.rio.transform() == Affine(RES, 0, 385_000, 0, -RES, 6_673_000)
    assert np.isnan(g.rio.nodata)
    assert g.y.values[0] == 6_673_000 - RES / 2 and np.all(np.diff(g.y.values) < 0)  # north-up
    assert g.x.values[0] == 385_000 + RES / 2
    assert np.isfinite(g.values).all()  # a box area: every cell is inside
    np.testing.assert_allclose(g.values, embed_at_centres(fitted, g), rtol=1e-5, atol=1e-6)


def test_geotiff_round_trip(fitted: gc.CaLLiPer, grid_3067, tmp_path: Path) -> None:
    for cog in (True, False):
        path = to_geotiff(grid_3067, tmp_path / f"grid-{cog}.tif", cog=cog, overviews=2)
        assert path == tmp_path / f"grid-{cog}.tif"
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 3067
            assert src.transform == grid_3067.rio.transform()
            assert src.count == 32 and src.dtypes[0] == "float32"
            assert src.descriptions == tuple(f"calliper_{i}" for i in range(32))
            assert np.isnan(src.nodata)
            assert src.profile["tiled"] and src.block_shapes[0] == (512, 512)
            assert src.compression.name == "deflate"
            assert src.overviews(1) == [2, 4]
            values = src.read()
        np.testing.assert_array_equal(values, grid_3067.values)
        np.testing.assert_allclose(values, embed_at_centres(fitted, grid_3067), atol=1e-5)
    # each GeoTIFF with its QGIS style
    want = ["grid-False.qml", "grid-False.tif", "grid-True.qml", "grid-True.tif"]
    assert sorted(os.listdir(tmp_path)) == want
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # not a private temporary file


def test_cog_layout_puts_overviews_before_full_resolution(fitted: gc.CaLLiPer, tmp_path):
    bounds = (385_000, 6_671_000, 385_000 + 300 * 5, 6_671_000 + 280 * 5)
    g = embed_grid(fitted, bounds, 5.0, crs="EPSG:3067", chunks=128)
    path = to_geotiff(g, tmp_path / "cog.tif", blocksize=128)
    with rasterio.open(path) as src:
        assert src.block_shapes[0] == (128, 128)
        assert src.overviews(1) == [2, 4]  # 300 px: two halvings fit a 128 tile
        full = int(src.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
    with rasterio.open(path, overview_level=0) as ovr:
        assert int(ovr.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1)) < full
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(window=((0, 64), (0, 64))), g[:, :64, :64].values)


def test_cells_outside_the_area_are_nodata(fitted: gc.CaLLiPer, tmp_path: Path) -> None:
    minx, miny, maxx, maxy = HELSINKI_3067
    tri = Polygon([(minx, miny), (maxx, miny), (minx, maxy)])
    area = gpd.GeoDataFrame({"name": ["triangle"]}, geometry=[tri], crs=3067)
    g = embed_grid(fitted, area, RES, crs="EPSG:3067")
    assert g.shape == (32, 20, 20)
    x, y = np.meshgrid(g.x.values, g.y.values)
    inside = shapely.intersects_xy(tri, x, y)  # a centre on the edge counts as inside
    on_edge = inside & ~shapely.contains_xy(tri, x, y)
    assert on_edge.sum() == 20  # the hypotenuse runs through a diagonal of centres
    assert 0 < inside.sum() < inside.size
    assert np.isfinite(g.values[:, inside]).all()
    assert np.isnan(g.values[:, ~inside]).all()
    ref = embed_at_centres(fitted, g)
    np.testing.assert_allclose(g.values[:, inside], ref[:, inside], rtol=1e-5, atol=1e-6)

    # overviews average the valid cells only (nodata does not bleed into them)
    path = to_geotiff(g, tmp_path / "triangle.tif", overviews=1)
    with rasterio.open(path, overview_level=0) as ovr:
        assert ovr.shape == (10, 10)
        half = ovr.read(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN 2x2 cells
        mean = np.nanmean(g.values[0].reshape(10, 2, 10, 2), axis=(1, 3))
    np.testing.assert_allclose(half, mean, atol=1e-6)  # NaN where no cell was valid


def test_grid_crs_default_is_the_models(fitted: gc.CaLLiPer, grid_3067) -> None:
    # a box in Web Mercator (about 2 km on the ground): turned by ~2° in UTM 35N
    c = gpd.GeoSeries.from_xy([24.94], [60.17], crs=4326).to_crs(3857).iloc[0]
    area = gpd.GeoSeries([box(c.x - 2000, c.y - 1900, c.x + 2000, c.y + 2100)], crs=3857)
    g = embed_grid(fitted, area, RES)  # laid out in the model's UTM 35N
    assert g.rio.crs == fitted.crs_ and g.rio.crs.to_epsg() == 32635
    t = g.rio.transform()
    assert t.c % RES == 0 and t.f % RES == 0  # snapped: neighbouring grids line up
    assert g.sizes["y"] >= 20 and g.sizes["x"] >= 20
    valid = np.isfinite(g.values[0])
    assert 300 < valid.sum() < valid.size  # the turned box leaves corner cells out
    np.testing.assert_allclose(
        g.values[:, valid], embed_at_centres(fitted, g)[:, valid], rtol=1e-5, atol=1e-6
    )
    # the same area in WGS84: the same snapped layout
    lonlat = area.to_crs(4326)
    g2 = embed_grid(fitted, lonlat, RES)
    assert g2.rio.transform() == t and g2.shape == g.shape


def test_grid_in_a_geographic_crs(fitted: gc.CaLLiPer) -> None:
    g = embed_grid(fitted, (24.93, 60.16, 24.95, 60.17), 0.002, crs="EPSG:4326")
    assert g.shape == (32, 5, 10) and g.rio.crs.to_epsg() == 4326
    np.testing.assert_allclose(g.values, embed_at_centres(fitted, g), rtol=1e-5, atol=1e-6)


def test_too_big_is_refused_and_chunks_are_lazy_and_equal(
    fitted: gc.CaLLiPer, grid_3067, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(MemoryError, match=r"51\.2 kB .*max_memory=10 kB.*chunks=1024"):
        embed_grid(fitted, HELSINKI_3067, RES, crs="EPSG:3067", max_memory=10_000)

    calls = count_embed_calls(fitted, monkeypatch)
    lazy = embed_grid(fitted, HELSINKI_3067, RES, crs="EPSG:3067", chunks=(8, 7), max_memory=10_000)
    assert isinstance(lazy.data, dask.array.Array)
    assert lazy.chunks == ((32,), (8, 8, 4), (7, 7, 6))
    assert calls == []  # nothing embedded yet
    assert lazy.rio.crs.to_epsg() == 3067 and lazy.rio.transform() == grid_3067.rio.transform()
    np.testing.assert_array_equal(lazy.values, grid_3067.values)
    assert sum(calls) == 400 and len(calls) == 9  # each cell once, block by block
    with pytest.raises(MemoryError, match="smaller chunks"):
        embed_grid(fitted, HELSINKI_3067, RES, crs="EPSG:3067", chunks=20, max_memory=10_000)

    # streamed to a GeoTIFF block by block (chunks that do not line up with the tiles)
    calls.clear()
    path = to_geotiff(lazy, tmp_path / "lazy.tif", cog=False)
    assert sum(calls) == 400
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(), grid_3067.values)


def test_chunked_grid_skips_blocks_outside_the_area(fitted: gc.CaLLiPer, monkeypatch) -> None:
    minx, miny, maxx, maxy = HELSINKI_3067
    tri = Polygon([(minx, miny), (maxx, miny), (minx, maxy)])
    calls = count_embed_calls(fitted, monkeypatch)
    g = embed_grid(fitted, gpd.GeoSeries([tri], crs=3067), RES, crs="EPSG:3067", chunks=5)
    values = g.values
    inside = np.isfinite(values[0])
    assert sum(calls) == inside.sum()  # only in-area cells are embedded
    assert len(calls) < 16  # blocks wholly outside the triangle are not embedded at all
    eager = embed_grid(fitted, gpd.GeoSeries([tri], crs=3067), RES, crs="EPSG:3067")
    np.testing.assert_array_equal(values, eager.values)


def test_model_pickles_for_dask_workers(fitted: gc.CaLLiPer) -> None:
    xy = np.array([[386_000.0, 6_672_000.0], [385_500.0, 6_671_500.0]])
    same = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(same.embed_coords(xy), fitted.embed_coords(xy))


def test_distributed_cluster(fitted: gc.CaLLiPer, grid_3067, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        lazy = embed_grid(fitted, HELSINKI_3067, RES, crs="EPSG:3067", chunks=10)
        np.testing.assert_array_equal(lazy.compute().values, grid_3067.values)
        path = to_geotiff(lazy, tmp_path / "cluster.tif")
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(), grid_3067.values)


def test_rgb_preview(fitted: gc.CaLLiPer, tmp_path: Path) -> None:
    minx, miny, maxx, maxy = HELSINKI_3067
    tri = gpd.GeoSeries([Polygon([(minx, miny), (maxx, miny), (minx, maxy)])], crs=3067)
    g = embed_grid(fitted, tri, RES, crs="EPSG:3067")
    valid = np.isfinite(g.values[0])
    rgb = to_rgb(g)
    assert rgb.dtype == np.uint8 and rgb.shape == (3, 20, 20)
    assert list(rgb.band.values) == ["red", "green", "blue"]
    assert rgb.rio.crs.to_epsg() == 3067 and rgb.rio.transform() == g.rio.transform()
    assert rgb.rio.nodata == 0
    assert (rgb.values[:, valid] > 0).all() and (rgb.values[:, ~valid] == 0).all()
    assert rgb.values[:, valid].std(axis=1).min() > 10  # a stretch, not a flat image
    ratio = rgb.attrs["explained_variance_ratio"]
    assert len(ratio) == 3 and ratio[0] >= ratio[1] >= ratio[2] > 0
    # dask in, dask out (same PCA when the sample is every valid cell)
    lazy = to_rgb(g.chunk({"y": 8, "x": 8}), sample_blocks=None)
    assert isinstance(lazy.data, dask.array.Array)
    np.testing.assert_array_equal(lazy.values, rgb.values)

    path = to_geotiff(rgb, tmp_path / "rgb.tif", overviews=1)
    with rasterio.open(path) as src:
        assert src.count == 3 and src.dtypes[0] == "uint8" and src.nodata == 0
        assert src.descriptions == ("red", "green", "blue")
        assert src.colorinterp[0].name == "red"
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        np.testing.assert_array_equal(src.read(), rgb.values)
    png = write_png(rgb, tmp_path / "rgb.png", worldfile=True)
    with rasterio.open(png) as src:
        assert src.count == 4 and src.shape == (20, 20)
        assert src.transform == g.rio.transform()  # from the world file
        alpha = src.read(4)
    assert ((alpha == 255) == valid).all()
    # the world file places it, its .aux.xml gives the CRS, rgb.qml styles the GeoTIFF
    assert sorted(os.listdir(tmp_path)) == [
        "rgb.pgw",
        "rgb.png",
        "rgb.png.aux.xml",
        "rgb.qml",
        "rgb.tif",
    ]
    with rasterio.open(png) as src:
        assert src.crs == g.rio.crs
    # enlarged: each cell a 4 x 4 block of equal pixels, still placed right by the world file
    big = write_png(rgb, tmp_path / "big.png", worldfile=True, min_size=70)
    with rasterio.open(big) as src:
        assert src.shape == (80, 80)
        assert src.transform * (80, 80) == pytest.approx(g.rio.transform() * (20, 20))
        pixels = src.read()
    np.testing.assert_array_equal(pixels[:3, ::4, ::4], rgb.values)
    np.testing.assert_array_equal(pixels[:3, 3::4, 3::4], rgb.values)
    with pytest.raises(ValueError, match="positive number of pixels"):
        write_png(rgb, tmp_path / "bad.png", min_size=0)


@pytest.mark.parametrize(
    ("cog", "step"), [(True, "_write_blocks"), (False, "_write_blocks"), (True, "copy")]
)
def test_failed_write_leaves_nothing(
    grid_3067, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cog: bool, step: str
) -> None:
    def fail(*args, **kwargs):
        raise OSError("disk full")

    if step == "copy":  # the COG translation, after the blocks were written
        monkeypatch.setattr(rasterio.shutil, "copy", fail)
    else:
        monkeypatch.setattr(geotiff, "_write_blocks", fail)
    with pytest.raises(OSError, match="disk full"):
        to_geotiff(grid_3067, tmp_path / "grid.tif", cog=cog)
    assert os.listdir(tmp_path) == []
    # an existing file is left as it was
    (tmp_path / "grid.tif").write_bytes(b"old")
    with pytest.raises(OSError, match="disk full"):
        to_geotiff(grid_3067, tmp_path / "grid.tif", cog=cog)
    assert os.listdir(tmp_path) == ["grid.tif"]
    assert (tmp_path / "grid.tif").read_bytes() == b"old"


def test_bad_input(fitted: gc.CaLLiPer, grid_3067, tmp_path: Path) -> None:
    for res in (0, -100, float("nan"), (100, 0)):
        with pytest.raises(ValueError, match="resolution must be positive"):
            embed_grid(fitted, HELSINKI_3067, res, crs="EPSG:3067")
    with pytest.raises(MissingCRSError, match="no CRS"):
        embed_grid(fitted, gpd.GeoSeries([box(*HELSINKI_3067)]), RES)
    with pytest.raises(MissingCRSError, match="crs="):
        embed_grid(fitted, HELSINKI_3067, RES)  # bounds, but in which CRS?
    with pytest.raises(NotFittedError, match="not fitted"):
        embed_grid(gc.CaLLiPer(), HELSINKI_3067, RES, crs="EPSG:3067")
    with pytest.raises(ValueError, match="chunks must be positive"):
        embed_grid(fitted, HELSINKI_3067, RES, crs="EPSG:3067", chunks=0)
    with pytest.raises(gc.exceptions.InvalidGeometryError, match="no area"):
        embed_grid(fitted, gpd.GeoSeries.from_xy([386_000], [6_672_000], crs=3067), RES)
    with pytest.raises(MissingCRSError, match="write_crs"):
        to_geotiff(xr.DataArray(grid_3067.values, dims=grid_3067.dims), tmp_path / "x.tif")
    with pytest.raises(TypeError, match="DataArray"):
        to_geotiff(grid_3067.values, tmp_path / "x.tif")
    with pytest.raises(ValueError, match="3 uint8 bands"):
        write_png(grid_3067, tmp_path / "x.png")
    assert os.listdir(tmp_path) == []
