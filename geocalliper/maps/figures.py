"""Static map figures for reports: the raster, the POIs over it, a legend and a scale bar.

:func:`map_figure` draws any raster :func:`~geocalliper.maps.layers.picture` knows, in
its own (metric) CRS, so the scale bar is true: a label map gets a legend of its labels,
a query map a colour bar, an embedding grid its RGB preview with a note on how to read
it; the POIs, when given, are drawn over it and named in the legend. Uses matplotlib's
object API (no pyplot state), so it runs headless.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._optional import import_optional
from ..tempfiles import atomic_output
from .layers import RAMP, picture

if TYPE_CHECKING:
    import geopandas as gpd
    import xarray as xr
    from matplotlib.figure import Figure


def nice_length(span: float) -> float:
    """A round length (1, 2 or 5 times a power of ten) of about a quarter of ``span``.

    Examples
    --------
    >>> nice_length(4000.0), nice_length(900.0)
    (1000.0, 200.0)
    """
    target = max(span / 4.0, 1e-9)
    power = 10.0 ** np.floor(np.log10(target))
    for step in (5.0, 2.0, 1.0):
        if step * power <= target:
            return float(step * power)
    return float(power)


def _length_text(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def add_scale_bar(ax: Any, crs: Any, span: float) -> bool:
    """Draw a scale bar in the lower left of ``ax`` if ``crs`` is in metres.

    Returns whether one was drawn (not for a geographic CRS, whose degrees vary).

    Examples
    --------
    >>> add_scale_bar(ax, pyproj.CRS(3067), 4000.0)        # doctest: +SKIP
    True
    """
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    unit = crs.axis_info[0].unit_name if crs is not None and crs.axis_info else ""
    if crs is None or crs.is_geographic or unit not in ("metre", "meter"):
        return False
    length = nice_length(span)
    bar = AnchoredSizeBar(
        ax.transData,
        length,
        _length_text(length),
        "lower left",
        pad=0.5,
        sep=4,
        frameon=True,
        size_vertical=span / 150,
        fontproperties=FontProperties(size=9),
    )
    bar.patch.set_alpha(0.8)
    ax.add_artist(bar)
    return True


def map_figure(
    raster: xr.DataArray | xr.Dataset,
    pois: gpd.GeoDataFrame | None = None,
    *,
    title: str | None = None,
    width: float = 7.0,
) -> Figure:
    """A figure of a raster with the POIs over it, its legend or colour bar, and a scale.

    Parameters
    ----------
    raster
        An embedding grid, an RGB preview, a query map or a label map (with a CRS).
    pois
        Points drawn over the raster (any CRS; reprojected to the raster's).
    title
        Figure title; default: from the raster.
    width
        Figure width in inches (the height follows the raster's shape).

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`save_figure`; a notebook shows it.

    Examples
    --------
    >>> fig = map_figure(gc.query_grid(model, area, "A place of cafe", 25), pois)  # doctest: +SKIP
    >>> save_figure(fig, "cafes.png")                                            # doctest: +SKIP
    PosixPath('cafes.png')
    """
    import_optional("matplotlib", "map figures")
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    pic = picture(raster, title)
    left, bottom, right, top = pic.bounds
    aspect = (top - bottom) / max(right - left, 1e-9)
    fig = Figure(figsize=(width, max(3.0, width * aspect * 0.9 + 0.8)), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(pic.rgba, extent=(left, right, bottom, top), interpolation="nearest")
    handles: list[Any] = []
    if pois is not None and len(pois):
        points = pois.to_crs(pic.crs) if pois.crs is not None else pois
        geom = points.geometry
        if not (geom.geom_type == "Point").all():
            geom = geom.representative_point()
        ax.scatter(geom.x, geom.y, s=5, c="#111111", edgecolors="white", linewidths=0.3, zorder=3)
        handles.append(
            Line2D([], [], marker="o", ls="", color="#111111", markeredgecolor="white",
                   markersize=4, label=f"POIs ({len(points)})")
        )  # fmt: skip
    if pic.kind == "labels":
        handles = [Patch(color=colour, label=str(name)) for name, colour in pic.categories] + [
            *handles
        ]
    if pic.kind == "values" and pic.value_range is not None:
        cmap = LinearSegmentedColormap.from_list("geocalliper", list(RAMP))
        mappable = _scalar_mappable(cmap, Normalize(*pic.value_range))
        bar = fig.colorbar(mappable, ax=ax, shrink=0.8, pad=0.02)
        bar.set_label("cosine similarity (2nd to 98th percentile)")
    if pic.kind in ("embedding", "rgb"):
        ax.text(
            0.99, 0.01, "similar colours: similar places", transform=ax.transAxes,
            ha="right", va="bottom", fontsize=8,
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"},
        )  # fmt: skip
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8, framealpha=0.9)
    add_scale_bar(ax, pic.crs, right - left)
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(pic.title, fontsize=11)
    ax.set_xlabel(f"{pic.crs.name}; © OpenStreetMap contributors (POIs)", fontsize=8)
    return fig


def _scalar_mappable(cmap: Any, norm: Any) -> Any:
    from matplotlib.cm import ScalarMappable

    mappable = ScalarMappable(norm=norm, cmap=cmap)
    mappable.set_array(np.array([]))
    return mappable


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Write ``fig`` as a PNG, atomically (no half-written file on failure).

    Examples
    --------
    >>> save_figure(map_figure(query, pois), "query.png")     # doctest: +SKIP
    PosixPath('query.png')
    """
    path = Path(path)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path
