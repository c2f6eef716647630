"""Nothing lost, nothing silent (issue 13): atomic saves, checked configs, warnings
far from the training area, a robust text cache, refused degenerate texts, clear
messages."""

from __future__ import annotations

import copy
import json
import multiprocessing
import re
import sqlite3
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import torch
from shapely.geometry import Point

import geocalliper as gc
from geocalliper.exceptions import ModelFileError


def _embeddings(model: gc.CaLLiPer) -> np.ndarray:
    pts = gpd.GeoSeries([Point(24.94, 60.17), Point(24.96, 60.18)], crs=4326)
    return model.embed(pts).to_numpy()


def _variant(fitted: gc.CaLLiPer) -> gc.CaLLiPer:
    """A copy of ``fitted`` with other weights (so two saves can be told apart)."""
    other = copy.deepcopy(fitted)
    with torch.no_grad():
        for p in other.module_.parameters():
            p.add_(0.5)
    return other


# ---------------------------------------------------------------- 1. atomic saves
def test_failed_save_keeps_the_old_model(fitted: gc.CaLLiPer, tmp_path: Path) -> None:
    path = tmp_path / "m"
    fitted.save(path)
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    broken = _variant(fitted)
    broken.max_logit_scale = object()  # cannot go into config.json
    with pytest.raises(TypeError, match=r"max_logit_scale|config"):
        broken.save(path)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no staging folder left
    np.testing.assert_array_equal(_embeddings(gc.CaLLiPer.load(path)), _embeddings(fitted))


def test_numpy_scalars_in_params_are_saved(fitted: gc.CaLLiPer, tmp_path: Path) -> None:
    model = copy.deepcopy(fitted)
    model.set_params(dropout=np.float32(0.25), seed=np.int64(1), batch_size=np.int32(256))
    model.save(tmp_path / "m")
    loaded = gc.CaLLiPer.load(tmp_path / "m")
    assert loaded.dropout == 0.25 and loaded.seed == 1 and loaded.batch_size == 256
    assert type(loaded.seed) is int


def test_save_refuses_a_folder_of_other_files(fitted: gc.CaLLiPer, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match=r"mine\.txt"):
        fitted.save(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FileExistsError, match="afile"):
        fitted.save(tmp_path / "afile")


def _save_rounds(src: str, dst: str, rounds: int) -> None:
    torch.set_num_threads(1)
    model = gc.CaLLiPer.load(src)
    for _ in range(rounds):
        model.save(dst)


def test_concurrent_saves_leave_one_complete_model(fitted: gc.CaLLiPer, tmp_path: Path) -> None:
    a, b = fitted, _variant(fitted)
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    target = tmp_path / "target"
    a.save(target)
    expected = [_embeddings(a), _embeddings(b)]
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_save_rounds, args=(str(tmp_path / s), str(target), 60))
        for s in ("a", "b")
    ]
    for p in procs:
        p.start()
    loads = 0
    while any(p.is_alive() for p in procs):  # every read meanwhile sees a whole model
        emb = _embeddings(gc.CaLLiPer.load(target))
        assert any(np.array_equal(emb, e) for e in expected)
        loads += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    emb = _embeddings(gc.CaLLiPer.load(target))
    assert any(np.array_equal(emb, e) for e in expected)
    assert loads > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "target"]


def test_a_load_caught_by_a_swap_reads_the_new_model(
    fitted: gc.CaLLiPer, tmp_path: Path, monkeypatch
) -> None:
    """The race a concurrent save opens: the loader has read ``config.json`` from the
    old folder when a save swaps the new one in and deletes the old; the loader must
    then read the new model whole, not fail on the vanished weights."""
    from geocalliper.io import persistence

    a, b = fitted, _variant(fitted)
    target = tmp_path / "target"
    a.save(target)
    real_read = persistence._read_at
    swapped = []

    def read_then_swap(dir_fd: int, name: str) -> bytes:
        data = real_read(dir_fd, name)
        if name == persistence.CONFIG_FILE and not swapped:
            swapped.append(True)
            b.save(target)  # swaps a new folder in; the handle's folder is deleted
        return data

    monkeypatch.setattr(persistence, "_read_at", read_then_swap)
    loaded = gc.CaLLiPer.load(target)
    assert swapped
    np.testing.assert_array_equal(_embeddings(loaded), _embeddings(b))


