"""Land-use probe: does pre-training put what is where into the embedding, beyond the controls?

Pre-trains :class:`geocalliper.CaLLiPer` on 90% of the New York City POIs (OSM 2013, NYC
Open Data facilities, Foursquare venues; ``benchmarks/nyc_pois.py``; a seeded split),
embeds the held-out 10%, and predicts the Foursquare top-level category of those that
have one (OSM ``fclass`` through ``osm_tag_to_foursquare_top.json``; Foursquare venues
through the taxonomy; 14 classes) from labelled *training* POIs, at several label
budgets (1%, 10%, 100% of the labelled training POIs; several random draws each):

* ``linear probe``: a ridge classifier (least squares onto the one-hot classes) on
  standardised features, its regularisation chosen by efficient leave-one-out
  cross-validation on the labelled POIs of the draw (never on the held-out POIs);
* ``kNN``: majority vote of the ``k`` nearest labelled POIs (cosine on embeddings,
  Euclidean on coordinates), reported for the best ``k`` of ``--knn`` on the held-out
  POIs: an optimistic choice, made for the controls too.

The features compared, all measured in the same run, for every pre-training seed:

* ``pretrained``: the fitted model's embeddings; with ``--precision bf16 int8`` also
  ``pretrained bf16`` / ``pretrained int8``: the same model's embeddings computed with
  ``embed_coords(precision=...)``, so the effect of reduced precision on the probe is
  read off one run, same draws;
* ``untrained``: the same architecture and seed, randomly initialised, never trained;
* ``encoding``: the positional-encoding features alone (the model's, untrained);
* ``coordinates``: kNN on the projected coordinates;
* ``smoothed texts``: the text embeddings of the pre-training POIs averaged over space
  (a Gaussian kernel over the 50 nearest; the best of ``--bandwidths`` on the held-out
  POIs): what the pre-training texts hold about a place with no learning at all;
* ``majority``: the most frequent class among the draw's labels.

Also reported: the map isotropy of each pre-trained model (``benchmarks/map_isotropy.py``:
axis/diagonal spectral power of the first three PCs of its 100 m NYC raster), the
steps trained and the step kept. ``--variant NAME=JSON`` compares other CaLLiPer
settings (e.g. ``grid='{"encoding": "grid"}'``) in the same run.

Run from the repository root::

    HF_HUB_OFFLINE=1 python benchmarks/land_use_probe.py             # 3 seeds x 5 draws
    HF_HUB_OFFLINE=1 python benchmarks/land_use_probe.py --quick     # smoke test
    HF_HUB_OFFLINE=1 python benchmarks/land_use_probe.py --precision bf16 int8  # + reduced
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
for _path in (ROOT, ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from controls import encoding_features, fit_or_load, untrained_copy  # noqa: E402
from map_isotropy import model_map_ratio  # noqa: E402
from nyc_pois import load_nyc_pois  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402
from semantic_probe import holdout_split  # noqa: E402
from sklearn.linear_model import RidgeClassifierCV  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from zero_shot import metrics, top_categories  # noqa: E402

import geocalliper  # noqa: E402
from geocalliper.calliper.estimator import PRECISIONS  # noqa: E402

DEFAULT_DATA = Path(  # GEOCALLIPER_DATA: the one data variable of tests and examples too
    os.environ.get("GEOCALLIPER_DATA") or ROOT.parent / "shared" / "data"
)
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "land_use_probe.json"
BUDGETS = (0.01, 0.1, 1.0)


def knn_votes(train: np.ndarray, test: np.ndarray, y: np.ndarray, ks: list[int]) -> dict:
    """Predictions of a ``k``-nearest-neighbour vote for every ``k`` (ties: nearer one)."""
    codes, classes = pd.factorize(y)
    kmax = min(max(ks), len(y))
    _, idx = cKDTree(train).query(test, k=kmax)
    idx = np.asarray(idx).reshape(len(test), kmax)
    out = {}
    for k in ks:
        k = min(k, kmax)
        votes = np.zeros((len(test), len(classes)))
        first = np.full((len(test), len(classes)), k)
        rows = np.repeat(np.arange(len(test)), k)
        flat = codes[idx[:, :k]].ravel()
        np.add.at(votes, (rows, flat), 1.0)
        np.minimum.at(first, (rows, flat), np.tile(np.arange(k), len(test)))
        out[k] = np.asarray(classes)[(votes + (k - first) / (k + 1)).argmax(axis=1)]
    return out


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (Euclidean kNN on them = cosine kNN)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def linear_probe(train: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Ridge classifier on standardised features; its penalty by leave-one-out CV."""
    if len(set(y)) < 2:
        return np.full(len(test), y[0], dtype=object)
    scaler = StandardScaler().fit(train)
    probe = RidgeClassifierCV(alphas=np.logspace(-2, 4, 13))
    probe.fit(scaler.transform(train), y)
    return probe.predict(scaler.transform(test))


