"""Maps to look at: interactive folium maps and the demo report's figures.

- :mod:`~geocalliper.maps.layers`: a raster (embedding grid, query or label map) as
  a picture in Web Mercator with its legend: the part both kinds of map share;
- :mod:`~geocalliper.maps.interactive`: :func:`explore`, a folium (Leaflet) map of a
  raster with the POIs over it, that works offline (Leaflet is inlined; only the
  basemap tiles need the network);
- :mod:`~geocalliper.maps.figures`: static matplotlib figures with legend, colour bar,
  POIs and scale bar, for reports.
"""

from __future__ import annotations

from .interactive import explore, save_map

__all__ = ["explore", "save_map"]
