"""Nothing lost, nothing silent (issue 13): atomic saves, checked configs, warnings
far from the training area, a robust text cache, refused degenerate texts, clear
messages."""

from __future__ import annotations

import copy
import json
import multiprocessing
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
    with pytest.raises(TypeError, match="max_logit_scale|config"):
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
    with pytest.raises(FileExistsError, match="mine.txt"):
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
    with pytest.raises(ModelFileError, match="hidden_dim|shape") as err:
        gc.CaLLiPer.load(tmp_path / "m")
    assert str(config_path) in str(err.value)
    assert "cpu" not in built  # at most a shape-only (meta) module was built
