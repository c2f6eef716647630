"""Embed dask-geopandas GeoDataFrames partition by partition.

:func:`embed_dask` is lazy: it returns a dask DataFrame with the same partitions
(and divisions) as the input, each partition embedded by
:func:`geocalliper.spatial.reduce.embed_geometries` when it is computed. Memory stays bounded by
the partition size; the same code runs on threads, processes or a multi-machine
``dask.distributed`` cluster (see ``docs/dask.md``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from .._constants import CONFIG_FILE, embedding_columns
from .._optional import import_optional
from ..exceptions import MissingCRSError
from .reduce import check_no_clash, check_reduction, embed_geometries, join_embedding

if TYPE_CHECKING:
    from ..calliper import CaLLiPer


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, stamp: float) -> CaLLiPer:
    from ..calliper import CaLLiPer

    return CaLLiPer.load(path, progress=False)


def load_model(model: CaLLiPer | str | os.PathLike) -> CaLLiPer:
    """``model`` itself, or the model saved in the folder ``model``, loaded once per process.

    Loaded models are cached by path and the modification time of their
    ``config.json``, so each Dask worker process reads a saved model once, and again
    only after it was overwritten.
    """
    if not isinstance(model, str | os.PathLike):
        return model
    path = Path(os.path.abspath(model))
    try:
        stamp = (path / CONFIG_FILE).stat().st_mtime
    except OSError:
        stamp = 0.0  # let CaLLiPer.load raise its ModelFileError
    return _load_cached(str(path), stamp)


def embedding_meta(model: CaLLiPer, index: pd.Index) -> pd.DataFrame:
    """Empty embedding frame: the ``meta`` of :func:`embed_dask` (``append=False``).

    Columns ``calliper_0 …`` in the model's dtype, an empty index of the same dtype
    (and name) as ``index``.

    Examples
    --------
    >>> meta = embedding_meta(model, pd.Index([], dtype="int64"))    # doctest: +SKIP
    >>> meta.dtypes.unique().tolist(), meta.index.dtype              # doctest: +SKIP
    ([dtype('float32')], dtype('int64'))
    """
    dtype = np.dtype(model.dtype)
    cols = embedding_columns(model.embedding_dim)
    return pd.DataFrame(
        {c: np.empty(0, dtype=dtype) for c in cols}, index=index[:0].copy(), columns=cols
    )


def embed_partition(
    part: gpd.GeoDataFrame | gpd.GeoSeries,
    model: CaLLiPer | str | os.PathLike,
    *,
    append: bool = False,
    how: str | None = None,
    n_samples: int = 16,
    seed: int = 0,
    batch_size: int | None = None,
    normalize: bool = False,
) -> pd.DataFrame | gpd.GeoDataFrame:
    """Embed one partition (a GeoDataFrame or GeoSeries); empty partitions give empty frames.

    The function :func:`embed_dask` maps over the partitions. Rows are reduced exactly as
    by :func:`geocalliper.spatial.reduce.embed_geometries`, so the result does not depend on how
    the frame is partitioned. ``model`` may be the folder of a saved model, loaded once
    per process.
    """
    model = load_model(model)
    if len(part) == 0:
        emb = embedding_meta(model, part.index)
    else:
        emb = embed_geometries(
            model, part, how, n_samples, seed, batch_size=batch_size, normalize=normalize
        )
    if append:
        return join_embedding(part, emb)
    return emb


def embed_dask(
    model: CaLLiPer | str | os.PathLike,
    ddf: Any,
    *,
    append: bool = False,
    how: Literal["centroid", "mean"] | None = None,
    n_samples: int = 16,
    seed: int = 0,
    batch_size: int | None = None,
    normalize: bool = False,
) -> Any:
    """Embed a dask-geopandas GeoDataFrame (or GeoSeries) lazily, partition by partition.

    Parameters
    ----------
    model
        A fitted :class:`~geocalliper.CaLLiPer`, which travels to the workers inside the
        task graph (it pickles), or the folder of a model saved with
        :meth:`~geocalliper.CaLLiPer.save` on storage every worker can read: then only
        the path travels and each worker process loads the model once (see
        ``docs/dask.md``).
    ddf
        ``dask_geopandas.GeoDataFrame`` or ``GeoSeries`` with a CRS, in any CRS. Index
        labels must be unique within each partition (results are aligned to them).
    append
        Return the frame with the embedding columns joined (a lazy dask-geopandas
        GeoDataFrame) instead of the embeddings alone.
    how, n_samples, seed, batch_size, normalize
        As in :func:`geocalliper.spatial.reduce.embed_geometries`. ``how="mean"`` sample points
        are seeded per row from its index label, so they do not depend on the
        partitioning.

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy, with the input's partitions and divisions: columns ``calliper_0 …`` in the
        model's dtype, the input's index; with ``append=True`` a dask-geopandas
        GeoDataFrame with the input's columns first. Nothing is computed until
        ``.compute()``, ``.to_parquet(…)`` or ``.persist()``.

    Examples
    --------
    >>> import dask_geopandas
    >>> ddf = dask_geopandas.read_parquet("pois/*.parquet")        # doctest: +SKIP
    >>> emb = embed_dask(model, ddf)                                  # doctest: +SKIP
    >>> emb.to_parquet("pois-embeddings/")                            # doctest: +SKIP
    >>> small = dask_geopandas.from_geopandas(pois, npartitions=4)    # doctest: +SKIP
    >>> embed_dask(model, small).compute().shape                      # doctest: +SKIP
    (2112, 128)
    """
    import_optional("dask.dataframe", "embedding Dask frames")
    import_optional("dask_geopandas", "embedding Dask frames")
    check_reduction(how, n_samples, seed)
    local = load_model(model)  # a path is checked (and its dim and dtype read) here
    local._check_fitted()
    if isinstance(model, str | os.PathLike):
        model = os.path.abspath(model)  # the same folder must exist on every worker
    meta_in = getattr(ddf, "_meta", None)
    if not isinstance(meta_in, gpd.GeoDataFrame | gpd.GeoSeries) or not hasattr(
        ddf, "map_partitions"
    ):
        raise TypeError(
            "ddf must be a dask-geopandas GeoDataFrame or GeoSeries, got "
            f"{type(ddf).__name__}. Build one with dask_geopandas.from_geopandas(gdf, "
            "npartitions=...), dask_geopandas.read_parquet(...), or "
            "dask_geopandas.from_dask_dataframe(ddf, geometry=...)."
        )
    if meta_in.crs is None:
        raise MissingCRSError(
            "The Dask frame has no CRS, so its coordinates cannot be placed. Set it with "
            "ddf = ddf.set_crs('EPSG:4326') (or the CRS it is in)."
        )
    emb_meta = embedding_meta(local, meta_in.index)
    if append:
        if isinstance(meta_in, gpd.GeoSeries):
            raise TypeError(
                "append=True needs a GeoDataFrame; convert the GeoSeries with ddf.to_frame() first."
            )
        check_no_clash(meta_in.columns, list(emb_meta.columns))
        meta = meta_in.join(emb_meta)
    else:
        meta = emb_meta
    return ddf.map_partitions(
        embed_partition,
        model,
        append=append,
        how=how,
        n_samples=n_samples,
        seed=seed,
        batch_size=batch_size,
        normalize=normalize,
        meta=meta,
    )


__all__ = ["embed_dask", "embed_partition", "embedding_meta", "load_model"]
