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
from geocalliper.exceptions import (
    ModelFileError,
    NotFittedError,
    TrainingDivergedError,
    UndertrainedWarning,
)
from geocalliper.text import TextEncoder


def test_fit_learns_and_keeps_the_best_step(fitted: gc.CaLLiPer) -> None:
    h = fitted.history_
    assert list(h.columns) == [
        "step",
        "epoch",
        "train_loss",
        "val_loss",
        "val_mrr",
        "temperature",
        "learning_rate",
        "seconds",
    ]
    assert h["val_loss"].min() < h["val_loss"].iloc[0]  # it learned something
    assert fitted.best_step_ == int(h.loc[h["val_loss"].idxmin(), "step"])
    assert fitted.best_epoch_ == pytest.approx(h.loc[h["val_loss"].idxmin(), "epoch"])
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


def test_same_text_copies_in_a_batch_are_not_false_negatives() -> None:
    # treating pairs with the same text as positives (each row's target spread over
    # the columns of its text) gives exactly the reference loss when equal texts share
    # one vector, as they do in fit: the copies have identical logits
    torch.manual_seed(1)
    loc = torch.nn.functional.normalize(torch.randn(6, 3), dim=1)
    ids = torch.tensor([0, 1, 0, 2, 1, 0])
    table = torch.nn.functional.normalize(torch.randn(3, 3), dim=1)
    txt = table[ids]
    s = torch.tensor(1.5)
    logits = (np.exp(1.5) * loc @ txt.T).numpy().astype(np.float64)
    same = (ids[:, None] == ids[None, :]).numpy().astype(np.float64)
    target = same / same.sum(axis=1, keepdims=True)

    def soft_ce(m: np.ndarray) -> float:
        logp = m - np.log(np.exp(m).sum(axis=1, keepdims=True))
        return float(-(target * logp).sum(axis=1).mean())

    positives = 0.5 * (soft_ce(logits) + soft_ce(logits.T))
    assert float(contrastive_loss(loc, txt, s)) == pytest.approx(positives, rel=1e-6)
    # with distinct vectors for the "same" text, the two would differ
    noisy = txt + 0.3 * torch.randn_like(txt)
    logits = (np.exp(1.5) * loc @ noisy.T).numpy().astype(np.float64)
    assert float(contrastive_loss(loc, noisy, s)) != pytest.approx(
        0.5 * (soft_ce(logits) + soft_ce(logits.T)), rel=1e-3
    )


def test_logit_scale_can_be_left_free_and_text_unnormalised() -> None:
    from geocalliper.calliper import CaLLiPerModule

    m = CaLLiPerModule(
        text_dim=4, num_scales=2, embedding_dim=4, max_logit_scale=None, normalize_text=False
    )
    with torch.no_grad():
        m.logit_scale.fill_(10.0)
    m.clamp_logit_scale_()
    assert float(m.logit_scale.detach()) == 10.0  # the reference: no cap
    _, txt = m(torch.zeros(3, 2, dtype=torch.float64), torch.randn(3, 4) * 50)
    assert not torch.allclose(txt.norm(dim=1), torch.ones(3))


def test_diverged_fit_raises_instead_of_returning_initial_weights(
    helsinki_pois: gpd.GeoDataFrame,
) -> None:
    with pytest.raises(TrainingDivergedError, match="learning_rate"):
        gc.CaLLiPer(learning_rate=1e10, max_steps=50, progress=False).fit(helsinki_pois)


def test_nan_text_vectors_are_refused(helsinki_pois: gpd.GeoDataFrame, monkeypatch) -> None:
    original = TextEncoder.encode_unique

    def poisoned(self, texts):
        table, codes = original(self, texts)
        table = table.copy()
        table[0] = np.nan
        return table, codes

    monkeypatch.setattr(TextEncoder, "encode_unique", poisoned)
    with pytest.raises(TrainingDivergedError, match="NaN"):
        gc.CaLLiPer(max_steps=20, progress=False).fit(helsinki_pois)


def test_small_data_trains_in_steps_and_says_when_the_batch_is_too_big(
    helsinki_pois: gpd.GeoDataFrame,
) -> None:
    small = helsinki_pois.sample(n=300, random_state=0)
    with pytest.warns(UndertrainedWarning, match="larger than the 270 training POIs"):
        model = gc.CaLLiPer(
            batch_size=1024, max_steps=60, min_steps=0, eval_every=20, progress=False
        ).fit(small)
    # 270 training POIs in one batch: one step an epoch, and still 60 optimiser steps
    assert list(model.history_["step"]) == [20, 40, 60]
    assert model.history_["epoch"].iloc[-1] == 60


def test_an_early_best_step_warns(helsinki_pois: gpd.GeoDataFrame) -> None:
    with pytest.warns(UndertrainedWarning, match="barely trained"):
        model = gc.CaLLiPer(max_steps=40, eval_every=10, min_steps=1000, progress=False).fit(
            helsinki_pois
        )
    assert model.best_step_ <= 40


def test_learning_rate_schedule_warms_up_then_decays() -> None:
    from geocalliper.calliper.training import lr_factor

    assert lr_factor(5, 100, 10, "cosine") == pytest.approx(0.5)
    assert lr_factor(10, 100, 10, "cosine") == pytest.approx(1.0)
    assert lr_factor(100, 100, 10, "cosine") == pytest.approx(0.0, abs=1e-12)
    assert lr_factor(80, 100, 10, "constant") == 1.0
    with pytest.raises(ValueError, match="lr_schedule"):
        gc.CaLLiPer(lr_schedule="linear").fit(gpd.GeoDataFrame())


