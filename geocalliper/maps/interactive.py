"""``gc.explore``: an interactive folium map of a raster, with the POIs and a legend.

The map works without a network: Leaflet itself is inlined in the page (a copy ships
in ``geocalliper/maps/_leaflet``, BSD-2-Clause), the raster is an inline PNG, the
legend is plain HTML. Only the basemap tiles come from the network, and the overlays
show without them.
"""

from __future__ import annotations

import html
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._optional import import_optional
from ..tempfiles import atomic_output
from .layers import RAMP, Picture, picture, to_web_mercator

if TYPE_CHECKING:
    import folium
    import geopandas as gpd
    import xarray as xr

#: columns of the POIs shown in their tooltips, when present
POI_FIELDS = ("name", "key", "value", "text")


def _leaflet_asset(name: str) -> str:
    return resources.files(__package__).joinpath("_leaflet", name).read_text("utf-8")


def _inline_leaflet(m: folium.Map) -> None:
    """Put Leaflet in the page itself, and drop the other assets folium links from CDNs."""
    folium = import_optional("folium", "interactive maps")
    m.default_js = []  # this map only; jQuery, Bootstrap and the marker icons are unused
    m.default_css = []
    header = m.get_root().header
    header.add_child(
        folium.Element(f"<style>{_leaflet_asset('leaflet.css')}</style>"),
        name="leaflet_css_inline",
        index=0,
    )
    header.add_child(
        folium.Element(f"<script>{_leaflet_asset('leaflet.js')}</script>"),
        name="leaflet_js_inline",
        index=0,
    )


def legend_html(pic: Picture) -> str:
    """The legend of ``pic`` as an HTML box: label swatches or a colour bar with its range.

    Examples
    --------
    >>> "linear-gradient" in legend_html(pic)          # doctest: +SKIP
    True
    """
    title = html.escape(pic.title)
    if pic.kind == "labels":
        rows = "".join(
            f'<div><span style="display:inline-block;width:14px;height:14px;'
            f'background:{colour};margin-right:6px;vertical-align:middle"></span>'
            f"{html.escape(str(name))}</div>"
            for name, colour in pic.categories
        )
        body = rows
    elif pic.kind == "values" and pic.value_range is not None:
        lo, hi = pic.value_range
        body = (
            f'<div style="height:12px;width:180px;background:linear-gradient(to right, '
            f'{", ".join(RAMP)})"></div>'
            f'<div style="display:flex;justify-content:space-between;width:180px">'
            f"<span>{lo:.3g}</span><span>{hi:.3g}</span></div>"
            "<div style='font-size:11px'>2nd to 98th percentile</div>"
        )
    else:
        body = "<div style='font-size:11px'>similar colours: similar places</div>"
    return (
        '<div class="geocalliper-legend" style="position:fixed;bottom:30px;right:10px;'
        "z-index:1000;background:rgba(255,255,255,0.9);padding:8px 10px;border-radius:4px;"
        'font:12px sans-serif;box-shadow:0 1px 4px rgba(0,0,0,0.3)">'
        f"<div style='font-weight:bold;margin-bottom:4px'>{title}</div>{body}</div>"
    )


