"""Raster files: (Cloud-Optimised) GeoTIFF and PNG previews of ``(band, y, x)`` DataArrays.

:func:`to_geotiff` writes a tiled, compressed GeoTIFF with overviews, band descriptions
and nodata, ready for QGIS; by default a Cloud-Optimised GeoTIFF. A dask-backed array is
computed and written block by block, so memory stays bounded whatever the raster's size.
:func:`write_png` writes an RGB preview (e.g. from :func:`geocalliper.spatial.raster.to_rgb`).

Writes are atomic: the file is built under a temporary name in the target folder and
renamed onto the target only when complete; a failure leaves no partial file behind (see
:mod:`geocalliper.tempfiles`: temporaries are named ``.<file>.geocalliper-tmp-…`` and a
killed write's are removed by the next write to that file or by ``geocalliper clean``).
The written file is re-opened and its last tile read back before the rename, since GDAL
does not always report a failed write; a full disk raises
:class:`~geocalliper.exceptions.DiskFullError`. Rasters of more than ``max_cells`` cells
(default 10⁹) are refused before anything is computed or written.

Layout of a COG. Pixel interleaving (every band of a tile stored together) is what
GDAL's COG driver writes up to GDAL 3.10; for an embedding of 128 bands that makes one
512 × 512 tile 128 MiB before compression, all of which a reader decompresses to show a
single band. So rasters of more than 4 bands are band-interleaved, and the COG is then
written by the GTiff driver from a source with overviews (``COPY_SRC_OVERVIEWS``: IFDs
first, overviews before the full resolution, as the COG layout asks); rasters of at
most 4 bands (e.g. RGB previews) go through the COG driver.

Categorical rasters. A one-band ``uint8``/``uint16`` raster whose ``attrs`` hold
``category_names`` (e.g. from :func:`geocalliper.zeroshot.label_grid`) is written with a
colour table (``category_colors``, nodata transparent), the names as band metadata in
the file (``CATEGORY_NAMES``, JSON) and, because GDAL keeps category names and raster
attribute tables of a GeoTIFF only in its PAM side file, a ``<file>.aux.xml`` beside it
with ``<CategoryNames>`` and a thematic raster attribute table (value, name, text,
colour) for GDAL and other readers. Its overviews use ``"nearest"`` resampling (a mean
of label codes means nothing). Writing any other raster over that file removes a stale
``.aux.xml``.

QGIS. Beside every GeoTIFF goes a QGIS style, ``<name>.qml`` (``style=``; chosen by
content in :mod:`geocalliper.io.style`): QGIS applies it when the layer is added, so a
label raster shows exactly its named classes from the ``.tif`` and ``.qml`` alone (QGIS
does not read GDAL category names from the TIFF itself). Every band carries GDAL's
``STATISTICS_*`` metadata, accumulated while the blocks are written, so readers (QGIS)
need not compute statistics on first open. The style is written before the GeoTIFF is
renamed into place: a failure leaves the old pair as it was. :func:`write_png`
georeferences its picture with a world file and a ``.png.aux.xml`` holding the CRS.

Length: about 750 lines: one writer's steps (windows, statistics, overviews, categories
and their side file, the style, the read-back check, atomic rename) share private
helpers, and
:func:`write_png` reuses its preparation of the array; split, they would import each
other's private names.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import numpy as np
from tqdm.auto import tqdm

from .._optional import import_optional
from ..exceptions import GridTooLargeError, MissingCRSError
from ..spatial.raster import DEFAULT_MAX_GRID_CELLS, rio_transform
from ..tempfiles import atomic_output, remove_temporary, temp_path
from .style import EMBEDDING_NOTE, RASTER_STYLES, raster_qml, raster_style

if TYPE_CHECKING:
    import xarray as xr

#: Interleave rasters of more bands than this by band (see the module notes).
MAX_PIXEL_INTERLEAVED_BANDS = 4
_RGB = ("red", "green", "blue")
#: suffix GDAL gives the PAM side file of a raster (``file.tif.aux.xml``)
AUX_SUFFIX = ".aux.xml"
#: suffix of the QGIS style written beside a raster (``labels.tif`` -> ``labels.qml``)
QML_SUFFIX = ".qml"
#: band metadata key holding the category names (a JSON list) inside the GeoTIFF
CATEGORY_TAG = "CATEGORY_NAMES"
#: GDAL block cache while writing (GDAL's default, 5% of RAM, is not needed for tiles
#: written in order, nor for overviews built band by band); ``GDAL_CACHEMAX`` in the
#: environment or a ``rasterio.Env`` wins.
GDAL_CACHE_BYTES = 64 * 1024**2


# ---------------------------------------------------------------------------- input
def _prepare(da: Any) -> tuple[Any, dict[str, Any]]:
    """Check ``da``, put it in (band, y, x) order; return it and its raster metadata."""
    xr = import_optional("xarray", "raster files")
    import_optional("rioxarray", "raster files")
    if not isinstance(da, xr.DataArray):
        raise TypeError(f"da must be an xarray.DataArray, got {type(da).__name__}.")
    y_dim, x_dim = da.rio.y_dim, da.rio.x_dim
    if da.ndim == 2:
        da = da.expand_dims("band")
    if da.ndim != 3:
        raise ValueError(f"da must have dims (band, y, x) or (y, x), got {da.dims}.")
    band_dim = next(d for d in da.dims if d not in (y_dim, x_dim))
    da = da.transpose(band_dim, y_dim, x_dim)
    if da.rio.crs is None:
        raise MissingCRSError(
            "The raster has no CRS, so a GIS could not place it. Set it with "
            "da = da.rio.write_crs('EPSG:....')."
        )
    count, height, width = (int(n) for n in da.shape)
    long_name = da.attrs.get("long_name")
    if band_dim in da.coords and da[band_dim].dtype.kind in "UO":
        names = [str(v) for v in da[band_dim].values]
    elif isinstance(long_name, list | tuple) and len(long_name) == count:
        names = [str(v) for v in long_name]
    else:
        names = [f"band_{i + 1}" for i in range(count)]
    dtype = np.dtype(da.dtype)
    nodata = da.rio.nodata
    if nodata is None and dtype.kind == "f":
        nodata = np.nan
    meta = {
        "count": count,
        "height": height,
        "width": width,
        "dtype": dtype,
        "crs": da.rio.crs,
        "transform": rio_transform(da),
        "nodata": None if nodata is None else float(nodata) if dtype.kind == "f" else nodata,
        "names": names,
        "rgb": dtype == np.uint8 and tuple(names) == _RGB,
        "categories": _categories(da, count, dtype, nodata),
    }
    return da, meta


def _rgba(color: Any) -> tuple[int, int, int, int]:
    """``"#rrggbb"``, ``"#rrggbbaa"`` or an (r, g, b[, a]) tuple of 0-255 ints."""
    if isinstance(color, str):
        h = color.lstrip("#")
        if len(h) not in (6, 8):
            raise ValueError(f"Cannot read the colour {color!r}; use '#rrggbb'.")
        values = [int(h[i : i + 2], 16) for i in range(0, len(h), 2)]
    else:
        values = [int(v) for v in color]
    if len(values) == 3:
        values.append(255)
    if len(values) != 4 or not all(0 <= v <= 255 for v in values):
        raise ValueError(f"Cannot read the colour {color!r}; use '#rrggbb'.")
    return values[0], values[1], values[2], values[3]


def _categories(da: Any, count: int, dtype: np.dtype, nodata: Any) -> dict[str, Any] | None:
    """Names, texts and colours of a categorical raster (see the module notes), or None."""
    names = da.attrs.get("category_names")
    if names is None:
        return None
    names = [str(n) for n in names]
    if count != 1 or dtype not in (np.uint8, np.uint16):
        raise ValueError(
            f"A raster with category_names must have one uint8 or uint16 band (codes "
            f"0 … n-1), got {count} band(s) of {dtype}."
        )
    if len(names) > np.iinfo(dtype).max + 1:
        raise ValueError(f"{len(names)} categories do not fit {dtype} codes.")
    texts = list(da.attrs.get("category_texts") or names)
    colors = list(da.attrs.get("category_colors") or [])
    if not colors:
        from .style import category_colors

        colors = category_colors(names)
    if len(texts) != len(names) or len(colors) != len(names):
        raise ValueError("category_texts and category_colors need one entry per category name.")
    colormap = {i: _rgba(c) for i, c in enumerate(colors)}
    if nodata is not None and 0 <= int(nodata) <= np.iinfo(dtype).max:
        colormap[int(nodata)] = (0, 0, 0, 0)  # transparent outside the area
    return {"names": names, "texts": [str(t) for t in texts], "colormap": colormap}


def pam_xml(categories: dict[str, Any]) -> str:
    """The PAM ``.aux.xml`` of a categorical band: category names and a thematic RAT.

    The raster attribute table has the columns ``Value`` (usage MinMax), ``Name``
    (usage Name), ``Text`` (generic) and ``Red``/``Green``/``Blue``/``Alpha``.

    Examples
    --------
    >>> xml = pam_xml({"names": ["cafe"], "texts": ["A place of cafe"],
    ...                "colormap": {0: (31, 119, 180, 255)}})
    >>> "<Category>cafe</Category>" in xml
    True
    """
    # (name, GDALRATFieldType: 0 integer / 2 string, GDALRATFieldUsage)
    fields = [
        ("Value", 0, 5),
        ("Name", 2, 2),
        ("Text", 2, 0),
        ("Red", 0, 6),
        ("Green", 0, 7),
        ("Blue", 0, 8),
        ("Alpha", 0, 9),
    ]
    lines = ["<PAMDataset>", '  <PAMRasterBand band="1">', "    <CategoryNames>"]
    lines += [f"      <Category>{escape(n)}</Category>" for n in categories["names"]]
    lines += ["    </CategoryNames>", '    <GDALRasterAttributeTable tableType="thematic">']
    for i, (name, kind, usage) in enumerate(fields):
        lines.append(
            f'      <FieldDefn index="{i}"><Name>{name}</Name><Type>{kind}</Type>'
            f"<Usage>{usage}</Usage></FieldDefn>"
        )
    rows = zip(categories["names"], categories["texts"], strict=True)
    for value, (name, text) in enumerate(rows):
        r, g, b, a = categories["colormap"][value]
        cells = [str(value), escape(name), escape(text), str(r), str(g), str(b), str(a)]
        row = "".join(f"<F>{c}</F>" for c in cells)
        lines.append(f'      <Row index="{value}">{row}</Row>')
    lines += ["    </GDALRasterAttributeTable>", "  </PAMRasterBand>", "</PAMDataset>", ""]
    return "\n".join(lines)


def _write_sidecar(target: Path, categories: dict[str, Any] | None) -> None:
    """Write the PAM side file of a categorical raster; remove a stale one otherwise."""
    aux = target.with_name(target.name + AUX_SUFFIX)
    if categories is None:
        with contextlib.suppress(FileNotFoundError):
            aux.unlink()
        return
    with atomic_output(aux) as tmp:
        tmp.write_text(pam_xml(categories), encoding="utf-8")


def style_path(path: str | os.PathLike) -> Path:
    """The ``.qml`` QGIS loads as the default style of ``path``: the same name, ``.qml``.

    Examples
    --------
    >>> style_path("maps/labels.tif")
    PosixPath('maps/labels.qml')
    """
    return Path(path).with_suffix(QML_SUFFIX)


def _write_style(target: Path, meta: dict[str, Any], stats: _Stats, style: str) -> None:
    """Write the QGIS style of a raster beside it (see :mod:`geocalliper.io.style`)."""
    categories = meta["categories"]
    if categories is not None:
        codes = range(len(categories["names"]))
        colors = ["#{:02x}{:02x}{:02x}".format(*categories["colormap"][i][:3]) for i in codes]
        categories = {"names": categories["names"], "colors": colors}
    text = raster_qml(
        style,
        meta["names"],
        stats.ranges(),
        categories=categories,
        rgb=meta["rgb"],
        title=target.stem,
    )
    with atomic_output(style_path(target)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _is_dask(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "dask"


def _n_parallel() -> int:
    """Blocks computed at once: the distributed client's threads, else one.

    Locally one block at a time is as fast (the encoder already uses every core) and
    each block in flight holds its whole ``(band, y, x)`` array.
    """
    try:
        from distributed import get_client

        return max(1, sum(get_client().nthreads().values()))
    except Exception:  # no distributed, or no client
        return 1


# ---------------------------------------------------------------------------- writing
def _overview_factors(height: int, width: int, blocksize: int, overviews: int | None) -> list[int]:
    if overviews is None:
        levels, side = 0, max(height, width)
        while side > blocksize:
            levels, side = levels + 1, math.ceil(side / 2)
    else:
        levels = int(overviews)
    return [2**k for k in range(1, levels + 1)]


def _windows(data: Any, meta: dict[str, Any], blocksize: int) -> Iterator[tuple[Any, Any]]:
    """Yield (window, numpy block) pairs covering the raster; dask blocks are computed
    one at a time (as many as a distributed cluster runs at once), never the whole array."""
    from rasterio.windows import Window

    if _is_dask(data):
        import dask

        data = data.rechunk({0: -1})
        rows = np.concatenate([[0], np.cumsum(data.chunks[1])]).astype(int)
        cols = np.concatenate([[0], np.cumsum(data.chunks[2])]).astype(int)
        ids = [(i, j) for i in range(len(rows) - 1) for j in range(len(cols) - 1)]
        step = _n_parallel()
        for start in range(0, len(ids), step):
            batch = ids[start : start + step]
            values = dask.compute(*[data.blocks[0, i, j] for i, j in batch])
            for (i, j), block in zip(batch, values, strict=True):
                window = Window(cols[j], rows[i], cols[j + 1] - cols[j], rows[i + 1] - rows[i])
                yield window, block
    else:
        data = np.asarray(data)
        for r0 in range(0, meta["height"], blocksize):
            r1 = min(r0 + blocksize, meta["height"])
            yield Window(0, r0, meta["width"], r1 - r0), data[:, r0:r1, :]


class _Stats:
    """Per-band minimum, maximum, mean and standard deviation of the valid cells,
    accumulated block by block while writing (GDAL's ``STATISTICS_*`` band metadata)."""

    def __init__(self, count: int, nodata: Any) -> None:
        self.nodata = nodata
        self.n = np.zeros(count, dtype=np.int64)
        self.total = 0
        self.sum = np.zeros(count)
        self.sumsq = np.zeros(count)
        self.min = np.full(count, np.inf)
        self.max = np.full(count, -np.inf)

    def add(self, block: np.ndarray) -> None:
        """Count a ``(band, rows, cols)`` block in, one band at a time (bounded memory)."""
        self.total += block[0].size
        skip = self.nodata is not None and not np.isnan(self.nodata)
        for band, values in enumerate(block):
            v = values[np.isfinite(values) & (values != self.nodata if skip else True)]
            if not v.size:
                continue
            v = v.astype(np.float64)
            self.n[band] += v.size
            self.sum[band] += v.sum()
            self.sumsq[band] += np.dot(v, v)
            self.min[band] = min(self.min[band], v.min())
            self.max[band] = max(self.max[band], v.max())

    def ranges(self) -> list[tuple[float, float] | None]:
        """``(minimum, maximum)`` per band; ``None`` for a band without a valid cell."""
        return [
            (float(lo), float(hi)) if n else None
            for lo, hi, n in zip(self.min, self.max, self.n, strict=True)
        ]

    def tags(self, band: int) -> dict[str, str]:
        """GDAL's statistics metadata of band ``band`` (0-based); empty if no valid cell."""
        n = int(self.n[band])
        if not n:
            return {}
        mean = self.sum[band] / n
        std = math.sqrt(max(self.sumsq[band] / n - mean * mean, 0.0))
        return {
            "STATISTICS_MINIMUM": repr(float(self.min[band])),
            "STATISTICS_MAXIMUM": repr(float(self.max[band])),
            "STATISTICS_MEAN": repr(float(mean)),
            "STATISTICS_STDDEV": repr(float(std)),
            "STATISTICS_VALID_PERCENT": f"{100.0 * n / max(self.total, 1):.6g}",
        }


def _write_blocks(dst: Any, data: Any, meta: dict[str, Any], blocksize: int, show: bool) -> _Stats:
    total = meta["height"] * meta["width"]
    show = show and total > 4 * blocksize**2
    stats = _Stats(meta["count"], meta["nodata"])
    with tqdm(total=total, desc="write", unit="cell", unit_scale=True, disable=not show) as bar:
        for window, block in _windows(data, meta, blocksize):
            block = np.ascontiguousarray(block, dtype=meta["dtype"])
            dst.write(block, window=window)
            stats.add(block)
            bar.update(int(window.width * window.height))
    return stats


def _gtiff_profile(
    meta: dict[str, Any], blocksize: int, compress: str, interleave: str, level: int | None
) -> dict[str, Any]:
    profile = {
        "driver": "GTiff",
        "width": meta["width"],
        "height": meta["height"],
        "count": meta["count"],
        "dtype": meta["dtype"].name,
        "crs": meta["crs"],
        "transform": meta["transform"],
        "nodata": meta["nodata"],
        "tiled": True,
        "blockxsize": blocksize,
        "blockysize": blocksize,
        "compress": compress,
        "interleave": interleave,
        "bigtiff": "IF_SAFER",
        "num_threads": "ALL_CPUS",
    }
    if compress.lower() in ("deflate", "zstd", "lzw", "lerc_deflate", "lerc_zstd"):
        profile["predictor"] = 3 if meta["dtype"].kind == "f" else 2
    if level is not None:
        key = {"deflate": "zlevel", "zstd": "zstd_level"}.get(compress.lower())
        if key:
            profile[key] = level
    if meta["rgb"] and interleave == "pixel":
        profile["photometric"] = "RGB"
    return profile


def _describe(dst: Any, meta: dict[str, Any], stats: _Stats) -> None:
    dst.descriptions = tuple(meta["names"])
    if raster_style(meta["names"]) == "gray":  # an embedding: say what the bands are
        note = EMBEDDING_NOTE.format(n=meta["count"])
        dst.update_tags(TIFFTAG_IMAGEDESCRIPTION=note)
    for band in range(meta["count"]):
        tags = stats.tags(band)
        if tags:
            dst.update_tags(band + 1, **tags)
    categories = meta["categories"]
    if categories is not None:
        dst.write_colormap(1, categories["colormap"])
        dst.update_tags(1, **{CATEGORY_TAG: json.dumps(categories["names"], ensure_ascii=False)})
    if meta["rgb"]:
        from rasterio.enums import ColorInterp

        dst.colorinterp = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)


