"""Semantic probe: does a CaLLiPer location embedding know what kind of place is there?

Pre-trains :class:`geocalliper.CaLLiPer` on 90% of the New York City POIs (OSM 2013, NYC
Open Data facilities, Foursquare venues; see ``benchmarks/nyc_pois.py``) and, for each
held-out POI, ranks all distinct POI texts (category-level, no names) by cosine similarity
between the POI's location embedding and the projected text embeddings: zero-shot
location → text retrieval. Reports top-1 / top-5 accuracy of the POI's own text.

Two CaLLiPer scorings are reported:

* ``CaLLiPer (cosine)``: the plain cosine similarity, as above;
* ``CaLLiPer (+ log prior)``: ``exp(logit_scale) * cosine + log(1 + training count)``. At
  its optimum the InfoNCE loss makes ``exp(logit_scale) * cosine`` equal to
  ``log p(text | location) - log p(text)`` up to a per-location constant (a pointwise
  mutual information), so plain cosine ranks texts that are *over-represented* at a
  place, not the *likeliest* ones; adding the log training frequency turns it into
  (approximately) ``log p(text | location)``. The model's own learned logit scale is
  used and nothing is tuned. (This was found on the estimator's internal validation
  split, not the held-out POIs.) Within one source, adding the global prior ranks exactly
  as the source's prior would, because each text belongs to a single source.

Controls (fitted on the same 90%, nothing is chosen on the held-out POIs):

* ``untrained (+ log prior)``: the same scoring with the same architecture and seed,
  randomly initialised and never trained (``benchmarks/controls.py``);
* ``majority``: always the most frequent training texts;
* ``kNN (k)``: majority vote of the ``k`` nearest training POIs in the model's projected
  CRS, ties broken by the nearest neighbour, top-5 = the five most voted (padded with the
  most frequent training texts), reported for every ``k`` in ``--knn``.

Results are given over the full label set and, because the three sources use disjoint
vocabularies, per source: (a) the global ranking restricted to that source's held-out
POIs and (b) ranking only among that source's own texts (kNN neighbours and majority
counts then also come from that source only).

Run from the repository root::

    HF_HUB_OFFLINE=1 python benchmarks/semantic_probe.py            # full run: 1-7 min on 2 CPUs
    HF_HUB_OFFLINE=1 python benchmarks/semantic_probe.py --quick    # smoke test (seconds)
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

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from controls import fit_or_load, untrained_copy  # noqa: E402
from nyc_pois import SOURCES, load_nyc_pois  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

import geocalliper  # noqa: E402
from geocalliper import CaLLiPer, TextEncoder  # noqa: E402

DEFAULT_DATA = Path(  # GEOCALLIPER_DATA: the one data variable of tests and examples too
    os.environ.get("GEOCALLIPER_DATA") or ROOT.parent / "shared" / "data"
)
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "semantic_probe.json"
TOP = 5


# --------------------------------------------------------------------------- metrics


def top_k(scores: np.ndarray, k: int = TOP) -> np.ndarray:
    """Indices of the ``k`` highest scores per row, best first."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def accuracy(ranked: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Top-1 and top-5 accuracy of ``truth`` in the ranked label indices."""
    hits = ranked == truth[:, None]
    return {"top1": float(hits[:, 0].mean()), "top5": float(hits[:, :TOP].any(axis=1).mean())}


def majority_scores(train_codes: np.ndarray, n_labels: int, n_rows: int) -> np.ndarray:
    """Every row scores each label by its training frequency."""
    freq = np.bincount(train_codes, minlength=n_labels).astype(np.float64)
    return np.broadcast_to(freq, (n_rows, n_labels))


def knn_scores(neighbour_codes: np.ndarray, train_codes: np.ndarray, n_labels: int) -> np.ndarray:
    """Vote scores from the labels of the ``k`` nearest neighbours (nearest first).

    A label scores ``votes + (k - first position) / (k + 1)``: the most voted win, ties go
    to the label of the nearer neighbour. Labels with no vote score their training share
    (< 1), so a top-5 with fewer than five voted labels is padded by the majority order.
    """
    n, k = neighbour_codes.shape
    freq = np.bincount(train_codes, minlength=n_labels).astype(np.float64)
    scores = np.tile(freq / freq.sum() * 0.5, (n, 1))
    rows = np.repeat(np.arange(n), k)
    flat = neighbour_codes.ravel()
    votes = np.zeros((n, n_labels))
    np.add.at(votes, (rows, flat), 1.0)
    first = np.full((n, n_labels), k, dtype=np.int64)
    positions = np.tile(np.arange(k), n)
    np.minimum.at(first, (rows, flat), positions)
    voted = votes > 0
    scores[voted] = votes[voted] + (k - first[voted]) / (k + 1)
    return scores


