"""Zero-shot text queries: similarity, describe, labels, maps, files, CLI and bad input."""

from __future__ import annotations

import ctypes
import json
import os
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
import torch
from shapely.geometry import Polygon, box

import geocalliper as gc
from geocalliper import zeroshot
from geocalliper.exceptions import (
    DuplicateLabelError,
    EmptyDataError,
    MissingProjectorError,
    MissingTrainingTextsError,
    TextTruncatedWarning,
)
from geocalliper.spatial.h3cells import h3_centers
from geocalliper.text import TextEncoder

pytestmark = pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")

#: 2 km x 2 km of central Helsinki in ETRS-TM35FIN (EPSG:3067)
HELSINKI_3067 = (385_000.0, 6_671_000.0, 387_000.0, 6_673_000.0)
CAFE = "A place of cafe, a type of amenity"
LABELS = {
    "cafe": CAFE,
    "bench": "A place of bench, a type of amenity",
    "clothes": "A place of clothes, a type of shop",
}


def reference_text_vectors(model: gc.CaLLiPer, texts: list[str]) -> np.ndarray:
    """Projected, normalised texts computed by hand from the module."""
    vecs = torch.from_numpy(TextEncoder(progress=False).encode(texts))
    with torch.no_grad():
        proj = torch.nn.functional.normalize(model.module_.project_text(vecs), dim=-1)
    return proj.numpy().astype(np.float64)


def cosine_at(model: gc.CaLLiPer, points, texts: list[str]) -> np.ndarray:
    emb = model.embed(points, normalize=True).to_numpy(np.float64)
    return emb @ reference_text_vectors(model, texts).T


def grid_centres(da) -> gpd.GeoSeries:
    x, y = np.meshgrid(da.x.values, da.y.values)
    return gpd.GeoSeries(gpd.points_from_xy(x.ravel(), y.ravel()), crs=da.rio.crs)


