"""The ``geocalliper`` provider of the Processing Toolbox."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS
from .settings import PROVIDER_NAME, add_settings, remove_settings

ICON = Path(__file__).with_name("icon.svg")


class GeocalliperProvider(QgsProcessingProvider):
    """Holds the algorithms (ids ``geocalliper:pretrain``, ``geocalliper:grid`` …) and the
    setting of the executable's path."""

    def id(self) -> str:
        """The prefix of the algorithm ids."""
        return PROVIDER_NAME

    def name(self) -> str:
        """The name in the Toolbox."""
        return PROVIDER_NAME

    def longName(self) -> str:
        """The name with what it does."""
        return "geocalliper: CaLLiPer location embeddings"

    def icon(self) -> QIcon:
        """The Toolbox icon."""
        return QIcon(str(ICON))

    def load(self) -> bool:
        """Register the setting, then the algorithms."""
        add_settings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        """Unregister the setting."""
        remove_settings()

    def loadAlgorithms(self) -> None:
        """One instance of each algorithm."""
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())

    def supportedOutputVectorLayerExtensions(self) -> list[str]:
        """The command writes GeoPackages."""
        return ["gpkg"]

    def supportedOutputRasterLayerExtensions(self) -> list[str]:
        """The command writes GeoTIFFs."""
        return ["tif"]

    def defaultVectorFileExtension(self, hasGeometry: bool = True) -> str:
        """GeoPackage."""
        return "gpkg"

    def defaultRasterFileExtension(self) -> str:
        """GeoTIFF."""
        return "tif"

    def supportsNonFileBasedOutput(self) -> bool:
        """No memory layers: the command writes files."""
        return False