# ---------------------------------------------------------------- 7. edited configs
def _edit(path: Path, change) -> Path:
    config_path = path / "config.json"
    config = json.loads(config_path.read_text())
    change(config)
    config_path.write_text(json.dumps(config, indent=2))
    return config_path


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c["crs"].__setitem__("epsg", 32634),
        lambda c: c["params"].__setitem__("lambda_min", 60.0),
        lambda c: c.__setitem__("text_model", "another-model"),
    ],
    ids=["crs", "lambda_min", "text_model"],
)
def test_an_edited_config_is_refused(fitted: gc.CaLLiPer, tmp_path: Path, change) -> None:
    fitted.save(tmp_path / "m")
    config_path = _edit(tmp_path / "m", change)
    with pytest.raises(ModelFileError, match="checksum") as err:
        gc.CaLLiPer.load(tmp_path / "m")
    assert str(config_path) in str(err.value)


def _old_style(path: Path, change=lambda c: None) -> Path:
    """A model folder as older versions wrote it: no checksum of the config."""
    return _edit(path, lambda c: (c.pop("config_sha256", None), change(c)))


def test_an_old_config_without_checksum_still_loads(fitted: gc.CaLLiPer, tmp_path: Path) -> None:
    fitted.save(tmp_path / "m")
    _old_style(tmp_path / "m", lambda c: c.pop("training_extent", None))
    loaded = gc.CaLLiPer.load(tmp_path / "m")
    np.testing.assert_array_equal(_embeddings(loaded), _embeddings(fitted))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda c: c.__setitem__("crs", "abc"), "crs"),
        (lambda c: c.__setitem__("params", ["x"]), "params"),
        (lambda c: c["params"].__setitem__("hidden_dim", "64"), "hidden_dim"),
        (lambda c: c["params"].__setitem__("dropout", 2.0), "dropout"),
        (lambda c: c["params"].__setitem__("lambda_min", -1.0), "lambda_min"),
        (lambda c: c["params"].__setitem__("temperature", 0), "temperature"),
        (lambda c: c.__setitem__("text_dim", "384"), "text_dim"),
        (lambda c: c.__setitem__("training_texts", [1, 2]), "training_texts"),
    ],
    ids=["crs", "params", "hidden_dim-type", "dropout", "lambda_min", "temp", "dim", "texts"],
)
def test_malformed_old_configs_are_model_file_errors(
    fitted: gc.CaLLiPer, tmp_path: Path, change, words: str
) -> None:
    fitted.save(tmp_path / "m")
    config_path = _old_style(tmp_path / "m", change)
    with pytest.raises(ModelFileError, match=words) as err:
        gc.CaLLiPer.load(tmp_path / "m")
    assert str(config_path) in str(err.value)


def test_a_huge_edited_layer_is_refused_before_allocation(
    fitted: gc.CaLLiPer, tmp_path: Path, monkeypatch
) -> None:
    import geocalliper.calliper.estimator as est

    fitted.save(tmp_path / "m")
    config_path = _old_style(tmp_path / "m", lambda c: c["params"].__setitem__("hidden_dim", 8192))
    real = est.CaLLiPerModule
    built: list[str] = []

    def recording(*args, **kwargs):
        module = real(*args, **kwargs)
        built.append(next(module.parameters()).device.type)
        return module

    monkeypatch.setattr(est, "CaLLiPerModule", recording)
    with pytest.raises(ModelFileError, match=r"hidden_dim|shape") as err:
        gc.CaLLiPer.load(tmp_path / "m")
    assert str(config_path) in str(err.value)
    assert "cpu" not in built  # at most a shape-only (meta) module was built