def _gdal_options() -> dict[str, Any]:
    """No ``.aux.xml`` side files; a bounded GDAL block cache unless the user set one."""
    import rasterio.env

    options: dict[str, Any] = {"GDAL_PAM_ENABLED": "NO"}
    user = os.environ.get("GDAL_CACHEMAX") or (
        rasterio.env.hasenv() and rasterio.env.getenv().get("GDAL_CACHEMAX")
    )
    if not user:
        options["GDAL_CACHEMAX"] = GDAL_CACHE_BYTES
    return options


@contextlib.contextmanager
def _scratch(target: Path) -> Iterator[Path]:
    """A scratch file named after ``target`` (with GDAL's side files), removed afterwards."""
    tmp = temp_path(target, ".part")
    try:
        yield tmp
    finally:
        remove_temporary(tmp)


def _check_written(path: Path, meta: dict[str, Any]) -> None:
    """Re-open a written GeoTIFF and read its last tile: GDAL does not always raise when
    a write fails (e.g. on a full disk), but the file is then unreadable."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path) as src:
        if (src.count, src.height, src.width) != (meta["count"], meta["height"], meta["width"]):
            raise OSError(f"The GeoTIFF written to {str(path)!r} is incomplete.")
        h, w = src.block_shapes[0]
        row, col = (src.height - 1) // h * h, (src.width - 1) // w * w
        src.read(src.count, window=Window(col, row, src.width - col, src.height - row))


def _check_size(meta: dict[str, Any], max_cells: int | None) -> None:
    if max_cells is None:
        return
    cells = meta["height"] * meta["width"]
    if cells > max_cells:
        nbytes = cells * meta["count"] * meta["dtype"].itemsize
        raise GridTooLargeError(
            f"This raster has {cells:,} cells ({cells:.3g} cells: {meta['height']:,} × "
            f"{meta['width']:,}, {meta['count']} bands, {nbytes / 1e9:,.3g} GB before "
            f"compression), more than max_cells={max_cells:,}; writing it would take very "
            "long and fill a disk. Use a coarser resolution or a smaller area, or pass "
            "max_cells=None (or a larger number) if you mean it."
        )


def to_geotiff(
    da: xr.DataArray,
    path: str | os.PathLike,
    cog: bool = True,
    *,
    compress: str = "deflate",
    blocksize: int = 512,
    overviews: int | None = None,
    resampling: str | None = None,
    interleave: str = "auto",
    progress: bool = True,
    max_cells: int | None = DEFAULT_MAX_GRID_CELLS,
    style: str | None = "auto",
) -> Path:
    """Write a ``(band, y, x)`` DataArray to a tiled, compressed GeoTIFF with overviews.

    Parameters
    ----------
    da
        A raster with a CRS and transform known to rioxarray (``da.rio``), e.g. from
        :func:`geocalliper.spatial.raster.embed_grid` or :func:`~geocalliper.spatial.raster.to_rgb`;
        numpy- or dask-backed. A dask-backed array is computed block by block (one at
        a time; on a distributed cluster as many as it has threads) and each block
        written to its window, so the raster never has to fit in memory.
    path
        Target file; replaced atomically when the write succeeds.
    cog
        Write a Cloud-Optimised GeoTIFF (overviews first, tiles in order). With
        ``False`` a plain tiled GeoTIFF with internal overviews.
    compress
        ``"deflate"`` (default, read everywhere), ``"zstd"``, ``"lzw"`` … with the
        floating-point predictor for float data (horizontal differencing for integers).
    blocksize
        Tile side in pixels (a multiple of 16).
    overviews
        Number of overview levels (each halving the resolution). ``None``: as many as
        it takes for the smallest to fit in one tile (none for a raster of at most one
        tile).
    resampling
        Overview resampling (``"average"``, ``"nearest"``, ``"mode"`` …); nodata cells
        are left out of the averages. ``None`` (default): ``"nearest"`` for a
        categorical raster (see the module notes), else ``"average"``.
    interleave
        ``"band"``, ``"pixel"``, or ``"auto"``: by band above 4 bands (see the module
        notes), by pixel otherwise.
    progress
        Show a progress bar over the written cells.
    max_cells
        Refuse rasters of more cells (rows × columns) than this, before anything is
        computed or written (default 10⁹); ``None`` for a deliberate big job.
    style
        The QGIS style written beside the file as ``<name>.qml`` (QGIS applies it when
        the layer is added): ``"auto"`` (default) chooses by content, or one of
        ``"categories"`` (paletted, a categorical raster only), ``"ramp"`` (band 1 on
        viridis between its minimum and maximum, with a legend), ``"gray"`` (band 1 in
        grey) and ``"rgb"`` (multiband colour); see :mod:`geocalliper.io.style`.
        ``None`` writes no style (and leaves an existing ``.qml`` alone).

    Returns
    -------
    pathlib.Path
        The written file. Band descriptions are the band names (``calliper_0 …``),
        nodata is the array's (NaN for float), CRS and transform are the array's.
        A categorical raster also gets a colour table, its category names and a
        ``.aux.xml`` side file (see the module notes). Every band carries its
        statistics (GDAL's ``STATISTICS_*`` metadata: minimum, maximum, mean, standard
        deviation of the valid cells), so readers need not compute them.

    Examples
    --------
    >>> grid = embed_grid(model, area, 100)                             # doctest: +SKIP
    >>> to_geotiff(grid, "area.tif")                                   # doctest: +SKIP
    PosixPath('area.tif')
    >>> to_geotiff(embed_grid(model, city, 10, chunks=1024), "city.tif")  # doctest: +SKIP
    """
    rasterio = import_optional("rasterio", "GeoTIFF files")
    from rasterio.enums import Resampling
    from rasterio.shutil import copy as rio_copy

    da, meta = _prepare(da)
    if resampling is None:
        resampling = "nearest" if meta["categories"] is not None else "average"
    if blocksize < 16 or blocksize % 16:
        raise ValueError(f"blocksize must be a positive multiple of 16, got {blocksize}.")
    if interleave not in ("auto", "band", "pixel"):
        raise ValueError(f"interleave must be 'auto', 'band' or 'pixel', got {interleave!r}.")
    try:
        method = Resampling[resampling.lower()]
    except KeyError:
        raise ValueError(f"Unknown resampling {resampling!r}.") from None
    if overviews is not None and overviews < 0:
        raise ValueError(f"overviews must be None or >= 0, got {overviews}.")
    if style is not None and style not in RASTER_STYLES:
        raise ValueError(
            f"style must be None or one of {', '.join(map(repr, RASTER_STYLES))}, got {style!r}."
        )
    if style == "categories" and meta["categories"] is None:
        raise ValueError(
            "style='categories' needs a categorical raster (attrs['category_names']); use "
            "style='auto' or 'ramp'."
        )
    _check_size(meta, max_cells)
    if interleave == "auto":
        interleave = "band" if meta["count"] > MAX_PIXEL_INTERLEAVED_BANDS else "pixel"
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"The folder {str(target.parent)!r} does not exist.")
    factors = _overview_factors(meta["height"], meta["width"], blocksize, overviews)
    with rasterio.Env() as env:
        use_cog_driver = cog and interleave == "pixel" and "COG" in env.drivers()
    data = da.data

    with atomic_output(target) as tmp, rasterio.Env(**_gdal_options()):
        if not cog:
            profile = _gtiff_profile(meta, blocksize, compress, interleave, None)
            with rasterio.open(tmp, "w", **profile) as dst:
                stats = _write_blocks(dst, data, meta, blocksize, progress)
                _describe(dst, meta, stats)
                if factors:
                    dst.build_overviews(factors, method)
                    dst.update_tags(ns="rio_overview", resampling=method.name)
        else:
            with _scratch(target) as part:
                # a fast-compressed tiled GTiff, written window by window
                profile = _gtiff_profile(meta, blocksize, compress, interleave, 1)
                with rasterio.open(part, "w", **profile) as dst:
                    stats = _write_blocks(dst, data, meta, blocksize, progress)
                    _describe(dst, meta, stats)
                    if factors and not use_cog_driver:
                        dst.build_overviews(factors, method)
                options: dict[str, Any] = {
                    "compress": compress.upper(),
                    "bigtiff": "IF_SAFER",
                    "num_threads": "ALL_CPUS",
                }
                if use_cog_driver:
                    options |= {
                        "blocksize": blocksize,
                        "resampling": method.name.upper(),
                        "overview_resampling": method.name.upper(),
                        "overviews": "NONE" if overviews == 0 else "AUTO",
                    }
                    if overviews:
                        options["overview_count"] = overviews
                    if "predictor" in profile:
                        options["predictor"] = "YES"
                    rio_copy(part, tmp, driver="COG", **options)
                else:
                    options |= {
                        "tiled": True,
                        "blockxsize": blocksize,
                        "blockysize": blocksize,
                        "interleave": interleave,
                        "copy_src_overviews": True,
                    }
                    if "predictor" in profile:
                        options["predictor"] = profile["predictor"]
                    if meta["rgb"] and interleave == "pixel":
                        options["photometric"] = "RGB"
                    rio_copy(part, tmp, driver="GTiff", **options)
        _check_written(tmp, meta)
        if style is not None:  # the style first: a failure leaves the old pair as it was
            _write_style(target, meta, stats, style)
    _write_sidecar(target, meta["categories"])
    return target


def _png_pam(crs: Any, image: np.ndarray) -> str:
    """The PAM side file of a PNG: its CRS as WKT (GDAL reads the position from the
    world file) and each band's statistics (so QGIS need not compute and add them)."""
    stats = _Stats(image.shape[0], None)
    stats.add(image)
    lines = ["<PAMDataset>", f'  <SRS dataAxisToSRSAxisMapping="1,2">{escape(crs.to_wkt())}</SRS>']
    for band in range(image.shape[0]):
        items = "".join(f'<MDI key="{k}">{v}</MDI>' for k, v in stats.tags(band).items())
        lines.append(
            f'  <PAMRasterBand band="{band + 1}"><Metadata>{items}</Metadata></PAMRasterBand>'
        )
    return "\n".join([*lines, "</PAMDataset>", ""])