def smoothed_texts(
    xy_fit: np.ndarray, texts: np.ndarray, xy: np.ndarray, bandwidth: float, k: int = 50
) -> np.ndarray:
    """Gaussian-kernel average of the text embeddings of the ``k`` nearest pre-training
    POIs at each point of ``xy``: a field of texts built without any learning."""
    tree = cKDTree(xy_fit)
    out = np.empty((len(xy), texts.shape[1]))
    for start in range(0, len(xy), 2048):  # chunks keep (n, k, dim) small
        d, i = tree.query(xy[start : start + 2048], k=min(k, len(xy_fit)))
        w = np.exp(-0.5 * (d / bandwidth) ** 2) + 1e-12
        w /= w.sum(axis=1, keepdims=True)
        out[start : start + 2048] = np.einsum("nk,nkd->nd", w, texts[i])
    return out


def best_knn(preds: dict, truth: np.ndarray) -> tuple[int, dict[str, float]]:
    """The ``k`` with the best held-out accuracy, and its metrics."""
    scored = {k: metrics(truth, p) for k, p in preds.items()}
    k = max(scored, key=lambda kk: scored[kk]["accuracy"])
    return k, scored[k]


def run_seed(pois, top, args, seed: int, variants: dict[str, dict]) -> list[dict[str, Any]]:
    """Split, pre-train every variant, probe it and its controls at every budget."""
    train_pos, test_pos = holdout_split(len(pois), args.test_fraction, seed)
    train, test = pois.iloc[train_pos], pois.iloc[test_pos]
    lab_train = train[top.iloc[train_pos].notna().to_numpy()]
    lab_test = test[top.iloc[test_pos].notna().to_numpy()]
    y_train = top.loc[lab_train.index].to_numpy(dtype=object)
    y_test = top.loc[lab_test.index].to_numpy(dtype=object)
    rng = np.random.default_rng(1000 + seed)
    draws = {
        b: [np.arange(len(y_train))]
        if b >= 1.0
        else [
            np.sort(rng.choice(len(y_train), size=max(14, round(b * len(y_train))), replace=False))
            for _ in range(args.draws)
        ]
        for b in args.budgets
    }
    rows: list[dict[str, Any]] = []
    coords_done = False
    smoothed: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    # pre-training may see a subsample of the training POIs; the probe's sets stay whole
    fit_set = train.sample(n=args.subsample, random_state=seed) if args.subsample else train
    for name, params in variants.items():
        tag = name if not args.subsample else f"{name}-n{args.subsample}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model, fit_s, loaded = fit_or_load(
                fit_set, seed, params, args.models, tag, progress=args.progress
            )
        hist = model.history_
        print(
            f"[{name} seed {seed}] {'loaded' if loaded else 'fit'} {fit_s:.0f} s: "
            f"{int(hist['step'].iloc[-1])} steps, "
            f"best step {model.best_step_} (val {hist['val_loss'].min():.3f}); "
            f"warnings: {[str(w.message)[:60] for w in caught]}",
            flush=True,
        )
        iso = model_map_ratio(model, pois, 100.0)
        xy_tr = lab_train.to_crs(model.crs_).geometry.get_coordinates().to_numpy()
        xy_te = lab_test.to_crs(model.crs_).geometry.get_coordinates().to_numpy()
        features = {
            "pretrained": (model.embed_coords(xy_tr), model.embed_coords(xy_te)),
        }
        for precision in args.precision:  # the same model, embedded in reduced precision
            if precision != "fp32":
                features[f"pretrained {precision}"] = (
                    model.embed_coords(xy_tr, precision=precision),
                    model.embed_coords(xy_te, precision=precision),
                )
        if not args.no_controls and not smoothed:
            # the pre-training texts smoothed over space: what they hold, without learning
            fit_xy = fit_set.to_crs(model.crs_).geometry.get_coordinates().to_numpy()
            encoder = geocalliper.TextEncoder(model.text_model, progress=False)
            table, codes = encoder.encode_unique(list(fit_set["text"]))
            fit_texts = np.asarray(table, dtype=np.float64)[codes]
            for bw in args.bandwidths:
                smoothed[bw] = (
                    smoothed_texts(fit_xy, fit_texts, xy_tr, bw),
                    smoothed_texts(fit_xy, fit_texts, xy_te, bw),
                )
        if not args.no_controls:
            twin = untrained_copy(model)
            features["untrained"] = (twin.embed_coords(xy_tr), twin.embed_coords(xy_te))
            features["encoding"] = (
                encoding_features(model, xy_tr),
                encoding_features(model, xy_te),
            )
        base = {
            "variant": name,
            "seed": seed,
            "fit_seconds": fit_s,
            "steps": int(hist["step"].iloc[-1]),
            "best_step": model.best_step_,
            "best_val_loss": float(hist["val_loss"].min()),
            "isotropy_ratio": iso["ratio"],
            "isotropy_control": iso["isotropic_control"],
            "n_pretrain": len(fit_set),
            "n_train_labelled": len(y_train),
            "n_test": len(y_test),
        }
        for budget, sets in draws.items():
            for d, sel in enumerate(sets):
                ys = y_train[sel]
                for feat, (ftr, fte) in features.items():
                    pred = linear_probe(ftr[sel], ys, fte)
                    rows.append(
                        {
                            **base,
                            "budget": budget,
                            "draw": d,
                            "method": f"linear probe: {feat}",
                            **metrics(y_test, pred),
                        }
                    )
                    if feat == "encoding":
                        continue
                    k, m = best_knn(knn_votes(unit(ftr[sel]), unit(fte), ys, args.knn), y_test)
                    rows.append(
                        {**base, "budget": budget, "draw": d, "method": f"kNN: {feat}", "k": k, **m}
                    )
                if not coords_done and smoothed:
                    # the best bandwidth on the held-out POIs: optimistic, like kNN's k
                    scored = [
                        metrics(y_test, linear_probe(ftr[sel], ys, fte))
                        for ftr, fte in smoothed.values()
                    ]
                    j = int(np.argmax([m["accuracy"] for m in scored]))
                    rows.append(
                        {
                            **base,
                            "variant": "-",
                            "budget": budget,
                            "draw": d,
                            "method": "linear probe: smoothed texts",
                            "bandwidth": list(smoothed)[j],
                            **scored[j],
                        }
                    )
                if not coords_done:
                    k, m = best_knn(knn_votes(xy_tr[sel], xy_te, ys, args.knn), y_test)
                    rows.append(
                        {
                            **base,
                            "variant": "-",
                            "budget": budget,
                            "draw": d,
                            "method": "kNN: coordinates",
                            "k": k,
                            **m,
                        }
                    )
                    maj = pd.Series(ys).value_counts().idxmax()
                    rows.append(
                        {
                            **base,
                            "variant": "-",
                            "budget": budget,
                            "draw": d,
                            "method": "majority",
                            **metrics(y_test, np.full(len(y_test), maj, dtype=object)),
                        }
                    )
        coords_done = True
        summary = pd.DataFrame([r for r in rows if r["variant"] in (name, "-")])
        print(
            summary.groupby(["budget", "method"])["accuracy"]
            .mean()
            .unstack(0)
            .round(1)
            .to_string(),
            flush=True,
        )
        print(
            f"  isotropy ratio {iso['ratio']:.2f} "
            f"(isotropic control {iso['isotropic_control']:.2f})",
            flush=True,
        )
    return rows


