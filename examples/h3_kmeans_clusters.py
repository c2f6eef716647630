# %% [markdown]
# # Neighbourhood types of New York City: H3 embeddings + k-means
#
# Pre-train CaLLiPer on the real OpenStreetMap POIs of New York City (2013 snapshot,
# `osm_nyc_2013.csv.gz` of the shared data folder), embed the H3 hexagons that cover the
# city, cluster the hexagons with scikit-learn's k-means and describe each cluster in two
# ways: by the POI classes over-represented in its hexagons, and zero-shot, by the texts
# the model itself finds closest to them (`gc.describe`). Writes a GeoPackage for QGIS
# and a PNG map.
#
# ```
# python examples/h3_kmeans_clusters.py [--quick] [--out FOLDER] [--data FOLDER]
# ```
#
# `--quick` (or `GEOCALLIPER_EXAMPLES_QUICK=1`) samples the POIs, trains a hundred steps and
# uses coarse hexagons, for CI. `--out` (`GEOCALLIPER_EXAMPLES_OUT`) is the output folder,
# default `examples/output/`; `--data` (`GEOCALLIPER_DATA`) the shared data folder, default
# `../shared/data` beside the repository.

# %%
import json

import matplotlib

matplotlib.use("Agg")
import h3
import matplotlib.pyplot as plt
from _setup import example_setup  # options, data folder, output folder
from sklearn.cluster import KMeans

import geocalliper as gc

QUICK, DATA, OUT = example_setup(
    "H3 CaLLiPer embeddings -> k-means clusters", ["nyc-pois/osm_nyc_2013.csv.gz"]
)
POI_FILE = DATA / "nyc-pois" / "osm_nyc_2013.csv.gz"

# %% [markdown]
# ## POIs and a pre-trained model
#
# As in `nyc_pois_rgb_map.py`: one text per POI from its OSM feature class. (That example
# saves its model; `gc.CaLLiPer.load("examples/output/nyc-calliper")` would do instead of
# training again.)

# %%
pois = gc.read_pois(POI_FILE).dropna(subset=["fclass"]).reset_index(drop=True)
if QUICK:
    pois = pois.sample(4_000, random_state=0).reset_index(drop=True)
pois["text"] = gc.make_text(pois, "A place of {fclass}")
model = gc.CaLLiPer(max_steps=100 if QUICK else 3000, progress=False).fit(pois)
print(f"{len(pois)} POIs; best step {model.best_step_} of {int(model.history_['step'].iloc[-1])}")

# %% [markdown]
# ## Embed H3 hexagons over the city
#
# The study area is the POIs buffered by 750 m and dissolved. `gc.embed_h3` returns one row
# per hexagon, indexed by the H3 cell id, with the embedding columns and the hexagon in
# EPSG:4326. `how="mean"` averages the embeddings of points spread over each hexagon, so a
# hexagon stands for its whole surface rather than its centre.

# %%
resolution = 7 if QUICK else 9  # ~5 km² or ~0.1 km² per hexagon
area = pois.to_crs(model.crs_).buffer(750, quad_segs=4).to_frame("geometry")
cells = gc.embed_h3(model, area, resolution, how="mean", n_samples=8, normalize=True)
emb_cols = [c for c in cells.columns if c.startswith("calliper_")]
print(f"{len(cells)} hexagons at resolution {resolution}")

# %% [markdown]
# ## k-means
#
# The vectors are L2-normalised (`normalize=True` above), so k-means on them groups
# hexagons by the direction of their embedding, the quantity the contrastive loss shaped.

# %%
n_clusters = 4 if QUICK else 8
kmeans = KMeans(n_clusters=n_clusters, n_init=10, random_state=0)
cells["cluster"] = kmeans.fit_predict(cells[emb_cols].to_numpy())
print(cells["cluster"].value_counts().sort_index().to_string())

# %% [markdown]
# ## What is in each cluster?
#
# **Observed**: drop each POI into its hexagon and count classes per cluster. A class is
# *characteristic* of a cluster when its share there is well above its share in the whole
# city (the "lift"); the very common classes (bicycle parking, schools, places of worship)
# would otherwise top every list.
#
# **Zero-shot**: `gc.describe` ranks the model's training texts against each hexagon's
# centre. With `prior=None` it ranks by cosine alone, which favours the texts
# *over-represented* at a place (the zero-shot counterpart of the lift; the default prior
# would favour the texts that are common everywhere). The most frequent best text in a
# cluster is its model-given name; it needs no POI data, only the model.

