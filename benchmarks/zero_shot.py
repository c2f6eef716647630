"""Zero-shot labelling: can CaLLiPer name the kind of place from words alone?

Pre-trains :class:`geocalliper.CaLLiPer` on 90% of the New York City POIs (seeded split;
the POIs of ``benchmarks/nyc_pois.py``: OSM 2013, NYC Open Data facilities, Foursquare
venues) and labels each held-out POI with one of the Foursquare top-level categories,
given only as texts (``"A place of {top-level category}"``, one per category of
``foursquare_taxonomy.json``), with :func:`geocalliper.label_points`: zero-shot, no
classifier is trained on the categories.

Which POIs have a top-level category: Foursquare venues through the taxonomy (category
name → top-level category), OSM POIs whose ``fclass`` is in
``osm_tag_to_foursquare_top.json``. NYC Open Data facilities have their own, unrelated
codebook and are left out of the evaluation (they are still in the pre-training).

Zero-shot scorings (:func:`geocalliper.zeroshot.label_points`):

* ``zero-shot (cosine)``: the label whose projected text is most similar;
* ``zero-shot (cosine + prior)``: ``exp(s) · cosine + log p(category)``, ``s`` the
  model's learned logit scale, ``p`` the share of each category among the *training*
  POIs that have one (a frequency, known without any classifier; see
  ``docs/index.md``, "Reading similarities"). Nothing is tuned.

Controls, fitted on the training POIs that have a category (never on the held-out ones):

* ``majority``: always the most frequent training category;
* ``kNN (k)``: majority vote of the ``k`` nearest training POIs in the model's projected
  CRS (ties to the nearer neighbour), for every ``k`` in ``--knn``;
* ``linear probe``: multinomial logistic regression on the (L2-normalised) CaLLiPer
  embeddings of the training POIs: supervised, an upper reference for what the
  embedding holds, not a zero-shot method;
* ``untrained: …``: zero-shot and the linear probe with the same architecture and seed,
  randomly initialised and never trained (``benchmarks/controls.py``);
* ``encoding features: linear probe``: the probe on the positional-encoding features
  alone (standardised).

Metrics: accuracy and macro-F1 (over the categories present among the held-out POIs),
overall and per source, as %; mean ± sd over ``--seeds`` (each seed draws its own split,
initial weights and batch order).

Run from the repository root::

    HF_HUB_OFFLINE=1 python benchmarks/zero_shot.py            # full run: a few minutes on 2 CPUs
    HF_HUB_OFFLINE=1 python benchmarks/zero_shot.py --quick    # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
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
from controls import encoding_features, fit_or_load, untrained_copy  # noqa: E402
from nyc_pois import load_nyc_pois  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402
from semantic_probe import holdout_split  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import geocalliper  # noqa: E402
from geocalliper import label_points  # noqa: E402
from geocalliper.io.poi import humanize  # noqa: E402
from geocalliper.zeroshot import logit_scale  # noqa: E402

DEFAULT_DATA = Path(  # GEOCALLIPER_DATA: the one data variable of tests and examples too
    os.environ.get("GEOCALLIPER_DATA") or ROOT.parent / "shared" / "data"
)
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "zero_shot.json"
TEMPLATE = "A place of {}"
EVAL_SOURCES = ("osm", "foursquare")


def top_categories(pois: pd.DataFrame, data_dir: Path) -> tuple[pd.Series, list[str]]:
    """Each POI's Foursquare top-level category (missing where it has none), and all of
    the top-level categories of the taxonomy (sorted)."""
    folder = Path(data_dir) / "nyc-pois"
    taxonomy: dict[str, str] = json.loads((folder / "foursquare_taxonomy.json").read_text())
    tag_top: dict[str, str] = json.loads((folder / "osm_tag_to_foursquare_top.json").read_text())
    # the OSM loader keeps ``category`` as the humanised fclass
    osm_top = {humanize(tag): top for tag, top in tag_top.items()}
    top = pd.Series(pd.NA, index=pois.index, dtype=object)
    is_fsq = pois["source"] == "foursquare"
    is_osm = pois["source"] == "osm"
    top[is_fsq] = pois.loc[is_fsq, "category"].map(taxonomy)
    top[is_osm] = pois.loc[is_osm, "category"].map(osm_top)
    return top, sorted(set(taxonomy.values()))


def knn_predict(
    xy_train: np.ndarray, y_train: np.ndarray, xy_test: np.ndarray, k: int
) -> np.ndarray:
    """Majority vote of the ``k`` nearest training points; ties go to the nearer one."""
    k = min(k, len(y_train))
    _, idx = cKDTree(xy_train).query(xy_test, k=k)
    idx = idx.reshape(len(xy_test), k)
    codes, classes = pd.factorize(y_train)
    votes = np.zeros((len(xy_test), len(classes)))
    first = np.full((len(xy_test), len(classes)), k)
    rows = np.repeat(np.arange(len(xy_test)), k)
    flat = codes[idx].ravel()
    np.add.at(votes, (rows, flat), 1.0)
    np.minimum.at(first, (rows, flat), np.tile(np.arange(k), len(xy_test)))
    score = votes + (k - first) / (k + 1)  # break ties by the nearest neighbour
    return np.asarray(classes)[score.argmax(axis=1)]


def metrics(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 (over the categories present in ``truth``), in %."""
    present = sorted(set(truth))
    return {
        "accuracy": 100 * float(accuracy_score(truth, pred)),
        "macro_f1": 100
        * float(f1_score(truth, pred, labels=present, average="macro", zero_division=0)),
    }


