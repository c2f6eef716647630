"""The ``geocalliper`` command: ``demo``, ``pretrain``, ``embed``, ``query``, ``label``,
``fit-predictor``, ``predict`` and ``evaluate``.

Each subcommand hands off to the library; errors are one clear line on stderr and a
non-zero exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

EXAMPLES = {
    "demo": "example: geocalliper demo --out ./geocalliper-demo",
    "pretrain": (
        "examples:\n  geocalliper pretrain city.osm.pbf --out city-model\n"
        "  geocalliper pretrain pois.csv --text 'A place of {fclass}' --out nyc-model"
    ),
    "embed": "example: geocalliper embed city-model places.gpkg --out places-embedded.parquet",
    "query": (
        "examples:\n"
        "  geocalliper query city-model city.gpkg 'A place of cafe' --resolution 50 "
        "--out cafes.tif\n"
        "  geocalliper query city-model city.gpkg 'A place of cafe' --h3 9 --out cafes.gpkg"
    ),
    "label": (
        "examples:\n"
        "  geocalliper label city-model city.gpkg --label 'food=A place of Food' \\\n"
        "      --label 'parks=A place of Outdoors & Recreation' --resolution 100 "
        "--out labels.tif\n"
        "  geocalliper label city-model city.gpkg --labels labels.json --h3 9 "
        "--out labels.gpkg\n"
        "labels.json: a list of texts, or an object name -> text."
    ),
    "fit-predictor": (
        "examples:\n"
        "  geocalliper fit-predictor checkins.csv --out nyc-next\n"
        "  geocalliper fit-predictor checkins.csv --calliper nyc-model --head inductive "
        "--out nyc-next\n"
        "The visits file has user_id, started_at, a point (lon/lat or WKT) and optionally\n"
        "location_id, finished_at or duration, and split (train/valid/test)."
    ),
    "predict": (
        "examples:\n"
        "  geocalliper predict nyc-next recent.csv --k 10 --out next.gpkg\n"
        "  geocalliper predict nyc-next recent.csv --candidates places.gpkg --out next.parquet"
    ),
    "evaluate": (
        "example: geocalliper evaluate nyc-next checkins.csv --split test --out metrics.json"
    ),
}


def _write_frame(frame, path: Path) -> None:
    """Write a GeoDataFrame to GeoParquet, GeoPackage or CSV, atomically."""
    from .persistence import atomic_path

    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=suffix) as tmp:
        if suffix in (".parquet", ".geoparquet"):
            frame.to_parquet(tmp)
        elif suffix == ".gpkg":
            tmp.unlink()  # GDAL creates the GeoPackage itself, under a .gpkg name
            gpkg = tmp.with_name(tmp.name + ".gpkg")
            try:
                frame.to_file(gpkg, driver="GPKG", layer=path.stem.replace(".", "_"))
                os.replace(gpkg, tmp)
            finally:
                if gpkg.exists():
                    gpkg.unlink()
        elif suffix == ".csv":
            frame.to_wkt().to_csv(tmp, index=True)
        else:
            raise ValueError(f"Cannot write {path.name!r}: use .parquet, .gpkg or .csv.")


def _flat(frame):
    """Drop or serialise columns file formats cannot hold (dict tags)."""
    if "tags" in frame.columns:
        frame = frame.assign(tags=frame["tags"].map(json.dumps))
    return frame


#: label map of the demo: name -> text in the style of the training texts
DEMO_LABELS = {
    "eating out": "A place of restaurant, a type of amenity",
    "shopping": "A place of clothes, a type of shop",
    "culture": "A place of museum, a type of tourism",
    "green space": "A place of park, a type of leisure",
}
DEMO_QUERY = "A place of cafe, a type of amenity"


def run_demo(out: Path, max_epochs: int = 200, seed: int = 0, progress: bool = True) -> dict:
    """Pre-train CaLLiPer on the real Helsinki OSM extract and write its outputs.

    Writes into ``out``: ``model/`` (config.json + model.safetensors), the POIs with
    their embeddings (GeoParquet), an embedding GeoTIFF of the city and its RGB preview
    (GeoTIFF + PNG), H3 cell embeddings (GeoPackage), a query map and a label map
    (GeoTIFF), a next-location demo on **simulated** agents moving among the real POIs
    (:func:`geocalliper.mobility.simulate.simulate_epr`) and ``report.md``.
    Returns a summary dictionary.
    """
    import geopandas as gpd

    from . import CaLLiPer, datasets, osm_text, read_osm_pbf
    from .geotiff import to_geotiff, write_png
    from .h3cells import embed_h3
    from .mobility import NextLocationPredictor, split_by_day
    from .mobility.simulate import simulate_epr
    from .raster import embed_grid, to_rgb
    from .zeroshot import label_grid, query_grid

    t0 = time.perf_counter()
    source = datasets.helsinki_osm_path()
    pois = read_osm_pbf(source)
    pois["text"] = osm_text(pois)
    model = CaLLiPer(
        batch_size=256, max_epochs=max_epochs, patience=10, seed=seed, progress=progress
    ).fit(pois)
    t_fit = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    files["model"] = model.save(out / "model")
    files["embeddings"] = out / "helsinki_poi_embeddings.parquet"
    _write_frame(_flat(pois.join(model.embed(pois))), files["embeddings"])

    # the study area: the POIs' convex hull, 100 m around, in the model's CRS
    hull = pois.to_crs(model.crs_).geometry.union_all().convex_hull.buffer(100)
    area = gpd.GeoSeries([hull], crs=model.crs_)
    grid = embed_grid(model, area, resolution=25, progress=progress)
    files["grid"] = to_geotiff(grid, out / "helsinki_embedding.tif", progress=progress)
    rgb = to_rgb(grid)
    files["rgb"] = to_geotiff(rgb, out / "helsinki_rgb.tif", progress=progress)
    files["rgb_png"] = write_png(rgb, out / "helsinki_rgb.png")
    cells = embed_h3(model, area, 9)
    files["h3"] = out / "helsinki_h3_res9.gpkg"
    _write_frame(cells, files["h3"])
    query = query_grid(model, area, DEMO_QUERY, resolution=25, progress=progress)
    files["query"] = to_geotiff(query, out / "query_cafe.tif", progress=progress)
    labels = label_grid(model, area, DEMO_LABELS, resolution=25, progress=progress)
    files["labels"] = to_geotiff(labels, out / "labels.tif", progress=progress)
    files["query_png"] = write_png(_preview_rgb(query), out / "query_cafe.png")
    files["labels_png"] = write_png(_preview_rgb(labels, codes=True), out / "labels.png")

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
    _write_frame(top, files["next_places"])
    files["predictor"] = predictor.save(out / "simulated_next_location_model")

    best = model.history_.loc[model.history_["epoch"] == model.best_epoch_].iloc[0]
    summary = {
        "source": str(source),
        "pois": len(pois),
        "distinct_texts": int(pois["text"].nunique()),
        "crs": model.crs_.to_string(),
        "epochs_run": len(model.history_),
        "best_epoch": model.best_epoch_,
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


def _label_colours(n: int) -> list[str]:
    from .zeroshot import label_colors

    return label_colors(n)


def _preview_rgb(da, codes: bool = False):
    """A 3-band uint8 picture of a one-band map: a viridis-like ramp stretched between
    the 2nd and 98th percentiles, or one colour per label code; no data stays 0."""
    import numpy as np
    import xarray as xr

    from .zeroshot import label_colors

    one = da.squeeze(drop=True) if "band" in da.dims else da
    values = np.asarray(one.values, dtype=np.float64)
    rgb = np.zeros((3, *values.shape), dtype=np.uint8)
    if codes:
        names = json.loads(da.attrs.get("CATEGORY_NAMES", "[]")) or list(DEMO_LABELS)
        for code, colour in enumerate(label_colors(len(names))):
            mask = values == code
            for band in range(3):
                rgb[band][mask] = int(colour[1 + 2 * band : 3 + 2 * band], 16)
    else:
        ok = np.isfinite(values)
        lo, hi = np.percentile(values[ok], [2, 98]) if ok.any() else (0.0, 1.0)
        t = np.clip((values - lo) / max(hi - lo, 1e-12), 0, 1)
        anchors = np.array([[68, 1, 84], [33, 145, 140], [253, 231, 37]], dtype=np.float64)
        for band in range(3):
            col = np.interp(t, [0.0, 0.5, 1.0], anchors[:, band])
            rgb[band] = np.where(ok, np.maximum(col, 1), 0).astype(np.uint8)
    out = xr.DataArray(rgb, dims=("band", "y", "x"), coords={"band": [1, 2, 3]})
    out = out.assign_coords(y=one["y"], x=one["x"])
    return out.rio.write_crs(one.rio.crs)


def _write_report(summary: dict, path: Path) -> None:
    """A short Markdown report of the demo, with the RGB preview."""
    from .persistence import atomic_path

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
            for name, colour in zip(DEMO_LABELS, _label_colours(len(DEMO_LABELS)), strict=True)
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
    with atomic_path(path, suffix=".md") as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")


def _cmd_demo(args: argparse.Namespace) -> int:
    summary = run_demo(
        Path(args.out), max_epochs=args.max_epochs, seed=args.seed, progress=not args.quiet
    )
    print(
        f"Pre-trained CaLLiPer on {summary['pois']} real OSM POIs of Helsinki "
        f"({summary['distinct_texts']} distinct texts) in {summary['seconds']} s: "
        f"{summary['epochs_run']} epochs, best epoch {summary['best_epoch']} "
        f"(validation loss {summary['best_val_loss']}), CRS {summary['crs']}."
    )
    print(f"  model:      {summary['model']}  (config.json + model.safetensors)")
    print(
        f"  embeddings: {summary['embeddings']}  (GeoParquet; open in QGIS or "
        "geopandas.read_parquet)"
    )
    print(f"  raster:     {summary['grid']}  (128 bands, 25 m; {summary['rgb']} as RGB)")
    print(f"  preview:    {summary['rgb_png']}")
    print(f"  H3 cells:   {summary['h3']}")
    print(f"  query map:  {summary['query']}   label map: {summary['labels']}")
    acc = summary["simulated_scores"]["acc@1"]
    print(
        f"  SIMULATED next-location demo: {summary['next_places']} "
        f"(test Acc@1 {acc} on simulated agents)"
    )
    print(f"  report:     {summary['report']}")
    print(
        "Open the .tif and .gpkg files in QGIS (Layer > Add Layer, or drag them in); "
        f"total {summary['total_seconds']} s."
    )
    return 0


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from . import CaLLiPer, osm_text, read_pois

    path = Path(args.pois)
    pois = read_pois(path)
    text = args.text
    if text is None:
        if "key" in pois.columns and "value" in pois.columns:
            pois["text"] = osm_text(pois)
        text = "text"
    model = CaLLiPer(
        crs=args.crs,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        text_model=args.text_model,
        progress=not args.quiet,
    ).fit(pois, text=text)
    out = model.save(args.out)
    print(
        f"Trained on {model.n_pois_} POIs ({len(model.history_)} epochs, best "
        f"{model.best_epoch_}); model written to {out}"
    )
    return 0


def _cmd_embed(args: argparse.Namespace) -> int:
    from . import CaLLiPer, read_pois

    model = CaLLiPer.load(args.model, progress=not args.quiet)
    points = read_pois(args.points)
    out = Path(args.out)
    _write_frame(_flat(points.join(model.embed(points))), out)
    print(f"Embedded {len(points)} places into {model.embedding_dim} dimensions: {out}")
    return 0


def _visit_columns(args: argparse.Namespace) -> dict:
    return {
        "user_col": args.user_col,
        "start_col": args.start_col,
        "location_col": args.location_col,
    }


def _read_visits(path: str, args: argparse.Namespace, split: str | None = None):
    """A visits file (CSV with lon/lat or WKT, GeoParquet, GeoPackage …), optionally
    restricted to one value of the split column."""
    from .exceptions import EmptyDataError, MissingColumnError
    from .poi import read_pois

    visits = read_pois(path)
    if split is not None:
        if args.split_col not in visits.columns:
            raise MissingColumnError(
                f"{path} has no {args.split_col!r} column to pick the {split!r} rows from; "
                "drop --split to use every row."
            )
        visits = visits[visits[args.split_col] == split]
        if visits.empty:
            raise EmptyDataError(f"{path} has no rows with {args.split_col} == {split!r}.")
    return visits


def _cmd_fit_predictor(args: argparse.Namespace) -> int:
    from .mobility import NextLocationPredictor

    visits = _read_visits(args.visits, args)
    model = NextLocationPredictor(
        args.calliper,
        features=args.features,
        head=args.head,
        d_model=args.d_model,
        n_layers=args.n_layers,
        n_heads=args.n_heads,
        max_epochs=args.max_epochs,
        seed=args.seed,
        split_col=args.split_col,
        progress=not args.quiet,
        **_visit_columns(args),
    ).fit(visits)
    out = model.save(args.out)
    print(
        f"Trained a next-location predictor ({model!r}) on {model.n_train_targets_} targets "
        f"of {len(model.users_)} users and {len(model.locations_)} locations "
        f"({len(model.history_)} epochs, best {model.best_epoch_}); written to {out}"
    )
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .mobility import NextLocationPredictor
    from .poi import read_pois

    model = NextLocationPredictor.load(args.model, progress=not args.quiet)
    history = _read_visits(args.history, args)
    candidates = read_pois(args.candidates) if args.candidates else None
    top = model.predict(history, k=args.k, candidates=candidates)
    out = Path(args.out)
    _write_frame(top, out)
    print(f"Predicted the top {args.k} next places of {top.iloc[:, 0].nunique()} users: {out}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .mobility import NextLocationPredictor
    from .persistence import atomic_path
    from .poi import read_pois

    model = NextLocationPredictor.load(args.model, progress=not args.quiet)
    visits = _read_visits(args.visits, args, split=args.split)
    candidates = read_pois(args.candidates) if args.candidates else None
    scores = model.evaluate(visits, candidates=candidates)
    text = json.dumps({k: round(v, 4) for k, v in scores.items()}, indent=2)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out, suffix=".json") as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
    return 0


def _read_area(path: str):
    """A study-area file: GeoPackage, GeoJSON, Shapefile … or (Geo)Parquet."""
    import geopandas as gpd

    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"No study-area file at {path!r}.")
    if file.suffix.lower() in (".parquet", ".geoparquet"):
        return gpd.read_parquet(file)
    return gpd.read_file(file)


def _labels(args: argparse.Namespace) -> dict[str, str] | list[str]:
    """Labels from repeated ``--label name=text`` or a JSON file (list or object)."""
    if args.labels and args.label:
        raise ValueError("Give labels either with --label or with --labels FILE, not both.")
    if args.labels:
        try:
            labels = json.loads(Path(args.labels).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"No labels file at {args.labels!r}.") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{args.labels} is not valid JSON ({exc}).") from None
        if not isinstance(labels, list | dict):
            raise ValueError(f"{args.labels} must hold a list of texts or an object name -> text.")
        return labels
    if not args.label:
        raise ValueError("No labels given: pass --label name=text (repeatable) or --labels FILE.")
    out: dict[str, str] = {}
    for item in args.label:
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise ValueError(f"--label {item!r} is not of the form name=text.")
        if name.strip() in out:
            raise ValueError(f"The label name {name.strip()!r} is given twice.")
        out[name.strip()] = text.strip()
    return out


def _map_output(args: argparse.Namespace) -> Path:
    if (args.resolution is None) == (args.h3 is None):
        raise ValueError("Give exactly one of --resolution (a raster) or --h3 RES (H3 cells).")
    out = Path(args.out)
    want = (".gpkg", ".parquet", ".geoparquet") if args.h3 is not None else (".tif", ".tiff")
    if out.suffix.lower() not in want:
        raise ValueError(f"Cannot write {out.name!r} here: use {' or '.join(want)}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _cmd_query(args: argparse.Namespace) -> int:
    from . import CaLLiPer, to_geotiff
    from .zeroshot import query_grid, query_h3

    out = _map_output(args)
    model = CaLLiPer.load(args.model, progress=not args.quiet)
    area = _read_area(args.area)
    if args.h3 is not None:
        cells = query_h3(model, area, args.text, args.h3)
        _write_frame(cells, out)
        print(f"Scored {len(cells)} H3 cells (resolution {args.h3}) for {args.text!r}: {out}")
    else:
        grid = query_grid(model, area, args.text, args.resolution, crs=args.crs)
        to_geotiff(grid, out, progress=not args.quiet)
        ny, nx = grid.sizes["y"], grid.sizes["x"]
        print(f"Scored a {ny} x {nx} grid ({args.resolution} per cell) for {args.text!r}: {out}")
    return 0


def _cmd_label(args: argparse.Namespace) -> int:
    import numpy as np

    from . import CaLLiPer, to_geotiff
    from .zeroshot import label_grid, label_h3

    labels = _labels(args)
    out = _map_output(args)
    model = CaLLiPer.load(args.model, progress=not args.quiet)
    area = _read_area(args.area)
    if args.h3 is not None:
        cells = label_h3(model, area, labels, args.h3, probabilities=args.probabilities)
        _write_frame(cells, out)
        counts = cells["label"].value_counts()
        n = len(cells)
    else:
        result = label_grid(
            model,
            area,
            labels,
            args.resolution,
            crs=args.crs,
            probabilities=args.probabilities,
        )
        label = result["label"] if args.probabilities else result
        to_geotiff(label, out, progress=not args.quiet)
        if args.probabilities:
            prob_out = out.with_name(out.stem + "-probability" + out.suffix)
            to_geotiff(result["probability"], prob_out, progress=not args.quiet)
            print(f"  probabilities: {prob_out}")
        names = label.attrs["category_names"]
        codes = label.values[label.values != label.rio.nodata]
        found, number = np.unique(codes, return_counts=True)
        counts = {names[c]: int(k) for c, k in zip(found, number, strict=True)}
        n = int(codes.size)
    shares = ", ".join(f"{k} {v / max(n, 1):.0%}" for k, v in dict(counts).items())
    print(f"Labelled {n} cells ({shares}): {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``geocalliper`` command."""
    parser = argparse.ArgumentParser(
        prog="geocalliper",
        description="CaLLiPer location embeddings for GeoPandas.",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    demo = sub.add_parser(
        "demo",
        help="pre-train on the bundled Helsinki OSM extract",
        epilog=EXAMPLES["demo"],
        formatter_class=fmt,
    )
    demo.add_argument("--out", default="geocalliper-demo", help="output folder")
    demo.add_argument("--max-epochs", type=int, default=200)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_cmd_demo)

    pre = sub.add_parser(
        "pretrain",
        help="POI file -> model directory",
        epilog=EXAMPLES["pretrain"],
        formatter_class=fmt,
    )
    pre.add_argument("pois", help=".osm.pbf, CSV, GeoParquet or GeoPackage of POIs")
    pre.add_argument("--out", required=True, help="model directory to write")
    pre.add_argument(
        "--text",
        default=None,
        help="text column or template like 'A place of {fclass}' "
        "(default: OSM tags in the reference style, or the 'text' column)",
    )
    pre.add_argument("--crs", default=None, help="projected CRS in metres (default: UTM)")
    pre.add_argument("--text-model", default=None, help="sentence-transformers name or path")
    pre.add_argument("--max-epochs", type=int, default=50)
    pre.add_argument("--batch-size", type=int, default=1024)
    pre.add_argument("--seed", type=int, default=0)
    pre.set_defaults(func=_cmd_pretrain)

    emb = sub.add_parser(
        "embed",
        help="points file -> file with embedding columns",
        epilog=EXAMPLES["embed"],
        formatter_class=fmt,
    )
    emb.add_argument("model", help="model directory written by pretrain")
    emb.add_argument("points", help="points file (CSV, GeoParquet, GeoPackage …)")
    emb.add_argument("--out", required=True, help=".parquet, .gpkg or .csv to write")
    emb.set_defaults(func=_cmd_embed)

    def map_options(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "--resolution", type=float, default=None, help="raster cell size (CRS units)"
        )
        cmd.add_argument("--crs", default=None, help="raster CRS (default: the model's)")
        cmd.add_argument("--h3", type=int, default=None, metavar="RES", help="H3 cells instead")
        cmd.add_argument(
            "--out", required=True, help=".tif for a raster; .gpkg or .parquet for --h3"
        )

    query = sub.add_parser(
        "query",
        help="map how well each place of an area matches a text",
        epilog=EXAMPLES["query"],
        formatter_class=fmt,
    )
    query.add_argument("model", help="model directory written by pretrain")
    query.add_argument("area", help="study-area file (GeoPackage, GeoJSON, GeoParquet …)")
    query.add_argument("text", help="the query, e.g. 'A place of cafe'")
    map_options(query)
    query.set_defaults(func=_cmd_query)

    label = sub.add_parser(
        "label",
        help="map the best-matching label of each place of an area",
        epilog=EXAMPLES["label"],
        formatter_class=fmt,
    )
    label.add_argument("model", help="model directory written by pretrain")
    label.add_argument("area", help="study-area file (GeoPackage, GeoJSON, GeoParquet …)")
    label.add_argument(
        "--label", action="append", default=[], metavar="NAME=TEXT", help="a label (repeat)"
    )
    label.add_argument("--labels", default=None, metavar="FILE", help="labels as JSON")
    label.add_argument(
        "--probabilities",
        action="store_true",
        help="also write each label's probability (raster: OUT-probability.tif)",
    )
    map_options(label)
    label.set_defaults(func=_cmd_label)

    def visit_options(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument("--user-col", default="user_id")
        cmd.add_argument("--start-col", default="started_at")
        cmd.add_argument("--location-col", default="location_id")
        cmd.add_argument("--split-col", default="split")

    fit = sub.add_parser(
        "fit-predictor",
        help="visits file -> next-location predictor directory",
        epilog=EXAMPLES["fit-predictor"],
        formatter_class=fmt,
    )
    fit.add_argument("visits", help="visits file (CSV, GeoParquet, GeoPackage …)")
    fit.add_argument("--out", required=True, help="model directory to write")
    fit.add_argument("--calliper", default=None, help="CaLLiPer model directory (optional)")
    fit.add_argument("--features", choices=["lookup", "calliper", "both"], default=None)
    fit.add_argument("--head", choices=["closed", "inductive"], default=None)
    fit.add_argument("--d-model", type=int, default=128)
    fit.add_argument("--n-layers", type=int, default=2)
    fit.add_argument("--n-heads", type=int, default=8)
    fit.add_argument("--max-epochs", type=int, default=50)
    fit.add_argument("--seed", type=int, default=0)
    visit_options(fit)
    fit.set_defaults(func=_cmd_fit_predictor)

    pred = sub.add_parser(
        "predict",
        help="recent visits -> the top-k next places of each user",
        epilog=EXAMPLES["predict"],
        formatter_class=fmt,
    )
    pred.add_argument("model", help="predictor directory written by fit-predictor")
    pred.add_argument("history", help="recent visits of one or many users")
    pred.add_argument("--k", type=int, default=10)
    pred.add_argument("--candidates", default=None, help="places to rank (default: known)")
    pred.add_argument("--out", required=True, help=".gpkg, .parquet or .csv to write")
    visit_options(pred)
    pred.set_defaults(func=_cmd_predict)

    ev = sub.add_parser(
        "evaluate",
        help="Acc@1/5/10, MRR, NDCG@10, weighted F1 of a predictor on visits",
        epilog=EXAMPLES["evaluate"],
        formatter_class=fmt,
    )
    ev.add_argument("model", help="predictor directory written by fit-predictor")
    ev.add_argument("visits", help="visits file")
    ev.add_argument("--split", default=None, help="only rows of this split, e.g. test")
    ev.add_argument("--candidates", default=None, help="places to rank")
    ev.add_argument("--out", default=None, help="also write the metrics as JSON")
    visit_options(ev)
    ev.set_defaults(func=_cmd_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``geocalliper`` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("geocalliper: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, not a traceback
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"geocalliper: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