def _georeference(
    target: Path, transform: Any, crs: Any, image: np.ndarray, worldfile: bool
) -> None:
    """Write (or, without ``worldfile``, remove) the world file and CRS of a PNG."""
    worldfile_path, aux = target.with_suffix(".pgw"), target.with_name(target.name + AUX_SUFFIX)
    if not worldfile:  # a stale georeference would misplace the new picture
        for stale in (worldfile_path, aux):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        return
    t = transform  # the world file gives the centre of the upper-left pixel
    lines = [t.a, t.d, t.b, t.e, t.c + t.a / 2 + t.b / 2, t.f + t.d / 2 + t.e / 2]
    with atomic_output(worldfile_path) as tmp:
        tmp.write_text("\n".join(repr(float(v)) for v in lines) + "\n", encoding="ascii")
    with atomic_output(aux) as tmp:
        tmp.write_text(_png_pam(crs, image), encoding="utf-8")
    # QGIS applies <name>.qml to any <name>.* file: an RGB style suits the PNG (and an RGB
    # GeoTIFF of the same name); any other style there belongs to another raster
    qml_file = style_path(target)
    old = qml_file.read_text(encoding="utf-8", errors="replace") if qml_file.exists() else None
    if old is not None and 'type="multibandcolor"' not in old:
        warnings.warn(
            f"{qml_file.name} styles another raster, and QGIS would draw {target.name} with "
            f"it too; give the PNG a name of its own (e.g. {target.stem}_preview.png).",
            stacklevel=3,
        )
        return
    with atomic_output(qml_file) as tmp:
        tmp.write_text(raster_qml("rgb", list(_RGB), [], rgb=True, title=target.stem))


