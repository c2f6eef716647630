"""The ``geocalliper`` command: ``demo``, ``pretrain`` and ``embed``.

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
            tmp.unlink()  # GDAL creates the GeoPackage itself
            frame.to_file(tmp, driver="GPKG", layer=path.stem.replace(".", "_"))
        elif suffix == ".csv":
            frame.to_wkt().to_csv(tmp, index=True)
        else:
            raise ValueError(f"Cannot write {path.name!r}: use .parquet, .gpkg or .csv.")


def _flat(frame):
    """Drop or serialise columns file formats cannot hold (dict tags)."""
    if "tags" in frame.columns:
        frame = frame.assign(tags=frame["tags"].map(json.dumps))
    return frame


def run_demo(out: Path, max_epochs: int = 200, seed: int = 0, progress: bool = True) -> dict:
    """Pre-train CaLLiPer on the real Helsinki OSM extract and write its outputs.

    Writes ``out/model/`` (config.json + model.safetensors) and
    ``out/helsinki_poi_embeddings.parquet`` (the POIs with their embeddings).
    Returns a summary dictionary.
    """
    from . import CaLLiPer, datasets, osm_text, read_osm_pbf

    t0 = time.perf_counter()
    source = datasets.helsinki_osm_path()
    pois = read_osm_pbf(source)
    pois["text"] = osm_text(pois)
    model = CaLLiPer(
        batch_size=256, max_epochs=max_epochs, patience=10, seed=seed, progress=progress
    ).fit(pois)
    out.mkdir(parents=True, exist_ok=True)
    model_dir = model.save(out / "model")
    table = out / "helsinki_poi_embeddings.parquet"
    emb = model.embed(pois)
    _write_frame(_flat(pois.join(emb)), table)
    best = model.history_.loc[model.history_["epoch"] == model.best_epoch_].iloc[0]
    return {
        "source": str(source),
        "pois": len(pois),
        "distinct_texts": int(pois["text"].nunique()),
        "crs": model.crs_.to_string(),
        "epochs_run": len(model.history_),
        "best_epoch": model.best_epoch_,
        "best_val_loss": round(float(best["val_loss"]), 4),
        "seconds": round(time.perf_counter() - t0, 1),
        "model": str(model_dir),
        "embeddings": str(table),
    }


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
