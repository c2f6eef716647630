"""How maps look: label colours, one-band previews and QGIS styles.

:data:`PALETTE`, :func:`label_colors` and :func:`category_colors` give each label of a
categorical map its colour (the colour table and legend
:func:`~geocalliper.io.geotiff.to_geotiff` writes); :func:`preview_rgb` turns a one-band
map (a similarity or label raster) into an RGB picture for
:func:`~geocalliper.io.geotiff.write_png`. :func:`raster_qml` and :func:`vector_qml`
choose a QGIS style (a ``.qml`` document, built by :mod:`geocalliper.io.qml`) from a
file's content:

- a categorical raster (``category_names``): *Paletted* with exactly its classes, named;
- an RGB preview: *Multiband color*, bands shown as they are;
- an embedding (every band named ``calliper_*``): *Singleband gray* of the first band
  between its minimum and maximum, with a note in the layer's abstract (one dimension
  means little alone; the RGB preview is the picture to look at);
- any other raster (query similarities, label probabilities): *Singleband pseudocolor*
  of the first band on viridis between its minimum and maximum, with a legend;
- vectors: next places (a ``rank`` column) graduated by rank, labelled cells
  (a ``label`` column) categorized with the label colours, scored H3 cells graduated on
  viridis by their first score, embedded cells or points a single symbol.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._optional import import_optional
from ..spatial.raster import rio_transform

if TYPE_CHECKING:
    import xarray as xr

#: Qualitative colours of labels (Tableau 10, then its light variants), as ``#rrggbb``.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
    "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
)  # fmt: skip


def label_colors(n: int) -> list[str]:
    """``n`` distinct ``#rrggbb`` colours: :data:`PALETTE`, then evenly spaced hues.

    Examples
    --------
    >>> label_colors(2)
    ['#1f77b4', '#ff7f0e']
    """
    if n <= len(PALETTE):
        return list(PALETTE[:n])
    import colorsys

    extra = []
    for i in range(n - len(PALETTE)):
        r, g, b = colorsys.hsv_to_rgb((i * 0.618034) % 1.0, 0.65, 0.9)
        extra.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return [*PALETTE, *extra]


def preview_rgb(da: xr.DataArray) -> xr.DataArray:
    """A 3-band ``uint8`` picture of a one-band map, for :func:`~geocalliper.io.geotiff.write_png`.

    A label map (from :func:`label_grid`, with ``category_colors`` in its ``attrs``) gets
    one colour per label; any other map (e.g. :func:`query_grid`) a dark-blue → green →
    yellow ramp stretched between its 2nd and 98th percentiles. Nodata stays 0 (and so
    transparent in the PNG).

    Parameters
    ----------
    da
        A ``(y, x)`` or one-band ``(band, y, x)`` raster with a CRS.

    Returns
    -------
    xarray.DataArray
        ``(band, y, x)`` with bands 1, 2, 3, on the same grid and CRS.

    Examples
    --------
    >>> from geocalliper.io.geotiff import write_png
    >>> write_png(preview_rgb(query_grid(model, area, "A place of cafe", 25)),
    ...           "cafes.png")                                          # doctest: +SKIP
    PosixPath('cafes.png')
    """
    xr_mod = import_optional("xarray", "map previews")
    if "band" in da.dims and da.sizes["band"] == 1:
        da = da.squeeze("band", drop=True)
    if da.dims != ("y", "x"):
        sizes = ", ".join(f"{k}={v}" for k, v in da.sizes.items())
        raise ValueError(
            f"preview_rgb needs a one-band map, got {sizes}; pick one band first, e.g. "
            "q.isel(band=[0])."
        )
    one = da
    values = np.asarray(one.values, dtype=np.float64)
    rgb = np.zeros((3, *values.shape), dtype=np.uint8)
    colours = da.attrs.get("category_colors")
    if colours:
        for code, colour in enumerate(colours):
            mask = values == code
            for band in range(3):
                rgb[band][mask] = int(colour[1 + 2 * band : 3 + 2 * band], 16)
    else:
        ok = np.isfinite(values)
        lo, hi = np.percentile(values[ok], [2, 98]) if ok.any() else (0.0, 1.0)
        t = np.clip((values - lo) / max(hi - lo, 1e-12), 0, 1)
        anchors = np.array([[68, 1, 84], [33, 145, 140], [253, 231, 37]], dtype=np.float64)
        for band in range(3):
            ramp = np.interp(t, [0.0, 0.5, 1.0], anchors[:, band])
            rgb[band] = np.where(ok, np.maximum(ramp, 1), 0).astype(np.uint8)
    out = xr_mod.DataArray(
        rgb, dims=("band", "y", "x"), coords={"band": [1, 2, 3], "y": one["y"], "x": one["x"]}
    )
    out.rio.write_crs(one.rio.crs, inplace=True)
    return out.rio.write_transform(rio_transform(one))


# ---------------------------------------------------------------------------- QGIS styles
#: colours of labels whose name says what they are: (words, ``#rrggbb``); first match wins
KEYWORD_COLORS = (
    (("green", "park", "forest", "wood", "tree", "garden", "grass", "nature", "leisure"),
     "#33a02c"),
    (("water", "lake", "river", "sea", "beach", "harbour", "harbor", "canal"), "#1f78b4"),
    (("food", "eat", "restaurant", "cafe", "café", "dining", "bar", "pub", "nightlife"),
     "#ff7f00"),
    (("shop", "retail", "store", "market", "mall"), "#e31a1c"),
    (("culture", "museum", "art", "theatre", "theater", "gallery", "heritage", "tourism"),
     "#6a3d9a"),
    (("school", "education", "university", "college", "library"), "#ffd92f"),
    (("health", "hospital", "clinic", "medical", "doctor", "pharmacy"), "#e7298a"),
    (("home", "residential", "housing", "residence"), "#b15928"),
    (("transport", "station", "bus", "rail", "train", "travel", "parking", "road"), "#525252"),
    (("office", "work", "professional", "business", "industr"), "#8c96c6"),
)  # fmt: skip
#: raster styles :func:`~geocalliper.io.geotiff.to_geotiff` can write beside a GeoTIFF
RASTER_STYLES = ("auto", "categories", "ramp", "gray", "rgb")
#: the prefix of embedding band and column names
EMBEDDING_PREFIX = "calliper_"
EMBEDDING_NOTE = (
    "A CaLLiPer location embedding: one band per dimension ({n} bands, calliper_0 ...). "
    "It opens showing the first dimension in grey, which alone means little. Pick another "
    "band in Symbology, choose three as Multiband color, or open the RGB preview (the first "
    "three principal components) written beside it."
)


def category_colors(names: Sequence[str]) -> list[str]:
    """A colour per label name: by what the name says, else the next unused palette colour.

    Names with a word starting green/park/forest… are green, water/lake/river… blue,
    food/restaurant/cafe… orange, shop/retail… red, culture/museum/art… purple, and so
    on (:data:`KEYWORD_COLORS`); two names of one kind, and names of no known kind, get
    the next :func:`label_colors` colour that is not used yet.

    Examples
    --------
    >>> category_colors(["eating out", "green space", "water", "other"])
    ['#ff7f00', '#33a02c', '#1f78b4', '#1f77b4']
    >>> category_colors(["eating out", "food", "theatre"])
    ['#ff7f00', '#1f77b4', '#6a3d9a']
    """
    chosen: list[str | None] = []
    for name in names:
        words = re.findall(r"\w+", str(name).lower())
        colour = next(
            (c for keys, c in KEYWORD_COLORS if any(w.startswith(keys) for w in words)), None
        )
        chosen.append(None if colour in chosen else colour)
    spare = iter(c for c in label_colors(2 * len(chosen) + 1) if c not in chosen)
    return [c if c is not None else next(spare) for c in chosen]


def raster_style(band_names: Sequence[str], *, categorical: bool = False, rgb: bool = False) -> str:
    """The style ``"auto"`` means for a raster (see the module notes).

    Examples
    --------
    >>> raster_style(["calliper_0", "calliper_1"]), raster_style(["A place of cafe"])
    ('gray', 'ramp')
    """
    if categorical:
        return "categories"
    if rgb:
        return "rgb"
    if band_names and all(str(n).startswith(EMBEDDING_PREFIX) for n in band_names):
        return "gray"
    return "ramp"


def raster_qml(
    style: str,
    band_names: Sequence[str],
    ranges: Sequence[tuple[float, float] | None],
    *,
    categories: dict | None = None,
    rgb: bool = False,
    title: str = "",
) -> str:
    """The QGIS style of a raster: a ``.qml`` document (see the module notes).

    Parameters
    ----------
    style
        One of :data:`RASTER_STYLES`; ``"auto"`` chooses by content.
    band_names
        The band descriptions (``calliper_0`` …, the query texts, ``red`` …).
    ranges
        ``(minimum, maximum)`` of the valid cells of each band (``None``: no valid cell).
    categories
        For a categorical raster: ``names`` and ``colors`` (``#rrggbb``) of codes 0 … n-1.
    rgb
        Whether the raster is an RGB preview (three ``uint8`` bands).
    title
        The layer title (e.g. the file name).

    Returns
    -------
    str
        The QML document.

    Examples
    --------
    >>> qml = raster_qml("auto", ["A place of cafe"], [(-0.1, 0.7)])
    >>> 'type="singlebandpseudocolor"' in qml
    True
    """
    from . import qml

    if style not in RASTER_STYLES:
        raise ValueError(f"style must be one of {', '.join(RASTER_STYLES)} or None, got {style!r}.")
    if style == "auto":
        style = raster_style(band_names, categorical=categories is not None, rgb=rgb)
    lo, hi = next((r for r in ranges if r is not None), (0.0, 1.0))
    first = band_names[0] if band_names else "band 1"
    if style == "categories":
        if categories is None:
            raise ValueError("style='categories' needs a raster with category_names.")
        names = categories["names"]
        return qml.paletted(
            names,
            categories["colors"],
            title=title,
            abstract=f"Categories ({len(names)}): " + ", ".join(names) + ".",
        )
    if style == "rgb":
        return qml.multiband(title=title, abstract="An RGB picture; nodata (0) is transparent.")
    if style == "gray":
        note = EMBEDDING_NOTE.format(n=len(band_names))
        if not all(str(n).startswith(EMBEDDING_PREFIX) for n in band_names):
            note = f"Band 1 ({first}) in grey, from its minimum to its maximum."
        return qml.gray(lo, hi, title=title, abstract=note)
    return qml.pseudocolor(
        lo,
        hi,
        title=title,
        abstract=f"Band 1 ({first}) on the viridis ramp, from its minimum to its maximum"
        + (f"; the raster has {len(band_names)} bands." if len(band_names) > 1 else "."),
    )


def _symbol_kind(frame: Any) -> str:
    """``"marker"``, ``"line"`` or ``"fill"``: how QGIS draws the frame's geometries."""
    kinds = frame.geometry.dropna().geom_type
    first = str(kinds.iloc[0]) if len(kinds) else "Point"
    return "fill" if "Polygon" in first else "line" if "Line" in first else "marker"


def _ramp_colors(n: int, stops: Sequence[tuple[float, str]]) -> list[str]:
    """``n`` colours evenly spaced along a ramp of ``(position, "#rrggbb")`` stops."""
    pos = [p for p, _ in stops]
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for _, c in stops], float)
    out = []
    for t in np.linspace(0.0, 1.0, n) if n > 1 else [0.5]:
        r, g, b = (round(float(np.interp(t, pos, rgb[:, k]))) for k in range(3))
        out.append(f"#{r:02x}{g:02x}{b:02x}")
    return out


