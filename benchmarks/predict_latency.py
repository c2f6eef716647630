"""Single-history ``predict`` latency of the next-location variants over all FSQ-NYC places.

What a deployed predictor does per request: one user's recent visits in, the top 10 of
every FSQ-NYC location (3,816 candidates) out. The models are trained for one epoch only
(latency does not depend on how well a model has learned); the CaLLiPer model is the
library's default, pre-trained for a few steps on the NYC POIs. The candidate set is the
same GeoDataFrame on every call, as in a service, so its embeddings are computed once
(the first call, reported apart as ``first_ms``).

Usage::

    python benchmarks/predict_latency.py            # every variant, 100 calls each
    python benchmarks/predict_latency.py --calls 30

Writes ``benchmarks/results/predict_latency.json`` (``--out``) and prints a table.
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

import torch  # noqa: E402
from next_location import SHAPES, VARIANTS, all_places, latency  # noqa: E402
from nyc_pois import load_nyc_pois  # noqa: E402

import geocalliper as gc  # noqa: E402
from geocalliper.mobility import NextLocationPredictor, read_fsq_nyc  # noqa: E402


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    data = os.environ.get("GEOCALLIPER_DATA") or ROOT.parent / "shared" / "data"
    parser.add_argument("--data", type=Path, default=Path(data))
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: every core)"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/predict_latency.json"
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", UserWarning)
    torch.set_num_threads(args.threads or max(1, os.cpu_count() or 1))
    visits = read_fsq_nyc(args.data / "fsq-nyc" / "checkins.csv.gz")
    candidates = all_places(visits)
    calliper = gc.CaLLiPer(seed=0, progress=False, max_steps=20, min_steps=1)
    calliper.fit(load_nyc_pois(args.data).sample(20_000, random_state=0))
    results: dict[str, Any] = {
        "candidates": len(candidates),
        "calls": args.calls,
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
        },
        "torch": torch.__version__,
        "variants": {},
    }
    for variant in args.variants:
        model = NextLocationPredictor(
            calliper if variant != "vanilla" else None,
            **VARIANTS[variant],
            **SHAPES["fsq"],
            max_epochs=1,
            progress=False,
        ).fit(visits)
        test = visits[visits["split"] == "test"]
        history = test[test["user_id"] == test["user_id"].iloc[0]].tail(10)
        t0 = time.perf_counter()
        model.predict(history, k=10, candidates=candidates)  # embeds the candidates
        first_ms = (time.perf_counter() - t0) * 1e3
        lat = latency(model, visits, candidates, n=args.calls)
        results["variants"][variant] = {**lat, "first_ms": first_ms}
        print(
            f"{variant}: p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms "
            f"(first call {first_ms:.0f} ms)",
            flush=True,
        )
    rows = [
        f"| {v} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['first_ms']:.0f} |"
        for v, r in results["variants"].items()
    ]
    table = "\n".join(
        [
            f"single-history predict, top 10 of {len(candidates)} candidates:",
            "",
            "| variant | p50 ms | p95 ms | first call ms |",
            "|---|---|---|---|",
            *rows,
        ]
    )
    results["markdown"] = table
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".part")
    tmp.write_text(json.dumps(results, indent=2))
    os.replace(tmp, args.out)
    return results


if __name__ == "__main__":
    main()
