"""The command line on inputs that used to be ignored or to escape the guards (issue 13,
items 6, 9, 10 and 11), run as a subprocess like a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


# ---------------------------------------------------------------- item 6: column flags
def test_predict_and_evaluate_honour_the_column_flags(tmp_path: Path, shared_data: Path, cli):
    checkins = pd.read_csv(shared_data / "fsq-nyc" / "checkins.csv.gz")
    checkins = checkins[checkins["user_id"] <= 10]
    checkins.to_csv(tmp_path / "visits.csv", index=False)
    tiny = ["--d-model", "16", "--n-heads", "2", "--n-layers", "1", "--max-epochs", "1"]
    res = cli("fit-predictor", "visits.csv", "--out", "next", *tiny, cwd=tmp_path)
    assert res.returncode == 0, res.stderr

    renamed = checkins.rename(
        columns={"user_id": "who", "started_at": "when", "location_id": "place"}
    )
    renamed.to_csv(tmp_path / "renamed.csv", index=False)
    recent = renamed[renamed["who"].isin([1, 2])].groupby("who").tail(5)
    recent.to_csv(tmp_path / "recent.csv", index=False)
    flags = ["--user-col", "who", "--start-col", "when", "--location-col", "place"]

    res = cli("predict", "next", "recent.csv", "--k", "3", "--out", "top.csv", *flags,
              cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    top = pd.read_csv(tmp_path / "top.csv")
    assert {"who", "place", "rank"} <= set(top.columns) and len(top) == 6

    res = cli("evaluate", "next", "renamed.csv", "--split", "test", "--out", "m.json", *flags,
              cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    renamed_metrics = json.loads((tmp_path / "m.json").read_text())
    res = cli("evaluate", "next", "visits.csv", "--split", "test", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == renamed_metrics and renamed_metrics["n"] > 0

    # a flag naming a column the file lacks is reported with that name
    res = cli("predict", "next", "recent.csv", "--user-col", "nobody", "--start-col", "when",
              "--location-col", "place", "--out", "x.csv", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 2 and "'nobody'" in res.stderr
    assert not (tmp_path / "x.csv").exists()
