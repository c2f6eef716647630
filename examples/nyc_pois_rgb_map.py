# %% [markdown]
# # New York City POIs → CaLLiPer → an embedding map
#
# Pre-train CaLLiPer on the OpenStreetMap points of interest of New York City (2013
# snapshot, real data: `osm_nyc_2013.csv.gz` of the shared data folder), embed a regular
# grid over the city, reduce it to a false-colour RGB map and write it as a GeoTIFF and
# a PNG. The POIs themselves are embedded with the `gdf.calliper` accessor.
#
# ```
# python examples/nyc_pois_rgb_map.py [--quick] [--out FOLDER] [--data FOLDER]
# ```
#
# * `--quick` (or `GEOCALLIPER_EXAMPLES_QUICK=1`): a sample of the POIs, a hundred steps and a
#   coarse grid, for CI; the map is then only a sketch.
# * `--out` (or `GEOCALLIPER_EXAMPLES_OUT`): output folder, default `examples/output/`.
# * `--data` (or `GEOCALLIPER_DATA`): the shared data folder, default `../shared/data`
#   beside the repository. The data is not shipped with the package (ODbL, © OpenStreetMap
#   contributors).

# %%
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _setup import example_setup  # options, data folder, output folder

import geocalliper as gc

QUICK, DATA, OUT = example_setup(
    "NYC POIs -> CaLLiPer -> RGB embedding map", ["nyc-pois/osm_nyc_2013.csv.gz"]
)
POI_FILE = DATA / "nyc-pois" / "osm_nyc_2013.csv.gz"

# %% [markdown]
# ## The POIs and their texts
#
# Each row is an OSM object with a feature class (`fclass`) such as `school` or
# `place_of_worship`. CaLLiPer learns to match a location with the text of the POI there,
# so every POI gets a short sentence built from its class: `"A place of place of worship"`
# (underscores become spaces).

# %%
pois = gc.read_pois(POI_FILE)  # lon/lat columns are found by themselves
pois = pois.dropna(subset=["fclass"]).reset_index(drop=True)
if QUICK:
    pois = pois.sample(4_000, random_state=0).reset_index(drop=True)
pois["text"] = gc.make_text(pois, "A place of {fclass}")
print(len(pois), "POIs,", pois["fclass"].nunique(), "classes")
print(pois["text"].value_counts().head(8).to_string())

# %% [markdown]
# ## Pre-train
#
# The CRS is picked from the data (UTM zone 18N for New York). Training is counted in
# optimiser steps (up to 3,000 batches of 256); a 10% random validation split, scored
# about once an epoch, chooses the best step, and training stops once it stops improving.

# %%
model = gc.CaLLiPer(max_steps=100 if QUICK else 3000, progress=False)
model.fit(pois)
best = model.history_.set_index("step").loc[model.best_step_]
steps = int(model.history_["step"].iloc[-1])
print(f"CRS {model.crs_.to_string()}, best step {model.best_step_} of {steps}")
print(f"validation loss {model.history_['val_loss'].iloc[0]:.3f} -> {best['val_loss']:.3f}")
model.save(OUT / "nyc-calliper")

# %% [markdown]
# ## Embed the POIs themselves
#
# `gdf.calliper.embed(model)` gives one vector per row, aligned to the frame's index
# (`append=True` joins them as `calliper_0 …` columns). As a sanity check, average the
# vectors of each class (after removing the mean over all POIs, which every vector shares)
# and see which classes lie closest to each other: classes that share neighbourhoods should
# come out as neighbours.

# %%
pois_emb = pois.calliper.embed(model, append=True)
pois_emb.to_parquet(OUT / "nyc_pois_embedded.parquet")
cols = [c for c in pois_emb.columns if c.startswith("calliper_")]
common = pois["fclass"].value_counts()
common = common[common >= 20].index
centred = pois_emb[cols] - pois_emb[cols].mean()
means = centred[pois_emb["fclass"].isin(common)].groupby(pois_emb["fclass"]).mean()
unit = means.to_numpy() / np.linalg.norm(means.to_numpy(), axis=1, keepdims=True)
cosine = pd.DataFrame(unit @ unit.T, index=means.index, columns=means.index)
neighbours = {}
for cls in [c for c in ("restaurant", "school", "hospital", "cafe") if c in cosine.index]:
    near = cosine[cls].drop(cls).nlargest(3)
    neighbours[cls] = near.round(3).to_dict()
    print(f"{cls:>12}: closest classes", ", ".join(f"{k} ({v:.2f})" for k, v in near.items()))

