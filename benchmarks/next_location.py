"""Next-location benchmark: vanilla MHSA vs CaLLiPer (closed and inductive heads).

Runs on FSQ-NYC (published split and location ids; CaLLiPer pre-trained on the NYC
POIs of ``nyc-pois`` plus the Foursquare venues) and on GeoLife (MHSA staypoints;
per-user 60/20/20 split by day; CaLLiPer pre-trained on texts that describe the
activity at each training visit, since no POI set of Beijing is available here).

Variants: ``vanilla`` (lookup table, closed head), ``calliper_closed`` (lookup table
plus frozen CaLLiPer features, closed head), ``calliper_inductive`` (the same
features, inductive head). Settings: ``conventional`` and ``inductive`` (10% of the training
locations masked with the seed: no train/valid sample touches them and CaLLiPer is
pre-trained without their POIs; the test set is reported whole and restricted to
samples whose target is masked). Every variant ranks the same candidates: every
location id of the data set.

Baselines (:mod:`geocalliper.mobility.baselines`) rank the same candidates for the
same targets: ``window_frequency`` (places of the 7-day window, most frequent first,
then distance from the last visit), ``distance``, ``markov`` (first-order transitions
counted on the training visits, then distance) and ``popularity`` (training counts,
then distance). The first two learn nothing, so they are ranked once per data set and
the masked subset is taken per seed.

CaLLiPer is built with the library's defaults (only the seed differs), so the
benchmark follows them when they change.

Usage::

    python benchmarks/next_location.py                     # full: both data sets, seeds 0 1 2
    python benchmarks/next_location.py --quick             # a small slice (what CI runs)
    python benchmarks/next_location.py --reference-shape   # FSQ, the reference MHSA shape
                                                           # and schedule (one seed)

Writes ``benchmarks/results/next_location.json`` (``--out``) and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "benchmarks"):  # run as a script without installing the package
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from nyc_pois import load_nyc_pois  # noqa: E402

import geocalliper as gc  # noqa: E402
from geocalliper.mobility import (  # noqa: E402
    BASELINES,
    NextLocationPredictor,
    mask_locations,
    next_location_scores,
    read_fsq_nyc,
    read_geolife_staypoints,
    split_by_day,
)
from geocalliper.mobility.recipes import activity_pois, activity_text  # noqa: E402, F401

VARIANTS = {
    "vanilla": {"features": "lookup", "head": "closed"},
    "calliper_closed": {"features": "both", "head": "closed"},
    "calliper_inductive": {"features": "both", "head": "inductive"},
}
#: baselines that learn nothing from the training visits (ranked once per data set)
STATIC_BASELINES = ("window_frequency", "distance")
SETTINGS = ("conventional", "inductive")
METRICS = ("acc@1", "acc@5", "acc@10", "mrr", "ndcg@10", "f1")
#: model shape per data set (DESIGN: FSQ d 128 / 6 layers, GeoLife d 32-64 / 2 layers;
#: reduced on FSQ so that 18 trainings fit the time budget on 2 CPU cores)
SHAPES = {
    "fsq": {"d_model": 64, "n_layers": 2, "n_heads": 8, "ff_dim": 256},
    "geolife": {"d_model": 32, "n_layers": 2, "n_heads": 8, "ff_dim": 256},
}
#: the reference MHSA shape and schedule on FSQ-NYC (Hong et al.; DESIGN.md): batch 128
#: samples = 4 chunks of 32 targets; 50-epoch linear schedule after 2 warm-up epochs;
#: patience 3 with the learning rate ×0.1 twice
REFERENCE_SHAPE = {"d_model": 128, "n_layers": 6, "n_heads": 8, "ff_dim": 256}
REFERENCE_TRAINING = {
    "batch_size": 4,
    "learning_rate": 1e-3,
    "weight_decay": 1e-6,
    "warmup_epochs": 2,
    "patience": 3,
    "lr_drops": 2,
}
REFERENCE_EPOCHS = 50
#: epochs per data set (an epoch on GeoLife costs about a tenth of one on FSQ-NYC)
EPOCHS = {"fsq": 12, "geolife": 25}


# ---------------------------------------------------------------- data sets
def load_dataset(name: str, data: Path, quick: bool) -> gpd.GeoDataFrame:
    if name == "fsq":
        visits = read_fsq_nyc(data / "fsq-nyc" / "checkins.csv.gz")
        if quick:
            visits = visits[visits["user_id"] <= 40]
    else:
        visits = read_geolife_staypoints(data / "geolife-staypoints")
        if quick:
            visits = visits[visits["user_id"] <= 6]
        visits["split"] = split_by_day(visits)
    return visits


def calliper_pois(
    name: str, visits: gpd.GeoDataFrame, data: Path, masked: set, nyc: gpd.GeoDataFrame | None
) -> gpd.GeoDataFrame:
    """Pre-training POIs, without any at a masked location."""
    if name == "fsq":
        venue_loc = visits.dropna(subset=["location_id"]).drop_duplicates("venue_id")
        hidden = set(venue_loc.loc[venue_loc["location_id"].isin(masked), "venue_id"])
        keep = ~((nyc["source"] == "foursquare") & nyc["source_id"].isin(hidden))
        return nyc[keep].reset_index(drop=True)
    return activity_pois(visits, exclude_locations=masked)


def all_places(visits: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Every location id of the data set at the mean position of its visits."""
    v = visits.dropna(subset=["location_id"])
    g = pd.DataFrame(
        {"location_id": v["location_id"].astype(object), "x": v.geometry.x, "y": v.geometry.y}
    )
    g = g.groupby("location_id").mean()
    return gpd.GeoDataFrame(
        {"location_id": g.index.to_numpy(dtype=object)},
        geometry=gpd.points_from_xy(g["x"], g["y"]),
        crs=4326,
    )