@pytest.fixture(scope="module")
def saved(fitted: gc.CaLLiPer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fitted.save(tmp_path_factory.mktemp("zs") / "model")


@pytest.fixture(scope="module")
def points(helsinki_pois: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return helsinki_pois.iloc[::97].copy()


# ---------------------------------------------------------------------------- similarity
def test_similarity_is_the_cosine_of_location_and_projected_text(fitted, points) -> None:
    texts = [CAFE, "A place of park, a type of leisure"]
    sim = fitted.similarity(points, texts)
    assert list(sim.index) == list(points.index) and list(sim.columns) == texts
    np.testing.assert_allclose(sim.to_numpy(), cosine_at(fitted, points, texts), atol=1e-5)
    assert (sim.abs() <= 1 + 1e-6).all().all()
    # one text is a list of one; the accessor and the function agree
    pd.testing.assert_frame_equal(points.calliper.similarity(fitted, CAFE), sim[[CAFE]])
    same = gc.similarity(fitted, points.to_crs(3067), texts)
    np.testing.assert_allclose(same.to_numpy(), sim.to_numpy(), atol=1e-5)


def test_training_texts_are_kept_and_saved(fitted, saved, helsinki_pois) -> None:
    expected = helsinki_pois["text"].value_counts()
    counts = fitted.training_texts_
    assert counts.to_dict() == expected.to_dict()
    assert counts.is_monotonic_decreasing
    config = json.loads((saved / "config.json").read_text())
    assert config["text_projector"] is True
    assert config["training_texts"] == {t: int(n) for t, n in counts.items()}
    loaded = gc.CaLLiPer.load(saved, progress=False)
    pd.testing.assert_series_equal(loaded.training_texts_, counts)
    assert loaded.has_projector_


def test_describe_ranks_training_texts_with_their_prior(fitted, points) -> None:
    k = 4
    out = fitted.describe(points, k=k)
    assert list(out.columns) == ["point", "rank", "text", "score", "cosine", "probability"]
    assert len(out) == len(points) * k
    assert list(out["rank"].iloc[:k]) == [1, 2, 3, 4]
    assert set(out["point"]) == set(points.index)
    assert set(out["text"]) <= set(fitted.training_texts_.index)
    # score = exp(s) * cosine + log(1 + count), best first
    scale = zeroshot.logit_scale(fitted)
    counts = fitted.training_texts_.reindex(out["text"]).to_numpy()
    prior = np.log((1 + counts) / (1 + fitted.training_texts_).sum())
    np.testing.assert_allclose(out["score"], scale * out["cosine"] + prior, rtol=1e-6, atol=1e-6)
    assert (out.groupby("point")["score"].diff().dropna() <= 1e-9).all()
    first = out[out["point"] == points.index[0]]
    ref = cosine_at(fitted, points.iloc[:1], first["text"].tolist())[0]
    np.testing.assert_allclose(first["cosine"], ref, atol=1e-5)
    # without a prior the ranking is by cosine
    plain = fitted.describe(points, k=k, prior=None)
    assert (plain.groupby("point")["cosine"].diff().dropna() <= 1e-9).all()
    np.testing.assert_allclose(plain["score"], plain["cosine"])


def test_describe_with_candidates(fitted, points) -> None:
    cands = list(LABELS.values())
    out = gc.describe(fitted, points, cands, k=10)  # k is capped at the candidates
    assert len(out) == len(points) * 3
    sim = fitted.similarity(points, cands)
    best = out[out["rank"] == 1].set_index("point")["text"]
    pd.testing.assert_series_equal(best, sim.idxmax(axis=1), check_names=False)
    # probabilities over all candidates sum to one
    np.testing.assert_allclose(out.groupby("point")["probability"].sum(), 1.0, rtol=1e-6)
    named = points.rename_axis("poi")
    assert points.calliper.describe(fitted, cands, 2).shape == (2 * len(points), 6)
    assert gc.describe(fitted, named, cands, 1).columns[0] == "poi"


def test_label_points_and_priors(fitted, points) -> None:
    out = gc.label_points(fitted, points, LABELS, probabilities=True)
    cos = fitted.similarity(points, list(LABELS.values()))
    expected = np.array(list(LABELS))[cos.to_numpy().argmax(axis=1)]
    np.testing.assert_array_equal(out["label"].to_numpy(), expected)
    probs = out[["p_cafe", "p_bench", "p_clothes"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    # a prior that makes one label overwhelming wins everywhere
    tilted = gc.label_points(fitted, points, LABELS, prior={"cafe": 1, "bench": 1e9, "clothes": 1})
    assert (tilted["label"] == "bench").all()
    same = gc.label_points(fitted, points, LABELS, prior=[1, 1e9, 1])
    pd.testing.assert_frame_equal(same, tilted)
    # a list of texts names each label by its text
    listed = gc.label_points(fitted, points, list(LABELS.values()))
    assert set(listed["label"]) <= set(LABELS.values())


# ---------------------------------------------------------------------------- maps
def test_query_grid_is_the_similarity_at_cell_centres(fitted, tmp_path) -> None:
    minx, miny, maxx, maxy = HELSINKI_3067
    tri = Polygon([(minx, miny), (maxx, miny), (minx, maxy)])
    area = gpd.GeoDataFrame(geometry=[tri], crs=3067)
    q = gc.query_grid(fitted, area, CAFE, 100, crs="EPSG:3067")
    grid = gc.embed_grid(fitted, area, 100, crs="EPSG:3067")
    assert q.dims == ("band", "y", "x") and q.shape == (1, 20, 20)
    assert list(q.band.values) == [CAFE] and q.dtype == np.float32
    assert q.rio.crs == grid.rio.crs and q.rio.transform() == grid.rio.transform()
    x, y = np.meshgrid(q.x.values, q.y.values)
    inside = shapely.intersects_xy(tri, x, y)
    assert np.isnan(q.values[0][~inside]).all() and np.isfinite(q.values[0][inside]).all()
    ref = cosine_at(fitted, grid_centres(q), [CAFE])[:, 0].reshape(20, 20)
    np.testing.assert_allclose(q.values[0][inside], ref[inside], atol=1e-5)
    # the accessor, and the GeoTIFF writer of embeddings
    same = area.calliper.query_grid(fitted, CAFE, 100, crs="EPSG:3067")
    np.testing.assert_array_equal(same.values, q.values)
    path = gc.to_geotiff(q, tmp_path / "cafe.tif")
    with rasterio.open(path) as src:
        assert src.count == 1 and src.descriptions == (CAFE,)
        np.testing.assert_array_equal(src.read(1), q.values[0])
    assert not (tmp_path / "cafe.tif.aux.xml").exists()


def test_query_h3_is_the_similarity_at_cell_centres(fitted, tmp_path) -> None:
    cells = gc.query_h3(fitted, HELSINKI_3067, [CAFE, LABELS["bench"]], 8, area_crs=3067)
    assert list(cells.columns) == [CAFE, LABELS["bench"], "geometry"]
    assert cells.crs.to_epsg() == 4326 and cells.index.name == "h3"
    pts = gpd.GeoSeries(gpd.points_from_xy(*h3_centers(cells.index).T), crs=4326)
    ref = cosine_at(fitted, pts, [CAFE, LABELS["bench"]])
    np.testing.assert_allclose(cells[[CAFE, LABELS["bench"]]].to_numpy(), ref, atol=1e-5)
    area = gpd.GeoDataFrame(geometry=[box(*HELSINKI_3067)], crs=3067)
    same = area.calliper.query_h3(fitted, [CAFE, LABELS["bench"]], 8)
    pd.testing.assert_frame_equal(same, cells)
    cells.to_file(tmp_path / "q.gpkg")
    back = gpd.read_file(tmp_path / "q.gpkg")
    assert len(back) == len(cells) and CAFE in back.columns


def test_label_grid_is_the_best_label_per_cell(fitted) -> None:
    minx, miny, maxx, maxy = HELSINKI_3067
    tri = Polygon([(minx, miny), (maxx, miny), (minx, maxy)])
    area = gpd.GeoSeries([tri], crs=3067)
    ds = gc.label_grid(fitted, area, LABELS, 100, crs="EPSG:3067", probabilities=True)
    lab, prob = ds["label"], ds["probability"]
    assert lab.dims == ("y", "x") and lab.dtype == np.uint8 and lab.rio.nodata == 255
    assert list(prob.band.values) == list(LABELS) and prob.dtype == np.float32
    assert lab.attrs["category_names"] == tuple(LABELS)
    assert lab.attrs["category_texts"] == tuple(LABELS.values())
    sim = gc.query_grid(fitted, area, list(LABELS.values()), 100, crs="EPSG:3067")
    valid = np.isfinite(sim.values[0])
    np.testing.assert_array_equal(lab.values[valid], sim.values[:, valid].argmax(axis=0))
    assert (lab.values[~valid] == 255).all() and np.isnan(prob.values[:, ~valid]).all()
    np.testing.assert_allclose(prob.values[:, valid].sum(axis=0), 1.0, rtol=1e-5)
    # the label alone, lazily in dask blocks, and through the accessor: the same
    alone = gc.label_grid(fitted, area, LABELS, 100, crs="EPSG:3067")
    np.testing.assert_array_equal(alone.values, lab.values)
    lazy = gc.label_grid(fitted, area, LABELS, 100, crs="EPSG:3067", chunks=7)
    assert type(lazy.data).__module__.startswith("dask")
    np.testing.assert_array_equal(lazy.values, lab.values)
    frame = gpd.GeoDataFrame(geometry=area)
    np.testing.assert_array_equal(
        frame.calliper.label_grid(fitted, LABELS, 100, crs="EPSG:3067").values, lab.values
    )


def test_preview_rgb_colours_labels_and_stretches_queries(fitted) -> None:
    minx, miny, maxx, maxy = HELSINKI_3067
    area = gpd.GeoSeries([Polygon([(minx, miny), (maxx, miny), (minx, maxy)])], crs=3067)
    lab = gc.label_grid(fitted, area, LABELS, 100, crs="EPSG:3067")
    rgb = zeroshot.preview_rgb(lab)
    assert rgb.dims == ("band", "y", "x") and rgb.dtype == np.uint8 and rgb.shape == (3, 20, 20)
    assert rgb.rio.crs.to_epsg() == 3067 and rgb.rio.transform() == lab.rio.transform()
    colours = lab.attrs["category_colors"]
    for code, colour in enumerate(colours):
        want = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        assert (rgb.values[:, lab.values == code].T == want).all()
    assert (rgb.values[:, lab.values == 255] == 0).all()  # nodata stays transparent

    q = gc.query_grid(fitted, area, CAFE, 100, crs="EPSG:3067")
    rgb = zeroshot.preview_rgb(q)
    valid = np.isfinite(q.values[0])
    assert (rgb.values[:, ~valid] == 0).all() and (rgb.values[:, valid].max(axis=0) > 0).all()
    # the ramp is monotone in the score: brighter green for higher similarity
    order = np.argsort(q.values[0][valid])
    assert np.all(np.diff(rgb.values[1][valid][order].astype(int)) >= 0)
    with pytest.raises(ValueError, match="one-band map"):
        zeroshot.preview_rgb(gc.query_grid(fitted, area, [CAFE, CAFE + "!"], 100))


def _gdal() -> ctypes.CDLL:
    """The GDAL library bundled with rasterio (already loaded by it), through ctypes."""
    folder = Path(rasterio.__file__).parent.parent / "rasterio.libs"
    found = sorted(folder.glob("libgdal*.so*")) if folder.is_dir() else []
    if not found:
        pytest.skip("rasterio's bundled libgdal not found")
    lib = ctypes.CDLL(str(found[0]))
    lib.GDALOpen.restype = ctypes.c_void_p
    lib.GDALOpen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    lib.GDALGetRasterBand.restype = ctypes.c_void_p
    lib.GDALGetRasterBand.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.GDALGetGeoTransform.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double)]
    lib.GDALGetRasterCategoryNames.restype = ctypes.POINTER(ctypes.c_char_p)
    lib.GDALGetRasterCategoryNames.argtypes = [ctypes.c_void_p]
    lib.GDALGetDefaultRAT.restype = ctypes.c_void_p
    lib.GDALGetDefaultRAT.argtypes = [ctypes.c_void_p]
    lib.GDALRATGetRowCount.argtypes = [ctypes.c_void_p]
    lib.GDALRATGetColOfUsage.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.GDALRATGetValueAsString.restype = ctypes.c_char_p
    lib.GDALRATGetValueAsString.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    lib.GDALClose.argtypes = [ctypes.c_void_p]
    lib.GDALAllRegister()
    return lib


def gdal_categories(path: Path) -> tuple[list[str], list[str]]:
    """Category names and the RAT's name column, as GDAL (and so QGIS) reads them."""
    lib = _gdal()
    with rasterio.Env(GDAL_PAM_ENABLED="YES"):
        ds = lib.GDALOpen(str(path).encode(), 0)
        assert ds
        try:
            lib.GDALGetGeoTransform(ds, (ctypes.c_double * 6)())  # as a GIS does on opening
            band = lib.GDALGetRasterBand(ds, 1)
            names, raw = [], lib.GDALGetRasterCategoryNames(band)
            while raw and raw[len(names)] is not None:
                names.append(raw[len(names)].decode())
            rat = lib.GDALGetDefaultRAT(band)
            col = lib.GDALRATGetColOfUsage(rat, 2) if rat else -1  # GFU_Name
            rows = lib.GDALRATGetRowCount(rat) if rat else 0
            rat_names = [lib.GDALRATGetValueAsString(rat, i, col).decode() for i in range(rows)]
        finally:
            lib.GDALClose(ds)
    return names, rat_names


@pytest.mark.parametrize("cog", [True, False])
def test_label_geotiff_has_a_colour_table_and_category_names(fitted, tmp_path, cog) -> None:
    lab = gc.label_grid(fitted, HELSINKI_3067, LABELS, 100, crs="EPSG:3067")
    path = gc.to_geotiff(lab, tmp_path / "labels.tif", cog=cog, overviews=1)
    with rasterio.open(path) as src:
        assert src.count == 1 and src.dtypes[0] == "uint8" and src.nodata == 255
        assert src.descriptions == ("label",)
        cmap = src.colormap(1)
        # "cafe" is food (orange); "bench" and "clothes" say nothing: the palette's first two
        assert cmap[0] == (0xFF, 0x7F, 0x00, 255) and cmap[1] == (0x1F, 0x77, 0xB4, 255)
        assert cmap[2] == (0xFF, 0x7F, 0x0E, 255)
        assert cmap[255][3] == 0  # nodata is transparent
        assert json.loads(src.tags(1)["CATEGORY_NAMES"]) == list(LABELS)
        np.testing.assert_array_equal(src.read(1), lab.values)
        assert src.overviews(1) == [2]
    aux = tmp_path / "labels.tif.aux.xml"
    assert aux.is_file() and "<Category>bench</Category>" in aux.read_text()
    names, rat_names = gdal_categories(path)
    assert names == list(LABELS) and rat_names == list(LABELS)
    assert 'type="paletted"' in (tmp_path / "labels.qml").read_text()
    # writing a continuous raster over it removes the stale side file, replaces the style
    gc.to_geotiff(gc.query_grid(fitted, HELSINKI_3067, CAFE, 100, crs=3067), path)
    assert not aux.exists()
    assert sorted(os.listdir(tmp_path)) == ["labels.qml", "labels.tif"]
    assert 'type="singlebandpseudocolor"' in (tmp_path / "labels.qml").read_text()


def test_label_h3(fitted, tmp_path) -> None:
    cells = gc.label_h3(fitted, HELSINKI_3067, LABELS, 8, area_crs=3067, probabilities=True)
    assert list(cells.columns) == ["label", "p_cafe", "p_bench", "p_clothes", "geometry"]
    sim = gc.query_h3(fitted, HELSINKI_3067, list(LABELS.values()), 8, area_crs=3067)
    expected = np.array(list(LABELS))[sim[list(LABELS.values())].to_numpy().argmax(axis=1)]
    np.testing.assert_array_equal(cells["label"].to_numpy(), expected)
    np.testing.assert_allclose(cells.filter(like="p_").sum(axis=1), 1.0, rtol=1e-5)
    plain = gc.label_h3(fitted, HELSINKI_3067, LABELS, 8, area_crs=3067, how="mean", n_samples=4)
    assert list(plain.columns) == ["label", "geometry"]
    area = gpd.GeoDataFrame(geometry=[box(*HELSINKI_3067)], crs=3067)
    pd.testing.assert_frame_equal(
        area.calliper.label_h3(fitted, LABELS, 8), cells[["label", "geometry"]]
    )
    cells.to_file(tmp_path / "labels.gpkg")
    assert gpd.read_file(tmp_path / "labels.gpkg")["label"].tolist() == cells["label"].tolist()


# ---------------------------------------------------------------------------- bad input
def test_empty_texts_and_labels(fitted, points) -> None:
    with pytest.raises(EmptyDataError, match="No texts"):
        fitted.similarity(points, [])
    with pytest.raises(EmptyDataError, match="No texts"):
        gc.query_grid(fitted, HELSINKI_3067, [], 100, crs=3067)
    with pytest.raises(EmptyDataError, match="No labels"):
        gc.label_grid(fitted, HELSINKI_3067, [], 100, crs=3067)
    with pytest.raises(EmptyDataError, match="No label texts"):
        gc.label_h3(fitted, HELSINKI_3067, {}, 8, area_crs=3067)
    with pytest.raises(ValueError, match="blank"):
        fitted.similarity(points, ["A place of cafe", "  "])
    with pytest.raises(EmptyDataError, match="No candidates"):
        fitted.describe(points, candidates=[])
    with pytest.raises(ValueError, match="k must be a positive"):
        fitted.describe(points, k=0)


def test_duplicate_labels(fitted, points) -> None:
    with pytest.raises(DuplicateLabelError, match=r"Duplicate label text.*A place of cafe"):
        gc.label_points(fitted, points, ["A place of cafe", "A place of cafe"])
    with pytest.raises(DuplicateLabelError, match="text"):
        gc.label_grid(fitted, HELSINKI_3067, {"a": CAFE, "b": CAFE}, 100, crs=3067)
    with pytest.raises(ValueError):  # DuplicateLabelError is a ValueError
        gc.label_h3(fitted, HELSINKI_3067, [CAFE, CAFE], 8, area_crs=3067)


def _edit_config(folder: Path, **changes) -> None:
    """Edit a saved config as a file from before configs carried their own checksum."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.pop("config_sha256", None)  # an edited file with its checksum is refused
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(json.dumps(config))


def test_model_without_projector(fitted, saved, points, tmp_path) -> None:
    import shutil

    # saved without the projector weights (and the config says so)
    stripped = gc.CaLLiPer.load(saved, progress=False)
    stripped.has_projector_ = False
    folder = stripped.save(tmp_path / "stripped")
    config = json.loads((folder / "config.json").read_text())
    assert config["text_projector"] is False
    assert not any(k.startswith("text_projector") for k in config["weights"]["tensors"])
    # ... and the same weights with a config that does not mention the projector
    shutil.copytree(folder, tmp_path / "old")
    _edit_config(tmp_path / "old", text_projector=None)
    # the projector's weights are there, but the config says there is none
    shutil.copytree(saved, tmp_path / "flagged")
    _edit_config(tmp_path / "flagged", text_projector=False)
    for path in (folder, tmp_path / "old", tmp_path / "flagged"):
        model = gc.CaLLiPer.load(path, progress=False)
        assert not model.has_projector_
        np.testing.assert_allclose(  # it still embeds places, exactly as before
            model.embed(points).to_numpy(), fitted.embed(points).to_numpy(), atol=1e-6
        )
        for call in (
            lambda m=model: m.similarity(points, CAFE),
            lambda m=model: m.describe(points),
            lambda m=model: gc.query_grid(m, HELSINKI_3067, CAFE, 100, crs=3067),
            lambda m=model: gc.label_h3(m, HELSINKI_3067, LABELS, 8, area_crs=3067),
        ):
            with pytest.raises(MissingProjectorError, match=r"without its text projector.*fit"):
                call()


def test_model_saved_without_training_texts(fitted, saved, points, tmp_path) -> None:
    import shutil

    shutil.copytree(saved, tmp_path / "old")
    _edit_config(tmp_path / "old", training_texts=None, text_projector=None)
    model = gc.CaLLiPer.load(tmp_path / "old", progress=False)
    assert model.has_projector_ and model.training_texts_ is None
    with pytest.raises(MissingTrainingTextsError, match="candidates="):
        model.describe(points)
    with pytest.raises(MissingTrainingTextsError):
        gc.label_points(model, points, LABELS, prior="training")
    out = model.describe(points, candidates=list(LABELS.values()), k=1)
    assert len(out) == len(points)


def test_long_texts_are_truncated_with_a_warning(fitted, points) -> None:
    long = "A place of cafe " + "with a very long description " * 60
    with pytest.warns(TextTruncatedWarning, match=r"longer than the text model accepts \(256"):
        sim = fitted.similarity(points, [CAFE, long])
    assert np.isfinite(sim.to_numpy()).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", TextTruncatedWarning)
        fitted.similarity(points, [CAFE, "A place of " + "café " * 30])  # long, but fits


def test_bad_priors(fitted, points) -> None:
    with pytest.raises(KeyError, match="no weight for the label 'clothes'"):
        gc.label_points(fitted, points, LABELS, prior={"cafe": 1, "bench": 2})
    with pytest.raises(ValueError, match="non-negative"):
        gc.label_points(fitted, points, LABELS, prior=[1, -1, 1])
    with pytest.raises(ValueError, match="2 weights for 3 labels"):
        gc.label_points(fitted, points, LABELS, prior=[1, 1])
    with pytest.raises(ValueError, match="prior must be"):
        gc.label_points(fitted, points, LABELS, prior="uniform")


# ---------------------------------------------------------------------------- CLI
def test_cli_query_and_label(saved, tmp_path, cli) -> None:
    gpd.GeoDataFrame(geometry=[box(*HELSINKI_3067)], crs=3067).to_file(tmp_path / "area.gpkg")
    model = str(saved)
    res = cli(
        "query", model, "area.gpkg", CAFE, "--resolution", "100", "--out", "q.tif", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    with rasterio.open(tmp_path / "q.tif") as src:
        assert src.descriptions == (CAFE,) and src.count == 1
    res = cli("query", model, "area.gpkg", CAFE, "--h3", "8", "--out", "q.gpkg", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert CAFE in gpd.read_file(tmp_path / "q.gpkg").columns

    args = [f"--label={name}={text}" for name, text in LABELS.items()]
    res = cli("label", model, "area.gpkg", *args, "--resolution", "100", "--out", "l.tif",
                  "--probabilities", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Labelled 400 cells" in res.stdout
    with rasterio.open(tmp_path / "l.tif") as src:
        assert src.colormap(1)[0][:3] == (0xFF, 0x7F, 0x00)  # "cafe" is food: orange
        assert json.loads(src.tags(1)["CATEGORY_NAMES"]) == list(LABELS)
    with rasterio.open(tmp_path / "l-probability.tif") as src:
        assert src.descriptions == tuple(LABELS)
    (tmp_path / "labels.json").write_text(json.dumps(list(LABELS.values())))
    res = cli("label", model, "area.gpkg", "--labels", "labels.json", "--h3", "8",
                  "--out", "l.gpkg", cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert set(gpd.read_file(tmp_path / "l.gpkg")["label"]) <= set(LABELS.values())


def test_cli_errors_are_one_line(saved, tmp_path, cli) -> None:
    gpd.GeoDataFrame(geometry=[box(*HELSINKI_3067)], crs=3067).to_file(tmp_path / "area.gpkg")
    model = str(saved)
    cases = [
        (["label", model, "area.gpkg", "--resolution", "100", "--out", "l.tif"], "No labels"),
        (["label", model, "area.gpkg", "--label", "a=A place of cafe", "--label",
          "b=A place of cafe", "--resolution", "100", "--out", "l.tif"], "Duplicate label"),
        (["query", model, "area.gpkg", " ", "--resolution", "100", "--out", "q.tif"], "blank"),
        (["query", model, "area.gpkg", CAFE, "--out", "q.tif"], "exactly one of --resolution"),
    ]  # fmt: skip
    for args, message in cases:
        res = cli(*args, cwd=tmp_path)
        assert res.returncode == 2, (args, res.stderr)
        assert res.stderr.startswith("geocalliper: error:") and message in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
    for command in ("query", "label"):
        res = cli(command, "--help", cwd=tmp_path)
        assert res.returncode == 0 and "example" in res.stdout
