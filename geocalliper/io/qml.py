"""QGIS layer styles (``.qml`` XML) for the rasters and vectors geocalliper writes.

Each function returns a complete QML document (a string) for one renderer; QGIS 3.22
and later read it. :mod:`geocalliper.io.style` picks the renderer from a file's content,
:func:`~geocalliper.io.geotiff.to_geotiff` writes the document beside the GeoTIFF (QGIS
loads ``<name>.qml`` beside ``<name>.tif`` as the layer's default style) and
:func:`~geocalliper.io.vector.write_vector` stores it inside a GeoPackage (the
``layer_styles`` table, as QGIS itself does).

Raster renderers: :func:`paletted` (categories), :func:`pseudocolor` (one band on a
colour ramp with a legend), :func:`gray` (one band in grey) and :func:`multiband`
(RGB). Vector renderers: :func:`categorized`, :func:`graduated` and
:func:`single_symbol`. Every document can carry a layer title and abstract (shown in
*Layer Properties ▸ Information* and *Metadata*).
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import quoteattr

#: the version QGIS writes into styles; 3.22 is the oldest release these were checked with
QGIS_VERSION = "3.22.16-Białowieża"
#: viridis at five stops: (position, "#rrggbb")
VIRIDIS = (
    (0.0, "#440154"),
    (0.25, "#3b528b"),
    (0.5, "#21918c"),
    (0.75, "#5ec962"),
    (1.0, "#fde725"),
)

_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
_MINMAX = (
    "<minMaxOrigin><limits>None</limits><extent>WholeRaster</extent>"
    "<statAccuracy>Estimated</statAccuracy><cumulativeCutLower>0.02</cumulativeCutLower>"
    "<cumulativeCutUpper>0.98</cumulativeCutUpper><stdDevFactor>2</stdDevFactor></minMaxOrigin>"
)


def _a(value: object) -> str:
    """An XML attribute value, quoted and escaped."""
    return quoteattr(str(value))


def _rgb(color: str) -> tuple[int, int, int]:
    h = color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _qcolor(color: str, alpha: int = 255) -> str:
    """``"#rrggbb"`` as QGIS writes colours in symbol properties: ``"r,g,b,a"``."""
    r, g, b = _rgb(color)
    return f"{r},{g},{b},{alpha}"


def _num(value: float) -> str:
    return repr(float(value))


def _metadata(title: str, abstract: str) -> str:
    return (
        "<resourceMetadata><identifier></identifier><parentidentifier></parentidentifier>"
        "<language></language><type>dataset</type>"
        f"<title>{_text(title)}</title><abstract>{_text(abstract)}</abstract>"
        "<links/><fees></fees><encoding></encoding><crs/><extent/></resourceMetadata>"
    )


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def document(body: str, *, title: str = "", abstract: str = "", vector: bool = False) -> str:
    """Wrap renderer XML in a QML document with the layer's title and abstract.

    Examples
    --------
    >>> qml = document("<pipe/>", title="labels", abstract="Best label per cell")
    >>> qml.splitlines()[1].startswith("<qgis ")
    True
    """
    categories = "Symbology|Metadata" if vector else "Symbology|Metadata|Rendering"
    return "\n".join(
        [
            _DOCTYPE,
            f"<qgis version={_a(QGIS_VERSION)} styleCategories={_a(categories)}>",
            _metadata(title, abstract),
            body,
            "<blendMode>0</blendMode>",
            "</qgis>",
            "",
        ]
    )


def _pipe(renderer: str) -> str:
    return (
        "<pipe>"
        '<provider><resampling enabled="false" maxOversampling="2" '
        'zoomedInResamplingMethod="nearestNeighbour" '
        'zoomedOutResamplingMethod="nearestNeighbour"/></provider>'
        f"{renderer}"
        '<brightnesscontrast brightness="0" contrast="0" gamma="1"/>'
        '<huesaturation saturation="0" grayscaleMode="0" colorizeOn="0" colorizeRed="255" '
        'colorizeGreen="128" colorizeBlue="128" colorizeStrength="100"/>'
        '<rasterresampler maxOversampling="2"/>'
        "<resamplingStage>resamplingFilter</resamplingStage>"
        "</pipe>"
    )


# ---------------------------------------------------------------------------- rasters
def paletted(
    names: Sequence[str],
    colors: Sequence[str],
    *,
    band: int = 1,
    title: str = "",
    abstract: str = "",
) -> str:
    """A *Paletted/Unique values* raster style: code ``i`` drawn in ``colors[i]``,
    named ``names[i]`` in the legend; no other entry (nodata stays transparent).

    Examples
    --------
    >>> qml = paletted(["park", "water"], ["#33a02c", "#1f78b4"])
    >>> qml.count("<paletteEntry ")
    2
    """
    if len(names) != len(colors):
        raise ValueError("paletted needs one colour per name.")
    entries = "".join(
        f'<paletteEntry value={_a(i)} color={_a(c)} alpha="255" label={_a(n)}/>'
        for i, (n, c) in enumerate(zip(names, colors, strict=True))
    )
    renderer = (
        f'<rasterrenderer type="paletted" band={_a(band)} opacity="1" alphaBand="-1" '
        'nodataColor=""><rasterTransparency/>'
        f"{_MINMAX}<colorPalette>{entries}</colorPalette></rasterrenderer>"
    )
    return document(_pipe(renderer), title=title, abstract=abstract)


def _ramp(stops: Sequence[tuple[float, str]]) -> str:
    """A QGIS gradient colour ramp element of ``stops`` (first at 0, last at 1)."""
    inner = ":".join(f"{p:g};{_qcolor(c)}" for p, c in stops[1:-1])
    options = {
        "color1": _qcolor(stops[0][1]),
        "color2": _qcolor(stops[-1][1]),
        "discrete": "0",
        "rampType": "gradient",
        "stops": inner,
    }
    opts = "".join(
        f'<Option type="QString" name={_a(k)} value={_a(v)}/>' for k, v in options.items()
    )
    props = "".join(f"<prop k={_a(k)} v={_a(v)}/>" for k, v in options.items())
    return (
        '<colorramp type="gradient" name="[source]">'
        f'<Option type="Map">{opts}</Option>{props}</colorramp>'
    )


def pseudocolor(
    vmin: float,
    vmax: float,
    *,
    band: int = 1,
    stops: Sequence[tuple[float, str]] = VIRIDIS,
    precision: int = 3,
    title: str = "",
    abstract: str = "",
) -> str:
    """A *Singleband pseudocolor* raster style: ``band`` on a continuous colour ramp
    (viridis) from ``vmin`` to ``vmax``, one legend entry per stop.

    Examples
    --------
    >>> qml = pseudocolor(-0.2, 0.6)
    >>> 'type="singlebandpseudocolor"' in qml, qml.count("<item ")
    (True, 5)
    """
    if not vmax > vmin:
        vmax = vmin + 1e-6
    items = "".join(
        f'<item value={_a(_num(vmin + p * (vmax - vmin)))} color={_a(c)} alpha="255" '
        f"label={_a(f'{vmin + p * (vmax - vmin):.{precision}f}')}/>"
        for p, c in stops
    )
    lo, hi = _num(vmin), _num(vmax)
    renderer = (
        f'<rasterrenderer type="singlebandpseudocolor" band={_a(band)} opacity="1" '
        f'alphaBand="-1" nodataColor="" classificationMin={_a(lo)} '
        f"classificationMax={_a(hi)}><rasterTransparency/>{_MINMAX}<rastershader>"
        f'<colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" '
        f"minimumValue={_a(lo)} maximumValue={_a(hi)} labelPrecision={_a(precision)}>"
        f"{_ramp(stops)}{items}</colorrampshader></rastershader></rasterrenderer>"
    )
    return document(_pipe(renderer), title=title, abstract=abstract)


def gray(vmin: float, vmax: float, *, band: int = 1, title: str = "", abstract: str = "") -> str:
    """A *Singleband gray* raster style: ``band`` stretched from ``vmin`` (black) to
    ``vmax`` (white).

    Examples
    --------
    >>> 'grayBand="5"' in gray(0.0, 1.0, band=5)
    True
    """
    renderer = (
        f'<rasterrenderer type="singlebandgray" grayBand={_a(band)} gradient="BlackToWhite" '
        f'opacity="1" alphaBand="-1" nodataColor=""><rasterTransparency/>{_MINMAX}'
        f"<contrastEnhancement><minValue>{_num(vmin)}</minValue><maxValue>{_num(vmax)}"
        "</maxValue><algorithm>StretchToMinimumMaximum</algorithm></contrastEnhancement>"
        "</rasterrenderer>"
    )
    return document(_pipe(renderer), title=title, abstract=abstract)


def multiband(
    bands: tuple[int, int, int] = (1, 2, 3), *, title: str = "", abstract: str = ""
) -> str:
    """A *Multiband color* raster style: three bytes shown as they are (no stretch), and
    black (0, 0, 0: nodata of an RGB preview) transparent, so the style also suits a PNG
    of the same name, whose nodata is only its alpha band.

    Examples
    --------
    >>> 'type="multibandcolor"' in multiband()
    True
    """
    enhance = "".join(
        f"<{c}ContrastEnhancement><minValue>0</minValue><maxValue>255</maxValue>"
        f"<algorithm>NoEnhancement</algorithm></{c}ContrastEnhancement>"
        for c in ("red", "green", "blue")
    )
    r, g, b = bands
    renderer = (
        f'<rasterrenderer type="multibandcolor" redBand={_a(r)} greenBand={_a(g)} '
        f'blueBand={_a(b)} opacity="1" alphaBand="-1" nodataColor="">'
        '<rasterTransparency><threeValuePixelList><pixelListEntry red="0" green="0" blue="0" '
        'percentTransparent="100"/></threeValuePixelList></rasterTransparency>'
        f"{_MINMAX}{enhance}</rasterrenderer>"
    )
    return document(_pipe(renderer), title=title, abstract=abstract)


# ---------------------------------------------------------------------------- vectors
def symbol(kind: str, color: str, name: str = "0", *, size: float | None = None) -> str:
    """One QGIS symbol: ``kind`` ``"marker"`` (circle), ``"fill"`` or ``"line"``.

    Fills are drawn 75 % opaque with a thin grey outline, so a basemap shows through.

    Examples
    --------
    >>> 'class="SimpleFill"' in symbol("fill", "#21918c")
    True
    """
    if kind == "marker":
        cls = "SimpleMarker"
        props = {
            "name": "circle",
            "color": _qcolor(color),
            "outline_color": "35,35,35,255",
            "outline_width": "0.2",
            "size": f"{size if size is not None else 2.4:g}",
            "size_unit": "MM",
        }
    elif kind == "fill":
        cls = "SimpleFill"
        props = {
            "color": _qcolor(color, 191),
            "style": "solid",
            "outline_color": "90,90,90,255",
            "outline_width": "0.1",
            "outline_style": "solid",
        }
    elif kind == "line":
        cls = "SimpleLine"
        props = {"line_color": _qcolor(color), "line_width": f"{size or 0.5:g}"}
    else:
        raise ValueError(f"kind must be 'marker', 'fill' or 'line', got {kind!r}.")
    opts = "".join(f'<Option type="QString" name={_a(k)} value={_a(v)}/>' for k, v in props.items())
    legacy = "".join(f"<prop k={_a(k)} v={_a(v)}/>" for k, v in props.items())
    return (
        f'<symbol type={_a(kind)} name={_a(name)} alpha="1" clip_to_extent="1" force_rhr="0">'
        f'<layer class={_a(cls)} enabled="1" locked="0" pass="0">'
        f'<Option type="Map">{opts}</Option>{legacy}</layer></symbol>'
    )


def _vector(renderer: str, title: str, abstract: str) -> str:
    return document(renderer, title=title, abstract=abstract, vector=True)


def single_symbol(kind: str, color: str, *, title: str = "", abstract: str = "") -> str:
    """A *Single symbol* vector style.

    Examples
    --------
    >>> 'type="singleSymbol"' in single_symbol("marker", "#440154")
    True
    """
    body = (
        '<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" enableorderby="0">'
        f"<symbols>{symbol(kind, color)}</symbols></renderer-v2>"
    )
    return _vector(body, title, abstract)


def categorized(
    field: str,
    values: Sequence[str],
    colors: Sequence[str],
    kind: str,
    *,
    title: str = "",
    abstract: str = "",
) -> str:
    """A *Categorized* vector style: features whose ``field`` equals ``values[i]`` get
    ``colors[i]``.

    Examples
    --------
    >>> qml = categorized("label", ["park", "shop"], ["#33a02c", "#1f77b4"], "fill")
    >>> qml.count("<category ")
    2
    """
    if len(values) != len(colors):
        raise ValueError("categorized needs one colour per value.")
    cats = "".join(
        f'<category value={_a(v)} symbol={_a(i)} label={_a(v)} render="true"/>'
        for i, v in enumerate(values)
    )
    syms = "".join(symbol(kind, c, str(i)) for i, c in enumerate(colors))
    body = (
        f'<renderer-v2 type="categorizedSymbol" attr={_a(field)} symbollevels="0" '
        f'forceraster="0" enableorderby="0"><categories>{cats}</categories>'
        f"<symbols>{syms}</symbols></renderer-v2>"
    )
    return _vector(body, title, abstract)


def graduated(
    field: str,
    ranges: Sequence[tuple[float, float, str]],
    colors: Sequence[str],
    kind: str,
    *,
    sizes: Sequence[float] | None = None,
    title: str = "",
    abstract: str = "",
) -> str:
    """A *Graduated* vector style: ``ranges[i] = (lower, upper, label)`` drawn in
    ``colors[i]`` (markers of ``sizes[i]`` millimetres, if given).

    Examples
    --------
    >>> qml = graduated("rank", [(0.5, 1.5, "1"), (1.5, 2.5, "2")], ["#b2182b", "#f4a582"],
    ...                 "marker")
    >>> qml.count("<range ")
    2
    """
    if len(ranges) != len(colors):
        raise ValueError("graduated needs one colour per range.")
    rows = "".join(
        f"<range lower={_a(_num(lo))} upper={_a(_num(hi))} symbol={_a(i)} label={_a(label)} "
        'render="true"/>'
        for i, (lo, hi, label) in enumerate(ranges)
    )
    syms = "".join(
        symbol(kind, c, str(i), size=None if sizes is None else sizes[i])
        for i, c in enumerate(colors)
    )
    body = (
        f'<renderer-v2 type="graduatedSymbol" attr={_a(field)} graduatedMethod="GraduatedColor" '
        f'symbollevels="0" forceraster="0" enableorderby="0"><ranges>{rows}</ranges>'
        f"<symbols>{syms}</symbols></renderer-v2>"
    )
    return _vector(body, title, abstract)
