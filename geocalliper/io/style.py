"""How maps look: label colours and one-band previews (the home of map styles).

:data:`PALETTE` and :func:`label_colors` give each label of a categorical map its colour
(the colour table and legend :func:`~geocalliper.io.geotiff.to_geotiff` writes);
:func:`preview_rgb` turns a one-band map (a similarity or label raster) into an RGB
picture for :func:`~geocalliper.io.geotiff.write_png`. Styles for QGIS belong here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