def run_seed(
    pois: gpd.GeoDataFrame,
    top: pd.Series,
    categories: list[str],
    args: argparse.Namespace,
    seed: int,
) -> dict[str, Any]:
    """One seed: split, pre-train, label, score every method."""
    t_start = time.perf_counter()
    train_pos, test_pos = holdout_split(len(pois), args.test_fraction, seed)
    train, test = pois.iloc[train_pos], pois.iloc[test_pos]

    model, fit_seconds, loaded = fit_or_load(
        train, seed, args.model_params, args.models, progress=args.progress
    )
    history = model.history_
    print(
        f"seed {seed}: {'loaded' if loaded else 'fit'} on {len(train)} POIs: "
        f"{fit_seconds:.1f} s, "
        f"{int(history['step'].iloc[-1])} steps, best step {model.best_step_} "
        f"(val loss {history['val_loss'].min():.4f})",
        flush=True,
    )

    # evaluation and supervision sets: the POIs that have a top-level category
    train_l = train[top.iloc[train_pos].notna().to_numpy()]
    test_l = test[top.iloc[test_pos].notna().to_numpy()]
    y_train = top.loc[train_l.index].to_numpy(dtype=object)
    y_test = top.loc[test_l.index].to_numpy(dtype=object)
    source = test_l["source"].to_numpy()
    labels = {c: TEMPLATE.format(c) for c in categories}
    prior_counts = pd.Series(y_train).value_counts().reindex(categories, fill_value=0)
    # a category no training POI has keeps a small weight rather than probability 0
    prior = (prior_counts + 1).to_dict()

    predictions: dict[str, np.ndarray] = {}
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    predictions["zero-shot (cosine)"] = label_points(model, test_l, labels)["label"].to_numpy()
    timings["zero-shot (cosine)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    predictions["zero-shot (cosine + prior)"] = label_points(model, test_l, labels, prior=prior)[
        "label"
    ].to_numpy()
    timings["zero-shot (cosine + prior)"] = time.perf_counter() - t0

    # controls: the same architecture untrained (its projector untrained too)
    twin = untrained_copy(model)
    predictions["untrained: zero-shot (cosine + prior)"] = label_points(
        twin, test_l, labels, prior=prior
    )["label"].to_numpy()

    majority = prior_counts.idxmax()
    predictions["majority"] = np.full(len(test_l), majority, dtype=object)

    xy_train = train_l.to_crs(model.crs_).geometry.get_coordinates().to_numpy()
    xy_test = test_l.to_crs(model.crs_).geometry.get_coordinates().to_numpy()
    for k in args.knn:
        predictions[f"kNN on coordinates (k={k})"] = knn_predict(xy_train, y_train, xy_test, k)

    t0 = time.perf_counter()
    feats = {
        "linear probe (supervised)": model,
        "untrained: linear probe (supervised)": twin,
    }
    for name, m in feats.items():
        emb_train = m.embed(train_l, normalize=True).to_numpy(np.float64)
        emb_test = m.embed(test_l, normalize=True).to_numpy(np.float64)
        probe = LogisticRegression(max_iter=2000, C=args.probe_c)
        probe.fit(emb_train, y_train)
        predictions[name] = probe.predict(emb_test)
    timings["linear probe (supervised)"] = time.perf_counter() - t0
    scaler = StandardScaler().fit(encoding_features(model, xy_train))
    probe = LogisticRegression(max_iter=2000, C=args.probe_c)
    probe.fit(scaler.transform(encoding_features(model, xy_train)), y_train)
    predictions["encoding features: linear probe (supervised)"] = probe.predict(
        scaler.transform(encoding_features(model, xy_test))
    )

    results = []
    for method, pred in predictions.items():
        row: dict[str, Any] = {"method": method, "all": metrics(y_test, pred)}
        for src in EVAL_SOURCES:
            mask = source == src
            if mask.any():
                row[src] = metrics(y_test[mask], pred[mask])
        results.append(row)

    test_counts = pd.Series(y_test).value_counts()
    return {
        "seed": seed,
        "labels": labels,
        "model": {k: v for k, v in model.get_params().items() if k != "cache_dir"},
        "crs": model.crs_.to_string(),
        "data": {
            "n_train": len(train),
            "n_test": len(test),
            "n_train_with_category": len(train_l),
            "n_test_with_category": len(test_l),
            "test_per_source": pd.Series(source).value_counts().to_dict(),
            "test_per_category": test_counts.to_dict(),
            "training_prior": prior_counts.to_dict(),
            "majority_class": majority,
        },
        "fit": {
            "seconds": fit_seconds,
            "steps_run": int(history["step"].iloc[-1]),
            "best_step": model.best_step_,
            "best_val_loss": float(history["val_loss"].min()),
            "logit_scale": logit_scale(model),
        },
        "results": results,
        "timings": {**timings, "total_seconds": time.perf_counter() - t_start},
    }


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation (over seeds) of every method's metrics."""
    out = []
    for i, row in enumerate(runs[0]["results"]):
        summary: dict[str, Any] = {"method": row["method"]}
        for scope in ("all", *EVAL_SOURCES):
            values = [r["results"][i].get(scope) for r in runs]
            if any(v is None for v in values):
                continue
            summary[scope] = {
                f"{metric}_{stat}": float(fn([v[metric] for v in values]))
                for metric in ("accuracy", "macro_f1")
                for stat, fn in (("mean", np.mean), ("sd", _sd))
            }
        out.append(summary)
    return out


