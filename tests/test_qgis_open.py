"""The files geocalliper writes, opened in real QGIS (headless PyQGIS in a subprocess).

Built from the real Helsinki POIs and a model trained on them (the ``fitted`` fixture),
like the demo's outputs: the label map of the demo's four labels, a query map, the
embedding and its RGB preview, georeferenced PNGs, and the vector outputs as styled
GeoPackages. Every layer is opened the way QGIS opens a dropped file (default style
loaded) and drawn once; the tests then check what QGIS made of it. Skipped, with the
reason, where PyQGIS is absent (``apt-get install qgis python3-qgis``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from qgis_helpers import require_qgis, run_pyqgis

import geocalliper as gc
from geocalliper.demo import DEMO_LABELS, DEMO_QUERY
from geocalliper.io.geotiff import write_png
from geocalliper.io.style import category_colors, preview_rgb
from geocalliper.io.vector import write_vector

RES = 200.0

#: opens each raster and vector given as ARGS (kind:path[:layer]), draws it, reports
INSPECT = """
import os
from qgis.PyQt.QtCore import QSize

def draw(layer):
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent())
    settings.setOutputSize(QSize(120, 120))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    return sum(
        1 for y in range(0, 120, 4) for x in range(0, 120, 4) if image.pixelColor(x, y).alpha()
    )

out = {}
for arg in ARGS:
    kind, path, *rest = arg.split("|")
    if kind == "raster":
        layer = QgsRasterLayer(path, os.path.basename(path), "gdal")
    else:
        layer = QgsVectorLayer(f"{path}|layername={rest[0]}", rest[0], "ogr")
    info = {"valid": layer.isValid(), "crs": layer.crs().authid()}
    e = layer.extent()
    info["extent"] = [e.xMinimum(), e.yMinimum(), e.xMaximum(), e.yMaximum()]
    info["abstract"] = layer.htmlMetadata()  # what Properties > Information shows
    r = layer.renderer()
    info["renderer"] = r.type() if r else None
    if kind == "raster":
        info["legend"] = [[label, color.name()] for label, color in layer.legendSymbologyItems()]
        if r.type() == "paletted":
            info["classes"] = [[c.value, c.label, c.color.name()] for c in r.classes()]
        if r.type() == "singlebandpseudocolor":
            fn = r.shader().rasterShaderFunction()
            info["range"] = [fn.minimumValue(), fn.maximumValue()]
    else:
        info["features"] = layer.featureCount()
        info["legend"] = [item.label() for item in r.legendSymbolItems()]
        info["attr"] = r.classAttribute() if hasattr(r, "classAttribute") else None
    info["drawn"] = draw(layer)
    out[arg] = info
