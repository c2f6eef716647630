"""H3 cells: covering, hexagon geometry, centre/mean embeddings, CRS, files, limits."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiPolygon, Point

import geocalliper.accessor  # noqa: F401  (registers gdf.calliper)
from geocalliper._constants import embedding_columns
from geocalliper.exceptions import EmptyDataError, InvalidGeometryError, MissingCRSError
from geocalliper.spatial.h3cells import (
    embed_h3,
    estimate_cell_count,
    h3_cells,
    h3_centers,
    h3_polygons,
)

h3 = pytest.importorskip("h3")

ATOL = 1e-5


@pytest.fixture(scope="module")
def area_3067() -> gpd.GeoSeries:
    """A 1.5 km disc around Helsinki's Senate Square, built in EPSG:3067 (metres)."""
    centre = gpd.GeoSeries([Point(24.952, 60.169)], crs=4326).to_crs(3067)
    return centre.buffer(1500.0)


@pytest.fixture(scope="module")
def cells_3067(fitted, area_3067) -> gpd.GeoDataFrame:
    return embed_h3(fitted, area_3067, 9)


def _emb(frame: pd.DataFrame) -> np.ndarray:
    return frame.filter(like="calliper_").to_numpy()


def test_frame_layout(fitted, cells_3067):
    cells = cells_3067
    assert isinstance(cells, gpd.GeoDataFrame)
    assert cells.crs.to_epsg() == 4326
    assert (
        cells.index.name == "h3" and cells.index.is_unique and cells.index.is_monotonic_increasing
    )
    assert all(isinstance(c, str) and h3.is_valid_cell(c) for c in cells.index)
    assert {h3.get_resolution(c) for c in cells.index} == {9}
    assert list(cells.columns) == [*embedding_columns(fitted.embedding_dim), "geometry"]
    assert (cells.drop(columns="geometry").dtypes == np.float32).all()
    assert np.isfinite(_emb(cells)).all()


def test_hexagons_are_lng_lat_and_contain_their_centre(cells_3067):
    cells = cells_3067
    assert set(cells.geom_type) == {"Polygon"}
    assert cells.geometry.is_valid.all()
    assert (shapely.get_num_coordinates(cells.geometry.values) == 7).all()  # 6 + closing
    centres = h3_centers(cells.index)
    assert 24.8 < centres[:, 0].min() and centres[:, 1].max() < 60.3  # x = lng, y = lat
    assert shapely.contains_xy(cells.geometry.values, centres[:, 0], centres[:, 1]).all()
    back = [h3.latlng_to_cell(lat, lng, 9) for lng, lat in centres]
    assert back == list(cells.index)
    area_m2 = cells.to_crs(3067).area
    expected = [h3.cell_area(c, "m^2") for c in cells.index]
    np.testing.assert_allclose(area_m2, expected, rtol=0.01)


def test_cells_cover_the_area(area_3067, cells_3067):
    hexes = cells_3067.geometry.union_all()
    area = area_3067.to_crs(4326).iloc[0]
    assert area.difference(hexes).area / area.area < 1e-9
    centre_cells = h3_cells(area_3067, 9, contain="center")
    assert set(centre_cells) < set(cells_3067.index)
    centres = h3_centers(centre_cells)
    assert shapely.contains_xy(area, centres[:, 0], centres[:, 1]).all()
    full = h3_cells(area_3067, 9, contain="full")
    assert h3_polygons(full).within(area).all()


def test_center_embeds_the_cell_centre(fitted, cells_3067):
    centres = h3_centers(cells_3067.index)
    points = gpd.GeoSeries(gpd.points_from_xy(centres[:, 0], centres[:, 1]), crs=4326)
    np.testing.assert_allclose(_emb(cells_3067), fitted.embed(points).to_numpy(), atol=ATOL)


def test_same_cells_and_values_from_any_crs(fitted, area_3067, cells_3067):
    for how in ("center", "mean"):
        a = embed_h3(fitted, area_3067, 9, how=how, n_samples=4)
        b = embed_h3(fitted, area_3067.to_crs(4326), 9, how=how, n_samples=4)
        assert a.index.equals(b.index)
        np.testing.assert_allclose(_emb(a), _emb(b), atol=ATOL)
        assert a.geom_equals_exact(b, tolerance=1e-12).all()
    assert a.index.equals(cells_3067.index)


def test_mean_is_seeded_per_cell(fitted, area_3067, cells_3067):
    mean = embed_h3(fitted, area_3067, 9, how="mean", n_samples=8, seed=1)
    assert mean.index.equals(cells_3067.index)
    assert not np.allclose(_emb(mean), _emb(cells_3067))
    # a cell embeds the same in another, overlapping area (seeded by the cell id)
    shifted = area_3067.translate(700.0, 0.0)
    other = embed_h3(fitted, shifted, 9, how="mean", n_samples=8, seed=1)
    shared = mean.index.intersection(other.index)
    assert 10 < len(shared) < len(mean)
    np.testing.assert_allclose(_emb(mean.loc[shared]), _emb(other.loc[shared]), atol=ATOL)
    reseeded = embed_h3(fitted, area_3067, 9, how="mean", n_samples=8, seed=2)
    assert not np.allclose(_emb(reseeded), _emb(mean))


