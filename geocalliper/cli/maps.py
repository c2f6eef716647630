"""``geocalliper query`` and ``label``: zero-shot maps of a text or of labels."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..io.vector import read_area, write_vector
from ._common import AREA_HELP, MODEL_HELP, add_command

#: worked examples, the epilog of each subcommand's --help
EXAMPLES = {
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
}


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
    from .. import CaLLiPer, to_geotiff
    from ..zeroshot.maps import query_grid, query_h3

    out = _map_output(args)
    model = CaLLiPer.load(args.model, progress=not args.quiet)
    area = read_area(args.area)
    if args.h3 is not None:
        cells = query_h3(model, area, args.text, args.h3)
        write_vector(cells, out)
        print(f"Scored {len(cells)} H3 cells (resolution {args.h3}) for {args.text!r}: {out}")
    else:
        grid = query_grid(model, area, args.text, args.resolution, crs=args.crs)
        to_geotiff(grid, out, progress=not args.quiet)
        ny, nx = grid.sizes["y"], grid.sizes["x"]
        print(f"Scored a {ny} x {nx} grid ({args.resolution} per cell) for {args.text!r}: {out}")
    return 0


def _cmd_label(args: argparse.Namespace) -> int:
    import numpy as np

    from .. import CaLLiPer, to_geotiff
    from ..zeroshot.maps import label_grid, label_h3

    labels = _labels(args)
    out = _map_output(args)
    model = CaLLiPer.load(args.model, progress=not args.quiet)
    area = read_area(args.area)
    if args.h3 is not None:
        cells = label_h3(model, area, labels, args.h3, probabilities=args.probabilities)
        write_vector(cells, out)
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``query``, ``label`` to the ``geocalliper`` command (``sub``: its subparsers)."""

    def command(name: str, summary: str, func) -> argparse.ArgumentParser:
        return add_command(sub, name, summary, func, EXAMPLES[name])

    def map_options(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "--resolution", type=float, default=None, help="raster cell size (CRS units)"
        )
        cmd.add_argument("--crs", default=None, help="raster CRS (default: the model's)")
        cmd.add_argument("--h3", type=int, default=None, metavar="RES", help="H3 cells instead")
        cmd.add_argument(
            "--out",
            required=True,
            help=".tif for a raster (with a .qml style beside it); .gpkg (styled) or "
            ".parquet for --h3",
        )

    query = command("query", "map how well each place of an area matches a text", _cmd_query)
    query.add_argument("model", help=MODEL_HELP)
    query.add_argument("area", help=AREA_HELP)
    query.add_argument("text", help="the query, e.g. 'A place of cafe'")
    map_options(query)

    label = command("label", "map the best-matching label of each place of an area", _cmd_label)
    label.add_argument("model", help=MODEL_HELP)
    label.add_argument("area", help=AREA_HELP)
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