def _sd(values: list[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load the POIs once, run every seed, summarise; everything that goes into the JSON."""
    t_start = time.perf_counter()
    pois = load_nyc_pois(args.data_dir)
    if args.quick:
        pois = pois.sample(n=min(4000, len(pois)), random_state=0).reset_index(drop=True)
    top, categories = top_categories(pois, args.data_dir)
    runs = [run_seed(pois, top, categories, args, seed) for seed in args.seeds]
    first = runs[0]
    return {
        "benchmark": "zero_shot",
        "description": (
            "zero-shot labelling of held-out NYC POIs into Foursquare top-level categories "
            "from texts 'A place of {category}', against majority, kNN and a linear probe"
        ),
        "command": " ".join(sys.argv),
        "config": {
            "seeds": list(args.seeds),
            "quick": args.quick,
            "test_fraction": args.test_fraction,
            "template": TEMPLATE,
            "labels": first["labels"],
            "knn": list(args.knn),
            "probe_C": args.probe_c,
            "model": first["model"],
            "crs": first["crs"],
        },
        "n_pois": len(pois),
        "n_with_category": int(top.notna().sum()),
        "summary": summarise(runs),
        "runs": [{k: v for k, v in r.items() if k not in ("labels", "model")} for r in runs],
        "total_seconds": time.perf_counter() - t_start,
        "environment": {
            "geocalliper": geocalliper.__version__,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
    }


def markdown(report: dict[str, Any]) -> str:
    """The summary as a markdown table: accuracy / macro-F1 in %, mean ± sd over seeds."""
    sizes = [r["data"] for r in report["runs"]]
    n_all = "/".join(str(d["n_test_with_category"]) for d in sizes)
    per = {s: "/".join(str(d["test_per_source"].get(s, 0)) for d in sizes) for s in EVAL_SOURCES}
    head = f"| method | all (n={n_all}) | " + " | ".join(f"{s} (n={per[s]})" for s in EVAL_SOURCES)
    lines = [head + " |", "|---|---|" + "---|" * len(EVAL_SOURCES)]
    for row in report["summary"]:
        cells = []
        for scope in ("all", *EVAL_SOURCES):
            c = row.get(scope)
            cells.append(
                "–"
                if c is None
                else f"{c['accuracy_mean']:.1f} ± {c['accuracy_sd']:.1f} / "
                f"{c['macro_f1_mean']:.1f} ± {c['macro_f1_sd']:.1f}"
            )
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--model",
        default="{}",
        help="CaLLiPer parameters as JSON (default: the library defaults; quick: 100 steps)",
    )
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--knn", type=int, nargs="+", default=[5, 10, 25, 50])
    parser.add_argument("--probe-c", type=float, default=1.0, help="logistic regression C")
    parser.add_argument("--quick", action="store_true", help="smoke run: 4,000 POIs, 100 steps")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="folder of pre-trained models shared with land_use_probe.py: load one fitted "
        "alike, else fit and save it there",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.model_params = json.loads(args.model)
    if args.quick:
        args.model_params = {"max_steps": 100, **args.model_params}
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run, print the table, write the JSON."""
    args = parse_args(argv)
    if not (args.data_dir / "nyc-pois").is_dir():
        raise SystemExit(f"NYC data not found under {args.data_dir} (see ../shared/data).")
    report = run(args)
    print(
        "\naccuracy / macro-F1 (%, mean ± sd over seeds "
        f"{', '.join(map(str, args.seeds))}), held-out POIs with a Foursquare top-level category"
    )
    print(markdown(report))
    print(f"total {report['total_seconds']:.0f} s")
    if not args.quick or args.out != DEFAULT_OUT:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return report


if __name__ == "__main__":
    main()
