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

from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import accessor as accessor  # registers the ``gdf.calliper`` accessor (no torch)
from ._version import __version__

#: public name -> the module that defines it. They are imported on first use (PEP 562),
#: so that ``import geocalliper.mobility.staypoints`` or the GPS pipeline does not load
#: torch; ``import geocalliper as gc; gc.CaLLiPer`` works as before.
_LAZY = {
    "CaLLiPer": ".calliper",
    "FCNet": ".encoders",
    "GridEncoding": ".encoders",
    "LocationEncoder": ".encoders",
    "RandomFourierEncoding": ".encoders",
    "SphericalFourierEncoding": ".encoders",
    "TheoryEncoding": ".encoders",
    "to_geotiff": ".io.geotiff",
    "write_png": ".io.geotiff",
    "explore": ".maps.interactive",
    "get_default_model": ".defaults",
    "set_default_model": ".defaults",
    "category_text": ".io.poi",
    "make_text": ".io.poi",
    "osm_text": ".io.poi",
    "read_osm": ".io.osm",
    "read_osm_pbf": ".io.poi",
    "read_pois": ".io.poi",
    "NextLocationPredictor": ".mobility",
    "embed_dask": ".spatial.dask",
    "embed_h3": ".spatial.h3cells",
    "embed_grid": ".spatial.raster",
    "to_rgb": ".spatial.raster",
    "embed_geometries": ".spatial.reduce",
    "TextEmbeddingCache": ".text",
    "TextEncoder": ".text",
    "label_grid": ".zeroshot.maps",
    "label_h3": ".zeroshot.maps",
    "query_grid": ".zeroshot.maps",
    "query_h3": ".zeroshot.maps",
    "describe": ".zeroshot.scoring",
    "label_points": ".zeroshot.scoring",
    "similarity": ".zeroshot.scoring",
}
_SUBMODULES = ("datasets", "exceptions", "maps", "mobility", "zeroshot")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = import_module(f".{name}", __name__)
    elif name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
    else:
        raise AttributeError(f"module 'geocalliper' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # what type checkers and IDEs see
    from . import datasets, exceptions, maps, mobility, zeroshot
    from .calliper import CaLLiPer
    from .defaults import get_default_model, set_default_model
    from .encoders import (
        FCNet,
        GridEncoding,
        LocationEncoder,
        RandomFourierEncoding,
        SphericalFourierEncoding,
        TheoryEncoding,
    )
    from .io.geotiff import to_geotiff, write_png
    from .io.osm import read_osm
    from .io.poi import category_text, make_text, osm_text, read_osm_pbf, read_pois
    from .maps.interactive import explore
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
    "explore",
    "get_default_model",
    "label_grid",
    "label_h3",
    "label_points",
    "make_text",
    "maps",
    "mobility",
    "osm_text",
    "query_grid",
    "query_h3",
    "read_osm",
    "read_osm_pbf",
    "read_pois",
    "set_default_model",
    "similarity",
    "to_geotiff",
    "to_rgb",
    "write_png",
    "zeroshot",
]
