"""Raster and H3 benchmark: grid throughput, streaming memory, H3 throughput, file sizes.

A CaLLiPer model of the reference architecture (32 scales from 100 m to 10 km, 256 hidden
units, 4 residual blocks, 128-d) is fitted briefly (2 epochs) on the real New York City
POIs (``benchmarks/nyc_pois.py``); the point is cost, not quality. Then, on 2 CPUs:

1. **Raster throughput.** A 1000 x 1000 grid of 30 m cells in the model's CRS (UTM 18N),
   centred on the POIs' bounds, is embedded eagerly (``embed_grid``) and lazily
   (``chunks=512`` then ``.compute()``); both are compared with ``embed_coords`` on the
   same 1 M cell centres in one call. Cases are interleaved round by round and the best
   time of each is kept (the machine may be shared). Target: grid >= 80% of embed_coords.
2. **Streaming memory.** A 3163 x 3163 grid of 10 m cells (10 M cells, 128 bands, 5.1 GB
   of float32) is embedded with ``chunks=512`` and written to a COG by ``to_geotiff``, in a
   fresh subprocess, so only that work counts. Its resident memory is read before the
   raster work (baseline: Python, torch, the model) and at its peak, split into the phase
   that embeds and writes tiles and the phase that builds overviews and copies to the COG.
   Target: < 1.5 GB. The peak is the kernel's high-water mark of the process' own memory
   (``VmHWM`` in ``/proc/self/status``, reset between the phases through
   ``/proc/self/clear_refs``), not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries
   ``ru_maxrss`` over ``execve``, so a child started from this (large) parent would report
   the parent's peak. ``ru_maxrss`` is the fallback where ``/proc`` is missing.
3. **H3 throughput.** ``embed_h3(how="center")`` over the POIs' bounding box at H3
   resolutions 9 and 10 (default ``contain="overlap"``), best of the rounds.
4. **File sizes** of the 10 M-cell COG, an RGB preview of the 1 M grid (``to_rgb``, then
   ``to_geotiff`` and ``write_png``), and the res-9 H3 cells as GeoPackage and GeoParquet.

Files are written into a temporary folder, removed at the end unless ``--keep DIR``.

Run from the repository root::

    HF_HUB_OFFLINE=1 python benchmarks/raster_h3.py            # full run: ~6 min on 2 CPUs
    HF_HUB_OFFLINE=1 python benchmarks/raster_h3.py --quick    # smoke run (seconds)

The full run writes ``benchmarks/results/raster_h3.json`` (``--out`` to change it); a
``--quick`` run writes JSON only when ``--out`` is given.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "benchmarks"):  # run as a script without installing the package
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import geocalliper  # noqa: E402
from geocalliper import CaLLiPer  # noqa: E402
from geocalliper.io.geotiff import to_geotiff, write_png  # noqa: E402
from geocalliper.spatial.h3cells import embed_h3  # noqa: E402
from geocalliper.spatial.raster import embed_grid, to_rgb  # noqa: E402

DEFAULT_DATA = Path(  # GEOCALLIPER_DATA: the one data variable of tests and examples too
    os.environ.get("GEOCALLIPER_DATA") or ROOT.parent / "shared" / "data"
)
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "raster_h3.json"
SHARE_TARGET = 0.80  # raster cells/s as a share of embed_coords points/s
MEMORY_TARGET = 1.5e9  # bytes of peak RSS while streaming the big raster
WGS84 = "EPSG:4326"

#: sizes of the full run and of --quick: (side in cells, resolution in m) of the throughput
#: grid and of the streamed grid, their chunks, and the half-width in degrees of the H3
#: box around the POIs' median (None: the POIs' bounds)
FULL = {"grid": (1000, 30.0), "stream": (3163, 10.0), "chunks": 512, "h3_half_deg": None}
QUICK = {"grid": (96, 30.0), "stream": (200, 10.0), "chunks": 64, "h3_half_deg": 0.02}


# --------------------------------------------------------------------------- memory
def rss_bytes() -> int:
    """Resident set size of this process now (Linux ``/proc``; else the peak so far)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux
        return maxrss_bytes()


def maxrss_bytes() -> int:
    """Peak resident set size of this process (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def high_water_bytes() -> int | None:
    """The kernel's peak RSS since the last :func:`reset_high_water` (``VmHWM``), if known."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    return None


