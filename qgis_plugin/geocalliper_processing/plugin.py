"""The QGIS plugin object: adds the geocalliper provider to Processing."""

from __future__ import annotations

from typing import Any

from qgis.core import QgsApplication

from .provider import GeocalliperProvider


class GeocalliperPlugin:
    """Created by :func:`classFactory`; QGIS calls ``initProcessing`` (``qgis_process``)
    or ``initGui`` (the desktop) and ``unload``."""

    def __init__(self, iface: Any = None) -> None:
        self.iface = iface
        self.provider: GeocalliperProvider | None = None

    def initProcessing(self) -> None:
        """Add the provider to the Processing registry (once)."""
        if self.provider is None:
            self.provider = GeocalliperProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        """The desktop: the provider is all the plugin adds."""
        self.initProcessing()

    def unload(self) -> None:
        """Remove the provider."""
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
