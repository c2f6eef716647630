"""QGIS styles and georeferencing of the files geocalliper writes, without QGIS.

The QML documents are parsed with ``xml.etree``; statistics are read back with rasterio;
PNG placement with rasterio (GDAL reads the world file and the CRS side file as QGIS
does). ``tests/test_qgis_open.py`` opens the same kinds of file in real, headless QGIS.
"""

from __future__ import annotations

import os
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401 (the .rio accessor)
import shapely
import xarray as xr

from geocalliper.io import geotiff, qml
from geocalliper.io.geotiff import style_path, to_geotiff, write_png
from geocalliper.io.style import category_colors, preview_rgb, raster_qml, vector_qml
from geocalliper.io.vector import STYLES_TABLE, data_layer, read_area, write_vector
from geocalliper.spatial.raster import to_rgb

NAMES = ["eating out", "shopping", "culture", "green space"]
Y = 6_675_000 - 25 * np.arange(30) - 12.5
X = 385_000 + 25 * np.arange(40) + 12.5


def _grid(values: np.ndarray, bands: list[str] | None = None) -> xr.DataArray:
    if values.ndim == 2:
        da = xr.DataArray(values, dims=("y", "x"), coords={"y": Y, "x": X})
    else:
        da = xr.DataArray(values, dims=("band", "y", "x"), coords={"band": bands, "y": Y, "x": X})
    return da.rio.write_crs("EPSG:32635")