#: next places: rank 1 dark red … last rank pale yellow
RANK_RAMP = ((0.0, "#99000d"), (0.5, "#fb6a4a"), (1.0, "#fee391"))


def _rank_style(frame: Any, kind: str, title: str) -> str:
    from . import qml

    ranks = frame["rank"].dropna()
    top = max(int(ranks.max()) if len(ranks) else 1, 1)
    ranges = [(r - 0.5, r + 0.5, f"rank {r}") for r in range(1, min(top, 10) + 1)]
    if top > 10:
        ranges[-1] = (9.5, top + 0.5, f"rank 10 to {top}")
    n = len(ranges)
    sizes = [round(4.0 - 2.4 * i / max(n - 1, 1), 2) for i in range(n)]
    return qml.graduated(
        "rank",
        ranges,
        _ramp_colors(n, RANK_RAMP),
        kind,
        sizes=sizes,
        title=title,
        abstract="Predicted next places, coloured and sized by rank (1 = most likely).",
    )


def _value_style(frame: Any, column: str, kind: str, title: str, note: str) -> str:
    from . import qml

    values = frame[column].astype(float)
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if not hi > lo:
        hi = lo + 1e-6
    edges = np.linspace(lo, hi, 6)
    ranges = [(edges[i], edges[i + 1], f"{edges[i]:.3f} – {edges[i + 1]:.3f}") for i in range(5)]
    return qml.graduated(
        column, ranges, _ramp_colors(5, qml.VIRIDIS), kind, title=title, abstract=note
    )


