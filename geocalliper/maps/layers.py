"""A raster as a picture with its legend: what the interactive map and the figures share.

:func:`picture` recognises the four rasters geocalliper makes and colours them:

- an embedding grid (many bands, :func:`~geocalliper.embed_grid`): its first three
  principal components as RGB (:func:`~geocalliper.to_rgb`);
- an RGB preview (three ``uint8`` bands): as it is;
- a label map (``category_colors`` in ``attrs``, :func:`~geocalliper.label_grid`): one
  colour per label, with a legend of the labels;
- any other one-band map (a similarity map, :func:`~geocalliper.query_grid`): a ramp
  from dark blue to yellow between its 2nd and 98th percentiles, with a colour bar.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..spatial.raster import rio_transform, to_rgb

if TYPE_CHECKING:
    import xarray as xr

#: the colour ramp of one-band maps, low to high (viridis' ends and middle)
RAMP = ("#440154", "#21918c", "#fde725")

Kind = Literal["embedding", "rgb", "labels", "values"]


@dataclass
class Picture:
    """A raster coloured for display: ``rgba`` on the raster's own grid, and its legend.

    Attributes
    ----------
    rgba
        ``(rows, cols, 4)`` ``uint8``; nodata cells are transparent (alpha 0).
    bounds
        ``(left, bottom, right, top)`` in ``crs``.
    crs
        The raster's CRS (a :class:`pyproj.CRS`).
    kind
        ``"embedding"``, ``"rgb"``, ``"labels"`` or ``"values"``.
    title
        What the picture shows, for a legend title.
    categories
        Label map: ``(name, "#rrggbb")`` per label, in code order.
    value_range
        One-band map: the values at the bottom and the top of :data:`RAMP`.
    """

    rgba: np.ndarray
    bounds: tuple[float, float, float, float]
    crs: object
    kind: Kind
    title: str
    categories: list[tuple[str, str]] = field(default_factory=list)
    value_range: tuple[float, float] | None = None

    def png_data_url(self) -> str:
        """The picture as a ``data:image/png;base64,…`` URL (shows without any network).

        Examples
        --------
        >>> pic.png_data_url()[:22]                       # doctest: +SKIP
        'data:image/png;base64,'
        """
        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(self.rgba, mode="RGBA").save(buffer, format="PNG")
        return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def ramp_colours(t: np.ndarray) -> np.ndarray:
    """RGB ``uint8`` of positions ``t`` in ``[0, 1]`` on :data:`RAMP`: shape ``t.shape + (3,)``.

    Examples
    --------
    >>> ramp_colours(np.array([0.0, 1.0])).tolist()
    [[68, 1, 84], [253, 231, 37]]
    """
    anchors = np.array([_hex(c) for c in RAMP], dtype=np.float64)
    stops = np.linspace(0.0, 1.0, len(RAMP))
    out = np.stack([np.interp(t, stops, anchors[:, b]) for b in range(3)], axis=-1)
    return np.round(out).astype(np.uint8)


def _one_band(da: xr.DataArray) -> xr.DataArray:
    if "band" in da.dims:
        da = da.squeeze("band", drop=True) if da.sizes["band"] == 1 else da
    return da


def picture(da: xr.DataArray | xr.Dataset, title: str | None = None) -> Picture:
    """Colour a geocalliper raster for display, with what its legend needs.

    Parameters
    ----------
    da
        An embedding grid, an RGB preview, a label map or a one-band map, with a CRS
        (as geocalliper writes them). A label map's Dataset (with scores) is taken by
        its ``label`` variable.
    title
        Legend title; default: from the raster (the query text, "labels", …).

    Returns
    -------
    Picture

    Examples
    --------
    >>> import numpy as np, xarray as xr, rioxarray  # noqa: F401
    >>> q = xr.DataArray(np.arange(12.0).reshape(3, 4), dims=("y", "x"),
    ...                  coords={"y": [2.5, 1.5, 0.5], "x": [0.5, 1.5, 2.5, 3.5]})
    >>> q = q.rio.write_crs("EPSG:3067")
    >>> pic = picture(q, title="similarity")
    >>> pic.kind, pic.rgba.shape, pic.bounds
    ('values', (3, 4, 4), (0.0, 0.0, 4.0, 3.0))
    """
    if hasattr(da, "data_vars"):  # label_grid(..., scores) gives a Dataset
        da = da["label"]
    da = _one_band(da)
    if da.rio.crs is None:
        raise ValueError("The raster has no CRS; write one with da.rio.write_crs(...).")
    from pyproj import CRS

    crs = CRS.from_user_input(da.rio.crs)
    categories: list[tuple[str, str]] = []
    value_range = None
    if "band" in da.dims and da.sizes["band"] > 3:
        kind: Kind = "embedding"
        rgb = np.moveaxis(np.asarray(to_rgb(da).values), 0, -1)
        alpha = np.where(rgb.any(axis=-1), 255, 0).astype(np.uint8)
        default = "embedding: first three principal components as RGB"
    elif "band" in da.dims and da.sizes["band"] == 3:
        kind = "rgb"
        values = np.moveaxis(np.asarray(da.values), 0, -1)
        if values.dtype != np.uint8:
            finite = np.isfinite(values)
            lo, hi = np.nanmin(values), np.nanmax(values)
            values = np.where(finite, (values - lo) / max(hi - lo, 1e-12) * 254 + 1, 0)
        rgb = values.astype(np.uint8)
        alpha = np.where(rgb.any(axis=-1), 255, 0).astype(np.uint8)
        default = "first three principal components as RGB"
    elif da.dims != ("y", "x"):
        sizes = ", ".join(f"{k}={v}" for k, v in da.sizes.items())
        raise ValueError(
            f"Cannot draw a raster with {sizes}: give an embedding grid, an RGB preview, a "
            "label map or a one-band map (pick one band with da.isel(band=[0]))."
        )
    elif da.attrs.get("category_colors"):
        kind = "labels"
        codes = np.asarray(da.values)
        names = da.attrs.get("category_names") or [str(i) for i in range(len(codes))]
        colours = list(da.attrs["category_colors"])
        categories = list(zip(names, colours, strict=False))
        rgb = np.zeros((*codes.shape, 3), dtype=np.uint8)
        alpha = np.zeros(codes.shape, dtype=np.uint8)
        for code, colour in enumerate(colours):
            mask = codes == code
            rgb[mask] = _hex(colour)
            alpha[mask] = 255
        default = "best-matching label"
    else:
        kind = "values"
        values = np.asarray(da.values, dtype=np.float64)
        ok = np.isfinite(values)
        lo, hi = np.percentile(values[ok], [2, 98]) if ok.any() else (0.0, 1.0)
        value_range = (float(lo), float(hi))
        rgb = ramp_colours(np.clip((np.nan_to_num(values) - lo) / max(hi - lo, 1e-12), 0, 1))
        alpha = np.where(ok, 255, 0).astype(np.uint8)
        name = da.attrs.get("long_name")
        name = name[0] if isinstance(name, (tuple, list)) and name else name
        default = f'similarity to "{name}"' if isinstance(name, str) and name else "value"
    left, bottom, right, top = _bounds(da)
    return Picture(
        rgba=np.dstack([rgb, alpha]),
        bounds=(left, bottom, right, top),
        crs=crs,
        kind=kind,
        title=title or default,
        categories=categories,
        value_range=value_range,
    )


def _bounds(da: xr.DataArray) -> tuple[float, float, float, float]:
    """``(left, bottom, right, top)`` of the raster's outer cell edges."""
    t = rio_transform(da)
    rows, cols = da.sizes["y"], da.sizes["x"]
    xs = (t.c, t.c + t.a * cols)
    ys = (t.f, t.f + t.e * rows)
    return min(xs), min(ys), max(xs), max(ys)


def to_web_mercator(da: xr.DataArray | xr.Dataset) -> xr.DataArray | xr.Dataset:
    """The raster warped to Web Mercator (EPSG:3857), where web maps stretch pictures.

    Label maps and RGB previews are resampled by nearest cell, other rasters bilinearly;
    cells outside the raster get its nodata value (a label map's 255: no label).

    Examples
    --------
    >>> to_web_mercator(q).rio.crs.to_epsg()               # doctest: +SKIP
    3857
    """
    from rasterio.enums import Resampling

    if hasattr(da, "data_vars"):
        da = da["label"]
    da = _one_band(da)
    nearest = bool(da.attrs.get("category_colors")) or str(da.dtype) == "uint8"
    if not nearest and da.rio.nodata is None and np.issubdtype(da.dtype, np.floating):
        da = da.rio.write_nodata(np.nan)
    attrs = dict(da.attrs)
    out = da.rio.reproject(
        "EPSG:3857", resampling=Resampling.nearest if nearest else Resampling.bilinear
    )
    out.attrs.update({k: v for k, v in attrs.items() if k not in out.attrs})
    return out