def labels_raster() -> xr.DataArray:
    codes = ((np.arange(30)[:, None] // 8 + np.arange(40)[None, :] // 10) % 4).astype("uint8")
    codes[:4, :4] = 255
    da = _grid(codes).rio.write_nodata(255, encoded=False)
    da.attrs.update(
        long_name=("label",),
        category_names=tuple(NAMES),
        category_texts=tuple(NAMES),
        category_colors=tuple(category_colors(NAMES)),
    )
    return da


def query_raster() -> xr.DataArray:
    values = np.linspace(-0.25, 0.75, 1200, dtype="float32").reshape(1, 30, 40)
    values[0, :3, :3] = np.nan
    return _grid(values, ["A place of cafe, a type of amenity"])


def embedding_raster(n: int = 6) -> xr.DataArray:
    values = np.random.default_rng(0).normal(size=(n, 30, 40)).astype("float32")
    values[:, -2:, -2:] = np.nan
    return _grid(values, [f"calliper_{i}" for i in range(n)])


def renderer(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "qgis"
    found = root.find("./pipe/rasterrenderer")
    assert found is not None
    return found


# ---------------------------------------------------------------------------- QML content
def test_category_colours_follow_the_names() -> None:
    assert category_colors(NAMES) == ["#ff7f00", "#e31a1c", "#6a3d9a", "#33a02c"]
    colours = category_colors(["Park", "Lake shore", "Theatre", "x", "y"])
    assert colours[:3] == ["#33a02c", "#1f78b4", "#6a3d9a"]  # not food: "theatre" ≠ "eat…"
    assert len(set(colours)) == 5  # names of no kind get distinct palette colours


def test_label_raster_style_has_exactly_its_named_classes(tmp_path: Path) -> None:
    path = to_geotiff(labels_raster(), tmp_path / "labels.tif", progress=False)
    assert style_path(path) == tmp_path / "labels.qml"
    rend = renderer(tmp_path / "labels.qml")
    assert rend.get("type") == "paletted" and rend.get("band") == "1"
    entries = rend.findall("./colorPalette/paletteEntry")
    assert [e.get("label") for e in entries] == NAMES  # 4 entries, no 255 nodata entry
    assert [int(e.get("value")) for e in entries] == [0, 1, 2, 3]
    assert [e.get("color") for e in entries] == category_colors(NAMES)
    with rasterio.open(path) as src:  # the colour table inside the file agrees
        cmap = src.colormap(1)
    for e in entries:
        r, g, b = (int(e.get("color")[i : i + 2], 16) for i in (1, 3, 5))
        assert cmap[int(e.get("value"))] == (r, g, b, 255)
    abstract = ET.parse(tmp_path / "labels.qml").getroot().findtext("./resourceMetadata/abstract")
    assert all(name in abstract for name in NAMES)


def test_query_raster_style_is_a_ramp_from_the_data(tmp_path: Path) -> None:
    q = query_raster()
    to_geotiff(q, tmp_path / "query.tif", progress=False)
    rend = renderer(tmp_path / "query.qml")
    assert rend.get("type") == "singlebandpseudocolor"
    shader = rend.find("./rastershader/colorrampshader")
    lo, hi = float(np.nanmin(q.values)), float(np.nanmax(q.values))
    assert float(shader.get("minimumValue")) == pytest.approx(lo)
    assert float(shader.get("maximumValue")) == pytest.approx(hi)
    items = shader.findall("item")
    assert [i.get("color") for i in items] == [c for _, c in qml.VIRIDIS]
    assert float(items[0].get("value")) == pytest.approx(lo)
    assert float(items[-1].get("value")) == pytest.approx(hi)
    assert items[-1].get("label") == f"{hi:.3f}"


def test_embedding_and_rgb_styles(tmp_path: Path) -> None:
    emb = embedding_raster()
    to_geotiff(emb, tmp_path / "emb.tif", progress=False)
    rend = renderer(tmp_path / "emb.qml")
    assert rend.get("type") == "singlebandgray" and rend.get("grayBand") == "1"
    assert float(rend.findtext("./contrastEnhancement/minValue")) == pytest.approx(
        float(np.nanmin(emb.values[0]))
    )
    abstract = ET.parse(tmp_path / "emb.qml").getroot().findtext("./resourceMetadata/abstract")
    assert "6 bands" in abstract and "RGB preview" in abstract
    with rasterio.open(tmp_path / "emb.tif") as src:  # the same note inside the GeoTIFF
        assert "6 bands" in src.tags()["TIFFTAG_IMAGEDESCRIPTION"]
    to_geotiff(to_rgb(emb), tmp_path / "rgb.tif", progress=False)
    rend = renderer(tmp_path / "rgb.qml")
    assert rend.get("type") == "multibandcolor"
    assert (rend.get("redBand"), rend.get("greenBand"), rend.get("blueBand")) == ("1", "2", "3")
    # an explicit choice, and none at all
    to_geotiff(emb, tmp_path / "emb.tif", progress=False, style="ramp")
    assert renderer(tmp_path / "emb.qml").get("type") == "singlebandpseudocolor"
    (tmp_path / "emb.qml").write_text("mine")
    to_geotiff(emb, tmp_path / "emb.tif", progress=False, style=None)
    assert (tmp_path / "emb.qml").read_text() == "mine"  # a style=None write leaves it alone
    with pytest.raises(ValueError, match="style must be None or one of"):
        to_geotiff(emb, tmp_path / "emb.tif", style="viridis")
    with pytest.raises(ValueError, match="needs a categorical raster"):
        to_geotiff(emb, tmp_path / "emb.tif", style="categories")


def test_raster_qml_is_well_formed_xml_for_every_style() -> None:
    cats = {"names": ["a & b", "<c>"], "colors": ["#000000", "#ffffff"]}
    for style in ("categories", "ramp", "gray", "rgb"):
        root = ET.fromstring(raster_qml(style, ["band"], [(0.0, 1.0)], categories=cats))
        assert root.find("./pipe/rasterrenderer") is not None
    labels = ET.fromstring(raster_qml("categories", ["band"], [None], categories=cats))
    assert [e.get("label") for e in labels.iter("paletteEntry")] == ["a & b", "<c>"]


# ---------------------------------------------------------------------------- statistics
def test_geotiff_carries_band_statistics(tmp_path: Path) -> None:
    for name, da in (("emb", embedding_raster()), ("labels", labels_raster())):
        path = to_geotiff(da, tmp_path / f"{name}.tif", progress=False)
        values = da.values if da.ndim == 3 else da.values[None]
        with rasterio.open(path) as src:
            for band in range(src.count):
                tags = src.tags(band + 1)
                v = values[band].astype(float)
                v = v[np.isfinite(v) & (v != (src.nodata if name == "labels" else np.nan))]
                assert float(tags["STATISTICS_MINIMUM"]) == pytest.approx(v.min())
                assert float(tags["STATISTICS_MAXIMUM"]) == pytest.approx(v.max())
                assert float(tags["STATISTICS_MEAN"]) == pytest.approx(v.mean(), rel=1e-6)
                assert float(tags["STATISTICS_STDDEV"]) == pytest.approx(v.std(), rel=1e-5)
                valid = 100 * v.size / values[band].size
                assert float(tags["STATISTICS_VALID_PERCENT"]) == pytest.approx(valid, rel=1e-4)
    assert not list(tmp_path.glob("*.aux.xml*")) or [
        p.name for p in tmp_path.glob("*.aux.xml")
    ] == ["labels.tif.aux.xml"]


# ---------------------------------------------------------------------------- PNGs
def test_png_is_placed_like_its_geotiff(tmp_path: Path) -> None:
    q = query_raster()
    tif = to_geotiff(q, tmp_path / "query.tif", progress=False)
    png = write_png(preview_rgb(q), tmp_path / "query_preview.png", min_size=120)
    assert (tmp_path / "query_preview.pgw").is_file()
    assert (tmp_path / "query_preview.png.aux.xml").is_file()
    with rasterio.open(tif) as a, rasterio.open(png) as b:
        assert b.crs == a.crs and b.crs.to_epsg() == 32635
        assert tuple(b.bounds) == pytest.approx(tuple(a.bounds))
        assert b.width == 3 * a.width  # enlarged by a whole factor, same extent
        alpha = b.read(4)
        assert float(b.tags(4)["STATISTICS_MEAN"]) == pytest.approx(alpha.mean())
    # without a world file: the stale georeference goes too
    write_png(preview_rgb(q), png, worldfile=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "query.qml",
        "query.tif",
        "query_preview.png",
        "query_preview.qml",  # an RGB style, not removed
    ]
    assert renderer(tmp_path / "query_preview.qml").get("type") == "multibandcolor"
    # named like the query GeoTIFF: its ramp style stays, with a warning
    with pytest.warns(UserWarning, match="query.qml styles another raster"):
        write_png(preview_rgb(q), tmp_path / "query.png")
    assert renderer(tmp_path / "query.qml").get("type") == "singlebandpseudocolor"


def test_failed_png_write_leaves_no_side_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(rasterio.shutil, "copy", fail)
    with pytest.raises(OSError, match="disk full"):
        write_png(preview_rgb(query_raster()), tmp_path / "q.png")
    assert os.listdir(tmp_path) == []


def test_failed_style_leaves_the_old_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "labels.tif"
    to_geotiff(labels_raster(), target, progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(geotiff, "raster_qml", fail)
    with pytest.raises(OSError, match="disk full"):
        to_geotiff(query_raster(), target, progress=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


# ---------------------------------------------------------------------------- GeoPackages
def _points(n: int = 12) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(1)
    return gpd.GeoDataFrame(
        {"user_id": np.repeat([0, 1], n // 2), "rank": np.tile(np.arange(1, n // 2 + 1), 2)},
        geometry=shapely.points(24.9 + rng.random(n) / 50, 60.16 + rng.random(n) / 50),
        crs=4326,
    )


def _stored(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(
            f"SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM {STYLES_TABLE}"
        ).fetchall()


def test_geopackage_stores_its_style(tmp_path: Path) -> None:
    path = write_vector(_points(), tmp_path / "next.gpkg")
    [(layer, geom, default, text)] = _stored(path)
    assert (layer, geom, default) == ("next", "geom", 1)
    root = ET.fromstring(text)
    rend = root.find("renderer-v2")
    assert rend.get("type") == "graduatedSymbol" and rend.get("attr") == "rank"
    assert [r.get("label") for r in rend.iter("range")] == [f"rank {i}" for i in range(1, 7)]
    with sqlite3.connect(path) as db:
        kind = db.execute(
            "SELECT data_type FROM gpkg_contents WHERE table_name = ?", (STYLES_TABLE,)
        ).fetchone()
    assert kind == ("attributes",)
    # readers skip the style table
    assert data_layer(path) == "next"
    assert len(read_area(path)) == 12
    # no style on request; none in GeoParquet
    write_vector(_points(), tmp_path / "plain.gpkg", style=None)
    with sqlite3.connect(tmp_path / "plain.gpkg") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert STYLES_TABLE not in tables
    write_vector(_points(), tmp_path / "next.parquet")
    assert gpd.read_parquet(tmp_path / "next.parquet")["rank"].max() == 6
    with pytest.raises(ValueError, match="style must be"):
        write_vector(_points(), tmp_path / "x.gpkg", style="rank")


def test_vector_styles_by_content() -> None:
    hexes = shapely.buffer(shapely.points([0, 1, 2], [0, 0, 0]), 0.4)
    cells = gpd.GeoDataFrame({"label": ["culture", "green space", "culture"]}, geometry=hexes)
    cells.attrs["category_names"] = tuple(NAMES)
    rend = ET.fromstring(vector_qml(cells)).find("renderer-v2")
    assert rend.get("type") == "categorizedSymbol" and rend.get("attr") == "label"
    assert [c.get("value") for c in rend.iter("category")] == NAMES  # all names, in order
    scores = gpd.GeoDataFrame({"A place of cafe": [0.1, 0.5, 0.9]}, geometry=hexes)
    rend = ET.fromstring(vector_qml(scores)).find("renderer-v2")
    assert rend.get("type") == "graduatedSymbol" and rend.get("attr") == "A place of cafe"
    ranges = list(rend.iter("range"))
    assert float(ranges[0].get("lower")) == 0.1 and float(ranges[-1].get("upper")) == 0.9
    emb = gpd.GeoDataFrame(
        {"calliper_0": [0.1, 0.2, 0.3], "calliper_1": [1, 2, 3.0]}, geometry=hexes
    )
    root = ET.fromstring(vector_qml(emb))
    assert root.find("renderer-v2").get("attr") == "calliper_0"
    assert "2 columns" in root.findtext("./resourceMetadata/abstract")
    pois = gpd.GeoDataFrame({"calliper_0": [0.1]}, geometry=[shapely.Point(0, 0)])
    assert ET.fromstring(vector_qml(pois)).find("renderer-v2").get("type") == "singleSymbol"
