"""Run geocalliper Processing algorithms in one standalone PyQGIS session (a helper of
tests/test_qgis_plugin.py, run by the system Python that has PyQGIS, never by pytest).

``/usr/bin/python3 tests/_qgis_run.py SPEC.json RESULT.json``: SPEC holds the plugin's
parent folder (``plugins``), the executable to put in the plugin's setting
(``executable``) and the ``steps``: ``{"key", "id", "params"}``, optionally
``"executable"`` (the setting for this step only) and ``"cancel_after"`` (seconds after
which the feedback cancels). RESULT gets, per step key: the results or the error
message, the seconds it took, the feedback's log, and what QGIS sees in each output file
(validity, bands or features and fields). One QGIS start-up serves every step.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

from qgis.core import (
    QgsApplication,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsRasterLayer,
    QgsSettings,
    QgsVectorLayer,
)

SETTING = "Processing/Configuration/GEOCALLIPER_EXECUTABLE"


class Recorded(QgsProcessingFeedback):
    """A feedback that keeps what the algorithm reported."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []
        self.progress: list[float] = []
        self.progressChanged.connect(self.progress.append)

    def pushInfo(self, info: str) -> None:
        self.log.append(info)

    def pushConsoleInfo(self, info: str) -> None:
        self.log.append(info)

    def reportError(self, error: str, fatalError: bool = False) -> None:
        self.log.append("ERROR: " + error)


def describe(path: str) -> dict:
    """What QGIS sees in the raster or vector file ``path``."""
    if path.lower().endswith((".tif", ".tiff")):
        layer = QgsRasterLayer(path, "r")
        return {
            "valid": layer.isValid(),
            "bands": layer.bandCount(),
            "crs": layer.crs().authid(),
            "width": layer.width(),
            "height": layer.height(),
            "names": [layer.bandName(i) for i in range(1, min(layer.bandCount(), 3) + 1)],
        }
    layer = QgsVectorLayer(path, "v", "ogr")
    return {
        "valid": layer.isValid(),
        "features": layer.featureCount(),
        "fields": [field.name() for field in layer.fields()],
        "geometry": int(layer.geometryType()),
        "crs": layer.crs().authid(),
    }


def main(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    app = QgsApplication([], False)
    app.initQgis()
    sys.path[:0] = ["/usr/share/qgis/python/plugins", spec["plugins"]]
    from processing.core.Processing import Processing

    Processing.initialize()
    import processing
    from geocalliper_processing import classFactory

    plugin = classFactory(None)
    plugin.initProcessing()
    out: dict[str, dict] = {}
    for step in spec["steps"]:
        QgsSettings().setValue(SETTING, step.get("executable", spec["executable"]))
        feedback = Recorded()
        if step.get("cancel_after"):
            threading.Timer(step["cancel_after"], feedback.cancel).start()
        started = time.monotonic()
        record: dict = {"results": None, "error": None}
        try:
            record["results"] = processing.run(step["id"], step["params"], feedback=feedback)
        except QgsProcessingException as exc:
            record["error"] = str(exc)
        record["seconds"] = round(time.monotonic() - started, 1)
        record["log"] = feedback.log
        record["progress"] = feedback.progress
        record["layers"] = {
            value: describe(value)
            for value in (record["results"] or {}).values()
            if isinstance(value, str) and Path(value).is_file()
        }
        out[step["key"]] = record
        Path(result_path).write_text(json.dumps(out, indent=1, default=str))
    plugin.unload()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
