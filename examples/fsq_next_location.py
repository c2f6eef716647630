# %% [markdown]
# # Where next? Next-location prediction on Foursquare NYC, with places added after training
#
# Real data only: the Foursquare New York City check-ins (TSMC2014, Yang et al. 2015, in the
# standard MHSA preprocessing with its published train/valid/test split) and, for CaLLiPer
# pre-training, the Foursquare venues with their categories plus the OpenStreetMap POIs of
# New York City (2013). Research use only; cite Yang, Zhang, Zheng, Yu, IEEE TSMC 2015.
#
# The story: 10% of the venues are held back as if they opened only after the models were
# trained. CaLLiPer never sees them, and the next-location model never sees a visit to them.
# Because the predictor's *inductive* head scores a place from its CaLLiPer embedding of its
# coordinates (plus how close it lies to the places the person was at in the last week), it
# can still rank those new venues: first over the whole test split, then for one person,
# with `predict(history, candidates=...)`.
#
# ```
# python examples/fsq_next_location.py [--quick] [--out FOLDER] [--data FOLDER]
# ```
#
# `--quick` (or `GEOCALLIPER_EXAMPLES_QUICK=1`) keeps 40 users, tiny models and two epochs,
# for CI; its numbers mean nothing. `--out` (`GEOCALLIPER_EXAMPLES_OUT`) is the output
# folder, default `examples/output/`; `--data` (`GEOCALLIPER_DATA`) the shared data folder,
# default `../shared/data` beside the repository.

# %%
import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
from _setup import example_setup  # options, data folder, output folder

import geocalliper as gc
from geocalliper.mobility import mask_locations, next_location_scores, read_fsq_nyc

FILES = ["fsq-nyc/checkins.csv.gz", "nyc-pois/osm_nyc_2013.csv.gz"]
FILES.append("nyc-pois/foursquare_taxonomy.json")
QUICK, DATA, OUT = example_setup("FSQ-NYC next-location prediction with new places", FILES)
CHECKINS, OSM_POIS, TAXONOMY = (DATA / name for name in FILES)
# a few users checked in twice at the same place and minute; the duplicates are dropped
warnings.filterwarnings("ignore", "Dropped .* visits that repeat")

# %% [markdown]
# ## Check-ins
#
# `read_fsq_nyc` gives a visits GeoDataFrame: `user_id`, `started_at` (local time),
# `location_id`, the published `split` and a point per check-in. A check-in at a place that
# never occurs in the training split has no id (a miss for every model).

# %%
visits = read_fsq_nyc(CHECKINS)
if QUICK:
    visits = visits[visits["user_id"] <= 40].copy()
print(f"{len(visits):,} check-ins by {visits['user_id'].nunique()} users")
print(visits["split"].value_counts().to_string())

# Every place with an id, once, at its venue's position, with its category: the candidates
places = visits.dropna(subset=["location_id"]).drop_duplicates("location_id")
places = places[["location_id", "venue_id", "category", "geometry"]].reset_index(drop=True)
print(f"{len(places):,} places")

# %% [markdown]
# ## Hold back 10% of the places
#
# `mask_locations` draws them from the places seen in training. From here on they are "new":
# left out of CaLLiPer's POIs and passed to `fit(..., exclude_locations=...)`.

# %%
new_places = mask_locations(visits, 0.1, seed=0)
print(f"{len(new_places)} places held back as new")

# %% [markdown]
# ## Pre-train CaLLiPer on NYC POIs
#
# Foursquare venues get `"A place of Church, a type of Spiritual Center"` via
# `gc.category_text` and the Foursquare taxonomy; OSM POIs get `"A place of {fclass}"`.
# Venues at the held-back places, and venues without a category, are left out.

# %%
venues = places[~places["location_id"].isin(new_places)].dropna(subset=["category"])
venues = venues.assign(text=gc.category_text(venues, taxonomy=TAXONOMY))
osm = gc.read_pois(OSM_POIS).dropna(subset=["fclass"])
if QUICK:
    osm = osm.sample(3_000, random_state=0)
osm["text"] = gc.make_text(osm, "A place of {fclass}")
pois = pd.concat([venues[["text", "geometry"]], osm[["text", "geometry"]]], ignore_index=True)
pois = gpd.GeoDataFrame(pois, geometry="geometry", crs="EPSG:4326")
print(f"{len(venues):,} Foursquare venues + {len(osm):,} OSM POIs")

small = dict(num_scales=16, hidden_dim=64, embedding_dim=32, num_blocks=2, max_steps=60)
calliper = gc.CaLLiPer(**(small if QUICK else {}), progress=False).fit(pois)
print(f"CaLLiPer: best step {calliper.best_step_} of {int(calliper.history_['step'].iloc[-1])}")

# %% [markdown]
# ## Train the next-location model
#
# MHSA transformer over each person's last 7 days of check-ins, with the frozen CaLLiPer
# embedding of every visit added to a learned per-place vector (`features="both"`), and the
# inductive head. Training uses the `train` rows and stops early on the `valid` rows.