def reset_high_water() -> bool:
    """Reset the peak RSS to the current RSS (Linux >= 4.0); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def stream_worker(config: dict[str, Any]) -> dict[str, Any]:
    """Embed and stream one big raster to a GeoTIFF; report time and resident memory.

    Runs in a fresh interpreter (``--stream-worker``), so the parent's memory does not
    count. The end of the tile-writing phase is marked by wrapping
    ``geocalliper.geotiff._write_blocks`` (instrumentation only; it is called as is).
    """
    import geocalliper.geotiff as geotiff

    t_start = time.perf_counter()
    model = CaLLiPer.load(config["model"], device="cpu", progress=False)
    gc.collect()
    baseline = {"rss": rss_bytes(), "peak": high_water_bytes(), "ru_maxrss": maxrss_bytes()}
    lazy = embed_grid(
        model,
        tuple(config["box"]),
        config["res"],
        area_crs=model.crs_,
        chunks=config["chunks"],
        batch_size=config["batch_size"],
    )
    phases: dict[str, Any] = {}
    resettable = reset_high_water()
    write_blocks = geotiff._write_blocks

    def marked(*args: Any, **kwargs: Any) -> None:
        t0 = time.perf_counter()
        write_blocks(*args, **kwargs)
        phases["tiles"] = {
            "seconds": time.perf_counter() - t0,
            "peak_rss": high_water_bytes(),
            "rss_at_end": rss_bytes(),
        }
        reset_high_water()

    geotiff._write_blocks = marked
    t0 = time.perf_counter()
    try:
        path = to_geotiff(lazy, config["path"], cog=config["cog"], progress=False)
    finally:
        geotiff._write_blocks = write_blocks
    seconds = time.perf_counter() - t0
    tiles = phases.get("tiles", {})
    phases["overviews_and_copy"] = {
        "seconds": seconds - tiles.get("seconds", 0.0),
        "peak_rss": high_water_bytes() if resettable else None,
    }
    peaks = [p["peak_rss"] or 0 for p in phases.values()]
    peak = max([*peaks, high_water_bytes() or 0]) or maxrss_bytes()
    ny, nx = lazy.shape[1:]
    return {
        "cells": int(ny * nx),
        "shape": [int(n) for n in lazy.shape],
        "chunks": config["chunks"],
        "block_bytes": int(np.prod(lazy.data.chunksize)) * lazy.dtype.itemsize,
        "n_blocks": int(np.prod(lazy.data.numblocks)),
        "batch_size": config["batch_size"],
        "cog": config["cog"],
        "seconds": seconds,
        "cells_per_second": ny * nx / seconds,
        "baseline_rss": baseline["rss"],
        "baseline_peak_rss": baseline["peak"],
        "peak_rss": peak,
        # ru_maxrss is kept across execve: it starts at the parent's peak (see the notes)
        "ru_maxrss_start": baseline["ru_maxrss"],
        "ru_maxrss_end": maxrss_bytes(),
        "phases": phases
        if resettable
        else {k: {"seconds": v["seconds"]} for k, v in phases.items()},
        "file_bytes": path.stat().st_size,
        "gdal_cachemax": os.environ.get("GDAL_CACHEMAX") or geotiff.GDAL_CACHE_BYTES,
        "torch_threads": torch.get_num_threads(),
        "total_seconds": time.perf_counter() - t_start,
    }


def run_stream(config: dict[str, Any]) -> dict[str, Any]:
    """:func:`stream_worker` in a fresh subprocess; its JSON result."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--stream-worker", json.dumps(config)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"stream worker failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- helpers
def square_box(centre: tuple[float, float], side: int, res: float) -> tuple[float, ...]:
    """Bounds of ``side`` x ``side`` cells of ``res`` near ``centre``, on multiples of ``res``."""
    x0 = np.floor((centre[0] - side * res / 2) / res) * res
    y0 = np.floor((centre[1] - side * res / 2) / res) * res
    return (float(x0), float(y0), float(x0 + side * res), float(y0 + side * res))


def cell_centres(box: Sequence[float], side: int, res: float) -> np.ndarray:
    """The ``(side**2, 2)`` cell centres of :func:`square_box`, row by row north to south."""
    xs = box[0] + (np.arange(side) + 0.5) * res
    ys = box[3] - (np.arange(side) + 0.5) * res
    gx, gy = np.meshgrid(xs, ys)
    return np.column_stack([gx.ravel(), gy.ravel()])