def explore(
    raster: xr.DataArray | xr.Dataset | None = None,
    pois: gpd.GeoDataFrame | None = None,
    *,
    title: str | None = None,
    tiles: str | None = "OpenStreetMap",
    opacity: float = 0.75,
    poi_color: str = "#111111",
    max_pois: int = 5_000,
) -> folium.Map:
    """An interactive map of an embedding grid, a query map or a label map, with POIs.

    Parameters
    ----------
    raster
        An embedding grid (:func:`~geocalliper.embed_grid`; shown as its RGB preview),
        an RGB preview (:func:`~geocalliper.to_rgb`), a query map
        (:func:`~geocalliper.query_grid`; with a colour bar) or a label map
        (:func:`~geocalliper.label_grid`; with the labels' legend). ``None``: POIs only.
    pois
        Points to draw over it (any CRS), with their ``name``/``key``/``value``/``text``
        in a tooltip.
    title
        Legend title; default: from the raster.
    tiles
        Basemap (a folium tile name such as ``"OpenStreetMap"`` or
        ``"CartoDB positron"``); ``None`` for none. Tiles need the network; the
        overlays do not.
    opacity
        Opacity of the raster overlay.
    poi_color
        Colour of the POI markers.
    max_pois
        Draw at most this many POIs (an even sample), to keep the page light.

    Returns
    -------
    folium.Map
        Shows itself in a notebook; :func:`save_map` writes it as an HTML file.

    Examples
    --------
    >>> import geocalliper as gc
    >>> m = gc.explore(gc.query_grid(model, pois, "A place of cafe", 50), pois)  # doctest: +SKIP
    >>> gc.maps.save_map(m, "cafes.html")                                       # doctest: +SKIP
    """
    folium = import_optional("folium", "interactive maps")
    if raster is None and pois is None:
        raise ValueError("explore needs a raster, POIs, or both.")
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True)
    _inline_leaflet(m)
    if tiles:
        folium.TileLayer(tiles, name="basemap (online)", control=True).add_to(m)
    bounds = None
    if raster is not None:
        pic = _web_picture(raster, title)
        (south, west), (north, east) = _latlon_bounds(pic)
        bounds = [[south, west], [north, east]]
        folium.raster_layers.ImageOverlay(
            image=pic.png_data_url(),
            bounds=bounds,
            opacity=opacity,
            name=pic.title,
            interactive=False,
            zindex=1,
        ).add_to(m)
        m.get_root().html.add_child(folium.Element(legend_html(pic)))
    if pois is not None and len(pois):
        points = _poi_points(pois, max_pois)
        fields = [c for c in POI_FIELDS if c in points.columns]
        folium.GeoJson(
            points,
            name=f"POIs ({len(points)})",
            marker=folium.CircleMarker(
                radius=3,
                weight=1,
                color="#ffffff",
                fill=True,
                fill_color=poi_color,
                fill_opacity=0.9,
            ),
            tooltip=folium.GeoJsonTooltip(fields=fields) if fields else None,
        ).add_to(m)
        if bounds is None:
            w, s, e, n = points.total_bounds
            bounds = [[s, w], [n, e]]
    folium.LayerControl(collapsed=True).add_to(m)
    m.fit_bounds(bounds)
    return m


def _web_picture(raster: Any, title: str | None) -> Picture:
    """The raster as a picture in Web Mercator (an embedding grid: its RGB preview)."""
    from ..spatial.raster import to_rgb

    if "band" in raster.dims and raster.sizes["band"] > 3:
        raster = to_rgb(raster)
        title = title or "embedding: first three principal components as RGB"
    return picture(to_web_mercator(raster), title)


def _latlon_bounds(pic: Picture) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((south, west), (north, east))`` of a Web Mercator picture."""
    from pyproj import Transformer

    left, bottom, right, top = pic.bounds
    to_ll = Transformer.from_crs(pic.crs, "EPSG:4326", always_xy=True)
    west, south = to_ll.transform(left, bottom)
    east, north = to_ll.transform(right, top)
    return (south, west), (north, east)


def _poi_points(pois: gpd.GeoDataFrame, max_pois: int) -> gpd.GeoDataFrame:
    """Points in EPSG:4326 with the tooltip columns only (as text, JSON-safe)."""
    import geopandas as gpd

    points = pois.to_crs(4326) if pois.crs is not None else pois
    if len(points) > max_pois:
        points = points.sample(max_pois, random_state=0)
    keep = [c for c in POI_FIELDS if c in points.columns]
    table = points[keep].astype("string").fillna("")
    geom = points.geometry
    if not (geom.geom_type == "Point").all():
        geom = geom.representative_point()
    return gpd.GeoDataFrame(table, geometry=geom.values, crs=points.crs).reset_index(drop=True)


def save_map(m: folium.Map, path: str | os.PathLike) -> Path:
    """Write a map from :func:`explore` as one self-contained HTML file (atomically).

    Examples
    --------
    >>> save_map(explore(query, pois, tiles=None), "cafes.html")   # doctest: +SKIP
    PosixPath('cafes.html')
    """
    path = Path(path)
    page = m.get_root().render()
    with atomic_output(path) as tmp:
        Path(tmp).write_text(page, encoding="utf-8")
    return path
