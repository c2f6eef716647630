"""Reduced-precision inference: ``embed_coords`` / ``embed`` with ``precision="bf16"`` or
``"int8"`` stays close to fp32, keeps float32 output, converts the network once and
rebuilds it when the weights change.

Tolerances come from measurement on the ``fitted`` fixture (16 scales, 64 hidden, 32 out,
150 steps on the real Helsinki POIs), all 2,112 POIs, embedding norms 0.91-1.75: the
largest per-point error ``|e - e_fp32| / |e_fp32|`` (L2) was 0.64% for bf16 (8-bit
mantissa: ~0.4% per rounding, through 10 layers) and 2.4% for int8 (8-bit weights and
per-batch activations), the smallest cosine 0.99998 and 0.99974. The bounds below are
about three times those; a path that ignored the precision would fail the "not
identical" checks, a broken conversion the closeness checks.
"""

from __future__ import annotations

import copy
import pickle
import warnings

import geopandas as gpd
import numpy as np
import pytest
import torch

import geocalliper as gc
from geocalliper.calliper import estimator as estimator_module
from geocalliper.calliper.estimator import PRECISIONS, check_precision, low_precision_net
from geocalliper.encoders import FCNet
from geocalliper.exceptions import SlowPrecisionWarning
from geocalliper.spatial.coords import geometries_to_xy

#: largest per-point relative L2 error allowed (measured: bf16 0.64%, int8 2.4%)
REL_TOL = {"bf16": 0.02, "int8": 0.08}
#: smallest cosine similarity to the fp32 embedding allowed (measured 0.99998, 0.99974)
COS_TOL = {"bf16": 0.9995, "int8": 0.995}


#: this CPU may lack native bf16: the speed warning is tested on its own below
pytestmark = pytest.mark.filterwarnings("ignore::geocalliper.exceptions.SlowPrecisionWarning")


@pytest.fixture(scope="module")
def xy(fitted: gc.CaLLiPer, helsinki_pois: gpd.GeoDataFrame) -> np.ndarray:
    """The real Helsinki POIs in the model's CRS."""
    return geometries_to_xy(helsinki_pois.geometry, fitted.crs_, warn=False)


