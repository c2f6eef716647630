"""geocalliper: CaLLiPer location embeddings for GeoPandas.

CaLLiPer learns a continuous function from coordinates to vectors (multi-scale Grid
positional encoding + residual MLP), aligned by contrastive learning with sentence
embeddings of the points of interest around. Because it is a function, it embeds
places it has never seen.

Examples
--------
>>> import geocalliper as gc
>>> pois = gc.read_osm_pbf(gc.datasets.helsinki_osm_path())
>>> pois["text"] = gc.osm_text(pois)
>>> model = gc.CaLLiPer(max_steps=500).fit(pois)   # doctest: +SKIP
>>> emb = model.embed(pois)                        # doctest: +SKIP
"""

from . import accessor as accessor  # registers the ``gdf.calliper`` accessor
from . import datasets, exceptions, mobility, zeroshot
from ._version import __version__
from .calliper import CaLLiPer
from .encoders import (
    FCNet,
    GridEncoding,
    LocationEncoder,
    RandomFourierEncoding,
    SphericalFourierEncoding,
    TheoryEncoding,
)
from .io.geotiff import to_geotiff, write_png
from .io.poi import category_text, make_text, osm_text, read_osm_pbf, read_pois
from .mobility import NextLocationPredictor
from .spatial.dask import embed_dask
from .spatial.h3cells import embed_h3
from .spatial.raster import embed_grid, to_rgb
from .spatial.reduce import embed_geometries
from .text import TextEmbeddingCache, TextEncoder
from .zeroshot.maps import label_grid, label_h3, query_grid, query_h3
from .zeroshot.scoring import describe, label_points, similarity

__all__ = [
    "CaLLiPer",
    "FCNet",
    "GridEncoding",
    "LocationEncoder",
    "NextLocationPredictor",
    "RandomFourierEncoding",
    "SphericalFourierEncoding",
    "TextEmbeddingCache",
    "TextEncoder",
    "TheoryEncoding",
    "__version__",
    "category_text",
    "datasets",
    "describe",
    "embed_dask",
    "embed_geometries",
    "embed_grid",
    "embed_h3",
    "exceptions",
    "label_grid",
    "label_h3",
    "label_points",
    "make_text",
    "mobility",
    "osm_text",
    "query_grid",
    "query_h3",
    "read_osm_pbf",
    "read_pois",
    "similarity",
    "to_geotiff",
    "to_rgb",
    "write_png",
    "zeroshot",
]
