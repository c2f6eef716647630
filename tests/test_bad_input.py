"""Bad input gets a clear error (or a documented warning) that says how to fix it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon

import geocalliper as gc
from geocalliper.exceptions import (
    CRSError,
    DuplicateIndexError,
    EmptyDataError,
    InvalidGeometryError,
    MissingColumnError,
    MissingCRSError,
)
from geocalliper.spatial.coords import inner_points


def test_nan_and_inf_coordinates(fitted: gc.CaLLiPer) -> None:
    pts = gpd.GeoSeries([Point(24.9, 60.2), Point(np.nan, 60.2)], crs=4326)
    with pytest.raises(InvalidGeometryError, match=r"NaN or infinite.*index 1"):
        fitted.embed(pts)
    pts = gpd.GeoSeries([Point(np.inf, 60.2)], crs=4326)
    with pytest.raises(InvalidGeometryError, match="NaN or infinite"):
        fitted.embed(pts)


def test_missing_and_empty_geometries(fitted: gc.CaLLiPer) -> None:
    pts = gpd.GeoSeries([Point(24.9, 60.2), None, Point()], index=["a", "b", "c"], crs=4326)
    with pytest.raises(
        InvalidGeometryError, match=r"2 of the geometries have a missing or empty.*'b', 'c'"
    ):
        fitted.embed(pts)


def test_empty_frame(fitted: gc.CaLLiPer) -> None:
    with pytest.raises(EmptyDataError, match="empty"):
        fitted.embed(gpd.GeoDataFrame(geometry=[], crs=4326))
    with pytest.raises(EmptyDataError):
        gc.CaLLiPer().fit(gpd.GeoDataFrame({"text": []}, geometry=[], crs=4326))


def test_missing_crs(fitted: gc.CaLLiPer, helsinki_pois: gpd.GeoDataFrame) -> None:
    with pytest.raises(MissingCRSError, match="set_crs"):
        fitted.embed(gpd.GeoSeries([Point(24.9, 60.2)]))
    with pytest.raises(MissingCRSError):
        gc.CaLLiPer().fit(helsinki_pois.set_crs(None, allow_override=True))


def test_out_of_range_longitude_latitude(fitted: gc.CaLLiPer) -> None:
    # metres mislabelled as degrees
    pts = gpd.GeoSeries([Point(385_000.0, 6_672_000.0)], crs=4326)
    with pytest.raises(InvalidGeometryError, match="allow_override"):
        fitted.embed(pts)


def test_geographic_crs_where_metres_are_needed(helsinki_pois: gpd.GeoDataFrame) -> None:
    with pytest.raises(CRSError, match="not projected"):
        gc.CaLLiPer(crs="EPSG:4326").fit(helsinki_pois)
    with pytest.raises(CRSError, match="not metres"):
        gc.CaLLiPer(crs="EPSG:2263").fit(helsinki_pois)  # NY state plane, US feet


def test_non_point_geometries_warn_and_say_what_was_done(fitted: gc.CaLLiPer) -> None:
    shapes = gpd.GeoSeries(
        [
            Point(24.94, 60.17),
            LineString([(24.93, 60.16), (24.95, 60.18)]),
            Polygon([(24.93, 60.16), (24.95, 60.16), (24.95, 60.18)]),
        ],
        crs=4326,
    )
    with pytest.warns(UserWarning, match=r"2 of the geometries are not points.*how='mean'"):
        emb = fitted.embed(shapes)
    local = shapes.to_crs(fitted.crs_)  # the point is chosen in the model's CRS
    inside = gpd.GeoSeries(gpd.points_from_xy(*inner_points(local.values).T), crs=fitted.crs_)
    assert inside.iloc[1:].within(local.iloc[1:].buffer(1e-6)).all()
    np.testing.assert_allclose(emb.to_numpy(), fitted.embed(inside).to_numpy(), atol=1e-4)


def test_wrong_type(fitted: gc.CaLLiPer) -> None:
    with pytest.raises(TypeError, match="points_from_xy"):
        fitted.embed(pd.DataFrame({"lon": [24.9], "lat": [60.2]}))


def test_missing_text_column(helsinki_pois: gpd.GeoDataFrame) -> None:
    with pytest.raises(MissingColumnError, match=r"no text column 'label'.*osm_text"):
        gc.CaLLiPer().fit(helsinki_pois, text="label")


def test_missing_texts(helsinki_pois: gpd.GeoDataFrame) -> None:
    pois = helsinki_pois.copy()
    pois.loc[pois.index[:3], "text"] = None
    with pytest.raises(ValueError, match=r"3 of .* POIs have no text"):
        gc.CaLLiPer(progress=False).fit(pois)


def test_duplicate_index(fitted: gc.CaLLiPer, helsinki_pois: gpd.GeoDataFrame) -> None:
    dup = helsinki_pois.head(4).set_index(pd.Index([0, 1, 1, 2]))
    with pytest.raises(DuplicateIndexError, match="reset_index"):
        fitted.embed(dup)
    with pytest.raises(DuplicateIndexError):
        gc.CaLLiPer().fit(pd.concat([helsinki_pois, helsinki_pois]))


def test_bad_parameters(helsinki_pois: gpd.GeoDataFrame) -> None:
    with pytest.raises(ValueError, match="dtype"):
        gc.CaLLiPer(dtype="float16").fit(helsinki_pois)
    with pytest.raises(ValueError, match="Unknown parameter"):
        gc.CaLLiPer().set_params(learning_rat=1.0)
    with pytest.raises(EmptyDataError, match="at least 10"):
        gc.CaLLiPer().fit(helsinki_pois.head(5))
