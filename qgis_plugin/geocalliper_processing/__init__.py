"""geocalliper for QGIS: CaLLiPer location embeddings in the Processing Toolbox.

The algorithms run the ``geocalliper`` command line tool in a separate process, so this
plugin needs neither torch nor geocalliper in QGIS' own Python: only the path of a
``geocalliper`` executable (Settings ▸ Options ▸ Processing ▸ Providers ▸ geocalliper).
"""

from __future__ import annotations

from typing import Any


def classFactory(iface: Any):
    """The plugin object QGIS loads."""
    from .plugin import GeocalliperPlugin

    return GeocalliperPlugin(iface)