# ---------------------------------------------------------------- runs
def _scores(r: pd.DataFrame) -> dict[str, float]:
    return next_location_scores(
        r["rank"].to_numpy(), r["location"].tolist(), r["predicted"].tolist()
    )


def _subsets(ranks: pd.DataFrame, masked: list | None) -> dict[str, Any]:
    """Scores on all targets and, with masked places, on the targets that are masked."""
    out: dict[str, Any] = {"all": _scores(ranks)}
    if masked:
        sub = ranks[ranks["location"].isin(set(masked))]
        out["masked_targets"] = _scores(sub) if len(sub) else None
    return out


def run_baseline(
    visits: gpd.GeoDataFrame,
    name: str,
    masked: list | None,
    candidates: gpd.GeoDataFrame,
    cache: dict[str, pd.DataFrame],
) -> dict[str, Any]:
    """One baseline on the test targets (fitted on the train split without ``masked``)."""
    t0 = time.perf_counter()
    if name in STATIC_BASELINES and name in cache:
        ranks = cache[name]
    else:
        model = BASELINES[name]().fit(visits, exclude_locations=masked)
        ranks = model.rank_targets(visits[visits["split"] == "test"], candidates=candidates)
        if name in STATIC_BASELINES:
            cache[name] = ranks
    out = _subsets(ranks, masked)
    out["rank_seconds"] = time.perf_counter() - t0
    return out


def run_one(
    visits: gpd.GeoDataFrame,
    variant: str,
    calliper: gc.CaLLiPer | None,
    masked: list | None,
    candidates: gpd.GeoDataFrame,
    args: argparse.Namespace,
    shape: dict,
    seed: int,
) -> dict[str, Any]:
    model = NextLocationPredictor(
        calliper if variant != "vanilla" else None,
        **VARIANTS[variant],
        **shape,
        max_epochs=args.max_epochs or EPOCHS[args.dataset],
        patience=args.patience,
        **args.training,
        seed=seed,
        progress=args.progress,
    )
    t0 = time.perf_counter()
    model.fit(visits, exclude_locations=masked)
    fit_s = time.perf_counter() - t0
    test = visits[visits["split"] == "test"]
    ranks = model.rank_targets(test, candidates=candidates)
    out = {
        **_subsets(ranks, masked),
        "fit_seconds": fit_s,
        "epochs": len(model.history_),
        "best_epoch": model.best_epoch_,
        "seconds_per_epoch": float(model.history_["seconds"].mean()),
        "train_targets": model.n_train_targets_,
        # targets scored per second of training (the reference counts samples)
        "train_samples_per_second": float(
            model.n_train_targets_ / model.history_["train_seconds"].mean()
        ),
    }
    out["_model"] = model
    return out