def vector_qml(frame: Any, *, title: str = "") -> str:
    """The QGIS style of a vector layer, chosen from its columns (see the module notes).

    Parameters
    ----------
    frame
        The GeoDataFrame as written (e.g. by :func:`~geocalliper.io.vector.write_vector`).
        A ``label`` column's legend lists ``frame.attrs["category_names"]`` when set
        (:func:`~geocalliper.zeroshot.maps.label_h3` sets it), else the values found.
    title
        The layer title.

    Returns
    -------
    str
        The QML document.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> top = gpd.GeoDataFrame({"rank": [1, 2]}, geometry=[shapely.Point(0, 0)] * 2, crs=4326)
    >>> 'attr="rank"' in vector_qml(top)
    True
    """
    from . import qml

    kind = _symbol_kind(frame)
    columns = [c for c in frame.columns if c != frame.geometry.name]
    if "rank" in columns and frame["rank"].dtype.kind in "iuf":
        return _rank_style(frame, kind, title)
    if "label" in columns and frame["label"].dtype.kind not in "iufcbmM":
        found = [str(v) for v in frame["label"].dropna().unique()]
        names = [str(n) for n in frame.attrs.get("category_names") or sorted(found)]
        names += [v for v in found if v not in names]
        return qml.categorized(
            "label",
            names,
            category_colors(names),
            kind,
            title=title,
            abstract="The best-matching label of each feature: " + ", ".join(names) + ".",
        )
    dims = [c for c in columns if str(c).startswith(EMBEDDING_PREFIX)]
    scores = [c for c in columns if frame[c].dtype.kind == "f" and c not in dims]
    if kind == "fill" and scores and not dims:
        note = f"Graduated by {scores[0]!r} (5 equal intervals, viridis)."
        if len(scores) > 1:
            note += f" The layer has {len(scores)} score columns; pick another in Symbology."
        return _value_style(frame, scores[0], kind, title, note)
    if kind == "fill" and dims:
        note = (
            f"CaLLiPer embeddings ({len(dims)} columns calliper_0 ...), graduated by the first "
            "dimension, which alone means little: pick another column in Symbology, or "
            "cluster the cells (see docs/qgis.md)."
        )
        return _value_style(frame, dims[0], kind, title, note)
    note = "Features in one colour."
    if dims:
        note = f"Features with CaLLiPer embeddings ({len(dims)} columns calliper_0 ...)."
    return qml.single_symbol(kind, "#3b528b", title=title, abstract=note)