def relative_errors(low: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-point L2 error relative to the fp32 norm, and cosine similarity."""
    norm = np.linalg.norm(ref, axis=1)
    rel = np.linalg.norm(low - ref, axis=1) / norm
    cos = (low * ref).sum(axis=1) / (np.linalg.norm(low, axis=1) * norm)
    return rel, cos


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_reduced_precision_is_close_to_fp32(
    fitted: gc.CaLLiPer, xy: np.ndarray, precision: str
) -> None:
    ref = fitted.embed_coords(xy)
    low = fitted.embed_coords(xy, precision=precision)
    assert low.dtype == np.float32 and low.shape == ref.shape == (len(xy), 32)
    assert np.isfinite(low).all()
    rel, cos = relative_errors(low, ref)
    assert rel.max() < REL_TOL[precision], rel.max()
    assert cos.min() > COS_TOL[precision], cos.min()
    # the reduced precision really ran: its rounding shows
    assert np.abs(low - ref).max() > 1e-5
    # batching does not change the result beyond rounding
    small = fitted.embed_coords(xy[:500], precision=precision, batch_size=64)
    np.testing.assert_allclose(small, low[:500], atol=REL_TOL[precision])
    unit = fitted.embed_coords(xy[:100], precision=precision, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)


def test_fp32_is_the_default_and_exact(fitted: gc.CaLLiPer, xy: np.ndarray) -> None:
    np.testing.assert_array_equal(
        fitted.embed_coords(xy[:300], precision="fp32"), fitted.embed_coords(xy[:300])
    )
    with torch.inference_mode():
        direct = fitted.module_.location(torch.from_numpy(xy[:300])).numpy()
    np.testing.assert_array_equal(fitted.embed_coords(xy[:300]), direct)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_embed_forwards_precision(
    fitted: gc.CaLLiPer, helsinki_pois: gpd.GeoDataFrame, xy: np.ndarray, precision: str
) -> None:
    pts = helsinki_pois.head(200)
    emb = fitted.embed(pts, precision=precision)
    assert list(emb.index) == list(pts.index)
    assert (emb.dtypes == np.float32).all()
    np.testing.assert_array_equal(
        emb.to_numpy(), fitted.embed_coords(xy[:200], precision=precision)
    )
    assert not np.array_equal(emb.to_numpy(), fitted.embed(pts).to_numpy())


def test_converted_network_is_cached(
    fitted: gc.CaLLiPer, xy: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = copy.deepcopy(fitted)  # leave the shared fixture's cache alone
    assert "_precision_nets" not in model.__dict__
    calls: list[str] = []

    def counting(net: torch.nn.Module, precision: str) -> tuple[torch.nn.Module, torch.dtype]:
        calls.append(precision)
        return low_precision_net(net, precision)

    monkeypatch.setattr(estimator_module, "low_precision_net", counting)
    first = model.embed_coords(xy[:100], precision="int8")
    net, _ = model._low_precision_net("int8")
    second = model.embed_coords(xy[:100], precision="int8")
    model.embed_coords(xy[:100], precision="bf16")
    model.embed_coords(xy[:100], precision="bf16")
    model.embed_coords(xy[:100])
    assert calls == ["int8", "bf16"]
    assert model._low_precision_net("int8")[0] is net
    np.testing.assert_array_equal(first, second)
    # the converted copies are what their names say; the model's own net is untouched
    quantized = [m for m in net.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert len(quantized) == 10  # input, 4 blocks x 2, output
    bf16 = model._low_precision_net("bf16")[0]
    assert {p.dtype for p in bf16.parameters()} == {torch.bfloat16}
    assert {p.dtype for p in model.module_.parameters()} == {torch.float32}


def test_changed_weights_rebuild_the_cache(fitted: gc.CaLLiPer, xy: np.ndarray) -> None:
    model = copy.deepcopy(fitted)
    before = model.embed_coords(xy[:300], precision="int8")
    with torch.no_grad():  # in place, as load_state_dict or an optimiser step would
        model.module_.location.net.output.weight.mul_(2.0)
    after = model.embed_coords(xy[:300], precision="int8")
    np.testing.assert_allclose(after, 2.0 * before, rtol=0.1, atol=0.05)
    rel, _ = relative_errors(after, model.embed_coords(xy[:300]))
    assert rel.max() < REL_TOL["int8"]


def test_refit_invalidates_the_cache(helsinki_pois: gpd.GeoDataFrame) -> None:
    params = dict(
        num_scales=8, hidden_dim=32, embedding_dim=16, num_blocks=1, batch_size=128,
        max_steps=10, eval_every=5, min_steps=0, progress=False, device="cpu",
    )  # fmt: skip
    model = gc.CaLLiPer(**params, seed=1).fit(helsinki_pois)
    xy = geometries_to_xy(helsinki_pois.geometry.head(300), model.crs_, warn=False)
    old = model.embed_coords(xy, precision="int8")
    old_net = model._low_precision_net("int8")[0]
    model.set_params(seed=2).fit(helsinki_pois)
    new = model.embed_coords(xy, precision="int8")
    assert model._low_precision_net("int8")[0] is not old_net
    ref = model.embed_coords(xy)
    rel, _ = relative_errors(new, ref)
    assert rel.max() < REL_TOL["int8"]
    assert np.abs(new - old).max() > 10 * np.abs(new - ref).max()  # not the old weights


def test_pickle_drops_the_converted_networks(fitted: gc.CaLLiPer, xy: np.ndarray) -> None:
    model = copy.deepcopy(fitted)
    emb = model.embed_coords(xy[:100], precision="int8")
    assert "_precision_nets" in model.__dict__
    again = pickle.loads(pickle.dumps(model))
    assert "_precision_nets" not in again.__dict__
    np.testing.assert_array_equal(again.embed_coords(xy[:100], precision="int8"), emb)


@pytest.mark.parametrize("bad", ["fp16", "FP32", "int4", "", None, 8, torch.bfloat16])
def test_bad_precision_is_refused(
    fitted: gc.CaLLiPer, helsinki_pois: gpd.GeoDataFrame, xy: np.ndarray, bad: object
) -> None:
    with pytest.raises(ValueError, match="'fp32', 'bf16', 'int8'"):
        fitted.embed_coords(xy[:5], precision=bad)
    with pytest.raises(ValueError, match="precision must be one of"):
        fitted.embed(helsinki_pois.head(5), precision=bad)
    assert "_precision_nets" not in fitted.__dict__ or bad not in fitted._precision_nets


def test_precisions_named() -> None:
    assert PRECISIONS == ("fp32", "bf16", "int8")
    assert [check_precision(p) for p in PRECISIONS] == list(PRECISIONS)


def test_int8_refuses_a_model_off_the_cpu() -> None:
    with torch.device("meta"):  # stands in for a GPU: any device but the CPU
        net = FCNet(8, 4, hidden_features=16, num_blocks=1)
    with pytest.raises(ValueError, match=r"CPU only.*precision='bf16'"):
        low_precision_net(net, "int8")
    low, dtype = low_precision_net(net, "bf16")  # bf16 has kernels on every device
    assert dtype == torch.bfloat16 and next(low.parameters()).device.type == "meta"


@pytest.mark.parametrize("native", [False, True])
def test_bf16_warns_where_the_cpu_emulates_it(
    fitted: gc.CaLLiPer, xy: np.ndarray, monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    model = copy.deepcopy(fitted)
    monkeypatch.setattr(estimator_module, "_cpu_has_bf16", lambda: native)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.embed_coords(xy[:10], precision="bf16")
        model.embed_coords(xy[:10], precision="int8")
    slow = [w for w in caught if issubclass(w.category, SlowPrecisionWarning)]
    assert len(slow) == (0 if native else 1)
    if slow:
        assert "precision='int8'" in str(slow[0].message)
