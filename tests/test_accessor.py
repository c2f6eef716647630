"""The ``gdf.calliper`` accessor: points, lines/polygons by reduction, CRS, append, errors."""

from __future__ import annotations

import importlib.util
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point

import geocalliper.accessor  # noqa: F401  (registers the accessor)
from geocalliper._constants import embedding_columns
from geocalliper.spatial.h3cells import embed_h3
from geocalliper.spatial.reduce import embed_geometries, index_keys, keyed_sample_xy

ATOL = 1e-5


@pytest.fixture(scope="module")
def places(helsinki_pois: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """150 real POIs with a shuffled string index and one attribute column."""
    sub = helsinki_pois.sample(150, random_state=1)[["name", "geometry"]].copy()
    sub.index = pd.Index([f"poi-{i}" for i in sub.index], name="place")
    return sub


@pytest.fixture(scope="module")
def mixed(places: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Points, polygons (250 m buffers) and lines around real POIs, built in EPSG:3067."""
    metric = places.to_crs(3067)
    geoms = list(metric.geometry.iloc[:10])
    geoms += list(metric.geometry.iloc[10:20].buffer(250.0))
    geoms += [
        LineString([(p.x - 300, p.y), (p.x + 300, p.y + 150)]) for p in metric.geometry.iloc[20:30]
    ]
    return gpd.GeoDataFrame(
        {"kind": ["point"] * 10 + ["polygon"] * 10 + ["line"] * 10},
        geometry=geoms,
        index=pd.Index(np.arange(100, 130), name="fid"),
        crs=3067,
    )


def _close(actual, desired) -> None:
    """Equal up to float32 rounding (BLAS blocks differ with the batch's composition)."""
    np.testing.assert_allclose(np.asarray(actual), np.asarray(desired), rtol=0, atol=ATOL)


def _emb(frame: pd.DataFrame) -> np.ndarray:
    return frame.filter(like="calliper_").to_numpy()


def test_points_equal_model_embed(fitted, places):
    emb = places.calliper.embed(fitted)
    ref = fitted.embed(places)
    assert emb.index.equals(places.index)
    assert list(emb.columns) == embedding_columns(fitted.embedding_dim)
    assert (emb.dtypes == np.float32).all()
    _close(emb.to_numpy(), ref.to_numpy())


@pytest.mark.parametrize("crs", ["utm", 32634, 3067])
def test_same_places_in_any_crs_embed_the_same(fitted, places, mixed, crs):
    if crs == "utm":
        crs = places.estimate_utm_crs()
    base = places.calliper.embed(fitted)
    moved = places.to_crs(crs).calliper.embed(fitted)
    np.testing.assert_allclose(moved.to_numpy(), base.to_numpy(), atol=ATOL)
    for how in ("centroid", "mean"):
        base = mixed.to_crs(4326).calliper.embed(fitted, how=how, n_samples=8)
        moved = mixed.to_crs(crs).calliper.embed(fitted, how=how, n_samples=8)
        np.testing.assert_allclose(moved.to_numpy(), base.to_numpy(), atol=ATOL)


def test_index_and_order_preserved(fitted, mixed):
    emb = mixed.calliper.embed(fitted, how="mean", n_samples=8)
    assert emb.index.equals(mixed.index) and emb.index.name == "fid"
    shuffled = mixed.sample(frac=1.0, random_state=3)
    again = shuffled.calliper.embed(fitted, how="mean", n_samples=8)
    assert again.index.equals(shuffled.index)
    # a row's value depends on its own geometry, label and seed, not on the other rows
    _close(again.loc[mixed.index].to_numpy(), emb.to_numpy())
    part = mixed.iloc[12:25].calliper.embed(fitted, how="mean", n_samples=8)
    _close(part.to_numpy(), emb.iloc[12:25].to_numpy())


def test_points_are_embedded_directly_even_with_mean(fitted, mixed):
    emb = mixed.calliper.embed(fitted, how="mean", n_samples=4)
    pts = mixed[mixed["kind"] == "point"]
    _close(emb.loc[pts.index].to_numpy(), fitted.embed(pts).to_numpy())


def test_centroid_is_a_point_inside_in_the_model_crs(fitted, mixed):
    polys = mixed[mixed["kind"] == "polygon"]
    lines = mixed[mixed["kind"] == "line"]
    emb = mixed.calliper.embed(fitted, how="centroid")
    centroids = polys.to_crs(fitted.crs_).centroid  # inside: the buffers are convex
    _close(emb.loc[polys.index], fitted.embed(centroids).to_numpy())
    local = lines.to_crs(fitted.crs_).geometry
    mids = local.interpolate(0.5, normalized=True)
    _close(emb.loc[lines.index], fitted.embed(mids).to_numpy())
    # a shape whose centroid falls outside is embedded at its representative point
    crescent = polys.iloc[[0]].to_crs(fitted.crs_)
    centre = crescent.centroid.iloc[0]
    crescent = crescent.difference(centre.buffer(150.0)).to_frame("geometry")
    rep = crescent.representative_point()
    assert crescent.contains(rep).all() and not crescent.contains(centre).any()
    _close(crescent.calliper.embed(fitted, how="centroid").to_numpy(), fitted.embed(rep).to_numpy())


def test_mean_averages_seeded_samples_inside_each_geometry(fitted, mixed):
    polys = mixed[mixed["kind"] == "polygon"]
    emb = polys.calliper.embed(fitted, how="mean", n_samples=16, seed=5)
    local = polys.to_crs(fitted.crs_)
    xy = keyed_sample_xy(local, index_keys(polys.index), 16, seed=5)
    owner = np.repeat(np.arange(len(polys)), 16)
    assert shapely.contains_xy(local.geometry.values[owner], xy[:, 0], xy[:, 1]).all()
    manual = fitted.embed_coords(xy).reshape(len(polys), 16, -1).mean(axis=1)
    np.testing.assert_allclose(emb.to_numpy(), manual, atol=ATOL)
    other_seed = polys.calliper.embed(fitted, how="mean", n_samples=16, seed=6)
    assert not np.allclose(other_seed.to_numpy(), emb.to_numpy())
    assert polys.calliper.embed(fitted, how="mean", n_samples=16, seed=5).equals(emb)


def test_warns_only_when_how_is_left_to_default(fitted, mixed):
    with pytest.warns(UserWarning, match="10 Polygon.*how="):
        mixed.calliper.embed(fitted)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mixed.calliper.embed(fitted, how="centroid")
        mixed.calliper.embed(fitted, how="mean", n_samples=2)
        mixed[mixed["kind"] == "point"].calliper.embed(fitted)


def test_append_joins_columns_and_refuses_existing_ones(fitted, places):
    out = places.calliper.embed(fitted, append=True)
    assert isinstance(out, gpd.GeoDataFrame)
    assert out.crs == places.crs and out.geometry.name == places.geometry.name
    assert list(out.columns[:2]) == ["name", "geometry"]
    assert out.index.equals(places.index)
    _close(_emb(out), fitted.embed(places).to_numpy())
    assert "calliper_0" not in places.columns  # a new frame, the input is untouched
    with pytest.raises(ValueError, match=r"already has the embedding columns.*calliper_0.*[Dd]rop"):
        out.calliper.embed(fitted, append=True)
    assert out.calliper.embed(fitted).shape == (len(places), fitted.embedding_dim)


def test_plain_dataframe_has_no_accessor():
    df = pd.DataFrame({"lon": [24.9], "lat": [60.2]})
    with pytest.raises(AttributeError, match=r"GeoDataFrames only.*points_from_xy"):
        df.calliper  # noqa: B018
    assert not hasattr(df, "calliper")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"how": "median"}, "how must be one of 'centroid', 'mean'"),
        ({"how": "mean", "n_samples": 0}, "n_samples must be a positive integer"),
        ({"n_samples": 2.5}, "n_samples must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_bad_arguments(fitted, mixed, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mixed.calliper.embed(fitted, **kwargs)


def test_missing_crs_and_out_of_range_geometries(fitted, mixed):
    from geocalliper.exceptions import InvalidGeometryError, MissingCRSError

    with pytest.raises(MissingCRSError):
        mixed.set_crs(None, allow_override=True).calliper.embed(fitted, how="centroid")
    metres_as_degrees = mixed[mixed["kind"] == "polygon"].set_crs(4326, allow_override=True)
    with pytest.raises(InvalidGeometryError, match="longitude"):
        metres_as_degrees.calliper.embed(fitted, how="mean")


def test_embed_geometries_on_a_geoseries(fitted, mixed):
    emb = embed_geometries(fitted, mixed.geometry, "centroid")
    _close(emb.to_numpy(), mixed.calliper.embed(fitted, how="centroid"))
    normed = embed_geometries(fitted, mixed.geometry, "centroid", normalize=True)
    np.testing.assert_allclose(np.linalg.norm(normed.to_numpy(), axis=1), 1.0, rtol=1e-5)


def test_embed_h3_shortcut(fitted, places):
    area = gpd.GeoDataFrame(geometry=[Point(24.94, 60.17).buffer(0.01)], crs=4326)
    via_accessor = area.calliper.embed_h3(fitted, resolution=8, how="mean", n_samples=4)
    direct = embed_h3(fitted, area, 8, how="mean", n_samples=4)
    pd.testing.assert_frame_equal(via_accessor, direct)


@pytest.mark.skipif(
    importlib.util.find_spec("geocalliper.spatial.raster") is None,
    reason="geocalliper.spatial.raster not there",
)
def test_embed_grid_shortcut(fitted):
    from geocalliper.spatial.raster import embed_grid

    area = gpd.GeoDataFrame(geometry=[Point(24.94, 60.17).buffer(0.005)], crs=4326)
    via_accessor = area.calliper.embed_grid(fitted, resolution=200.0)
    direct = embed_grid(fitted, area, 200.0)
    _close(np.asarray(via_accessor), np.asarray(direct))