def test_multipolygons_and_several_geometries(fitted):
    a = Point(24.93, 60.16).buffer(0.01)
    b = Point(25.05, 60.21).buffer(0.01)
    one = h3_cells(MultiPolygon([a, b]), 8, area_crs=4326)
    frame = gpd.GeoDataFrame(geometry=[a, b], crs=4326)
    assert h3_cells(frame, 8) == one
    assert one == sorted(set(h3_cells(a, 8, area_crs=4326)) | set(h3_cells(b, 8, area_crs=4326)))
    cells = frame.calliper.embed_h3(fitted, resolution=8)
    assert list(cells.index) == one


def test_points_give_the_cells_that_contain_them(helsinki_pois):
    pois = helsinki_pois.head(50)
    cells = h3_cells(pois, 10)
    expected = {h3.latlng_to_cell(p.y, p.x, 10) for p in pois.geometry}
    assert cells == sorted(expected)


def test_bounds_and_a_bare_geometry(fitted):
    by_bounds = embed_h3(fitted, (24.93, 60.16, 24.95, 60.17), 9, area_crs="EPSG:4326")
    assert len(by_bounds) > 5
    with pytest.raises(MissingCRSError):
        embed_h3(fitted, (24.93, 60.16, 24.95, 60.17), 9)


@pytest.mark.parametrize("resolution", [-1, 16, 9.5, True, "9"])
def test_resolution_is_validated(fitted, resolution):
    with pytest.raises(ValueError, match="H3 resolution must be an integer from 0"):
        embed_h3(fitted, (24.93, 60.16, 24.95, 60.17), resolution, area_crs=4326)


def test_too_many_cells_are_refused_before_any_work(fitted, area_3067):
    estimate = estimate_cell_count(area_3067, 15)
    assert estimate > 1_000_000
    with pytest.raises(ValueError, match=r"about [\d,]+ H3 cells.*coarser resolution.*max_cells="):
        embed_h3(fitted, area_3067, 15)
    with pytest.raises(ValueError, match="max_cells=100"):
        embed_h3(fitted, area_3067, 9, max_cells=100)
    n = len(h3_cells(area_3067, 9))
    assert 0.8 * n < estimate_cell_count(area_3067, 9) < 1.5 * n


def test_other_errors(fitted, area_3067):
    with pytest.raises(ValueError, match="how must be one of 'center', 'mean'"):
        embed_h3(fitted, area_3067, 9, how="centroid")
    with pytest.raises(ValueError, match="n_samples"):
        embed_h3(fitted, area_3067, 9, how="mean", n_samples=0)
    with pytest.raises(ValueError, match="contain must be one of"):
        embed_h3(fitted, area_3067, 9, contain="inside")
    tiny = Point(24.95, 60.17).buffer(1e-5)
    with pytest.raises(EmptyDataError, match="finer resolution"):
        h3_cells(tiny, 7, area_crs=4326, contain="center")
    assert len(h3_cells(tiny, 7, area_crs=4326)) == 1  # overlap always finds the cell
    line = gpd.GeoSeries([LineString([(24.9, 60.1), (25.0, 60.2)])], crs=4326)
    with pytest.raises(InvalidGeometryError, match=r"[Bb]uffer"):
        embed_h3(fitted, line, 9)
    metres_as_degrees = area_3067.set_crs(4326, allow_override=True)
    with pytest.raises(InvalidGeometryError, match="longitude"):
        embed_h3(fitted, metres_as_degrees, 9)


def test_geopackage_and_geoparquet_round_trip(cells_3067, tmp_path):
    cells = cells_3067
    gpkg = tmp_path / "cells.gpkg"
    cells.to_file(gpkg, layer="h3", index=True)
    back = gpd.read_file(gpkg, layer="h3").set_index("h3")
    assert back.crs.to_epsg() == 4326
    assert list(back.index) == list(cells.index)
    np.testing.assert_array_equal(_emb(back).astype(np.float32), _emb(cells))
    assert back.geom_equals_exact(cells.geometry, tolerance=1e-9).all()

    parquet = tmp_path / "cells.parquet"
    cells.to_parquet(parquet)
    back = gpd.read_parquet(parquet)
    assert back.crs.to_epsg() == 4326
    assert back.index.name == "h3" and list(back.index) == list(cells.index)
    np.testing.assert_array_equal(_emb(back), _emb(cells))
    assert (back.drop(columns="geometry").dtypes == np.float32).all()
    assert back.geom_equals_exact(cells.geometry, tolerance=0).all()