# %%
lonlat = zip(pois.geometry.x, pois.geometry.y, strict=True)
pois["h3"] = [h3.latlng_to_cell(lat, lon, resolution) for lon, lat in lonlat]
pois["cluster"] = pois["h3"].map(cells["cluster"])
city_share = pois["fclass"].value_counts(normalize=True)
profiles = {}
for c, group in pois.dropna(subset=["cluster"]).groupby("cluster"):
    counts = group["fclass"].value_counts()
    lift = (counts / len(group) / city_share[counts.index]).where(counts >= 5).dropna()
    profiles[int(c)] = {
        "n_pois": len(group),
        "top_classes": counts.head(3).to_dict(),
        "characteristic": lift.nlargest(3).round(2).to_dict(),
    }

centres = cells.geometry.to_crs(model.crs_).centroid
described = gc.describe(model, centres, k=1, prior=None)
best_text = described.set_index("h3")["text"].reindex(cells.index)
cells["zero_shot"] = best_text.str.replace("A place of ", "", regex=False)

rows = []
for c in range(n_clusters):
    in_c = cells["cluster"] == c
    profile = profiles.get(c, {"n_pois": 0, "top_classes": {}, "characteristic": {}})
    zero_shot = cells.loc[in_c, "zero_shot"].value_counts()
    profile["zero_shot"] = zero_shot.head(3).to_dict()
    profile["n_hexagons"] = int(in_c.sum())
    profiles[c] = profile
    traits = list(profile["characteristic"]) or list(profile["top_classes"])
    name = f"{c}: " + (", ".join(t.replace("_", " ") for t in traits[:2]) or "no POIs")
    rows.append((c, name))
    print(
        f"cluster {name:<40} {profile['n_hexagons']:>5} hexagons, {profile['n_pois']:>5} POIs;"
        f" zero-shot: {zero_shot.index[0] if len(zero_shot) else '-'}"
    )
names = dict(rows)
cells["cluster_name"] = cells["cluster"].map(names)

# %% [markdown]
# ## Write a GeoPackage and a map
#
# The GeoPackage holds one hexagon per row with its H3 id, cluster, cluster name and the
# zero-shot text (the 128 embedding columns are left out to keep it small; add them back
# with `cells.to_file(...)` if you want them in QGIS).

# %%
out_cells = cells[["cluster", "cluster_name", "zero_shot", "geometry"]].reset_index()
out_cells["n_pois"] = out_cells["h3"].map(pois["h3"].value_counts()).fillna(0).astype(int)
gpkg = OUT / "nyc_h3_clusters.gpkg"
gpkg.unlink(missing_ok=True)
out_cells.to_file(gpkg, layer="clusters", driver="GPKG")

fig, ax = plt.subplots(figsize=(11, 8), dpi=110)
out_cells.to_crs(model.crs_).plot(
    ax=ax,
    column="cluster_name",
    categorical=True,
    cmap="tab10",
    linewidth=0,
    legend=True,
    legend_kwds={"loc": "upper left", "bbox_to_anchor": (1.0, 1.0), "title": "cluster: POIs"},
)
ax.set_title(f"New York City: {n_clusters} clusters of CaLLiPer embeddings, H3 res {resolution}")
ax.set_axis_off()
fig.tight_layout()
png = OUT / "nyc_h3_clusters.png"
fig.savefig(png, bbox_inches="tight")  # keep the legend outside the axes
plt.close(fig)

# %% A summary for scripts and tests
summary = {
    "quick": QUICK,
    "data": "OpenStreetMap NYC 2013 (real)",
    "n_pois": len(pois),
    "h3_resolution": resolution,
    "n_hexagons": len(cells),
    "n_clusters": n_clusters,
    "clusters": {names[c]: profiles[c] for c in range(n_clusters)},
    "files": {"gpkg": str(gpkg), "png": str(png)},
}
(OUT / "h3_kmeans_clusters.json").write_text(json.dumps(summary, indent=2, default=str))
print("wrote:")
for path in [gpkg, png, OUT / "h3_kmeans_clusters.json"]:
    print("  ", path)