def quick_calliper(calliper: gc.CaLLiPer) -> dict[str, Any]:
    """A few optimisation steps instead of the defaults, for ``--quick`` only."""
    params = calliper.get_params()
    if "max_steps" in params:
        return {"max_steps": 20, "min_steps": 1} if "min_steps" in params else {"max_steps": 20}
    return {"max_epochs": 2}


def latency(model: NextLocationPredictor, visits, candidates, n: int = 100) -> dict[str, float]:
    """p50/p95 seconds of one single-history ``predict`` over ``candidates``."""
    test = visits[visits["split"] == "test"].sort_values(["user_id", "started_at"])
    rng = np.random.default_rng(0)
    users = test["user_id"].unique()
    times = []
    for user in rng.choice(users, size=min(n, len(users) * 4), replace=True):
        rows = test[test["user_id"] == user]
        end = int(rng.integers(3, max(4, len(rows))))
        history = rows.iloc[max(0, end - 20) : end]
        t0 = time.perf_counter()
        model.predict(history, k=10, candidates=candidates)
        times.append(time.perf_counter() - t0)
    return {
        "p50_ms": float(np.percentile(times, 50) * 1e3),
        "p95_ms": float(np.percentile(times, 95) * 1e3),
        "calls": len(times),
        "candidates": len(candidates),
    }


def summarise(runs: list[dict], key: str) -> dict[str, Any] | None:
    rows = [r[key] for r in runs if r.get(key)]
    if not rows:
        return None
    out = {}
    for m in (*METRICS, "n"):
        vals = np.array([r[m] for r in rows], dtype=float)
        out[m] = {
            "mean": float(vals.mean()),
            "sd": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
            "values": vals.tolist(),
        }
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = []
    for ds, res in results["datasets"].items():
        for setting in SETTINGS:
            if setting not in res:
                continue
            for subset in ("all", "masked_targets"):
                block = res[setting]
                rows = [v for v in (*VARIANTS, *BASELINES) if v in block]
                if not any(block[v].get(subset) for v in rows):
                    continue
                title = "test set" if subset == "all" else "test samples whose target is masked"
                lines += [
                    f"\n**{ds}, {setting}, {title}** "
                    f"(mean ± sd over seeds {results['seeds']}, ×100)",
                    "",
                    "| variant | n | " + " | ".join(METRICS) + " | s/epoch |",
                    "|---|---|" + "---|" * (len(METRICS) + 1),
                ]
                for v in rows:
                    s = block[v].get(subset)
                    if not s:
                        continue
                    cells = [f"{s[m]['mean']:.2f} ± {s[m]['sd']:.2f}" for m in METRICS]
                    epoch = block[v].get("seconds_per_epoch")
                    name = v if v in VARIANTS else f"*{v}* (baseline)"
                    lines.append(
                        f"| {name} | {s['n']['mean']:.0f} | "
                        + " | ".join(cells)
                        + (f" | {epoch:.1f} |" if epoch is not None else " | – |")
                    )
    return "\n".join(lines)


HEADLINE = ("acc@1", "acc@10", "mrr")


def _cell(stats: dict[str, Any] | None) -> str:
    """``mean ± sd`` of the headline metrics (``mean`` alone when there is no spread)."""
    if not stats:
        return "–"
    parts = []
    for m in HEADLINE:
        mean, sd = stats[m]["mean"], stats[m]["sd"]
        parts.append(f"{mean:.2f}" if sd < 0.005 else f"{mean:.2f} ± {sd:.2f}")
    return " / ".join(parts)


