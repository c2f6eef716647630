"""dask-geopandas frames embedded partition by partition, locally and on a distributed Client."""

from __future__ import annotations

import pickle

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import geocalliper.accessor  # noqa: F401  (registers gdf.calliper)
from geocalliper._constants import embedding_columns
from geocalliper.exceptions import MissingCRSError
from geocalliper.spatial.dask import embed_dask

dask = pytest.importorskip("dask")
dask_geopandas = pytest.importorskip("dask_geopandas")

ATOL = 1e-5


@pytest.fixture(scope="module")
def ddf(helsinki_pois: gpd.GeoDataFrame):
    return dask_geopandas.from_geopandas(helsinki_pois, npartitions=3)


@pytest.fixture(scope="module")
def shapes(helsinki_pois: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Points and 100 m buffers of real POIs, mixed, in EPSG:3067, with a string index."""
    sub = helsinki_pois.iloc[:200].to_crs(3067)
    geoms = sub.geometry.copy()
    geoms.iloc[::2] = sub.geometry.iloc[::2].buffer(100.0)
    out = gpd.GeoDataFrame({"name": sub["name"]}, geometry=geoms, crs=3067)
    out.index = pd.Index([f"p{i}" for i in sub.index], name="pid")
    return out


def test_lazy_aligned_and_equal_to_in_memory(fitted, helsinki_pois, ddf):
    lazy = embed_dask(fitted, ddf)
    assert dask.is_dask_collection(lazy)
    assert lazy.npartitions == ddf.npartitions
    assert lazy.divisions == ddf.divisions
    assert list(lazy.columns) == embedding_columns(fitted.embedding_dim)
    assert (lazy.dtypes == np.float32).all()
    assert lazy._meta.index.dtype == helsinki_pois.index.dtype
    out = lazy.compute()
    ref = fitted.embed(helsinki_pois)
    assert out.index.equals(ref.index)
    assert (out.dtypes == np.float32).all()
    np.testing.assert_allclose(out.to_numpy(), ref.to_numpy(), atol=ATOL)
    # partition i of the result is the embedding of partition i of the input
    part = lazy.get_partition(1).compute()
    assert part.index.equals(ddf.get_partition(1).compute().index)


def test_append_gives_a_dask_geodataframe(fitted, helsinki_pois, ddf):
    lazy = embed_dask(fitted, ddf, append=True)
    assert isinstance(lazy, dask_geopandas.GeoDataFrame)
    assert list(lazy.columns[: helsinki_pois.shape[1]]) == list(helsinki_pois.columns)
    out = lazy.compute()
    assert isinstance(out, gpd.GeoDataFrame) and out.crs == helsinki_pois.crs
    expected = helsinki_pois.calliper.embed(fitted, append=True)
    assert out.index.equals(expected.index)
    cols = embedding_columns(fitted.embedding_dim)
    np.testing.assert_allclose(out[cols].to_numpy(), expected[cols].to_numpy(), atol=ATOL)
    with pytest.raises(ValueError, match="already has the embedding columns"):
        embed_dask(fitted, lazy, append=True)  # refused eagerly, before any compute


def test_mean_does_not_depend_on_the_partitioning(fitted, shapes):
    expected = shapes.calliper.embed(fitted, how="mean", n_samples=8)
    for n in (1, 4):
        ddf = dask_geopandas.from_geopandas(shapes, npartitions=n)
        out = embed_dask(fitted, ddf, how="mean", n_samples=8).compute()
        assert out.index.name == "pid"
        assert out.index.equals(ddf.index.compute())  # from_geopandas sorts the index
        got = out.loc[expected.index].to_numpy()
        np.testing.assert_allclose(got, expected.to_numpy(), atol=ATOL)


def test_empty_partitions(fitted, shapes):
    ddf = dask_geopandas.from_geopandas(shapes, npartitions=4)
    kept = ddf[ddf.index < ""]  # every partition empty
    out = embed_dask(fitted, kept, how="centroid").compute()
    assert out.shape == (0, fitted.embedding_dim)
    some = ddf[ddf.index < "p150"]
    out = embed_dask(fitted, some, how="centroid", append=True).compute()
    assert len(out) == (shapes.index < "p150").sum()


def test_on_a_distributed_client(fitted, helsinki_pois, ddf):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        out = client.compute(embed_dask(fitted, ddf)).result()
    np.testing.assert_allclose(out.to_numpy(), fitted.embed(helsinki_pois).to_numpy(), atol=ATOL)


def test_a_saved_model_is_loaded_once_per_process(fitted, helsinki_pois, ddf, tmp_path):
    from geocalliper.spatial.dask import _load_cached

    fitted.save(tmp_path / "model")
    lazy = embed_dask(tmp_path / "model", ddf)
    assert (lazy.dtypes == np.float32).all()
    before = _load_cached.cache_info()
    out = lazy.compute(scheduler="threads")
    assert _load_cached.cache_info().currsize >= 1
    assert _load_cached.cache_info().misses == before.misses  # loaded once, at embed_dask
    np.testing.assert_allclose(out.to_numpy(), fitted.embed(helsinki_pois).to_numpy(), atol=ATOL)


def test_model_pickles_for_the_workers(fitted, helsinki_pois):
    clone = pickle.loads(pickle.dumps(fitted))
    pts = helsinki_pois.head(20)
    np.testing.assert_array_equal(clone.embed(pts).to_numpy(), fitted.embed(pts).to_numpy())


def test_errors(fitted, helsinki_pois, ddf):
    with pytest.raises(TypeError, match="dask-geopandas GeoDataFrame"):
        embed_dask(fitted, helsinki_pois)
    with pytest.raises(TypeError, match="dask-geopandas GeoDataFrame"):
        embed_dask(fitted, ddf.map_partitions(pd.DataFrame, meta=pd.DataFrame(ddf._meta)))
    no_crs = dask_geopandas.from_geopandas(
        helsinki_pois.set_crs(None, allow_override=True), npartitions=2
    )
    with pytest.raises(MissingCRSError):
        embed_dask(fitted, no_crs)
    with pytest.raises(ValueError, match="how must be one of"):
        embed_dask(fitted, ddf, how="median")
    with pytest.raises(ValueError, match="n_samples"):
        embed_dask(fitted, ddf, how="mean", n_samples=0)
