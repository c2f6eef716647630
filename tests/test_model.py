"""CaLLiPer end to end on real POIs: learning, embedding, CRS handling, save/load."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import torch

import geocalliper as gc
from geocalliper.calliper.module import contrastive_loss
from geocalliper.exceptions import ModelFileError, NotFittedError
from geocalliper.text import TextEncoder


def test_fit_learns_and_keeps_the_best_epoch(fitted: gc.CaLLiPer) -> None:
    h = fitted.history_
    assert list(h.columns) == ["epoch", "train_loss", "val_loss", "temperature", "seconds"]
    assert h["val_loss"].iloc[-1] < h["val_loss"].iloc[0]  # it learned something
    assert fitted.best_epoch_ == int(h.loc[h["val_loss"].idxmin(), "epoch"])
    assert fitted.crs_.to_epsg() == 32635  # Helsinki's UTM zone
    assert 0.01 <= fitted._temperature() <= 1.0


def test_locations_match_their_own_poi_texts(
    fitted: gc.CaLLiPer, helsinki_pois: gpd.GeoDataFrame
) -> None:
    """On the training POIs, location embeddings rank their own texts well above chance.

    InfoNCE learns ``exp(s)·cos(l, t) ≈ log p(t | l) / p(t) + const``, so the text
    posterior is the similarity logit plus the log prior of the text. With the prior
    alone (the majority ranking) as the control, the location must add information.
    """
    labels = sorted(set(helsinki_pois["text"]))
    txt = TextEncoder(progress=False).encode(labels)
    with torch.no_grad():
        proj = fitted.module_.project_text(torch.from_numpy(txt))
        t = torch.nn.functional.normalize(proj, dim=1).numpy()
        scale = float(fitted.module_.logit_scale.exp())
    loc = fitted.embed(helsinki_pois, normalize=True).to_numpy()
    counts = helsinki_pois["text"].value_counts()
    log_prior = np.log(counts.reindex(labels).to_numpy() / len(helsinki_pois))
    ranks = np.argsort(-(scale * loc @ t.T + log_prior), axis=1)
    truth = np.searchsorted(labels, helsinki_pois["text"])
    for k in (1, 5):
        top_k = (ranks[:, :k] == truth[:, None]).any(axis=1).mean()
        majority_k = counts.head(k).sum() / len(helsinki_pois)
        assert top_k > majority_k + 0.05, (k, top_k, majority_k)


def test_embed_is_aligned_float32_and_batched(
    fitted: gc.CaLLiPer, helsinki_pois: gpd.GeoDataFrame
) -> None:
    pts = helsinki_pois.set_index(helsinki_pois.index * 10 + 7)
    emb = fitted.embed(pts)
    assert emb.index.equals(pts.index)
    assert list(emb.columns) == [f"calliper_{i}" for i in range(32)]
    assert set(emb.dtypes) == {np.dtype("float32")}
    small_batches = fitted.embed(pts, batch_size=100)
    np.testing.assert_allclose(small_batches.to_numpy(), emb.to_numpy(), rtol=1e-5, atol=1e-6)
    unit = fitted.embed(pts.geometry, normalize=True).to_numpy()
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:32635", "EPSG:3067", "EPSG:3857"])
def test_same_places_in_any_crs_embed_the_same(
    fitted: gc.CaLLiPer, helsinki_pois: gpd.GeoDataFrame, crs: str
) -> None:
    pts = helsinki_pois.head(200)
    ref = fitted.embed(pts).to_numpy()
    other = fitted.embed(pts.to_crs(crs)).to_numpy()
    np.testing.assert_allclose(other, ref, atol=2e-4)


def test_embeds_places_it_never_saw(fitted: gc.CaLLiPer) -> None:
    from shapely.geometry import Point

    new = gpd.GeoSeries([Point(24.95, 60.17), Point(24.9501, 60.1701)], crs=4326)
    emb = fitted.embed(new).to_numpy()
    assert np.isfinite(emb).all()
    assert not np.allclose(emb[0], emb[1])  # continuous, not a lookup table


def test_save_load_gives_identical_embeddings(
    fitted: gc.CaLLiPer, helsinki_pois: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    fitted.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["params"]["num_scales"] == 16 and config["crs"]["epsg"] == 32635
    assert config["text_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    loaded = gc.CaLLiPer.load(tmp_path / "m", device="cpu")
    np.testing.assert_array_equal(
        loaded.embed(helsinki_pois).to_numpy(), fitted.embed(helsinki_pois).to_numpy()
    )
    runtime = {"device": None, "progress": None, "cache_dir": None}  # not saved: how it runs
    assert loaded.get_params() | runtime == fitted.get_params() | runtime
    assert loaded.history_.equals(fitted.history_)


def _saved(fitted: gc.CaLLiPer, tmp_path: Path) -> Path:
    path = tmp_path / "m"
    fitted.save(path)
    return path


def test_load_refuses_missing_files(fitted: gc.CaLLiPer, tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="No model directory"):
        gc.CaLLiPer.load(tmp_path / "nowhere")
    path = _saved(fitted, tmp_path)
    (path / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match=r"has no model\.safetensors"):
        gc.CaLLiPer.load(path)


def test_load_refuses_altered_weights(fitted: gc.CaLLiPer, tmp_path: Path) -> None:
    path = _saved(fitted, tmp_path)
    data = bytearray((path / "model.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="altered"):
        gc.CaLLiPer.load(path)


def test_load_refuses_corrupt_or_mismatched_config(fitted: gc.CaLLiPer, tmp_path: Path) -> None:
    path = _saved(fitted, tmp_path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        gc.CaLLiPer.load(path)
    bad = dict(config, params=dict(config["params"], hidden_dim=128))
    (path / "config.json").write_text(json.dumps(bad))
    with pytest.raises(ModelFileError, match="does not match"):
        gc.CaLLiPer.load(path)
    (path / "config.json").write_text(json.dumps(dict(config, kind="something.Else")))
    with pytest.raises(ModelFileError, match="not a"):
        gc.CaLLiPer.load(path)


def test_save_is_atomic(fitted: gc.CaLLiPer, tmp_path: Path, monkeypatch) -> None:
    path = _saved(fitted, tmp_path)
    before = {p.name: p.read_bytes() for p in path.iterdir()}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        fitted.save(path)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before  # no temp files left


def test_same_seed_same_model(helsinki_pois: gpd.GeoDataFrame) -> None:
    kw = dict(
        num_scales=8,
        hidden_dim=32,
        embedding_dim=16,
        batch_size=256,
        max_epochs=2,
        progress=False,
        device="cpu",
    )
    a = gc.CaLLiPer(seed=3, **kw).fit(helsinki_pois).embed(helsinki_pois.head(20))
    b = gc.CaLLiPer(seed=3, **kw).fit(helsinki_pois).embed(helsinki_pois.head(20))
    c = gc.CaLLiPer(seed=4, **kw).fit(helsinki_pois).embed(helsinki_pois.head(20))
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert not np.allclose(a.to_numpy(), c.to_numpy())


def test_float64_model(helsinki_pois: gpd.GeoDataFrame) -> None:
    model = gc.CaLLiPer(
        num_scales=8,
        hidden_dim=32,
        embedding_dim=16,
        max_epochs=1,
        dtype="float64",
        progress=False,
        device="cpu",
    ).fit(helsinki_pois)
    assert set(model.embed(helsinki_pois.head()).dtypes) == {np.dtype("float64")}


def test_given_crs_is_used(helsinki_pois: gpd.GeoDataFrame) -> None:
    model = gc.CaLLiPer(
        crs="EPSG:3067", num_scales=8, hidden_dim=32, embedding_dim=16, max_epochs=1, progress=False
    ).fit(helsinki_pois)
    assert model.crs_.to_epsg() == 3067


def test_contrastive_loss_formula() -> None:
    torch.manual_seed(0)
    loc = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
    txt = torch.nn.functional.normalize(torch.randn(6, 4), dim=1)
    s = torch.tensor(np.log(1 / 0.07))
    logits = (np.exp(float(s)) * loc @ txt.T).numpy().astype(np.float64)

    def ce(m: np.ndarray) -> float:
        m = m - m.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(m).sum(axis=1)) - np.diag(m)))

    expected = 0.5 * (ce(logits) + ce(logits.T))
    assert float(contrastive_loss(loc, txt, s)) == pytest.approx(expected, rel=1e-5)


def test_logit_scale_is_clamped() -> None:
    from geocalliper.calliper import CaLLiPerModule

    m = CaLLiPerModule(text_dim=4, num_scales=2, embedding_dim=4, max_logit_scale=100.0)
    with torch.no_grad():
        m.logit_scale.fill_(10.0)
    m.clamp_logit_scale_()
    assert float(m.logit_scale.detach().exp()) == pytest.approx(100.0)


def test_not_fitted() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        gc.CaLLiPer().embed(gpd.GeoSeries([], crs=4326))
