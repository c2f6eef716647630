"""Maps: the pictures and legends, the offline folium map (in headless Chromium), the figures."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import xarray as xr
from shapely.geometry import Point

import geocalliper as gc
from geocalliper.maps.layers import RAMP, picture, ramp_colours

folium = pytest.importorskip("folium")

X0, Y0, CELL = 385_000.0, 6_672_000.0, 25.0  # central Helsinki in EPSG:3067


def _raster(values: np.ndarray) -> xr.DataArray:
    import rioxarray  # noqa: F401  (the .rio accessor)

    rows, cols = values.shape[-2:]
    coords = {"y": Y0 - CELL * (np.arange(rows) + 0.5), "x": X0 + CELL * (np.arange(cols) + 0.5)}
    dims = ("y", "x")
    if values.ndim == 3:
        coords["band"] = np.arange(1, values.shape[0] + 1)
        dims = ("band", "y", "x")
    return xr.DataArray(values, dims=dims, coords=coords).rio.write_crs("EPSG:3067")


@pytest.fixture(scope="module")
def query() -> xr.DataArray:
    y, x = np.mgrid[0:60, 0:80]
    values = np.sin(x / 12.0) + np.cos(y / 9.0)
    values[:5, :5] = np.nan  # outside the area
    q = _raster(values)
    q.attrs["long_name"] = ("A place of cafe",)
    return q


@pytest.fixture(scope="module")
def labels() -> xr.DataArray:
    y, x = np.mgrid[0:60, 0:80]
    codes = ((x // 27) + 3 * (y >= 30)).astype("uint8") % 4
    codes[:5, :5] = 255
    lab = _raster(codes).rio.write_nodata(255)
    lab.attrs.update(
        category_names=("eating out", "shopping", "culture", "green space"),
        category_colors=("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"),
    )
    return lab


@pytest.fixture(scope="module")
def pois() -> gpd.GeoDataFrame:
    pts = [Point(X0 + 400, Y0 - 300), Point(X0 + 1200, Y0 - 900), Point(X0 + 1800, Y0 - 1200)]
    return gpd.GeoDataFrame(
        {"name": ["Café Ursula", "Stockmann", None], "value": ["cafe", "department_store", "x"]},
        geometry=pts,
        crs=3067,
    )


# ------------------------------------------------------------------ pictures
def test_a_query_map_is_a_ramp_over_its_percentiles_and_transparent_outside(query) -> None:
    pic = picture(query)
    assert pic.kind == "values" and pic.title == 'similarity to "A place of cafe"'
    finite = query.values[np.isfinite(query.values)]
    np.testing.assert_allclose(pic.value_range, np.percentile(finite, [2, 98]))
    assert pic.rgba.shape == (60, 80, 4)
    assert (pic.rgba[:5, :5, 3] == 0).all() and (pic.rgba[10:, 10:, 3] == 255).all()
    top = np.unravel_index(np.nanargmax(query.values), query.shape)
    assert tuple(pic.rgba[top][:3]) == tuple(ramp_colours(np.array([1.0]))[0])
    assert pic.bounds == (X0, Y0 - 60 * CELL, X0 + 80 * CELL, Y0)


def test_a_label_map_takes_its_own_colours_and_names(labels) -> None:
    pic = picture(labels)
    assert pic.kind == "labels"
    assert [name for name, _ in pic.categories] == list(labels.attrs["category_names"])
    code = int(labels.values[40, 60])
    colour = labels.attrs["category_colors"][code]
    assert "#" + bytes(pic.rgba[40, 60, :3]).hex() == colour
    assert (pic.rgba[:5, :5, 3] == 0).all()  # nodata: no label, transparent


def test_an_embedding_grid_is_drawn_as_its_rgb_preview(query) -> None:
    rng = np.random.default_rng(0)
    emb = _raster(rng.normal(size=(8, 60, 80)).astype("float32"))
    pic = picture(emb)
    assert pic.kind == "embedding" and pic.rgba.dtype == np.uint8
    assert len(np.unique(pic.rgba[..., :3].reshape(-1, 3), axis=0)) > 100
    with pytest.raises(ValueError, match="pick one band"):
        picture(_raster(np.zeros((2, 4, 4))))


# ------------------------------------------------------------------ interactive
def test_the_map_is_self_contained_with_overlay_legend_and_pois(query, pois, tmp_path) -> None:
    m = gc.explore(query, pois, tiles=None)
    path = gc.maps.save_map(m, tmp_path / "map.html")
    page = path.read_text("utf-8")
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", page)  # all inline
    assert "Leaflet 1.9.4" in page and "L.imageOverlay" in page
    assert "data:image/png;base64," in page
    assert "similarity to &quot;A place of cafe&quot;" in page or 'similarity to "A' in page
    assert "linear-gradient(to right, " + ", ".join(RAMP) in page
    assert "Caf\\u00e9 Ursula" in page and "department_store" in page  # POI tooltips (JSON)
    assert not list(tmp_path.glob("*.tmp*"))
    online = gc.explore(query, pois).get_root().render()
    assert "tile.openstreetmap.org" in online  # the basemap, when online


def test_a_label_map_has_a_legend_of_its_labels(labels, pois) -> None:
    page = gc.explore(labels, pois, tiles=None).get_root().render()
    names, colours = labels.attrs["category_names"], labels.attrs["category_colors"]
    for name, colour in zip(names, colours, strict=True):
        assert name in page and f"background:{colour}" in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _screenshot(html: Path, png: Path) -> np.ndarray:
    from PIL import Image

    browser = _chromium()
    if browser is None:
        pytest.skip("headless Chromium not installed (Debian: apt-get install chromium)")
    cmd = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        "--window-size=900,700", "--virtual-time-budget=5000", f"--screenshot={png}",
        html.resolve().as_uri(),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert png.is_file(), proc.stderr[-2000:]
    return np.asarray(Image.open(png).convert("RGB"))


def test_the_saved_map_renders_in_headless_chromium_offline(query, pois, tmp_path) -> None:
    """The page, opened from disk with no network, shows the overlay and its legend."""
    with_overlay = _screenshot(  # opaque, so that the ramp's own colours reach the screen
        gc.maps.save_map(gc.explore(query, pois, tiles=None, opacity=1.0), tmp_path / "q.html"),
        tmp_path / "q.png",
    )
    blank = _screenshot(
        gc.maps.save_map(gc.explore(None, pois, tiles=None), tmp_path / "p.html"),
        tmp_path / "p.png",
    )
    h, w, _ = with_overlay.shape
    centre = with_overlay[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].reshape(-1, 3)
    colours = np.unique(centre, axis=0)
    assert len(colours) > 50, f"only {len(colours)} colours: the overlay did not draw"
    ends = ramp_colours(np.array([0.0, 1.0])).astype(int)
    for end in ends:  # the ramp's dark and bright ends are on screen
        assert (np.abs(centre.astype(int) - end).sum(axis=1) < 40).any()
    blank_centre = blank[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].reshape(-1, 3)
    assert len(np.unique(blank_centre, axis=0)) < len(colours) / 2


# ------------------------------------------------------------------ figures
def test_figures_have_legend_colour_bar_pois_and_scale(query, labels, pois, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from geocalliper.maps.figures import map_figure, nice_length, save_figure

    fig = map_figure(query, pois)
    assert len(fig.axes) == 2  # the map and its colour bar
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["POIs (3)"]
    texts = [c.get_text() for c in ax.findobj(lambda a: hasattr(a, "get_text"))]
    assert (
        f"{nice_length(80 * CELL) / 1000:g} km" in texts or f"{nice_length(80 * CELL):g} m" in texts
    )
    assert "cosine similarity" in fig.axes[1].get_ylabel()
    path = save_figure(fig, tmp_path / "q.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    fig = map_figure(labels, pois)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == [*labels.attrs["category_names"], "POIs (3)"]
    assert len(fig.axes) == 1


def test_the_demo_report_is_html_and_markdown_with_figures_and_maps(
    query, labels, pois, tmp_path
) -> None:
    pytest.importorskip("matplotlib")
    from geocalliper.demo import _write_report

    rgb = _raster(np.random.default_rng(1).integers(1, 255, (3, 60, 80)).astype("uint8"))
    summary = {
        "pois": 3, "distinct_texts": 3, "seconds": 1.0, "crs": "EPSG:3067",
        "grid_shape": [60, 80], "h3_cells": 10, "simulated_visits": 100,
        "simulated_scores": {"acc@1": 0.1, "acc@5": 0.2, "acc@10": 0.3, "mrr": 0.15,
                             "ndcg@10": 0.2, "n": 20},
    }  # fmt: skip
    layers = {"rgb": rgb, "query": query, "labels": labels, "pois": pois}
    written = _write_report(summary, tmp_path / "report.md", layers)
    md = (tmp_path / "report.md").read_text("utf-8")
    page = (tmp_path / "report.html").read_text("utf-8")
    for name in ("figure_embedding.png", "figure_query.png", "figure_labels.png"):
        assert (tmp_path / name).is_file() and name in md and f'src="{name}"' in page
    for name in ("map_embedding.html", "map_query.html", "map_labels.html"):
        assert (tmp_path / name).is_file() and f'href="{name}"' in page
    assert "simulated" in md and "<table>" in page and "<code>labels.tif</code>" in page
    assert written["report_html"] == str(tmp_path / "report.html")
    # without the layers, the report falls back to the plain previews
    _write_report(summary, tmp_path / "plain.md")
    assert "](helsinki_rgb.png)" in (tmp_path / "plain.md").read_text("utf-8")


def test_the_accessor_opens_a_query_map_of_its_points(fitted, helsinki_pois) -> None:
    pois = helsinki_pois.iloc[:300]
    m = pois.calliper.explore(fitted, query="A place of cafe, a type of amenity", resolution=100)
    page = m.get_root().render()
    assert "L.imageOverlay" in page and "similarity to" in page
    m = pois.calliper.explore(fitted, labels={"food": "A place of restaurant"}, tiles=None)
    assert "food" in m.get_root().render()
    with pytest.raises(ValueError, match="not both"):
        pois.calliper.explore(fitted, query="x", labels=["y"])