def summary_table(results: dict[str, Any]) -> str:
    """One compact table per data set: rows are variants and baselines, columns the
    settings and target subsets; cells Acc@1 / Acc@10 / MRR (×100, mean ± sd over seeds),
    the best mean Acc@1 of each column in bold."""
    lines = []
    columns = (
        ("conventional", "all"),
        ("inductive", "all"),
        ("inductive", "masked_targets"),
    )
    for ds, res in results["datasets"].items():
        cols = [(s, sub) for s, sub in columns if s in res]
        if not cols:
            continue
        rows = [v for v in (*VARIANTS, *BASELINES) if any(v in res[s] for s, _ in cols)]
        best = {}
        for s, sub in cols:
            accs = {v: (res[s].get(v) or {}).get(sub) for v in rows}
            accs = {v: a["acc@1"]["mean"] for v, a in accs.items() if a}
            best[(s, sub)] = max(accs, key=accs.get) if accs else None
        head = [
            f"{s}, {'all targets' if sub == 'all' else 'masked targets'}"
            + (f" (n {_n(res[s], sub)})" if _n(res[s], sub) else "")
            + (
                f", seeds {res[s]['seeds']} only"
                if res[s].get("seeds", results["seeds"]) != results["seeds"]
                else ""
            )
            for s, sub in cols
        ]
        lines += [
            f"\n**{ds}**: Acc@1 / Acc@10 / MRR, ×100, mean ± sd over seeds {results['seeds']}",
            "",
            f"| {ds} | " + " | ".join(head) + " |",
            "|---|" + "---|" * len(cols),
        ]
        for v in rows:
            name = v if v in VARIANTS else f"*{v}*"
            cells = []
            for s, sub in cols:
                cell = _cell((res[s].get(v) or {}).get(sub))
                cells.append(f"**{cell}**" if best[(s, sub)] == v else cell)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _n(block: dict[str, Any], subset: str) -> str:
    """Targets per seed of a column (their sum when the subset differs between seeds)."""
    for v in block.values():
        if isinstance(v, dict) and v.get(subset):
            values = v[subset]["n"]["values"]
            if len(set(values)) == 1:
                return f"{int(values[0]):,}"
            return f"{int(sum(values)):,} in all"
    return ""


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = os.environ.get("GEOCALLIPER_DATA") or ROOT.parent / "shared" / "data"
    parser.add_argument("--data", type=Path, default=Path(data))
    parser.add_argument("--datasets", nargs="+", default=["fsq", "geolife"])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, default=None, help="default: EPOCHS")
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--baselines", nargs="*", default=list(BASELINES), choices=list(BASELINES))
    parser.add_argument("--quick", action="store_true", help="a small slice, 1 epoch")
    parser.add_argument(
        "--reference-shape",
        action="store_true",
        help="FSQ only: the reference MHSA shape and schedule (REFERENCE_SHAPE); with "
        "--max-epochs 1 a throughput figure",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a NextLocationPredictor parameter for every learned variant (JSON value), "
        "e.g. --param unknown_rate=0.9; recorded in the results",
    )
    parser.add_argument("--progress", action="store_true")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: every core)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/next_location.json")
    parser.add_argument(
        "--tables-from",
        type=Path,
        default=None,
        help="print the tables of a saved results JSON and exit (runs nothing)",
    )
    args = parser.parse_args(argv)
    if args.tables_from is not None:
        saved = json.loads(args.tables_from.read_text())
        print(summary_table(saved))
        print(markdown(saved))
        return saved
    args.training = {}
    for item in args.param:
        name, _, value = item.partition("=")
        try:
            args.training[name] = json.loads(value)
        except json.JSONDecodeError:
            args.training[name] = value
    if args.quick:
        args.max_epochs = 1
    if args.reference_shape:
        args.datasets, args.training = ["fsq"], {**REFERENCE_TRAINING, **args.training}
        args.patience = REFERENCE_TRAINING["patience"]
        args.training.pop("patience")
        args.max_epochs = args.max_epochs or REFERENCE_EPOCHS
        if args.out == parser.get_default("out"):
            args.out = ROOT / "benchmarks/results/next_location_reference.json"
    warnings.simplefilter("ignore", UserWarning)
    torch.set_num_threads(args.threads or max(1, os.cpu_count() or 1))
    t_start = time.perf_counter()
    results: dict[str, Any] = {
        "seeds": args.seeds,
        "max_epochs": args.max_epochs or EPOCHS,
        "calliper_params": None,
        "quick": args.quick,
        "reference_shape": args.reference_shape,
        "params": dict(args.training),
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
        },
        "torch": torch.__version__,
        "datasets": {},
    }
    nyc = load_nyc_pois(args.data) if "fsq" in args.datasets else None
    for ds in args.datasets:
        args.dataset = ds
        visits = load_dataset(ds, args.data, args.quick)
        candidates = all_places(visits)
        shape = REFERENCE_SHAPE if args.reference_shape else SHAPES[ds]
        if args.quick:
            shape = {"d_model": 16, "n_layers": 1, "n_heads": 2, "ff_dim": 32}
        res: dict[str, Any] = {"visits": len(visits), "candidates": len(candidates)}
        static_ranks: dict[str, pd.DataFrame] = {}
        print(f"== {ds}: {len(visits)} visits, {len(candidates)} locations", flush=True)
        for setting in args.settings:
            runs: dict[str, list] = {v: [] for v in args.variants}
            base_runs: dict[str, list] = {b: [] for b in args.baselines}
            calliper_s = []
            for seed in args.seeds:
                masked = mask_locations(visits, 0.1, seed=seed) if setting == "inductive" else []
                pois = calliper_pois(ds, visits, args.data, set(masked), nyc)
                for name in args.baselines:
                    r = run_baseline(visits, name, masked, candidates, static_ranks)
                    base_runs[name].append(r)
                    sub = r.get("masked_targets") or {}
                    print(
                        f"{ds} {setting} seed {seed} baseline {name}: "
                        f"acc@1 {r['all']['acc@1']:.2f}"
                        + (f", masked-target acc@1 {sub['acc@1']:.2f}" if sub else ""),
                        flush=True,
                    )
                t0 = time.perf_counter()
                calliper = gc.CaLLiPer(seed=seed, progress=args.progress)
                if args.quick:
                    calliper.set_params(**quick_calliper(calliper))
                results["calliper_params"] = {
                    k: v for k, v in calliper.get_params().items() if k not in ("progress", "seed")
                }
                if any(v != "vanilla" for v in args.variants):  # vanilla needs none
                    calliper.fit(pois)
                calliper_s.append(time.perf_counter() - t0)
                for variant in args.variants:
                    r = run_one(visits, variant, calliper, masked, candidates, args, shape, seed)
                    model = r.pop("_model")
                    runs[variant].append(r)
                    acc = r["all"]["acc@1"]
                    sub = r.get("masked_targets") or {}
                    print(
                        f"{ds} {setting} seed {seed} {variant}: acc@1 {acc:.2f}"
                        + (f", masked-target acc@1 {sub['acc@1']:.2f}" if sub else "")
                        + f" ({r['epochs']} epochs, {r['seconds_per_epoch']:.1f} s/epoch, "
                        f"{r['train_samples_per_second']:.0f} train samples/s)",
                        flush=True,
                    )
                    first = seed == args.seeds[0] and not args.reference_shape
                    if ds == "fsq" and setting == "conventional" and first:
                        res.setdefault("latency", {})[variant] = latency(model, visits, candidates)
            block: dict[str, Any] = {
                "calliper_fit_seconds": float(np.mean(calliper_s)),
                "calliper_pois": len(pois),
            }
            for variant, rs in runs.items():
                block[variant] = {
                    "all": summarise(rs, "all"),
                    "masked_targets": summarise(rs, "masked_targets"),
                    "seconds_per_epoch": float(np.mean([r["seconds_per_epoch"] for r in rs])),
                    "train_samples_per_second": float(
                        np.mean([r["train_samples_per_second"] for r in rs])
                    ),
                    "epochs": [r["epochs"] for r in rs],
                    "fit_seconds": [r["fit_seconds"] for r in rs],
                    "train_targets": rs[0]["train_targets"],
                }
            for name, rs in base_runs.items():
                block[name] = {
                    "baseline": True,
                    "all": summarise(rs, "all"),
                    "masked_targets": summarise(rs, "masked_targets"),
                    "rank_seconds": [r["rank_seconds"] for r in rs],
                }
            res[setting] = block
            results["datasets"][ds] = res
            # a long run keeps what it has finished (``partial``) if it is stopped
            results["total_seconds"] = time.perf_counter() - t_start
            _write_json(args.out, {**results, "partial": True})
        results["datasets"][ds] = res
    results["total_seconds"] = time.perf_counter() - t_start
    table = markdown(results)
    results["markdown"] = table
    results["summary"] = summary_table(results)
    print(results["summary"])
    print(table)
    if "latency" in results["datasets"].get("fsq", {}):
        print("\nsingle-history predict latency over all FSQ-NYC locations:")
        for v, lat in results["datasets"]["fsq"]["latency"].items():
            print(f"  {v}: p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms")
    print(f"\ntotal {results['total_seconds'] / 60:.1f} min")
    _write_json(args.out, results)
    return results


def _write_json(path: Path, results: dict[str, Any]) -> None:
    """Write ``results`` atomically (a stopped run never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
