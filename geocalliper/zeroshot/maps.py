"""Maps built from text scores: similarity and label rasters, similarity and label H3 cells.

:func:`query_grid` / :func:`query_h3` map the cosine similarity of a text over a study
area; :func:`label_grid` / :func:`label_h3` map the best of a set of labels per cell, with
the probability of each on request. They hand a :class:`~.scoring.TextScorer` to
:func:`~geocalliper.spatial.raster.embed_grid` and :func:`~geocalliper.spatial.h3cells.embed_h3`
unchanged, so grid layout, in-area test, dask chunks, memory limits and progress bars are
those of embeddings. Label rasters carry their colours
(:func:`~geocalliper.io.style.category_colors`: by what each name says) so
:func:`~geocalliper.io.geotiff.to_geotiff` writes a legend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np

from .._constants import embedding_columns
from .._optional import import_optional
from ..io.style import category_colors
from ..spatial.h3cells import DEFAULT_MAX_CELLS, embed_h3
from ..spatial.raster import embed_grid, rio_transform
from .scoring import LABEL, TextScorer, _label_scorer, probability_columns
from .texts import PriorLike, check_texts, text_vectors

if TYPE_CHECKING:
    import xarray as xr

    from ..calliper import CaLLiPer
    from ..spatial.area import AreaLike
    from ..spatial.h3cells import Containment


def query_grid(
    model: CaLLiPer,
    area: AreaLike,
    text: str | Sequence[str],
    resolution: float | tuple[float, float],
    crs: Any = None,
    chunks: int | tuple[int, int] | None = None,
    *,
    area_crs: Any = None,
    batch_size: int | None = None,
    max_memory: float | None = None,
    progress: bool | None = None,
) -> xr.DataArray:
    """A raster of the cosine similarity between each grid cell and a text.

    The grid is laid out exactly as :func:`~geocalliper.spatial.raster.embed_grid` lays it out
    (same parameters, snapping, CRS handling, dask ``chunks`` and memory limit); each
    cell's value is the cosine similarity between its centre's location embedding and
    the projected text.

    Parameters
    ----------
    model
        A fitted :class:`~geocalliper.CaLLiPer` with its text projector.
    area, resolution, crs, chunks, area_crs, batch_size, max_memory, progress
        As in :func:`~geocalliper.spatial.raster.embed_grid`.
    text
        The query, e.g. ``"A place of cafe"``; a list gives one band per text.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)``, one band per text (named by the text), float32 in [-1, 1],
        NaN outside the area; CRS, transform and nodata set, so
        :func:`~geocalliper.io.geotiff.to_geotiff` writes it (the band description is
        the text).

    Examples
    --------
    >>> cafes = query_grid(model, city, "A place of cafe", resolution=50)  # doctest: +SKIP
    >>> to_geotiff(cafes, "cafes.tif")                                    # doctest: +SKIP
    """
    texts = check_texts(text)
    scorer = TextScorer(model, text_vectors(model, texts))
    da = embed_grid(
        scorer,
        area,
        resolution,
        crs,
        chunks,
        area_crs=area_crs,
        batch_size=batch_size,
        max_memory=max_memory,
        progress=progress,
    )
    return _renamed(da, texts, "similarity")


def _renamed(da: xr.DataArray, bands: Sequence[str], name: str) -> xr.DataArray:
    da = da.assign_coords(band=list(bands))
    da.name = name
    da.attrs["long_name"] = tuple(bands)
    return da


def _codes_block(prob: np.ndarray, nodata: int, dtype: str) -> np.ndarray:
    """``(k, h, w)`` probabilities → ``(h, w)`` index of the best label, nodata where NaN."""
    valid = np.isfinite(prob[0])
    codes = np.argmax(np.where(np.isfinite(prob), prob, -np.inf), axis=0)
    return np.where(valid, codes, nodata).astype(dtype)


def label_grid(
    model: CaLLiPer,
    area: AreaLike,
    labels: Sequence[str] | Mapping[str, str],
    resolution: float | tuple[float, float],
    crs: Any = None,
    chunks: int | tuple[int, int] | None = None,
    *,
    probabilities: bool = False,
    prior: PriorLike = None,
    area_crs: Any = None,
    batch_size: int | None = None,
    max_memory: float | None = None,
    progress: bool | None = None,
) -> xr.DataArray | xr.Dataset:
    """A categorical raster: the best-matching label of every grid cell.

    Parameters
    ----------
    model
        A fitted :class:`~geocalliper.CaLLiPer` with its text projector.
    area, resolution, crs, chunks, area_crs, batch_size, max_memory, progress
        As in :func:`~geocalliper.spatial.raster.embed_grid` (the memory limit applies to the
        per-label probabilities the labels are chosen from).
    labels
        A list of texts (each its own name) or a dict name → text.
    probabilities
        Also return the probability of each label per cell (softmax at the model's
        learned temperature, with the prior).
    prior
        As in :func:`label_points`; ``None`` ranks by cosine alone.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        The label raster: ``(y, x)`` codes ``0 … len(labels)-1`` (uint8; uint16 for
        more than 255 labels), nodata 255 (65535) outside the area, named ``"label"``;
        ``attrs`` hold ``category_names``, ``category_texts`` and ``category_colors``,
        which :func:`~geocalliper.io.geotiff.to_geotiff` writes as a colour table and
        category names (a legend in QGIS). With ``probabilities``, a Dataset of
        ``label`` and ``probability`` (``(band, y, x)`` float32, one band per label
        name). With ``chunks`` both are lazy and each computes the probabilities
        afresh: persist the Dataset first (``ds = ds.persist()``) if it fits in memory
        and both are written.

    Examples
    --------
    >>> labels = {"food": "A place of Food", "parks": "A place of Outdoors & Recreation"}
    >>> lab = label_grid(model, city, labels, resolution=100)         # doctest: +SKIP
    >>> to_geotiff(lab, "labels.tif")                                 # doctest: +SKIP
    >>> ds = label_grid(model, city, labels, 100, probabilities=True)  # doctest: +SKIP
    >>> to_geotiff(ds["probability"], "label-probabilities.tif")      # doctest: +SKIP
    """
    xr_mod = import_optional("xarray", "label rasters")
    names, texts, scorer = _label_scorer(model, labels, prior)
    if len(names) > 65_535:
        raise ValueError(f"At most 65,535 labels fit a raster, got {len(names)}.")
    prob = embed_grid(
        scorer,
        area,
        resolution,
        crs,
        chunks,
        area_crs=area_crs,
        batch_size=batch_size,
        max_memory=max_memory,
        progress=progress,
    )
    prob = _renamed(prob, names, "probability")
    dtype, nodata = ("uint8", 255) if len(names) <= 255 else ("uint16", 65_535)
    data = prob.data
    if type(data).__module__.split(".")[0] == "dask":
        codes = data.map_blocks(
            _codes_block, nodata, dtype, drop_axis=0, dtype=dtype, meta=np.empty((0, 0), dtype)
        )
    else:
        codes = _codes_block(np.asarray(data), nodata, dtype)
    label = xr_mod.DataArray(
        codes, dims=("y", "x"), coords={"y": prob.y.values, "x": prob.x.values}, name=LABEL
    )
    label.rio.write_crs(prob.rio.crs, inplace=True)
    label.rio.write_transform(rio_transform(prob), inplace=True)
    label.rio.write_nodata(nodata, encoded=False, inplace=True)
    label.attrs.update(
        long_name=(LABEL,),
        category_names=tuple(names),
        category_texts=tuple(texts),
        category_colors=tuple(category_colors(names)),
    )
    if not probabilities:
        return label
    return xr_mod.Dataset({LABEL: label, "probability": prob})


def query_h3(
    model: CaLLiPer,
    area: AreaLike,
    text: str | Sequence[str],
    resolution: int,
    how: Literal["center", "mean"] = "center",
    n_samples: int = 16,
    seed: int = 0,
    *,
    contain: Containment = "overlap",
    max_cells: int | None = None,
    area_crs: Any = None,
    batch_size: int | None = None,
) -> gpd.GeoDataFrame:
    """The cosine similarity between each H3 cell covering an area and a text.

    Parameters are those of :func:`~geocalliper.spatial.h3cells.embed_h3` (``how="mean"``
    averages the similarity over points sampled in each cell), plus ``text``: one text
    or a list. ``max_cells`` defaults to the H3 module's limit.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by H3 cell id, one float column per text (named by the text) and the
        hexagon ``geometry`` (EPSG:4326); ``to_file("q.gpkg")`` writes it.

    Examples
    --------
    >>> cells = query_h3(model, city, "A place of cafe", resolution=9)  # doctest: +SKIP
    >>> cells.to_file("cafes.gpkg")                                     # doctest: +SKIP
    """
    texts = check_texts(text)
    scorer = TextScorer(model, text_vectors(model, texts))
    return _score_h3(
        scorer, texts, area, resolution, how, n_samples, seed,
        contain=contain, max_cells=max_cells, area_crs=area_crs, batch_size=batch_size,
    )  # fmt: skip


def _score_h3(
    scorer: TextScorer,
    columns: Sequence[str],
    area: AreaLike,
    resolution: int,
    how: str,
    n_samples: int,
    seed: int,
    **kwargs: Any,
) -> gpd.GeoDataFrame:
    """:func:`~geocalliper.spatial.h3cells.embed_h3` of the scorer, columns renamed."""
    if kwargs.get("max_cells") is None:
        kwargs["max_cells"] = DEFAULT_MAX_CELLS
    cells = embed_h3(scorer, area, resolution, how, n_samples, seed, **kwargs)
    names = dict(zip(embedding_columns(len(columns)), columns, strict=True))
    return cells.rename(columns=names)


def label_h3(
    model: CaLLiPer,
    area: AreaLike,
    labels: Sequence[str] | Mapping[str, str],
    resolution: int,
    how: Literal["center", "mean"] = "center",
    n_samples: int = 16,
    seed: int = 0,
    *,
    probabilities: bool = False,
    prior: PriorLike = None,
    contain: Containment = "overlap",
    max_cells: int | None = None,
    area_crs: Any = None,
    batch_size: int | None = None,
) -> gpd.GeoDataFrame:
    """The best-matching label of each H3 cell covering an area.

    Parameters are those of :func:`~geocalliper.spatial.h3cells.embed_h3` and of
    :func:`label_points` (``labels``, ``probabilities``, ``prior``); ``how="mean"``
    averages the label probabilities over points sampled in each cell.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed by H3 cell id: ``label`` (the label name), with ``probabilities`` one
        ``p_{name}`` column per label, and the hexagon ``geometry`` (EPSG:4326).

    Examples
    --------
    >>> cells = label_h3(model, city, ["A place of Food", "A place of Nightlife Spot"],
    ...                  resolution=9, probabilities=True)              # doctest: +SKIP
    >>> cells.to_file("labels.gpkg")                                    # doctest: +SKIP
    """
    names, _, scorer = _label_scorer(model, labels, prior)
    cols = probability_columns(names)
    cells = _score_h3(
        scorer, cols, area, resolution, how, n_samples, seed,
        contain=contain, max_cells=max_cells, area_crs=area_crs, batch_size=batch_size,
    )  # fmt: skip
    prob = cells[cols].to_numpy()
    best = np.asarray(names, dtype=object)[prob.argmax(axis=1)]
    out = cells[[]].assign(**{LABEL: best})
    if probabilities:
        out = out.join(cells[cols])
    out = gpd.GeoDataFrame(out, geometry=cells.geometry.values, crs=cells.crs)
    out.attrs["category_names"] = tuple(names)  # the legend of the stored style
    return out