emit(out)
"""


@pytest.fixture(scope="module")
def outputs(fitted, helsinki_pois, tmp_path_factory) -> dict[str, Path]:
    """Demo-like outputs of the real Helsinki data, in one folder."""
    require_qgis()
    folder = tmp_path_factory.mktemp("qgis")
    hull = helsinki_pois.to_crs(fitted.crs_).geometry.union_all().convex_hull
    area = gpd.GeoSeries([hull.buffer(100)], crs=fitted.crs_)
    files: dict[str, Path] = {}
    labels = gc.label_grid(fitted, area, DEMO_LABELS, RES)
    files["labels"] = gc.to_geotiff(labels, folder / "labels.tif", progress=False)
    query = gc.query_grid(fitted, area, DEMO_QUERY, RES)
    files["query"] = gc.to_geotiff(query, folder / "query_cafe.tif", progress=False)
    grid = gc.embed_grid(fitted, area, RES)
    files["grid"] = gc.to_geotiff(grid, folder / "embedding.tif", progress=False)
    rgb = gc.to_rgb(grid)
    files["rgb"] = gc.to_geotiff(rgb, folder / "rgb.tif", progress=False)
    files["rgb_png"] = write_png(rgb, folder / "rgb_preview.png", min_size=300)
    files["query_png"] = write_png(preview_rgb(query), folder / "query_cafe_preview.png")
    files["h3"] = write_vector(gc.embed_h3(fitted, area, 8), folder / "h3.gpkg")
    files["label_h3"] = write_vector(
        gc.label_h3(fitted, area, DEMO_LABELS, 8, probabilities=True), folder / "label_h3.gpkg"
    )
    files["query_h3"] = write_vector(gc.query_h3(fitted, area, DEMO_QUERY, 8), folder / "q_h3.gpkg")
    pois = helsinki_pois.head(200)
    files["pois"] = write_vector(pois.join(fitted.embed(pois)), folder / "pois.gpkg")
    # next places: the shape predict() writes (user, rank, place, score), at real POIs
    top = pois.head(30)[["geometry"]].assign(
        user_id=np.repeat([0, 1, 2], 10),
        rank=np.tile(np.arange(1, 11), 3),
        location_id=np.arange(30),
        score=np.linspace(1, 0, 30),
    )
    files["next"] = write_vector(top, folder / "next_places.gpkg")
    return files


@pytest.fixture(scope="module")
def opened(outputs) -> dict[str, dict]:
    """What QGIS made of every output (one QGIS run); the label pair is opened from a
    folder of its own, without ``labels.tif.aux.xml``."""
    alone = outputs["labels"].parent / "alone"
    alone.mkdir()
    shutil.copy(outputs["labels"], alone / "labels.tif")
    shutil.copy(outputs["labels"].with_suffix(".qml"), alone / "labels.qml")
    rasters = {k: outputs[k] for k in ("query", "grid", "rgb", "rgb_png", "query_png")}
    rasters["labels_alone"] = alone / "labels.tif"
    vectors = {k: outputs[k] for k in ("h3", "label_h3", "query_h3", "pois", "next")}
    args = {k: f"raster|{p}" for k, p in rasters.items()}
    args |= {k: f"vector|{p}|{p.stem}" for k, p in vectors.items()}
    result = run_pyqgis(INSPECT, *args.values())
    return {k: result[a] for k, a in args.items()}


def test_label_map_shows_exactly_its_named_classes_from_tif_and_qml(opened, outputs) -> None:
    info = opened["labels_alone"]
    assert info["valid"] and info["renderer"] == "paletted"
    names = list(DEMO_LABELS)
    colours = category_colors(names)
    assert info["classes"] == [
        [i, n, c] for i, (n, c) in enumerate(zip(names, colours, strict=True))
    ]
    assert info["legend"] == [
        [n, c] for n, c in zip(names, colours, strict=True)
    ]  # 4 entries, not 256
    assert colours[names.index("green space")] == "#33a02c"  # green space is green
    assert info["drawn"] > 0
    alone = outputs["labels"].parent / "alone"  # QGIS wrote nothing beside the pair
    assert sorted(p.name for p in alone.iterdir()) == ["labels.qml", "labels.tif"]


def test_query_map_opens_with_its_ramp(opened, outputs) -> None:
    info = opened["query"]
    assert info["valid"] and info["renderer"] == "singlebandpseudocolor"
    assert len(info["legend"]) == 5 and info["legend"][0][1] == "#440154"  # viridis
    with rasterio.open(outputs["query"]) as src:
        values = src.read(1)
    assert info["range"] == pytest.approx([np.nanmin(values), np.nanmax(values)], rel=1e-6)
    assert info["drawn"] > 0


def test_embedding_and_rgb_open_styled(opened) -> None:
    grid, rgb = opened["grid"], opened["rgb"]
    assert grid["valid"] and grid["renderer"] == "singlebandgray"
    # the note on the bands, from the GeoTIFF's description, in Properties > Information
    assert "CaLLiPer location embedding" in grid["abstract"] and "RGB preview" in grid["abstract"]
    assert rgb["valid"] and rgb["renderer"] == "multibandcolor" and rgb["drawn"] > 0


def test_pngs_are_placed_where_their_geotiffs_are(opened, outputs) -> None:
    for png, tif in (("rgb_png", "rgb"), ("query_png", "query")):
        info = opened[png]
        assert info["valid"] and info["crs"] == opened[tif]["crs"] != ""
        assert info["extent"] == pytest.approx(opened[tif]["extent"], abs=1e-6)
        assert info["drawn"] > 0


@pytest.mark.parametrize(
    ("key", "renderer", "attr"),
    [
        ("next", "graduatedSymbol", "rank"),
        ("label_h3", "categorizedSymbol", "label"),
        ("query_h3", "graduatedSymbol", DEMO_QUERY),
        ("h3", "graduatedSymbol", "calliper_0"),
        ("pois", "singleSymbol", None),
    ],
)
def test_vector_outputs_open_with_their_stored_style(opened, outputs, key, renderer, attr) -> None:
    info = opened[key]
    frame = gpd.read_file(outputs[key], layer=outputs[key].stem)
    assert info["valid"] and info["features"] == len(frame) > 0
    assert info["renderer"] == renderer and info["attr"] == attr
    assert info["drawn"] > 0
    if key == "next":
        assert info["legend"] == [f"rank {i}" for i in range(1, 11)]
    if key == "label_h3":
        assert info["legend"] == list(DEMO_LABELS)


def test_what_qgis_writes_beside_the_files(opened, outputs) -> None:
    """Opening and drawing every layer wrote no statistics side file (the GeoTIFFs carry
    their statistics; the label map's category side file is ours)."""
    folder = outputs["labels"].parent
    aux = sorted(p.name for p in folder.glob("*.aux.xml"))
    for png in folder.glob("*.png.aux.xml"):  # ours, as written: CRS and statistics
        text = png.read_text()
        assert "Histogram" not in text and text.count("STATISTICS_MEAN") == 4
    assert aux == [
        "labels.tif.aux.xml",
        "query_cafe_preview.png.aux.xml",
        "rgb_preview.png.aux.xml",
    ]
