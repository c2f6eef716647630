"""The ``calliper`` accessor: ``gdf.calliper.embed(model)`` and friends.

Importing this module registers the accessor on pandas DataFrames; it is valid only
on GeoDataFrames (on a plain DataFrame ``df.calliper`` raises ``AttributeError``).
Each method is a thin hand-off to a plain function:

- ``gdf.calliper.embed(model, …)``: :func:`geocalliper.spatial.reduce.embed_geometries`
- ``gdf.calliper.embed_h3(model, …)``: :func:`geocalliper.spatial.h3cells.embed_h3`
- ``gdf.calliper.embed_grid(model, …)``: :func:`geocalliper.spatial.raster.embed_grid`
- ``gdf.calliper.similarity(model, …)``: :func:`geocalliper.zeroshot.similarity`
- ``gdf.calliper.describe(model, …)``: :func:`geocalliper.zeroshot.describe`
- ``gdf.calliper.query_grid(model, …)``: :func:`geocalliper.zeroshot.query_grid`
- ``gdf.calliper.query_h3(model, …)``: :func:`geocalliper.zeroshot.query_h3`
- ``gdf.calliper.label_grid(model, …)``: :func:`geocalliper.zeroshot.label_grid`
- ``gdf.calliper.label_h3(model, …)``: :func:`geocalliper.zeroshot.label_h3`
- ``gdf.calliper.explore(model, …)``: :func:`geocalliper.explore` of an embedding grid,
  a query map or a label map over this frame, with its rows drawn on top

``model`` may be left out (``None``) once a default is set
(:func:`geocalliper.set_default_model` or ``GEOCALLIPER_MODEL``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import pandas as pd

from ._constants import embedding_columns
from .defaults import ModelLike, resolve_model
from .spatial.reduce import check_no_clash, embed_geometries, join_embedding

if TYPE_CHECKING:
    import xarray

#: name the accessor is registered under
ACCESSOR_NAME = "calliper"


@pd.api.extensions.register_dataframe_accessor(ACCESSOR_NAME)
class CaLLiPerAccessor:
    """CaLLiPer embeddings for a GeoDataFrame, as ``gdf.calliper``.

    Examples
    --------
    >>> import geocalliper as gc
    >>> model = gc.CaLLiPer.load("helsinki-calliper")              # doctest: +SKIP
    >>> emb = pois.calliper.embed(model)                           # doctest: +SKIP
    >>> parks = parks.calliper.embed(model, how="mean", append=True)  # doctest: +SKIP
    >>> cells = city.calliper.embed_h3(model, resolution=9)        # doctest: +SKIP
    """

    def __init__(self, obj: pd.DataFrame) -> None:
        if not isinstance(obj, gpd.GeoDataFrame):
            raise AttributeError(
                f"The '{ACCESSOR_NAME}' accessor works on GeoDataFrames only, not on a "
                f"{type(obj).__name__}. Build one first, e.g. geopandas.GeoDataFrame(df, "
                "geometry=geopandas.points_from_xy(df.lon, df.lat), crs='EPSG:4326')."
            )
        self._obj = obj

    def embed(
        self,
        model: ModelLike | None = None,
        *,
        append: bool = False,
        how: Literal["centroid", "mean"] | None = None,
        n_samples: int = 16,
        seed: int = 0,
        batch_size: int | None = None,
        normalize: bool = False,
    ) -> pd.DataFrame | gpd.GeoDataFrame:
        """Embed every row's geometry; points directly, lines and polygons by ``how``.

        Parameters
        ----------
        model
            A fitted :class:`~geocalliper.CaLLiPer` or a saved model's folder; default:
            the default model (:func:`geocalliper.set_default_model` or the environment
            variable ``GEOCALLIPER_MODEL``). The frame may be in any CRS.
        append
            Return this GeoDataFrame with the embedding columns joined (a new frame;
            refused when columns of that name already exist) instead of the
            embeddings alone.
        how
            ``"centroid"``: a line or polygon is embedded at its representative point
            (a point guaranteed inside it). ``"mean"``: the mean embedding of
            ``n_samples`` seeded points sampled inside it. Points are embedded directly
            either way. ``None`` (default) means ``"centroid"`` and warns when there are
            non-point geometries; choosing ``how`` silences the warning.
        n_samples
            Sample points per geometry for ``how="mean"``.
        seed
            Seed of the sample points (per row, from the index label, so a row embeds
            the same whatever the rest of the frame).
        batch_size
            Points per forward pass of the encoder; default: 4,096 on a CPU (cache-sized
            batches run fastest there), 65,536 on a GPU.
        normalize
            L2-normalise the final vectors.

        Returns
        -------
        pandas.DataFrame or geopandas.GeoDataFrame
            The embeddings (columns ``calliper_0 …``, aligned to the index), or the
            frame with them appended.

        Examples
        --------
        >>> emb = pois.calliper.embed(model)                                # doctest: +SKIP
        >>> gc.set_default_model(model)                                   # doctest: +SKIP
        >>> emb = pois.calliper.embed()                                   # doctest: +SKIP
        >>> parks = parks.calliper.embed(model, how="mean", append=True)   # doctest: +SKIP
        """
        model = resolve_model(model)
        if append:
            check_no_clash(self._obj.columns, embedding_columns(model.embedding_dim))
        emb = embed_geometries(
            model,
            self._obj,
            how,
            n_samples,
            seed,
            batch_size=batch_size,
            normalize=normalize,
        )
        return join_embedding(self._obj, emb) if append else emb

    def embed_h3(self, model: ModelLike | None, resolution: int, **kwargs: Any) -> gpd.GeoDataFrame:
        """Embed the H3 cells covering this frame's geometries.

        Shortcut for :func:`geocalliper.spatial.h3cells.embed_h3` ``(model, gdf, resolution,
        **kwargs)``: polygons give the cells that cover them, points the cells that
        contain them.

        Examples
        --------
        >>> cells = city.calliper.embed_h3(model, resolution=9, how="mean")  # doctest: +SKIP
        """
        from .spatial.h3cells import embed_h3

        return embed_h3(resolve_model(model), self._obj, resolution, **kwargs)

    def embed_grid(
        self, model: ModelLike | None, resolution: float, **kwargs: Any
    ) -> xarray.DataArray:
        """Embed a regular raster grid over this frame's extent.

        Shortcut for :func:`geocalliper.spatial.raster.embed_grid` ``(model, gdf, resolution,
        **kwargs)``.

        Examples
        --------
        >>> grid = city.calliper.embed_grid(model, resolution=100)  # doctest: +SKIP
        """
        from .spatial.raster import embed_grid

        return embed_grid(resolve_model(model), self._obj, resolution, **kwargs)

    # ------------------------------------------------------------------ zero-shot
    def similarity(self, model: ModelLike | None, texts: str | Sequence[str], **kwargs: Any):
        """Cosine similarity of each row's place and each text.

        Shortcut for :func:`geocalliper.zeroshot.similarity` ``(model, gdf, texts)``.

        Examples
        --------
        >>> sim = pois.calliper.similarity(model, ["A place of cafe"])  # doctest: +SKIP
        """
        from .zeroshot.scoring import similarity

        return similarity(resolve_model(model), self._obj, texts, **kwargs)

    def describe(
        self,
        model: ModelLike | None,
        candidates: Sequence[str] | None = None,
        k: int = 5,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """The ``k`` best-matching texts of each row's place (a tidy frame).

        Shortcut for :func:`geocalliper.zeroshot.describe` ``(model, gdf, candidates, k)``.

        Examples
        --------
        >>> pois.calliper.describe(model, k=3)                         # doctest: +SKIP
        """
        from .zeroshot.scoring import describe

        return describe(resolve_model(model), self._obj, candidates, k, **kwargs)

    def query_grid(
        self, model: ModelLike | None, text: str | Sequence[str], resolution: float, **kwargs: Any
    ) -> xarray.DataArray:
        """A similarity raster of ``text`` over this frame's geometries (the study area).

        Shortcut for :func:`geocalliper.zeroshot.query_grid` ``(model, gdf, text,
        resolution, **kwargs)``.

        Examples
        --------
        >>> cafes = city.calliper.query_grid(model, "A place of cafe", 50)  # doctest: +SKIP
        """
        from .zeroshot.maps import query_grid

        return query_grid(resolve_model(model), self._obj, text, resolution, **kwargs)

    def query_h3(
        self, model: ModelLike | None, text: str | Sequence[str], resolution: int, **kwargs: Any
    ) -> gpd.GeoDataFrame:
        """The similarity of ``text`` on the H3 cells covering this frame's geometries.

        Shortcut for :func:`geocalliper.zeroshot.query_h3`.

        Examples
        --------
        >>> cells = city.calliper.query_h3(model, "A place of cafe", resolution=9)  # doctest: +SKIP
        """
        from .zeroshot.maps import query_h3

        return query_h3(resolve_model(model), self._obj, text, resolution, **kwargs)

    def label_grid(
        self,
        model: ModelLike | None,
        labels: Sequence[str] | Mapping[str, str],
        resolution: float,
        **kwargs: Any,
    ) -> xarray.DataArray | xarray.Dataset:
        """A categorical raster of the best label per cell over this frame's geometries.

        Shortcut for :func:`geocalliper.zeroshot.label_grid`.

        Examples
        --------
        >>> lab = city.calliper.label_grid(model, ["A place of Food", "A place of Shop"],
        ...                                resolution=100)              # doctest: +SKIP
        """
        from .zeroshot.maps import label_grid

        return label_grid(resolve_model(model), self._obj, labels, resolution, **kwargs)

    def label_h3(
        self,
        model: ModelLike | None,
        labels: Sequence[str] | Mapping[str, str],
        resolution: int,
        **kwargs: Any,
    ) -> gpd.GeoDataFrame:
        """The best label of each H3 cell covering this frame's geometries.

        Shortcut for :func:`geocalliper.zeroshot.label_h3`.

        Examples
        --------
        >>> cells = city.calliper.label_h3(model, {"food": "A place of Food"}, 9)  # doctest: +SKIP
        """
        from .zeroshot.maps import label_h3

        return label_h3(resolve_model(model), self._obj, labels, resolution, **kwargs)

    # ------------------------------------------------------------------ maps
    def explore(
        self,
        model: ModelLike | None = None,
        *,
        query: str | None = None,
        labels: Sequence[str] | Mapping[str, str] | None = None,
        resolution: float = 50.0,
        tiles: str | None = "OpenStreetMap",
        **kwargs: Any,
    ) -> Any:
        """An interactive map over this frame, with its rows drawn on top.

        The area is the frame's geometries (for points: their convex hull, two cells
        around). The embedding grid's RGB preview by default; the similarity to ``query``
        (:func:`geocalliper.zeroshot.query_grid`) or the best of ``labels``
        (:func:`geocalliper.zeroshot.label_grid`) when given. Shortcut for
        :func:`geocalliper.explore` ``(raster, gdf, tiles=tiles, **kwargs)``.

        Parameters
        ----------
        model
            A fitted model or a saved model's folder; default: the default model.
        query
            A text: map its similarity instead of the embedding.
        labels
            Texts (or ``{name: text}``): map the best-matching one per cell.
        resolution
            Cell size in metres of the model's CRS.
        tiles
            Basemap tiles (need the network; the overlays do not), or ``None``.

        Returns
        -------
        folium.Map

        Examples
        --------
        >>> pois.calliper.explore(model)                                 # doctest: +SKIP
        >>> pois.calliper.explore(model, query="A place of cafe")        # doctest: +SKIP
        >>> pois.calliper.explore(labels={"food": "A place of Food",
        ...                               "shop": "A place of Shop"})     # doctest: +SKIP
        """
        from .maps.interactive import explore

        model = resolve_model(model)
        if query is not None and labels is not None:
            raise ValueError("Give query= or labels=, not both.")
        area = self._obj
        if (area.geom_type == "Point").all():  # points: the area is their hull, and around
            hull = area.to_crs(model.crs_).geometry.union_all().convex_hull
            area = gpd.GeoSeries([hull.buffer(2 * resolution)], crs=model.crs_)
        if query is not None:
            from .zeroshot.maps import query_grid

            raster = query_grid(model, area, query, resolution, progress=False)
        elif labels is not None:
            from .zeroshot.maps import label_grid

            raster = label_grid(model, area, labels, resolution, progress=False)
        else:
            from .spatial.raster import embed_grid

            raster = embed_grid(model, area, resolution, progress=False)
        return explore(raster, self._obj, tiles=tiles, **kwargs)
