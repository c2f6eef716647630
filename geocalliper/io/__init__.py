"""Files in and out: what reads or writes a file, and how maps look.

- :mod:`~.poi`: POI readers (OSM ``.pbf``, CSV, GeoParquet, GeoPackage) and text templates;
- :mod:`~.persistence`: model directories (``config.json`` + ``.safetensors``), atomic
  writes, checksums, verified loads;
- :mod:`~.geotiff`: the GeoTIFF/COG and PNG writers (streamed, atomic);
- :mod:`~.vector`: the atomic GeoParquet/GeoPackage/CSV writer and the study-area reader;
- :mod:`~.style`: label colours, map previews, and the QGIS style of each file, chosen
  by content; :mod:`~.qml`: the QGIS style documents (``.qml``) themselves.

Writers take what :mod:`geocalliper.spatial` and :mod:`geocalliper.zeroshot` compute;
nothing here imports the estimator (model directories are written from plain configs
and state dicts).
"""