# %%
shape = (
    dict(d_model=32, n_layers=1, n_heads=4, ff_dim=64, max_epochs=2)
    if QUICK
    else dict(d_model=64, n_layers=2, n_heads=8, ff_dim=256, max_epochs=12)
)
predictor = gc.NextLocationPredictor(
    calliper, features="both", head="inductive", **shape, progress=False
)
predictor.fit(visits, exclude_locations=new_places)
print(predictor)
print(f"best epoch {predictor.best_epoch_}, {predictor.n_train_targets_:,} training targets")
assert not set(new_places) & set(predictor.locations_.index)  # never seen in training

# %% [markdown]
# ## Evaluate on the test split
#
# `rank_targets` ranks the true next place of every test target among all places (the new
# ones included); the metrics are Acc@k, MRR, NDCG@10 and weighted F1 (×100), on all
# targets and on the targets whose next place is one of the new ones.

# %%
test = visits[visits["split"] == "test"]
ranks = predictor.rank_targets(test, candidates=places)


def scores(r: pd.DataFrame) -> dict:
    return next_location_scores(
        r["rank"].to_numpy(), r["location"].tolist(), r["predicted"].tolist()
    )


is_new = ranks["location"].isin(set(new_places))
metrics = {"all": scores(ranks), "new_places": scores(ranks[is_new])}
print(pd.DataFrame(metrics).T.round(2).to_string())

# %% [markdown]
# ## One new place, one person
#
# A typical case rather than the best one: sort the test check-ins at new places by the rank
# the model gave them and take the middle one. The person's test visits before it are the
# history; `predict` ranks every candidate, the new place included, for that day.

# %%
at_new = ranks[is_new].sort_values(["rank", "row"], kind="stable")
target = at_new.iloc[len(at_new) // 2]
new_id = target["location"]
target_visit = test.loc[target["row"]]
user_visits = test[test["user_id"] == target["user"]].sort_values("started_at")
history = user_visits[user_visits["started_at"] < target_visit["started_at"]]
new_row = places[places["location_id"] == new_id].iloc[0]
print(
    f"new place {new_id} ({new_row['category']}) at {new_row.geometry.y:.5f}, "
    f"{new_row.geometry.x:.5f}; user {target['user']}, {len(history)} earlier test visits"
)

ranked = predictor.predict(history, k=len(places), candidates=places, at=target_visit["started_at"])
ranked = ranked.merge(places[["location_id", "category"]], on="location_id", how="left")
ranked["new"] = ranked["location_id"].isin(set(new_places))
new_rank = int(ranked.loc[ranked["location_id"] == new_id, "rank"].iloc[0])
# predict and the evaluation pass both score the target on its own 7-day window: same rank
print(f"the new place ranks {new_rank} of {len(places)} (evaluation pass: {target['rank']:.0f})")
print(ranked.head(5)[["rank", "location_id", "category", "probability", "new"]].to_string())
ranks_here = at_new.loc[at_new["location"] == new_id, "rank"]
print(f"over its {len(ranks_here)} test check-ins: median rank {ranks_here.median():.0f}")

# The top 10 and the new place, as a GeoPackage layer for QGIS and a CSV
shown = ranked[(ranked["rank"] <= 10) | (ranked["location_id"] == new_id)]
gpkg = OUT / "fsq_next_location.gpkg"
gpkg.unlink(missing_ok=True)
shown.to_file(gpkg, layer="ranked", driver="GPKG")
history.to_crs(4326)[["user_id", "started_at", "location_id", "category", "geometry"]].to_file(
    gpkg, layer="history", driver="GPKG"
)
csv = OUT / "fsq_next_location_ranked.csv"
shown.assign(lon=shown.geometry.x, lat=shown.geometry.y).drop(columns="geometry").to_csv(
    csv, index=False
)

# %% A summary for scripts and tests
summary = {
    "quick": QUICK,
    "data": "Foursquare NYC check-ins (TSMC2014, MHSA split) and OSM NYC 2013 POIs (real)",
    "n_users": int(visits["user_id"].nunique()),
    "n_places": len(places),
    "n_new_places": len(new_places),
    "calliper_pois": len(pois),
    "predictor": {
        "epochs": len(predictor.history_),
        "best_epoch": predictor.best_epoch_,
        "train_targets": predictor.n_train_targets_,
    },
    "metrics": metrics,
    "new_place": {
        "location_id": int(new_id),
        "category": new_row["category"],
        "lon": new_row.geometry.x,
        "lat": new_row.geometry.y,
        "in_training_vocabulary": bool(new_id in predictor.locations_.index),
        "user_id": int(target["user"]),
        "at": str(target_visit["started_at"]),
        "history_visits": len(history),
        "rank": new_rank,
        "rank_in_evaluation": float(target["rank"]),
        "n_candidates": len(places),
        "median_rank_over_test_checkins": float(np.median(ranks_here)),
        "n_test_checkins": len(ranks_here),
    },
    "files": {"gpkg": str(gpkg), "ranked_csv": str(csv)},
}
(OUT / "fsq_next_location.json").write_text(json.dumps(summary, indent=2, default=str))
print("wrote:")
for path in [gpkg, csv, OUT / "fsq_next_location.json"]:
    print("  ", path)