def interleaved_best(
    cases: dict[str, Callable[[], Any]], rounds: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """Run every case once per round, in turn; best seconds and last result of each."""
    best = dict.fromkeys(cases, float("inf"))
    last: dict[str, Any] = {}
    for r in range(rounds):
        for name, case in cases.items():
            last.pop(name, None)
            gc.collect()
            t0 = time.perf_counter()
            last[name] = case()
            seconds = time.perf_counter() - t0
            best[name] = min(best[name], seconds)
            print(f"  round {r + 1}: {name}: {seconds:.2f} s", flush=True)
    return best, last


def fit_model(args: argparse.Namespace) -> tuple[CaLLiPer, Any, float]:
    """The NYC POIs and a CaLLiPer of the reference architecture fitted briefly on them."""
    from nyc_pois import load_nyc_pois

    pois = load_nyc_pois(args.data_dir)
    if args.quick:
        pois = pois.sample(n=min(3000, len(pois)), random_state=args.seed)
    model = CaLLiPer(  # reference architecture: the defaults (S=32, 100 m-10 km, 256, 4, 128)
        max_epochs=args.epochs,
        batch_size=256 if args.quick else 1024,
        seed=args.seed,
        device="cpu",
        progress=False,
    )
    t0 = time.perf_counter()
    model.fit(pois, text="text")
    return model, pois, time.perf_counter() - t0


# --------------------------------------------------------------------------- benchmark
def run_benchmark(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Everything that goes into the JSON; files go into ``work``."""
    t_start = time.perf_counter()
    sizes = QUICK if args.quick else FULL
    model, pois, fit_seconds = fit_model(args)
    print(
        f"fit: {len(pois)} POIs, {len(model.history_)} epochs, {fit_seconds:.1f} s, "
        f"CRS {model.crs_.to_string()}",
        flush=True,
    )
    model_dir = model.save(work / "model")
    minx, miny, maxx, maxy = pois.to_crs(model.crs_).total_bounds
    centre = ((minx + maxx) / 2, (miny + maxy) / 2)
    chunks = sizes["chunks"]

    # 1. raster throughput vs embed_coords, on the same cell centres
    side, res = sizes["grid"]
    box = square_box(centre, side, res)
    xy = cell_centres(box, side, res)
    n_cells = len(xy)
    print(f"throughput: {side} x {side} cells of {res:g} m, {args.rounds} rounds", flush=True)
    names = {
        "coords": "embed_coords, one call",
        "eager": "embed_grid, eager",
        "chunked": f"embed_grid, chunks={chunks} + compute",
    }
    cases: dict[str, Callable[[], Any]] = {
        "coords": lambda: model.embed_coords(xy, progress=False),
        "eager": lambda: embed_grid(model, box, res, area_crs=model.crs_, progress=False),
        "chunked": lambda: (
            embed_grid(model, box, res, area_crs=model.crs_, chunks=chunks).compute().values
        ),
    }
    best, last = interleaved_best(cases, args.rounds)
    reference = last["coords"].T.reshape(-1, side, side)
    grid = last.pop("eager")
    max_diff = {
        "eager": float(np.abs(grid.values - reference).max()),
        "chunked": float(np.abs(last.pop("chunked") - reference).max()),
    }
    del last, reference
    raw_rate = n_cells / best["coords"]
    throughput = [
        {
            "case": key,
            "name": names[key],
            "cells": n_cells,
            "seconds": best[key],
            "cells_per_second": n_cells / best[key],
            "share_of_embed_coords": best["coords"] / best[key],
            "max_abs_diff_to_embed_coords": max_diff.get(key, 0.0),
        }
        for key in cases
    ]

    # 3. H3 throughput (before the slow streaming run, while timings are comparable)
    if sizes["h3_half_deg"] is None:
        h3_area = tuple(float(v) for v in pois.total_bounds)
    else:
        lon, lat = pois.geometry.x.median(), pois.geometry.y.median()
        d = sizes["h3_half_deg"]
        h3_area = (lon - d, lat - d, lon + d, lat + d)
    print(f"H3: bounds {np.round(h3_area, 4).tolist()}, {args.h3_rounds} rounds", flush=True)
    h3_cases = {
        f"res{r}": (lambda r=r: embed_h3(model, h3_area, r, how="center", area_crs=WGS84))
        for r in args.h3_resolutions
    }
    h3_best, h3_last = interleaved_best(h3_cases, args.h3_rounds)
    h3 = [
        {
            "resolution": int(key[3:]),
            "how": "center",
            "contain": "overlap",
            "cells": len(h3_last[key]),
            "seconds": h3_best[key],
            "cells_per_second": len(h3_last[key]) / h3_best[key],
            "share_of_embed_coords": len(h3_last[key]) / h3_best[key] / raw_rate,
        }
        for key in h3_cases
    ]

    # 4a. file sizes: H3 res 9 as GeoPackage and GeoParquet, RGB preview of the 1 M grid
    files: dict[str, dict[str, Any]] = {}

    def record(name: str, path: Path, write: Callable[[Path], Any]) -> None:
        t0 = time.perf_counter()
        write(path)
        files[name] = {
            "file": path.name,
            "bytes": path.stat().st_size,
            "seconds": time.perf_counter() - t0,
        }

    cells9 = h3_last[f"res{args.h3_resolutions[0]}"]
    del h3_last
    stem = f"h3_res{args.h3_resolutions[0]}"
    record(f"H3 res {stem[6:]} GeoPackage", work / f"{stem}.gpkg", cells9.to_file)
    record(f"H3 res {stem[6:]} GeoParquet", work / f"{stem}.parquet", cells9.to_parquet)
    t0 = time.perf_counter()
    rgb = to_rgb(grid)
    rgb_seconds = time.perf_counter() - t0
    del grid
    preview = f"RGB preview of the {side} x {side} grid"
    record(f"{preview}, COG", work / "preview_rgb.tif", partial(to_geotiff, rgb))
    record(f"{preview}, PNG", work / "preview_rgb.png", partial(write_png, rgb))
    del rgb, cells9
    gc.collect()

    # 2. streaming memory, in a fresh process
    s_side, s_res = sizes["stream"]
    stream_config = {
        "model": str(model_dir),
        "path": str(work / "stream.tif"),
        "box": square_box(centre, s_side, s_res),
        "res": s_res,
        "chunks": chunks,
        "batch_size": args.batch_size,
        "cog": True,
    }
    print(f"stream: {s_side} x {s_side} cells of {s_res:g} m to a COG, subprocess", flush=True)
    stream = run_stream(stream_config)
    files[f"{stream['cells']:,}-cell, {stream['shape'][0]}-band embedding COG"] = {
        "file": "stream.tif",
        "bytes": stream["file_bytes"],
        "seconds": stream["seconds"],
    }

    counts = pois.groupby("source").size().to_dict()
    return {
        "benchmark": "raster_h3",
        "description": "embed_grid / embed_h3 throughput vs embed_coords, streaming memory, "
        "output sizes; NYC",
        "command": " ".join(sys.argv),
        "config": {
            "quick": args.quick,
            "seed": args.seed,
            "rounds": args.rounds,
            "h3_rounds": args.h3_rounds,
            "model": {k: v for k, v in model.get_params().items() if k != "cache_dir"},
            "crs": model.crs_.to_string(),
            "grid": {"side": side, "res": res, "box": box, "chunks": chunks},
            "stream": {k: v for k, v in stream_config.items() if k not in ("model", "path")},
            "h3": {"area_wgs84": h3_area, "resolutions": list(args.h3_resolutions)},
            "targets": {"share_of_embed_coords": SHARE_TARGET, "peak_rss_bytes": MEMORY_TARGET},
        },
        "data": {"n_pois": len(pois), "per_source": counts},
        "fit": {
            "seconds": fit_seconds,
            "epochs_run": len(model.history_),
            "best_val_loss": float(model.history_["val_loss"].min()),
        },
        "throughput": throughput,
        "rgb_seconds": rgb_seconds,
        "stream": stream,
        "h3": h3,
        "files": files,
        "environment": {
            "geocalliper": geocalliper.__version__,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "loadavg_end": list(os.getloadavg()),
        },
        "timings": {"total_seconds": time.perf_counter() - t_start},
    }


# --------------------------------------------------------------------------- report
def _gb(n: float | None) -> str:
    return "n/a" if n is None else f"{n / 1e9:.2f} GB"


def _bytes(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n:,} ({n / scale:.3g} {unit})"
    return f"{n:,}"


def markdown(report: dict[str, Any]) -> str:
    """One markdown table of every measurement, with a short header."""
    cfg, fit, stream = report["config"], report["fit"], report["stream"]
    share_target = cfg["targets"]["share_of_embed_coords"]
    mem_target = cfg["targets"]["peak_rss_bytes"]
    rows: list[tuple[str, str, str, str]] = []
    for t in report["throughput"]:
        if t["case"] == "coords":
            note = "reference (100%)"
        else:
            ok = "met" if t["share_of_embed_coords"] >= share_target else "MISSED"
            note = (
                f"{100 * t['share_of_embed_coords']:.0f}% of embed_coords "
                f"(target ≥ {100 * share_target:.0f}%: {ok}); max |diff| "
                f"{t['max_abs_diff_to_embed_coords']:.1e}"
            )
        rows.append(
            (
                "raster throughput",
                f"{t['name']}, {t['cells']:,} cells",
                f"{t['cells_per_second']:,.0f} cells/s ({t['seconds']:.1f} s)",
                note,
            )
        )
    band, ny, nx = stream["shape"]
    what = f"{ny} x {nx} x {band} bands, chunks={stream['chunks']}"
    ok = "met" if stream["peak_rss"] < mem_target else "MISSED"
    rows += [
        (
            "stream memory",
            "RSS before the raster work (python + torch + model)",
            _gb(stream["baseline_rss"]),
            f"peak so far {_gb(stream['baseline_peak_rss'])}",
        ),
        (
            "stream memory",
            f"peak RSS, {stream['cells']:,} cells ({what}) to a COG",
            _gb(stream["peak_rss"]),
            f"target < {_gb(mem_target)}: {ok}",
        ),
    ]
    phases = stream["phases"]
    labels = {"tiles": "embed + write tiles", "overviews_and_copy": "overviews + COG copy"}
    for key, label in labels.items():
        if key in phases:
            rows.append(
                (
                    "stream memory",
                    f"  phase: {label}",
                    _gb(phases[key].get("peak_rss")),
                    f"{phases[key]['seconds']:.0f} s"
                    + (
                        f"; RSS at its end {_gb(phases[key]['rss_at_end'])}"
                        if "rss_at_end" in phases[key]
                        else ""
                    ),
                )
            )
    rows.append(
        (
            "stream time",
            f"{stream['cells']:,} cells embedded and written",
            f"{stream['cells_per_second']:,.0f} cells/s ({stream['seconds']:.0f} s)",
            f"{stream['n_blocks']} blocks of {stream['block_bytes'] / 2**20:.0f} MiB",
        )
    )
    for h in report["h3"]:
        rows.append(
            (
                "H3 throughput",
                f"embed_h3 res {h['resolution']}, how=center, {h['cells']:,} cells",
                f"{h['cells_per_second']:,.0f} cells/s ({h['seconds']:.2f} s)",
                f"{100 * h['share_of_embed_coords']:.0f}% of embed_coords",
            )
        )
    for name, f in report["files"].items():
        rows.append(
            ("file size", name, f"{_bytes(f['bytes'])} bytes", f"written in {f['seconds']:.1f} s")
        )
    header = [
        f"Raster / H3 benchmark, NYC ({report['data']['n_pois']:,} POIs), model CRS "
        f"{cfg['crs']}; CaLLiPer S={cfg['model']['num_scales']} "
        f"({cfg['model']['lambda_min']:g}-{cfg['model']['lambda_max']:g} m), "
        f"{cfg['model']['hidden_dim']} hidden, {cfg['model']['num_blocks']} blocks, "
        f"{cfg['model']['embedding_dim']}-d, fitted {fit['epochs_run']} epochs in "
        f"{fit['seconds']:.0f} s; {report['environment']['threads']} torch threads; "
        f"best of {cfg['rounds']} (raster) / {cfg['h3_rounds']} (H3) interleaved rounds.",
        "",
        "| measure | case | result | note |",
        "|---|---|---|---|",
    ]
    return "\n".join(header + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA,
        help="shared data folder (default: ../shared/data from the repo root)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run (seconds)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"JSON results file (default {DEFAULT_OUT.relative_to(ROOT)}; none with --quick)",
    )
    parser.add_argument(
        "--keep", type=Path, default=None, help="write the files into DIR and keep them"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved timing rounds, raster cases"
    )
    parser.add_argument("--h3-rounds", type=int, default=2, help="interleaved rounds, H3 cases")
    parser.add_argument("--epochs", type=int, default=None, help="fit epochs (2; 1 with --quick)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="encoder batch of the streamed raster (default: the library's)",
    )
    parser.add_argument("--h3-resolutions", type=int, nargs="+", default=[9, 10])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stream-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = 1 if args.quick else 2
    if args.out is None and not args.quick:
        args.out = DEFAULT_OUT
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Run the benchmark, print the markdown table, write the JSON report."""
    args = parse_args(argv)
    if args.stream_worker is not None:  # the fresh subprocess of run_stream
        print(json.dumps(stream_worker(json.loads(args.stream_worker))))
        return None
    if not (args.data_dir / "nyc-pois").is_dir():
        raise SystemExit(f"No NYC POI data under {args.data_dir}; pass --data-dir.")
    torch.manual_seed(args.seed)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    work = args.keep or Path(tempfile.mkdtemp(prefix="raster_h3-"))
    try:
        report = run_benchmark(args, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(markdown(report))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=2, default=str)
        print(f"\nwrote {args.out}")
    if args.keep is not None:
        print(f"files kept in {args.keep}")
    return report


if __name__ == "__main__":
    main()