# --------------------------------------------------------------------------- probe


def holdout_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``range(n)`` into (train, test) positions."""
    perm = np.random.default_rng(seed).permutation(n)
    n_test = round(n * fraction)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def label_embeddings(model: CaLLiPer, labels: Sequence[str]) -> np.ndarray:
    """Projected, L2-normalised text embeddings of ``labels`` in the location space."""
    encoder = TextEncoder(model.text_model, cache_dir=model.cache_dir, progress=False)
    vectors = torch.tensor(encoder.encode(list(labels)))
    module = model.module_.eval()
    with torch.no_grad():
        projected = module.project_text(vectors.to(model.device_))
        projected = torch.nn.functional.normalize(projected, dim=-1)
    return projected.cpu().numpy().astype(np.float64)


def evaluate(
    name: str,
    scores_for: Any,
    test: pd.DataFrame,
    truth: np.ndarray,
    label_source: np.ndarray,
) -> list[dict[str, Any]]:
    """Rows of results for one method: all POIs, per source, and within each source.

    ``scores_for(rows, allowed)`` returns ``(len(rows), n_labels)`` scores for the
    held-out positions ``rows`` with candidates restricted to the boolean mask ``allowed``
    (``None`` = all labels, and the method's training data from every source).
    """
    results = []
    everything = top_k(scores_for(np.arange(len(test)), None))
    results.append(
        {
            "method": name,
            "scope": "all",
            "labels": "all",
            "n": len(test),
            **accuracy(everything, truth),
        }
    )
    for source in SOURCES:
        rows = np.flatnonzero(test["source"].to_numpy() == source)
        if len(rows) == 0:
            continue
        results.append(
            {
                "method": name,
                "scope": source,
                "labels": "all",
                "n": len(rows),
                **accuracy(everything[rows], truth[rows]),
            }
        )
        allowed = label_source == source
        scores = np.array(scores_for(rows, source), dtype=np.float64, copy=True)
        scores[:, ~allowed] = -np.inf
        results.append(
            {
                "method": name,
                "scope": source,
                "labels": "source",
                "n": len(rows),
                **accuracy(top_k(scores), truth[rows]),
            }
        )
    return results


def run_probe(args: argparse.Namespace) -> dict[str, Any]:
    """Load once, probe every seed, summarise; everything that goes into the JSON."""
    t_start = time.perf_counter()
    pois = load_nyc_pois(args.data_dir)
    if args.quick:
        pois = pois.sample(n=min(3000, len(pois)), random_state=0)
        pois = pois.reset_index(drop=True)
    t_load = time.perf_counter() - t_start
    runs = [run_seed(pois, args, seed) for seed in args.seeds]
    frame = pd.DataFrame(
        [{**r, "seed": run["config"]["seed"]} for run in runs for r in run["results"]]
    )
    summary = (
        frame.groupby(["method", "scope", "labels"], sort=False)
        .agg(
            n=("n", "first"),
            top1=("top1", "mean"),
            top1_sd=("top1", "std"),
            top5=("top5", "mean"),
            top5_sd=("top5", "std"),
            seeds=("seed", "size"),
        )
        .reset_index()
        .fillna({"top1_sd": 0.0, "top5_sd": 0.0})
    )
    first = runs[0]
    return {
        "benchmark": "semantic_probe",
        "description": "zero-shot location -> POI text retrieval on held-out NYC POIs",
        "command": " ".join(sys.argv),
        "config": {**first["config"], "seeds": list(args.seeds)},
        "data": first["data"],
        "fit": [run["fit"] for run in runs],
        "summary": summary.to_dict("records"),
        "results": frame.to_dict("records"),
        "environment": {
            "geocalliper": geocalliper.__version__,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "machine": platform.machine(),
        },
        "timings": {"load_seconds": t_load, "total_seconds": time.perf_counter() - t_start},
    }


def run_seed(pois: pd.DataFrame, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """Split, pre-train (or load), probe and score every method for one seed."""
    train_pos, test_pos = holdout_split(len(pois), args.test_fraction, seed)
    train, test = pois.iloc[train_pos], pois.iloc[test_pos]

    labels = np.array(sorted(pois["text"].unique()), dtype=object)
    code_of = {t: i for i, t in enumerate(labels)}
    train_codes = train["text"].map(code_of).to_numpy(np.int64)
    truth = test["text"].map(code_of).to_numpy(np.int64)
    # each text belongs to exactly one source (the vocabularies are disjoint; checked)
    source_of = pois.groupby("text")["source"].agg(lambda s: sorted(set(s)))
    if (source_of.map(len) > 1).any():
        raise RuntimeError("A text is shared between sources; per-source label sets overlap.")
    label_source = source_of.map(lambda s: s[0]).reindex(labels).to_numpy()

    model, fit_seconds, loaded = fit_or_load(
        train, seed, args.model_params, args.models, progress=args.progress
    )
    history = model.history_
    print(
        f"seed {seed}: {'loaded' if loaded else 'fit'} {fit_seconds:.1f} s, "
        f"{int(history['step'].iloc[-1])} steps, "
        f"best step {model.best_step_} "
        f"(val loss {history['val_loss'].min():.4f}), CRS {model.crs_.to_string()}",
        flush=True,
    )

    loc = model.embed(test, normalize=True).to_numpy(np.float64)
    lab = label_embeddings(model, labels)
    similarity = loc @ lab.T
    with torch.no_grad():
        logit_scale = float(model.module_.logit_scale.exp())
    log_prior = np.log1p(np.bincount(train_codes, minlength=len(labels)))
    posterior = logit_scale * similarity + log_prior
    # control: the same architecture and seed, never trained (projector untrained too)
    twin = untrained_copy(model)
    twin_similarity = (
        twin.embed(test, normalize=True).to_numpy(np.float64) @ label_embeddings(twin, labels).T
    )
    twin_scale = float(twin.module_.logit_scale.detach().exp())
    twin_posterior = twin_scale * twin_similarity + log_prior

    train_source = train["source"].to_numpy()
    test_source = test["source"].to_numpy()
    n_labels = len(labels)

    def calliper_scores(rows: np.ndarray, source: str | None) -> np.ndarray:
        return similarity[rows]

    def calliper_prior_scores(rows: np.ndarray, source: str | None) -> np.ndarray:
        return posterior[rows]

    def untrained_prior_scores(rows: np.ndarray, source: str | None) -> np.ndarray:
        return twin_posterior[rows]

    def majority_for(rows: np.ndarray, source: str | None) -> np.ndarray:
        codes = train_codes if source is None else train_codes[train_source == source]
        return majority_scores(codes, n_labels, len(rows))

    xy_train = train.to_crs(model.crs_).geometry.get_coordinates().to_numpy()
    xy_test = test.to_crs(model.crs_).geometry.get_coordinates().to_numpy()
    trees = {None: (cKDTree(xy_train), train_codes)}
    for source in SOURCES:
        mask = train_source == source
        if mask.any():
            trees[source] = (cKDTree(xy_train[mask]), train_codes[mask])

    def knn_for(k: int) -> Any:
        def scores(rows: np.ndarray, source: str | None) -> np.ndarray:
            tree, codes = trees[source]
            kk = min(k, len(codes))
            _, idx = tree.query(xy_test[rows], k=kk)
            idx = idx.reshape(len(rows), kk)
            return knn_scores(codes[idx], codes, n_labels)

        return scores

    results = evaluate("CaLLiPer (cosine)", calliper_scores, test, truth, label_source)
    results += evaluate("CaLLiPer (+ log prior)", calliper_prior_scores, test, truth, label_source)
    results += evaluate(
        "untrained (+ log prior)", untrained_prior_scores, test, truth, label_source
    )
    results += evaluate("majority", majority_for, test, truth, label_source)
    for k in args.knn:
        results += evaluate(f"kNN (k={k})", knn_for(k), test, truth, label_source)

    counts = pois.groupby("source").agg(pois=("text", "size"), texts=("text", "nunique"))
    return {
        "config": {
            "seed": seed,
            "quick": args.quick,
            "test_fraction": args.test_fraction,
            "knn": list(args.knn),
            "model": {k: v for k, v in model.get_params().items() if k != "cache_dir"},
            "crs": model.crs_.to_string(),
        },
        "data": {
            "n_pois": len(pois),
            "n_train": len(train),
            "n_test": len(test),
            "n_labels": n_labels,
            "per_source": counts.to_dict("index"),
            "test_per_source": pd.Series(test_source).value_counts().to_dict(),
        },
        "fit": {
            "seed": seed,
            "seconds": fit_seconds,
            "loaded": loaded,
            "steps_run": int(history["step"].iloc[-1]),
            "best_step": model.best_step_,
            "best_val_loss": float(history["val_loss"].min()),
            "logit_scale": logit_scale,  # of the kept (best-step) weights
            "temperature": 1.0 / logit_scale,
            "history": history.to_dict("records"),
        },
        "results": results,
    }


# --------------------------------------------------------------------------- report


def markdown(report: dict[str, Any]) -> str:
    """Two markdown tables (mean ± sd over seeds): ranking over all texts, and within
    each source's own texts."""
    frame = pd.DataFrame(report["summary"])
    methods = list(dict.fromkeys(frame["method"]))
    n = frame.drop_duplicates("scope").set_index("scope")["n"]

    def table(labels: str, scopes: list[str]) -> list[str]:
        head = "| method | " + " | ".join(f"{s} (n={n[s]}) top-1 / top-5" for s in scopes) + " |"
        lines = [head, "|---" * (len(scopes) + 1) + "|"]
        for method in methods:
            cells = []
            for scope in scopes:
                row = frame[
                    (frame["method"] == method)
                    & (frame["scope"] == scope)
                    & (frame["labels"] == labels)
                ].iloc[0]
                cells.append(
                    f"{100 * row['top1']:.1f} ± {100 * row['top1_sd']:.1f} / "
                    f"{100 * row['top5']:.1f} ± {100 * row['top5_sd']:.1f}"
                )
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        return lines

    sources = [s for s in SOURCES if s in n.index]
    data = report["data"]
    fits = "; ".join(
        f"seed {f['seed']}: {f['steps_run']} steps, best {f['best_step']}, "
        f"temperature {f['temperature']:.3f}"
        for f in report["fit"]
    )
    out = [
        f"Semantic probe: {data['n_test']} held-out of {data['n_pois']} NYC POIs, "
        f"{data['n_labels']} label texts; accuracy in %, mean ± sd over seeds "
        f"{', '.join(map(str, report['config']['seeds']))}.",
        f"CaLLiPer fits: {fits}.",
        "",
        f"Ranking over all {data['n_labels']} texts:",
        "",
        *table("all", ["all", *sources]),
        "",
        "Ranking within each source's own texts "
        + ", ".join(f"{s}: {data['per_source'][s]['texts']}" for s in sources)
        + "; majority and kNN use that source's training POIs only:",
        "",
        *table("source", sources),
    ]
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA,
        help="shared data folder (default: ../shared/data from the repo root)",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="hold-out split and model seeds"
    )
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="folder of pre-trained models shared with land_use_probe.py: load one fitted "
        "alike, else fit and save it there",
    )
    parser.add_argument(
        "--model",
        default="{}",
        help="CaLLiPer parameters as JSON (default: the library defaults; quick: 100 steps)",
    )
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument(
        "--knn",
        type=int,
        nargs="+",
        default=[5, 10, 25, 50],
        help="k values of the kNN control (all are reported)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny smoke run: 3,000 POIs, 100 steps"
    )
    parser.add_argument("--progress", action="store_true", help="show training progress")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    args = parser.parse_args(argv)
    args.model_params = json.loads(args.model)
    if args.quick:
        args.model_params = {"max_steps": 100, **args.model_params}
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the probe, print the markdown tables, write the JSON report."""
    args = parse_args(argv)
    if not (args.data_dir / "nyc-pois").is_dir():
        raise SystemExit(f"No NYC POI data under {args.data_dir}; pass --data-dir.")
    report = run_probe(args)
    print(markdown(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=2, default=str)
    print(f"\nwrote {args.out}")
    return report


if __name__ == "__main__":
    main()