def summarise(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Mean ± sd over seeds and draws, per variant, method and budget."""
    frame = pd.DataFrame(rows)
    g = frame.groupby(["variant", "method", "budget"])
    return g.agg(
        accuracy=("accuracy", "mean"),
        accuracy_sd=("accuracy", "std"),
        macro_f1=("macro_f1", "mean"),
        macro_f1_sd=("macro_f1", "std"),
        n=("accuracy", "size"),
    ).reset_index()


def markdown(table: pd.DataFrame, budgets: list[float]) -> str:
    lines = [
        "| variant | method | "
        + " | ".join(f"{b:.0%} labels: acc / macro-F1" for b in budgets)
        + " |",
        "|---|---|" + "---|" * len(budgets),
    ]
    for (variant, method), grp in table.groupby(["variant", "method"], sort=False):
        cells = []
        for b in budgets:
            r = grp[grp["budget"] == b]
            if r.empty:
                cells.append("")
                continue
            r = r.iloc[0]
            cells.append(
                f"{r.accuracy:.1f} ± {0 if np.isnan(r.accuracy_sd) else r.accuracy_sd:.1f} / "
                f"{r.macro_f1:.1f} ± {0 if np.isnan(r.macro_f1_sd) else r.macro_f1_sd:.1f}"
            )
        lines.append(f"| {variant} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--draws", type=int, default=5, help="label draws per budget below 100%")
    parser.add_argument("--budgets", type=float, nargs="+", default=list(BUDGETS))
    parser.add_argument("--knn", type=int, nargs="+", default=[1, 3, 5, 10, 25, 50])
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument(
        "--bandwidths",
        type=float,
        nargs="+",
        default=[250.0, 500.0, 1000.0, 2000.0],
        help="metres: kernel widths of the smoothed-texts control (the best is reported)",
    )
    parser.add_argument(
        "--subsample",
        type=int,
        default=None,
        help="pre-train on N of the training POIs only (the probe's sets stay whole)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="CaLLiPer parameters to compare (default: one variant, the library defaults)",
    )
    parser.add_argument("--no-controls", action="store_true")
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="folder of pre-trained models: load one fitted alike, else fit and save it there "
        "(zero_shot.py and semantic_probe.py share them)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="3,000 POIs, 1 seed, 2 draws, 200 steps"
    )
    parser.add_argument(
        "--precision",
        nargs="+",
        choices=PRECISIONS,
        default=[],
        help="also probe the pre-trained embeddings computed in these inference precisions "
        "(embed_coords(precision=...)), as methods 'pretrained bf16' / 'pretrained int8' "
        "beside the fp32 'pretrained', same model and draws",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not (args.data / "nyc-pois").is_dir():
        raise SystemExit(f"No NYC POI data under {args.data}; pass --data.")
    variants = {}
    for spec in args.variant or ["default={}"]:
        name, _, js = spec.partition("=")
        variants[name] = json.loads(js or "{}")
    t_start = time.perf_counter()
    pois = load_nyc_pois(args.data)
    if args.quick:
        pois = pois.sample(n=3000, random_state=0).reset_index(drop=True)
        args.seeds, args.draws = args.seeds[:1], 2
        variants = {k: {"max_steps": 200, **v} for k, v in variants.items()}
    top, _ = top_categories(pois, args.data)
    rows = []
    for seed in args.seeds:
        rows += run_seed(pois, top, args, seed, variants)
    table = summarise(rows)
    print(markdown(table, args.budgets))
    report = {
        "benchmark": "land_use_probe",
        "command": " ".join(sys.argv),
        "variants": variants,
        "precisions": ["fp32", *(p for p in args.precision if p != "fp32")],
        "seeds": args.seeds,
        "draws": args.draws,
        "budgets": args.budgets,
        "n_pois": len(pois),
        "summary": table.to_dict("records"),
        "rows": rows,
        "environment": {
            "geocalliper": geocalliper.__version__,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
        },
        "total_seconds": time.perf_counter() - t_start,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, default=str))
    print(f"wrote {args.out} in {report['total_seconds']:.0f} s")
    return report


if __name__ == "__main__":
    main()
