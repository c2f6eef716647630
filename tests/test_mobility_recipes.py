"""The activity-text pre-training recipe (library and command line) on real GeoLife."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import geocalliper as gc
from geocalliper.cli import main as cli_main
from geocalliper.exceptions import EmptyDataError, MissingColumnError
from geocalliper.mobility import read_geolife_staypoints, split_by_day
from geocalliper.mobility.recipes import activity_pois, activity_text, pretrain_activity_calliper

TINY_CALLIPER = dict(
    num_scales=4, hidden_dim=16, embedding_dim=8, num_blocks=1, batch_size=64, device="cpu"
)


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # a few steps: undertrained


@pytest.fixture(scope="module")
def geolife(shared_data) -> gpd.GeoDataFrame:
    v = read_geolife_staypoints(shared_data / "geolife-staypoints")
    v = v[v["user_id"] <= 3].copy()
    v["split"] = split_by_day(v)
    return v


def test_activity_text_reference_cases():
    v = pd.DataFrame(
        {
            "started_at": pd.to_datetime(
                ["2024-05-04 07:10", "2024-05-06 23:30", "2024-05-07 12:00", "2024-05-07 15:00"]
            ),
            "duration": [45.0, 600.0, np.nan, 179.0],
        }
    )
    assert activity_text(v).tolist() == [
        "A place of weekend morning activity, a stay under an hour",
        "A place of weekday late evening activity, a stay of over 8 hours",
        "A place of weekday midday activity, a stay of unknown length",
        "A place of weekday afternoon activity, a stay of 1 to 3 hours",
    ]
    with pytest.raises(MissingColumnError, match="duration"):
        activity_text(v.drop(columns="duration"))


def test_activity_pois_use_training_visits_outside_the_mask(geolife):
    masked = gc.mobility.mask_locations(geolife, 0.1, seed=0)
    pois = activity_pois(geolife, exclude_locations=masked)
    train = geolife[(geolife["split"] == "train") & ~geolife["location_id"].isin(masked)]
    assert len(pois) == len(train) > 0 and list(pois.columns) == ["text", "geometry"]
    assert pois.crs.to_epsg() == 4326
    np.testing.assert_allclose(pois.geometry.x, train.geometry.x)
    assert pois["text"].iloc[0] == activity_text(train.iloc[:1]).iloc[0]
    with pytest.raises(EmptyDataError, match="training visits"):
        activity_pois(geolife[geolife["split"] == "test"])


def test_pretrain_activity_calliper_from_python_and_the_cli(geolife, tmp_path):
    model = pretrain_activity_calliper(
        geolife, max_steps=5, min_steps=1, progress=False, **TINY_CALLIPER
    )
    assert model.is_fitted and model.n_pois_ == int((geolife["split"] == "train").sum())
    emb = model.embed_coords(np.array([[0.0, 0.0]]), progress=False)
    assert emb.shape == (1, 8)
    # the command line: a visits file in, a CaLLiPer directory out (library defaults)
    few = geolife[geolife["user_id"] == geolife["user_id"].iloc[0]].iloc[:120].copy()
    few["lon"], few["lat"] = few.geometry.x, few.geometry.y
    pd.DataFrame(few.drop(columns="geometry")).to_csv(tmp_path / "v.csv", index=False)
    rc = cli_main(
        [
            "--quiet",
            "pretrain-activity",
            str(tmp_path / "v.csv"),
            "--out",
            str(tmp_path / "m"),
            "--max-steps",
            "3",
        ]
    )
    assert rc == 0 and (tmp_path / "m" / "config.json").is_file()
    loaded = gc.CaLLiPer.load(tmp_path / "m")
    assert loaded.n_pois_ == int((few["split"] == "train").sum())
    assert int(loaded.history_["step"].iloc[-1]) <= 3
