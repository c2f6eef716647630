"""The next-location benchmark script on a small slice (what CI runs of it)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import next_location

        yield next_location
    finally:
        sys.path.remove(str(BENCH))


def test_activity_text_reference_cases(bench):
    import pandas as pd

    v = pd.DataFrame(
        {
            "started_at": pd.to_datetime(["2024-05-04 07:10", "2024-05-06 23:30"]),
            "duration": [45.0, 600.0],
        }
    )
    assert bench.activity_text(v).tolist() == [
        "A place of weekend morning activity, a stay under an hour",
        "A place of weekday late evening activity, a stay of over 8 hours",
    ]


def test_quick_benchmark_runs_and_reports(bench, shared_data, tmp_path):
    out = tmp_path / "next_location.json"
    res = bench.main(["--quick", "--data", str(shared_data), "--seeds", "0", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["quick"] and set(saved["datasets"]) == {"fsq", "geolife"}
    for ds in ("fsq", "geolife"):
        for setting in ("conventional", "inductive"):
            block = saved["datasets"][ds][setting]
            for variant in ("vanilla", "calliper_closed", "calliper_inductive"):
                acc = block[variant]["all"]["acc@1"]["mean"]
                assert 0 <= acc <= 100
        masked = saved["datasets"][ds]["inductive"]
        # closed heads cannot rank a masked place at all: exactly zero
        for variant in ("vanilla", "calliper_closed"):
            if masked[variant]["masked_targets"]:
                assert masked[variant]["masked_targets"]["acc@10"]["mean"] == 0.0
        # baselines: the same targets as the learned variants, all and masked targets
        for setting in ("conventional", "inductive"):
            block = saved["datasets"][ds][setting]
            n = block["vanilla"]["all"]["n"]["mean"]
            for name in ("window_frequency", "distance", "markov", "popularity"):
                assert block[name]["baseline"] is True
                assert block[name]["all"]["n"]["mean"] == n
                assert 0 <= block[name]["all"]["acc@1"]["mean"] <= 100
        ind = saved["datasets"][ds]["inductive"]
        if ind["calliper_inductive"]["masked_targets"]:
            want = ind["calliper_inductive"]["masked_targets"]["n"]["mean"]
            assert ind["window_frequency"]["masked_targets"]["n"]["mean"] == want
            # a masked place is never counted in training: popularity cannot rank it first
            assert ind["popularity"]["masked_targets"]["acc@1"]["mean"] == 0.0
    # CaLLiPer with the library's defaults; quick mode only shortens training
    defaults = bench.gc.CaLLiPer().get_params()
    for key, value in saved["calliper_params"].items():
        if key not in ("max_steps", "min_steps", "max_epochs"):
            assert value == defaults[key], key
    assert "| *window_frequency* (baseline) |" in res["markdown"]
    lat = saved["datasets"]["fsq"]["latency"]["calliper_inductive"]
    assert 0 < lat["p50_ms"] <= lat["p95_ms"]
    assert "| vanilla |" in res["markdown"]
    assert np.isfinite(saved["total_seconds"])


def test_reference_shape_mode_reports_throughput(bench, shared_data, tmp_path):
    out = tmp_path / "ref.json"
    bench.main(
        [
            "--reference-shape",
            "--quick",
            "--data",
            str(shared_data),
            "--seeds",
            "0",
            "--settings",
            "conventional",
            "--variants",
            "vanilla",
            "--baselines",
            "--out",
            str(out),
        ]
    )
    saved = json.loads(out.read_text())
    assert saved["reference_shape"] and list(saved["datasets"]) == ["fsq"]
    block = saved["datasets"]["fsq"]["conventional"]
    assert set(block) >= {"vanilla"} and "window_frequency" not in block
    assert block["vanilla"]["train_samples_per_second"] > 0
    assert "latency" not in saved["datasets"]["fsq"]


def _stats(acc1: list[float], n: list[int]) -> dict:
    def s(vals):
        vals = np.asarray(vals, dtype=float)
        return {"mean": float(vals.mean()), "sd": float(vals.std(ddof=1)), "values": list(vals)}

    out = {m: s(acc1) for m in ("acc@5", "ndcg@10", "f1")}  # in the long tables only
    out.update({"acc@1": s(acc1), "acc@10": s([a + 10 for a in acc1]), "n": s(n)})
    out["mrr"] = s([a + 5 for a in acc1])
    return out


def test_summary_table_bolds_the_best_and_reprints_from_json(bench, tmp_path, capsys):
    conv = {
        "vanilla": {"all": _stats([20.0, 22.0], [100, 100])},
        "window_frequency": {"baseline": True, "all": _stats([30.0, 30.0], [100, 100])},
    }
    ind = {
        "vanilla": {
            "all": _stats([10.0, 12.0], [100, 100]),
            "masked_targets": _stats([0.0, 0.0], [7, 9]),
        },
        "window_frequency": {
            "baseline": True,
            "all": _stats([30.0, 30.0], [100, 100]),
            "masked_targets": _stats([40.0, 20.0], [7, 9]),
        },
    }
    results = {"seeds": [0, 1], "datasets": {"toy": {"conventional": conv, "inductive": ind}}}
    table = bench.summary_table(results)
    rows = {line.split(" | ")[0]: line for line in table.splitlines() if line.startswith("| ")}
    # the rule has the best Acc@1 in every column: bold, and without a spread on all targets
    assert rows["| *window_frequency*"].count("**30.00 / 40.00 / 35.00**") == 2
    assert "**30.00 ± 14.14 / 40.00 ± 14.14 / 35.00 ± 14.14**" in rows["| *window_frequency*"]
    assert "21.00 ± 1.41 / 31.00 ± 1.41 / 26.00 ± 1.41" in rows["| vanilla"]
    # masked targets differ per seed: their total is reported
    assert "masked targets (n 16 in all)" in table and "all targets (n 100)" in table
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(results))
    bench.main(["--tables-from", str(saved)])
    assert table in capsys.readouterr().out