def write_png(
    rgb: xr.DataArray,
    path: str | os.PathLike,
    *,
    worldfile: bool = True,
    min_size: int | None = None,
) -> Path:
    """Write an RGB preview (e.g. from :func:`geocalliper.spatial.raster.to_rgb`) as a PNG.

    The PNG is RGBA: nodata cells (0 in all three bands) are transparent. The raster is
    computed into memory (a preview should be small; coarsen it first with
    ``rgb.coarsen(x=4, y=4, boundary="trim").max()`` if needed).

    Parameters
    ----------
    rgb
        A 3-band ``uint8`` ``(band, y, x)`` DataArray.
    path
        Target file; written atomically.
    worldfile
        Georeference the picture (default): write a ``.pgw`` world file (its cell size
        and position) and a ``<name>.png.aux.xml`` holding its CRS (GDAL's side file,
        which QGIS reads) beside it, so a GIS places it on the map; a PNG itself stores
        neither. Also an RGB QGIS style, ``<name>.qml`` (no stretch, so QGIS computes
        no statistics), unless a ``<name>.qml`` of another kind is there: QGIS applies
        ``<name>.qml`` to every ``<name>.*`` file, so a PNG named like a styled label or
        query GeoTIFF would be drawn with that style (a warning says so; name the PNG
        apart). ``False`` writes no side file and removes a stale world file and
        ``.aux.xml``.
    min_size
        Enlarge a small raster by a whole factor (each cell becomes a block of pixels,
        no smoothing) until its longer side has at least this many pixels, so coarse
        grids stay legible in a report. ``None``: one pixel per cell.

    Returns
    -------
    pathlib.Path
        The PNG.

    Examples
    --------
    >>> write_png(to_rgb(grid), "preview.png")                         # doctest: +SKIP
    PosixPath('preview.png')
    """
    rasterio = import_optional("rasterio", "PNG files")
    from rasterio.io import MemoryFile
    from rasterio.shutil import copy as rio_copy

    rgb, meta = _prepare(rgb)
    if meta["count"] != 3 or meta["dtype"] != np.uint8:
        raise ValueError(
            f"write_png needs 3 uint8 bands (use geocalliper.spatial.raster.to_rgb first), got "
            f"{meta['count']} band(s) of {meta['dtype']}."
        )
    values = np.asarray(rgb.values)
    alpha = np.where((values != 0).any(axis=0), 255, 0).astype(np.uint8)
    image = np.concatenate([values, alpha[None]], axis=0)
    transform = meta["transform"]
    if min_size is not None:
        if int(min_size) < 1:
            raise ValueError(f"min_size must be a positive number of pixels, got {min_size}.")
        factor = -(-int(min_size) // max(meta["width"], meta["height"]))
        if factor > 1:
            image = image.repeat(factor, axis=1).repeat(factor, axis=2)
            transform = transform * transform.scale(1 / factor, 1 / factor)
    target = Path(path)
    with (
        rasterio.Env(GDAL_PAM_ENABLED="NO"),
        MemoryFile() as mem,
        mem.open(
            driver="GTiff",
            width=image.shape[2],
            height=image.shape[1],
            count=4,
            dtype="uint8",
            crs=meta["crs"],
            transform=transform,
            photometric="RGB",
            alpha="YES",
        ) as src,
    ):
        src.write(image)
        with atomic_output(target) as tmp:
            rio_copy(src, tmp, driver="PNG")
            _georeference(target, transform, meta["crs"], image, worldfile)
    return target