# ---------------------------------------------------------------- 5. training extent
def test_far_outside_the_training_area_warns(
    fitted: gc.CaLLiPer, helsinki_pois: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    from geocalliper.exceptions import OutsideTrainingAreaWarning

    tokyo = gpd.GeoSeries([Point(139.69, 35.69), Point(24.94, 60.17)], crs=4326)
    with pytest.warns(OutsideTrainingAreaWarning, match=r"1 of 2 points.* km.*filterwarnings"):
        fitted.embed(tokyo)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideTrainingAreaWarning)
        fitted.embed(helsinki_pois)  # the training POIs themselves: silent
        warnings.filterwarnings("ignore", category=OutsideTrainingAreaWarning)
        fitted.embed(tokyo)  # the documented recipe silences it
    fitted.save(tmp_path / "m")
    loaded = gc.CaLLiPer.load(tmp_path / "m")
    assert loaded.training_extent_ == pytest.approx(fitted.training_extent_)
    with pytest.warns(OutsideTrainingAreaWarning):
        loaded.embed(tokyo)
    _old_style(tmp_path / "m", lambda c: c.pop("training_extent"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideTrainingAreaWarning)
        gc.CaLLiPer.load(tmp_path / "m").embed(tokyo)  # an old model cannot tell: silent


def test_just_outside_the_training_area_is_silent(fitted: gc.CaLLiPer) -> None:
    from geocalliper.exceptions import OutsideTrainingAreaWarning

    xmin, ymin, xmax, ymax = fitted.training_extent_
    margin = fitted.outside_margin()
    assert margin >= fitted.lambda_max
    near = np.array([[xmax + 0.9 * margin, ymin], [xmin, ymax + 0.5 * margin]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutsideTrainingAreaWarning)
        fitted.embed_coords(near)
    with pytest.warns(OutsideTrainingAreaWarning):
        fitted.embed_coords(np.array([[xmax + 1.1 * margin, ymin]]))


# ---------------------------------------------------------------- 8. text cache
def _cache_file(folder: Path) -> Path:
    return folder / "text-embeddings.sqlite"


def test_a_corrupt_cache_is_reported_and_bypassed(tmp_path: Path) -> None:
    from geocalliper.exceptions import TextCacheWarning
    from geocalliper.text import TextEncoder

    expected = TextEncoder(cache=False).encode(["A place of cafe"])
    _cache_file(tmp_path).write_bytes(b"this is not a database" * 100)
    enc = TextEncoder(cache_dir=tmp_path)
    with pytest.warns(TextCacheWarning, match=re.escape(str(_cache_file(tmp_path)))):
        got = enc.encode(["A place of cafe"])
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert _cache_file(tmp_path).read_bytes().startswith(b"this is not")  # left as it was


def test_a_read_only_cache_is_reported_and_bypassed(tmp_path: Path, monkeypatch) -> None:
    from geocalliper.exceptions import TextCacheWarning
    from geocalliper.text import TextEncoder

    TextEncoder(cache_dir=tmp_path).encode(["A place of cafe"])  # creates the cache
    connect = sqlite3.connect

    def read_only(path, *args, **kwargs):  # as on a read-only disk (even for root)
        return connect(f"file:{path}?mode=ro", *args, uri=True, **kwargs)

    monkeypatch.setattr("geocalliper.text.sqlite3.connect", read_only)
    enc = TextEncoder(cache_dir=tmp_path)
    with pytest.warns(TextCacheWarning, match=re.escape(str(_cache_file(tmp_path)))):
        got = enc.encode(["A place of cafe", "A place of park"])
    assert got.shape == (2, 384) and enc.last_stats.n_cached == 1


@pytest.mark.parametrize(
    "bad",
    [np.ones(5, np.float32), np.full(384, np.nan, np.float32), np.full(384, 0.3, np.float32)],
    ids=["shape", "nan", "not-unit"],
)
def test_bad_cached_vectors_are_recomputed(tmp_path: Path, bad: np.ndarray) -> None:
    from geocalliper.exceptions import TextCacheWarning
    from geocalliper.text import TextEmbeddingCache, TextEncoder

    texts = ["A place of cafe", "A place of park"]
    expected = TextEncoder(cache=False).encode(texts)
    enc = TextEncoder(cache_dir=tmp_path)
    enc.encode(texts)
    TextEmbeddingCache(tmp_path).put(enc.model_id, {texts[0]: bad})
    fresh = TextEncoder(cache_dir=tmp_path)
    with pytest.warns(TextCacheWarning, match="recomputed"):
        got = fresh.encode(texts)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert fresh.last_stats.n_computed == 1 and fresh.last_stats.n_cached == 1
    cached = TextEmbeddingCache(tmp_path).get(enc.model_id, texts[:1])[texts[0]]
    np.testing.assert_allclose(cached, expected[0], atol=1e-6)  # repaired in the cache


# ---------------------------------------------------------------- 12. degenerate texts
_TINY = dict(
    num_scales=4,
    hidden_dim=16,
    embedding_dim=8,
    batch_size=64,
    max_epochs=1,
    progress=False,
    device="cpu",
)


def test_a_single_distinct_text_is_refused(helsinki_pois: gpd.GeoDataFrame) -> None:
    from geocalliper.exceptions import DegenerateTextsError

    pois = helsinki_pois.head(100)
    with pytest.raises(DegenerateTextsError, match="same text"):
        gc.CaLLiPer(**_TINY).fit(pois, text=["A place"] * len(pois))


def test_overlong_training_texts_warn_like_zero_shot(helsinki_pois: gpd.GeoDataFrame) -> None:
    from geocalliper.exceptions import TextTruncatedWarning

    pois = helsinki_pois.head(100).copy()
    pois.iloc[3, pois.columns.get_loc("text")] = "a long description " * 200
    with pytest.warns(TextTruncatedWarning, match="truncated"):
        gc.CaLLiPer(**_TINY).fit(pois)


# ---------------------------------------------------------------- 14. clear messages
def test_clear_messages_for_bad_fit_arguments(helsinki_pois: gpd.GeoDataFrame) -> None:
    pois = helsinki_pois.head(100)
    with pytest.raises(TypeError, match=r"text=None.*text='your_column'"):
        gc.CaLLiPer(**_TINY).fit(pois, text=None)
    with pytest.raises(ValueError, match=r"temperature must be in \(0"):
        gc.CaLLiPer(**_TINY, temperature=0).fit(pois)
    with pytest.raises(TypeError, match=r"hidden_dim must be int, got '16' \(str\)"):
        gc.CaLLiPer(**dict(_TINY, hidden_dim="16")).fit(pois)
    model = gc.CaLLiPer(**_TINY, seed=np.int64(1), dropout=np.float32(0.25)).fit(pois)
    assert model.seed == 1 and type(model.seed) is int and model.best_epoch_ >= 1
    same = gc.CaLLiPer(**_TINY, seed=1, dropout=0.25).fit(pois)
    np.testing.assert_array_equal(_embeddings(model), _embeddings(same))


def test_a_missing_text_model_folder_is_named(tmp_path: Path) -> None:
    from geocalliper.exceptions import TextModelError
    from geocalliper.text import TextEncoder

    with pytest.raises(TextModelError, match="No text model folder at '/nonexistent'"):
        TextEncoder("/nonexistent")
    with pytest.raises(TextModelError, match="No text model folder"):
        TextEncoder(str(tmp_path / "gone" / "model"))


def test_predict_refuses_a_fractional_k(shared_data: Path) -> None:
    from geocalliper.mobility import NextLocationPredictor, read_fsq_nyc

    visits = read_fsq_nyc(shared_data / "fsq-nyc" / "checkins.csv.gz")
    visits = visits[visits["user_id"] <= 15]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = NextLocationPredictor(
            d_model=16,
            n_heads=2,
            n_layers=1,
            ff_dim=32,
            max_epochs=1,
            batch_size=8,
            progress=False,
            device="cpu",
        ).fit(visits)
    for k in (2.5, 0, "3", True):
        with pytest.raises(ValueError, match=r"k \(places per user\) must be a whole number"):
            model.predict(visits, k=k)
    assert (model.predict(visits, k=np.int64(2))["rank"] <= 2).all()


def test_cli_hints_use_the_command_flags(fitted: gc.CaLLiPer, tmp_path: Path, cli) -> None:
    fitted.save(tmp_path / "m")
    parks = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[Point(24.94, 60.17).buffer(0.002), Point(24.96, 60.18).buffer(0.002)],
        crs=4326,
    )
    parks.to_file(tmp_path / "parks.gpkg")
    res = cli("embed", "m", "parks.gpkg", "--out", "parks.parquet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "--how centroid" in res.stderr and "how='" not in res.stderr, res.stderr
    res = cli("embed", "m", "parks.gpkg", "--out", "p2.parquet", "--how", "mean", cwd=tmp_path)
    assert res.returncode == 0 and "warning" not in res.stderr, res.stderr
    means = gpd.read_parquet(tmp_path / "p2.parquet").filter(like="calliper_").to_numpy()
    centroids = gpd.read_parquet(tmp_path / "parks.parquet").filter(like="calliper_").to_numpy()
    assert means.shape == centroids.shape and not np.allclose(means, centroids)
    gpd.GeoDataFrame(
        {"name": ["x"] * 20}, geometry=[Point(24.9 + i / 100, 60.2) for i in range(20)], crs=4326
    ).to_file(tmp_path / "notext.gpkg")
    res = cli("pretrain", "notext.gpkg", "--out", "m2", cwd=tmp_path)
    assert res.returncode == 2 and "--text your_column" in res.stderr, res.stderr
    assert "text='" not in res.stderr, res.stderr


def test_cli_names_bad_paths(fitted: gc.CaLLiPer, tmp_path: Path, cli, helsinki_pois) -> None:
    fitted.save(tmp_path / "m")
    (tmp_path / "afile").write_text("x")
    helsinki_pois.head(50).to_file(tmp_path / "pois.gpkg")
    for args, words in [
        (("embed", "m", "pois.gpkg", "--out", "afile/out.parquet"), "afile is a file"),
        (("pretrain", "pois.gpkg", "--out", "afile/model"), "afile is a file"),
        (
            ("pretrain", "pois.gpkg", "--out", "m3", "--text-model", "/nonexistent"),
            "No text model folder at '/nonexistent'",
        ),
    ]:
        res = cli(*args, cwd=tmp_path)
        assert res.returncode == 2, (args, res.stderr)
        assert words in res.stderr and "Errno" not in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_antimeridian_areas_get_their_own_zone_and_clear_errors(
    fitted: gc.CaLLiPer, monkeypatch
) -> None:
    import shapely

    from geocalliper.exceptions import InvalidGeometryError
    from geocalliper.spatial.coords import estimate_metric_crs

    fiji = gpd.GeoSeries([Point(179.6, -17.0), Point(-179.9, -16.6), Point(178.4, -18.1)], crs=4326)
    assert estimate_metric_crs(fiji).to_epsg() == 32760  # not zone 30S around longitude 0
    helsinki = gpd.GeoSeries([Point(24.9, 60.1), Point(25.1, 60.3)], crs=4326)
    assert estimate_metric_crs(helsinki).to_epsg() == 32635

    def topology(*args, **kwargs):  # what GEOS raises on an area folded over the antimeridian
        raise shapely.errors.GEOSException("TopologyException: side location conflict")

    monkeypatch.setattr(shapely, "union_all", topology)
    with pytest.raises(InvalidGeometryError, match="antimeridian"):
        gc.embed_grid(fitted, (24.9, 60.15, 25.0, 60.2), resolution=500, area_crs=4326)