# %% [markdown]
# ## Embed a grid over the city
#
# The study area is the land the POIs cover: every POI buffered by 750 m and dissolved.
# Grid cells whose centre falls outside it stay nodata (NaN) and cost nothing. The result
# is an `xarray.DataArray` `(band, y, x)` that rioxarray knows the CRS and transform of.

# %%
resolution = 1_000 if QUICK else 100
area = pois.to_crs(model.crs_).buffer(750, quad_segs=4).union_all()
grid = gc.embed_grid(model, area, resolution, area_crs=model.crs_, progress=False)
ny, nx = grid.sizes["y"], grid.sizes["x"]
print(f"grid {ny} x {nx} cells of {resolution} m, {grid.sizes['band']} bands")
emb_tif = gc.to_geotiff(grid, OUT / "nyc_embedding.tif", progress=False)

# %% [markdown]
# ## From 128 bands to three colours
#
# `to_rgb` projects every cell on the first three principal components and stretches each
# to 1–255 (0 is nodata). Similar colours mean similar embeddings, i.e. places with a
# similar mix of POIs around them.

# %%
rgb = gc.to_rgb(grid)
print("variance explained by each colour:", np.round(rgb.attrs["explained_variance_ratio"], 3))
rgb_tif = gc.to_geotiff(rgb, OUT / "nyc_rgb.tif", progress=False)
rgb_png = gc.write_png(rgb, OUT / "nyc_rgb.png", worldfile=True)  # the raster itself

# %% A map with axes, for people: the RGB raster and the POIs on top
left, bottom, right, top = rgb.rio.bounds()
image = np.moveaxis(rgb.to_numpy(), 0, -1)
alpha = np.where(image.any(axis=-1), 255, 0).astype(np.uint8)[..., None]
fig, ax = plt.subplots(figsize=(8, 8), dpi=110)
ax.imshow(np.concatenate([image, alpha], axis=-1), extent=(left, right, bottom, top))
pois.to_crs(model.crs_).plot(ax=ax, markersize=0.3, color="black", alpha=0.3)
ax.set_title(f"CaLLiPer embedding of New York City, {resolution} m cells (PCA → RGB)")
ax.set_xlabel(f"easting (m, {model.crs_.name})")
ax.set_ylabel("northing (m)")
fig.tight_layout()
map_png = OUT / "nyc_rgb_map.png"
fig.savefig(map_png)
plt.close(fig)

# %% A summary for scripts and tests
summary = {
    "quick": QUICK,
    "data": "OpenStreetMap NYC 2013 (real)",
    "n_pois": len(pois),
    "n_classes": int(pois["fclass"].nunique()),
    "crs": model.crs_.to_string(),
    "steps": steps,
    "best_step": model.best_step_,
    "val_loss_first": float(model.history_["val_loss"].iloc[0]),
    "val_loss_best": float(best["val_loss"]),
    "resolution_m": resolution,
    "grid_shape": [int(s) for s in grid.shape],
    "valid_cells": int(np.isfinite(grid.isel(band=0).to_numpy()).sum()),
    "explained_variance_ratio": [float(v) for v in rgb.attrs["explained_variance_ratio"]],
    "closest_classes": neighbours,
    "files": {
        "model": str(OUT / "nyc-calliper"),
        "pois": str(OUT / "nyc_pois_embedded.parquet"),
        "embedding_tif": str(emb_tif),
        "rgb_tif": str(rgb_tif),
        "rgb_png": str(rgb_png),
        "map_png": str(map_png),
    },
}
(OUT / "nyc_pois_rgb_map.json").write_text(json.dumps(summary, indent=2))
print("wrote:")
for path in [*summary["files"].values(), OUT / "nyc_pois_rgb_map.json"]:
    print("  ", path)