@pytest.mark.parametrize("encoding", ["grid", "theory", "rff", "sphere"])
def test_every_encoding_fits_saves_and_loads(
    encoding: str, helsinki_pois: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    model = gc.CaLLiPer(
        encoding=encoding,
        num_scales=8,
        hidden_dim=32,
        embedding_dim=16,
        max_steps=30,
        min_steps=0,
        progress=False,
    ).fit(helsinki_pois)
    if encoding == "sphere":
        assert model.crs_.to_epsg() == 4087  # the sphere reads WGS 84 / World Equidistant
    else:
        assert model.crs_.to_epsg() == 32635
    same = gc.CaLLiPer.load(model.save(tmp_path / encoding))
    assert same.encoding == encoding
    np.testing.assert_array_equal(
        model.embed(helsinki_pois.head(50)).to_numpy(),
        same.embed(helsinki_pois.head(50)).to_numpy(),
    )


def test_sphere_refuses_another_crs(helsinki_pois: gpd.GeoDataFrame) -> None:
    with pytest.raises(gc.exceptions.CRSError, match="EPSG:4087"):
        gc.CaLLiPer(encoding="sphere", crs="EPSG:3067", max_steps=5).fit(helsinki_pois)


def test_model_files_from_before_the_encoding_option_load_as_grid(
    helsinki_pois: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    from geocalliper._constants import CALLIPER_KIND
    from geocalliper.io.persistence import save_model_dir

    model = gc.CaLLiPer(
        encoding="grid",
        num_scales=8,
        hidden_dim=32,
        embedding_dim=16,
        max_steps=20,
        min_steps=0,
        progress=False,
    ).fit(helsinki_pois)
    path = model.save(tmp_path / "new")
    config = json.loads((path / "config.json").read_text())
    # an older file: no encoding, normalize_text or step options
    for key in (
        "encoding",
        "frequencies_per_scale",
        "normalize_text",
        "max_steps",
        "warmup_steps",
        "lr_schedule",
        "eval_every",
        "min_steps",
    ):
        config["params"].pop(key)
    old = save_model_dir(tmp_path / "old", CALLIPER_KIND, config, model.module_.state_dict())
    loaded = gc.CaLLiPer.load(old)
    assert loaded.encoding == "grid"
    np.testing.assert_array_equal(
        model.embed(helsinki_pois.head(20)).to_numpy(),
        loaded.embed(helsinki_pois.head(20)).to_numpy(),
    )


def test_location_noise_auto_is_twice_the_spacing_and_is_saved(
    helsinki_pois: gpd.GeoDataFrame, tmp_path: Path
) -> None:
    from scipy.spatial import ConvexHull

    from geocalliper.calliper.dataset import train_val_split

    kw = dict(num_scales=8, hidden_dim=32, embedding_dim=16, max_steps=30, min_steps=0)
    kw |= dict(progress=False, device="cpu", seed=2)
    noisy = gc.CaLLiPer(location_noise="auto", **kw).fit(helsinki_pois)
    xy = helsinki_pois.to_crs(noisy.crs_).geometry.get_coordinates().to_numpy()
    train, _ = train_val_split(len(xy), noisy.val_fraction, 2)
    spacing = np.sqrt(ConvexHull(xy[train]).volume / len(train))
    assert noisy.location_noise_ == pytest.approx(2 * spacing)
    assert 10 < noisy.location_noise_ < 5000  # metres, for a city's POIs
    plain = gc.CaLLiPer(**kw).fit(helsinki_pois)
    assert plain.location_noise_ == 0.0
    # the noise changes what is learnt (same seed, same batches otherwise)
    a = noisy.embed(helsinki_pois.head(20)).to_numpy()
    assert not np.allclose(a, plain.embed(helsinki_pois.head(20)).to_numpy())
    noisy.save(tmp_path / "m")
    loaded = gc.CaLLiPer.load(tmp_path / "m")
    assert loaded.location_noise == "auto"
    assert loaded.location_noise_ == pytest.approx(noisy.location_noise_)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "wide", True])
def test_bad_location_noise_is_refused(bad, helsinki_pois: gpd.GeoDataFrame) -> None:
    # a bool is the wrong type (TypeError); the others are out of range (ValueError)
    with pytest.raises((TypeError, ValueError), match="location_noise"):
        gc.CaLLiPer(location_noise=bad, progress=False).fit(helsinki_pois)


def test_history_reports_a_retrieval_score_of_the_validation_pois(
    helsinki_pois: gpd.GeoDataFrame,
) -> None:
    from geocalliper.calliper.dataset import ContrastiveDataset
    from geocalliper.calliper.training import evaluate_retrieval

    model = gc.CaLLiPer(num_scales=8, hidden_dim=32, embedding_dim=16, max_steps=50)
    model.set_params(min_steps=0, progress=False, device="cpu").fit(helsinki_pois)
    mrr = model.history_["val_mrr"]
    assert ((mrr > 0) & (mrr <= 1)).all()
    # the formula by hand on three POIs with two texts: ranks of their own text
    module = model.module_
    table = torch.randn(2, module.text_projector.in_features)
    coords = torch.tensor([[0.0, 0.0], [500.0, 0.0], [0.0, 900.0]], dtype=torch.float64)
    xy = coords + torch.tensor(model.training_extent_[:2], dtype=torch.float64)
    data = ContrastiveDataset(xy, table, torch.tensor([0, 1, 1]))
    with torch.no_grad():
        loc = torch.nn.functional.normalize(module.location(xy), dim=-1)
        txt = torch.nn.functional.normalize(module.project_text(table), dim=-1)
        scores = loc @ txt.T
    ranks = [1 + int((scores[i] > scores[i, c]).sum()) for i, c in enumerate([0, 1, 1])]
    expected = float(np.mean([1 / r for r in ranks]))
    got = evaluate_retrieval(module, data, torch.arange(3), batch_size=2)
    assert got == pytest.approx(expected)
