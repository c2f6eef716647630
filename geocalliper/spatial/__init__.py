"""Geometry in, coordinates out, embeddings back: the spatial face of any fitted encoder.

Every function here takes a *fitted encoder*: any object with ``embed_coords(xy, ...)``,
``crs_``, ``embedding_dim`` and ``dtype`` (a :class:`~geocalliper.CaLLiPer`, or the
zero-shot :class:`~geocalliper.zeroshot.scoring.TextScorer`), so nothing here imports
the estimator (``embed_dask`` alone loads a saved model by path, see below).

- :mod:`~.coords`: CRS checks, geometries to ``(x, y)``, metric CRSs;
- :mod:`~.area`: study areas (boxes, polygons, frames) and points sampled in them;
- :mod:`~.reduce`: lines and polygons embedded as the mean of sampled points;
- :mod:`~.grid`: the layout of a raster grid (cells, limits, memory), nothing embedded;
- :mod:`~.raster`: a study area embedded on that grid (xarray), and RGB previews;
- :mod:`~.h3cells`: H3 hexagons covering an area, embedded;
- :mod:`~.dask`: Dask-GeoPandas frames embedded partition by partition (it sits one layer
  above the estimator, since it loads a saved model from its folder on each worker).
"""
