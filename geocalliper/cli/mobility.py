"""``geocalliper fit-predictor``, ``pretrain-activity``, ``predict`` and ``evaluate``:
next-location prediction from visits files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..io.vector import write_vector
from ._common import add_command

#: worked examples, the epilog of each subcommand's --help
EXAMPLES = {
    "fit-predictor": (
        "examples:\n"
        "  geocalliper fit-predictor checkins.csv --out nyc-next\n"
        "  geocalliper fit-predictor checkins.csv --calliper nyc-model --head inductive "
        "--out nyc-next\n"
        "The visits file has user_id, started_at, a point (lon/lat or WKT) and optionally\n"
        "location_id, finished_at or duration, and split (train/valid/test)."
    ),
    "pretrain-activity": (
        "example:\n"
        "  geocalliper pretrain-activity staypoints.csv --out activity-model\n"
        "  geocalliper fit-predictor staypoints.csv --calliper activity-model --out next\n"
        "Pre-trains CaLLiPer on a text describing each training visit's activity (time of\n"
        "day, weekday/weekend, length of stay): for study areas without a POI set."
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


def _visit_columns(args: argparse.Namespace) -> dict:
    """The column flags the user gave (unset ones keep the model's own names)."""
    names = {
        "user_col": args.user_col,
        "start_col": args.start_col,
        "location_col": args.location_col,
    }
    return {key: value for key, value in names.items() if value is not None}


def _read_visits(path: str, args: argparse.Namespace, split: str | None = None):
    """A visits file (CSV with lon/lat or WKT, GeoParquet, GeoPackage …), optionally
    restricted to one value of the split column."""
    from ..exceptions import EmptyDataError, MissingColumnError
    from ..io.poi import read_pois

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
    from ..mobility import NextLocationPredictor

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
        **{k: v for k, v in vars(args).items() if k in MODEL_OPTIONS and v is not None},
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


def _cmd_pretrain_activity(args: argparse.Namespace) -> int:
    from ..mobility.recipes import pretrain_activity_calliper

    visits = _read_visits(args.visits, args)
    limits = {} if args.max_steps is None else {"max_steps": args.max_steps}
    model = pretrain_activity_calliper(
        visits,
        **limits,
        seed=args.seed,
        progress=not args.quiet,
        split_col=args.split_col,
        duration_col=args.duration_col,
        **_visit_columns(args),
    )
    out = model.save(args.out)
    print(f"Pre-trained CaLLiPer on {model.n_pois_} training visits' activity texts: {out}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from ..io.poi import read_pois
    from ..mobility import NextLocationPredictor

    model = NextLocationPredictor.load(args.model, progress=not args.quiet)
    model.set_params(**_visit_columns(args))  # the file's names, not the training file's
    history = _read_visits(args.history, args)
    candidates = read_pois(args.candidates) if args.candidates else None
    top = model.predict(history, k=args.k, candidates=candidates)
    out = Path(args.out)
    write_vector(top, out)
    print(f"Predicted the top {args.k} next places of {top.iloc[:, 0].nunique()} users: {out}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..io.poi import read_pois
    from ..mobility import NextLocationPredictor
    from ..tempfiles import atomic_output

    model = NextLocationPredictor.load(args.model, progress=not args.quiet)
    model.set_params(**_visit_columns(args))  # the file's names, not the training file's
    visits = _read_visits(args.visits, args, split=args.split)
    candidates = read_pois(args.candidates) if args.candidates else None
    scores = model.evaluate(visits, candidates=candidates)
    text = json.dumps({k: round(v, 4) for k, v in scores.items()}, indent=2)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(out) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
    return 0


#: NextLocationPredictor settings fit-predictor passes on where given (else the library's)
MODEL_OPTIONS = {
    "ff_dim": (int, "feed-forward width (256)"),
    "dropout": (float, "dropout (0.1)"),
    "history_days": (int, "days of history before a target (7)"),
    "min_history": (int, "visits needed in that window (3)"),
    "chunk_targets": (int, "targets scored per training chunk (32)"),
    "batch_size": (int, "chunks per batch (8)"),
    "learning_rate": (float, "learning rate (1e-3)"),
    "weight_decay": (float, "weight decay (1e-6)"),
    "warmup_epochs": (int, "warm-up epochs (2)"),
    "patience": (int, "epochs without improvement before stopping (3)"),
    "lr_drops": (int, "times the learning rate drops x0.1 before stopping (0)"),
    "unknown_rate": (float, "inductive head: share of known ids hidden per batch (0.5)"),
    "place_features": (bool, "inductive head: per-candidate place features (on)"),
    "user_dropout": (float, "share of users replaced by the unknown user (0.05)"),
    "device": (str, "cpu, cuda … (default: the best available)"),
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``fit-predictor``, ``pretrain-activity``, ``predict``, ``evaluate`` to the
    ``geocalliper`` command (``sub``: its subparsers)."""

    def command(name: str, summary: str, func) -> argparse.ArgumentParser:
        return add_command(sub, name, summary, func, EXAMPLES[name])

    def visit_options(cmd: argparse.ArgumentParser) -> None:
        known = "default: user_id" if cmd is fit else "default: the predictor's"
        cmd.add_argument("--user-col", default=None, help=f"user column ({known})")
        known = known.replace("user_id", "started_at")
        cmd.add_argument("--start-col", default=None, help=f"start-time column ({known})")
        known = known.replace("started_at", "location_id")
        cmd.add_argument("--location-col", default=None, help=f"location-id column ({known})")
        cmd.add_argument("--split-col", default="split", help="split column (default: split)")

    fit = command(
        "fit-predictor", "visits file -> next-location predictor directory", _cmd_fit_predictor
    )
    fit.add_argument("visits", help="visits file (CSV, GeoParquet, GeoPackage …)")
    fit.add_argument("--out", required=True, help="model directory to write")
    fit.add_argument("--calliper", default=None, help="CaLLiPer model directory (optional)")
    fit.add_argument("--features", choices=["lookup", "calliper", "both"], default=None)
    fit.add_argument("--head", choices=["closed", "inductive"], default=None)
    # defaults: the GeoLife recipe of docs/benchmarks.md (d 32, 2 layers, 8 heads, 25 epochs)
    fit.add_argument("--d-model", type=int, default=32)
    fit.add_argument("--n-layers", type=int, default=2)
    fit.add_argument("--n-heads", type=int, default=8)
    fit.add_argument("--max-epochs", type=int, default=25)
    fit.add_argument("--seed", type=int, default=0)
    for name, (kind, help_text) in MODEL_OPTIONS.items():  # default: the library's
        flag = "--" + name.replace("_", "-")
        if kind is bool:
            fit.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_text)
        else:
            fit.add_argument(flag, type=kind, default=None, help=help_text)
    visit_options(fit)

    act = command(
        "pretrain-activity",
        "visits file -> CaLLiPer pre-trained on the visits' activity texts",
        _cmd_pretrain_activity,
    )
    act.add_argument("visits", help="visits with start times and durations (minutes)")
    act.add_argument("--out", required=True, help="model directory to write")
    act.add_argument("--duration-col", default="duration")
    act.add_argument(
        "--max-steps", type=int, default=None, help="optimiser steps at most (default: CaLLiPer's)"
    )
    act.add_argument("--seed", type=int, default=0)
    visit_options(act)

    pred = command("predict", "recent visits -> the top-k next places of each user", _cmd_predict)
    pred.add_argument("model", help="predictor directory written by fit-predictor")
    pred.add_argument("history", help="recent visits of one or many users")
    pred.add_argument("--k", type=int, default=10)
    pred.add_argument("--candidates", default=None, help="places to rank (default: known)")
    pred.add_argument(
        "--out", required=True, help=".gpkg (styled for QGIS), .parquet or .csv to write"
    )
    visit_options(pred)

    ev = command(
        "evaluate", "Acc@1/5/10, MRR, NDCG@10, weighted F1 of a predictor on visits", _cmd_evaluate
    )
    ev.add_argument("model", help="predictor directory written by fit-predictor")
    ev.add_argument("visits", help="visits file")
    ev.add_argument("--split", default=None, help="only rows of this split, e.g. test")
    ev.add_argument("--candidates", default=None, help="places to rank")
    ev.add_argument("--out", default=None, help="also write the metrics as JSON")
    visit_options(ev)
