"""Embed any geometry: points directly, lines and polygons by a documented reduction.

The accessor (``gdf.calliper.embed``), H3 cells and Dask partitions all come here.
Two reductions exist for a line or polygon:

``"centroid"``
    One embedding at a point guaranteed to lie inside the polygon or on the line: the
    centroid of a polygon when it lies inside (else GEOS' representative point, as for a
    crescent), the midpoint by length of a line, the representative point of anything
    else. It is taken in the model's CRS. Unlike the representative point alone, the
    centroid and the midpoint move continuously with the vertices, so the same shape
    given in another CRS (vertices that differ by rounding) embeds the same.
``"mean"``
    The mean embedding of ``n_samples`` random points drawn inside the geometry
    (uniformly by area for polygons, by length for lines) in the model's CRS.

Sample points are seeded per row from ``(seed, key)``, where the key is a stable hash
of the row's index label (or the H3 cell id): a row embeds the same whatever else is in
the frame, however it is ordered or partitioned, and whatever CRS it comes in.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from .._constants import embedding_columns
from .area import sample_in_geometry
from .coords import as_geoseries, check_geographic_range, check_projected, geometries_to_xy

if TYPE_CHECKING:
    from ..calliper import CaLLiPer

#: the reductions of :func:`embed_geometries`
REDUCTIONS = ("centroid", "mean")
Reduction = Literal["centroid", "mean"]


def check_reduction(how: str | None, n_samples: int, seed: int, *, allowed=REDUCTIONS) -> str:
    """Validate ``how``, ``n_samples`` and ``seed``; return ``how`` (``None`` -> first allowed).

    Examples
    --------
    >>> check_reduction(None, 16, 0)
    'centroid'
    >>> check_reduction("median", 16, 0)
    Traceback (most recent call last):
    ...
    ValueError: how must be one of 'centroid', 'mean', got 'median'.
    """
    if how is None:
        how = allowed[0]
    if not isinstance(how, str) or how not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"how must be one of {choices}, got {how!r}.")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer) or n_samples < 1:
        raise ValueError(
            f"n_samples must be a positive integer (points sampled per geometry for "
            f"how='mean'), got {n_samples!r}."
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    return how


def index_keys(index: pd.Index) -> np.ndarray:
    """Stable ``uint64`` hash of each index label, the same in every process and run.

    Examples
    --------
    >>> k = index_keys(pd.Index(["a", "b"]))
    >>> k.dtype.name, bool(k[0] != k[1]), bool((k == index_keys(pd.Index(["a", "b"]))).all())
    ('uint64', True, True)
    """
    return pd.util.hash_pandas_object(index, index=False).to_numpy(dtype=np.uint64)


def keyed_sample_xy(
    geoms: gpd.GeoSeries | gpd.GeoDataFrame, keys: np.ndarray, n_samples: int, seed: int = 0
) -> np.ndarray:
    """``n_samples`` points inside each geometry, seeded per geometry by ``(seed, key)``.

    Uses :func:`geocalliper.spatial.area.sample_in_geometry` (uniform by area in
    polygons, by length on lines) with one random generator per geometry, so a
    geometry's points depend only on the geometry, its key and ``seed``. Returns
    ``(len(geoms) * n_samples, 2)`` float64 coordinates in the CRS of ``geoms``, the
    samples of geometry ``i`` at rows ``i * n_samples … (i + 1) * n_samples - 1``.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> g = gpd.GeoSeries([box(0, 0, 1, 1), box(10, 10, 12, 11)])
    >>> xy = keyed_sample_xy(g, np.array([7, 8], dtype=np.uint64), 4)
    >>> xy.shape, bool((xy[4:] >= 10).all())
    ((8, 2), True)
    >>> again = keyed_sample_xy(g.iloc[[1]], np.array([8], dtype=np.uint64), 4)
    >>> bool((again == xy[4:]).all())
    True
    """
    if isinstance(geoms, gpd.GeoDataFrame):
        geoms = geoms.geometry
    out = np.empty((len(geoms), n_samples, 2), dtype=np.float64)
    for i, (geom, key) in enumerate(zip(geoms.values, keys, strict=True)):
        rng = np.random.default_rng([int(seed), int(key)])
        out[i, :, 0], out[i, :, 1] = sample_in_geometry(geom, n_samples, rng)
    return out.reshape(-1, 2)


def _precision_kwargs(precision: str | None) -> dict[str, str]:
    """``{"precision": precision}`` for ``embed_coords``, or nothing when ``None``."""
    return {} if precision is None else {"precision": precision}


def mean_embedding(
    model: CaLLiPer,
    geoms: gpd.GeoSeries,
    keys: np.ndarray,
    *,
    n_samples: int,
    seed: int = 0,
    batch_size: int | None = None,
    name: str = "geometries",
    precision: str | None = None,
) -> np.ndarray:
    """Mean embedding of ``n_samples`` keyed sample points inside each geometry.

    The geometries are reprojected to ``model.crs_`` and sampled there (uniform in
    metres). Returns ``(len(geoms), embedding_dim)`` in the model's dtype. ``precision``
    is passed to ``model.embed_coords`` unless ``None``.
    """
    check_geographic_range(geoms, name)
    local = geoms if CRS(geoms.crs) == model.crs_ else geoms.to_crs(model.crs_)
    xy = keyed_sample_xy(local, keys, n_samples, seed)
    check_projected(xy.reshape(len(geoms), -1), geoms.index, model.crs_, name)
    emb = model.embed_coords(xy, batch_size=batch_size, **_precision_kwargs(precision))
    mean = emb.reshape(len(geoms), n_samples, -1).mean(axis=1, dtype=np.float64)
    return mean.astype(emb.dtype, copy=False)


def embed_geometries(
    model: CaLLiPer,
    data: gpd.GeoDataFrame | gpd.GeoSeries,
    how: Reduction | None = None,
    n_samples: int = 16,
    seed: int = 0,
    *,
    batch_size: int | None = None,
    normalize: bool = False,
    precision: str | None = None,
) -> pd.DataFrame:
    """Embed points, lines and polygons in any CRS; one row per input row.

    Points are embedded directly. Lines and polygons are reduced by ``how``:
    ``"centroid"`` embeds one point guaranteed inside the geometry (see
    :func:`~geocalliper.spatial.coords.inner_points`), ``"mean"`` averages the embeddings of
    ``n_samples`` seeded random points inside each of them. Both work in the model's
    CRS, so the same places give the same vectors whatever CRS they come in.

    Parameters
    ----------
    model
        A fitted :class:`~geocalliper.CaLLiPer`.
    data
        GeoDataFrame or GeoSeries with a CRS and a unique index.
    how
        ``"centroid"``, ``"mean"``, or ``None``: ``"centroid"`` with a ``UserWarning``
        when some geometries are not points (choose ``how`` to silence it).
    n_samples
        Sample points per line or polygon for ``how="mean"``.
    seed
        Seed of the sample points; each row's points are seeded by ``(seed, hash of
        its index label)``, so they do not depend on the other rows.
    batch_size
        Points per forward pass of the encoder; default: 4,096 on a CPU (cache-sized
        batches run fastest there), 65,536 on a GPU.
    normalize
        L2-normalise the final vectors (after averaging).
    precision
        ``"fp32"``, ``"bf16"`` or ``"int8"``: the precision of the encoder's network
        (see :meth:`geocalliper.CaLLiPer.embed_coords`); ``None`` (default): the
        encoder's default, so encoders without the option work too.

    Returns
    -------
    pandas.DataFrame
        Aligned to the input index, columns ``calliper_0 …`` in the model's dtype.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> parks = gpd.GeoDataFrame(
    ...     geometry=[box(24.93, 60.16, 24.95, 60.17), Point(24.94, 60.17)], crs=4326
    ... )
    >>> emb = embed_geometries(model, parks, how="mean", n_samples=32)  # doctest: +SKIP
    >>> emb.shape                                                        # doctest: +SKIP
    (2, 128)
    """
    explicit = how is not None
    how = check_reduction(how, n_samples, seed)
    model._check_fitted()
    geoms = as_geoseries(data, name="geometries")
    types = np.asarray(geoms.geom_type)
    is_point = types == "Point"
    dim = model.embedding_dim
    out = np.empty((len(geoms), dim), dtype=np.dtype(model.dtype))
    if not explicit and not is_point.all():
        counts = pd.Series(types[~is_point]).value_counts()
        kinds = ", ".join(f"{n} {t}" for t, n in counts.items())
        warnings.warn(
            f"{int((~is_point).sum())} of the geometries are not points ({kinds}); each "
            "was embedded at its centroid (or another point inside it). Pass "
            "how='centroid' to keep this without the warning, or how='mean' for the "
            "mean embedding of points sampled inside each geometry.",
            UserWarning,
            stacklevel=3,
        )

    if how == "centroid" or is_point.all():
        xy = geometries_to_xy(geoms, model.crs_, name="geometries", warn=False)
        out[:] = model.embed_coords(xy, batch_size=batch_size, **_precision_kwargs(precision))
    else:
        xy = geometries_to_xy(geoms[is_point], model.crs_, name="points", warn=False)
        out[is_point] = model.embed_coords(
            xy, batch_size=batch_size, **_precision_kwargs(precision)
        )
        other = geoms[~is_point]
        out[~is_point] = mean_embedding(
            model,
            other,
            index_keys(other.index),
            n_samples=n_samples,
            seed=seed,
            batch_size=batch_size,
            precision=precision,
        )
    if normalize:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.where(norms > 0, norms, 1)
    return pd.DataFrame(out, index=geoms.index, columns=embedding_columns(dim))


def check_no_clash(columns: pd.Index, new: list[str]) -> None:
    """Refuse to append columns ``new`` when some already exist in ``columns``.

    Examples
    --------
    >>> check_no_clash(pd.Index(["calliper_0", "name"]), ["calliper_0"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: The frame already has the embedding columns ['calliper_0']. Drop them first...
    """
    clash = [c for c in new if c in columns]
    if clash:
        shown = clash if len(clash) <= 5 else [*clash[:5], f"… {len(clash) - 5} more"]
        raise ValueError(
            f"The frame already has the embedding columns {shown}. Drop them first, e.g. "
            "gdf.drop(columns=[c for c in gdf.columns if str(c).startswith('calliper_')]), "
            "or use append=False."
        )


def join_embedding(
    frame: gpd.GeoDataFrame | pd.DataFrame, emb: pd.DataFrame
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Join embedding columns onto ``frame`` (a new frame); refuse existing columns."""
    check_no_clash(frame.columns, list(emb.columns))
    return frame.join(emb)
