"""The Grid encoding against an independent NumPy evaluation, and the FCNet shape."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geocalliper.encoders import FCNet, GridEncoding, LocationEncoder, grid_frequencies


def numpy_grid(xy: np.ndarray, s: int, lmin: float, lmax: float) -> np.ndarray:
    """The DESIGN formula written out independently in float64 NumPy."""
    scales = np.arange(s)
    omega = 1.0 / (lmin * (lmax / lmin) ** (scales / (s - 1)))
    feats = []
    for c in range(2):
        for w in omega:
            feats.append(np.sin(w * xy[:, c]))
            feats.append(np.cos(w * xy[:, c]))
    return np.stack(feats, axis=1)


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture
def utm_points() -> np.ndarray:
    # Projected metres as in a real UTM zone (NYC in EPSG:32618): large coordinates.
    rng = np.random.default_rng(0)
    return np.column_stack([rng.uniform(5.6e5, 6.2e5, 5000), rng.uniform(4.48e6, 4.53e6, 5000)])


def test_frequencies_follow_the_formula() -> None:
    omega = grid_frequencies(32, 100.0, 10_000.0).numpy()
    assert omega[0] == pytest.approx(1 / 100.0)
    assert omega[-1] == pytest.approx(1 / 10_000.0)
    ratios = omega[1:] / omega[:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)  # geometric


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_grid_matches_numpy_formula(utm_points: np.ndarray, dtype: torch.dtype) -> None:
    enc = GridEncoding(32, 100.0, 10_000.0, dtype=dtype)
    ours = enc(torch.from_numpy(utm_points)).numpy()
    ref = numpy_grid(utm_points, 32, 100.0, 10_000.0)
    assert ours.shape == (5000, 128)
    assert ours.dtype == (np.float32 if dtype == torch.float32 else np.float64)
    assert rel_err(ours.astype(np.float64), ref) < 1e-6
    # and element-wise, not only on average
    assert np.abs(ours - ref).max() < (1e-6 if dtype == torch.float32 else 1e-9)


def test_grid_layout_is_x_then_y_with_sin_cos_pairs() -> None:
    enc = GridEncoding(4, 10.0, 1000.0, dtype=torch.float64)
    out = enc(torch.tensor([[5.0, 0.0]], dtype=torch.float64)).numpy()[0]
    # y = 0: sin 0 = 0, cos 0 = 1 in the second half
    np.testing.assert_allclose(out[8:], [0, 1] * 4, atol=1e-12)
    np.testing.assert_allclose(out[0], np.sin(0.5), rtol=1e-12)
    np.testing.assert_allclose(out[1], np.cos(0.5), rtol=1e-12)


def test_grid_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="lambda_min"):
        GridEncoding(8, 1000.0, 10.0)
    with pytest.raises(ValueError, match="num_scales"):
        GridEncoding(0)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        GridEncoding(4)(torch.zeros(3, 3))


def test_fcnet_has_the_reference_shape() -> None:
    net = FCNet(128)
    assert (net.input.in_features, net.input.out_features) == (128, 256)
    assert len(net.blocks) == 4
    assert net.output.bias is None and net.output.out_features == 128
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == 128 * 256 + 256 + 4 * 2 * (256 * 256 + 256) + 256 * 128


def test_residual_block_adds_its_input() -> None:
    net = FCNet(4, 4, hidden_features=8, num_blocks=1).eval()
    block = net.blocks[0]
    for p in block.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(3, 8)
    torch.testing.assert_close(block(x), x)  # zero branch: identity


def test_location_encoder_float64_and_dropout_only_in_training() -> None:
    enc = LocationEncoder(num_scales=8, embedding_dim=16, dtype=torch.float64)
    xy = torch.rand(10, 2, dtype=torch.float64) * 1e4
    assert enc.eval()(xy).dtype == torch.float64
    torch.testing.assert_close(enc(xy), enc(xy))  # eval: deterministic
    enc.train()
    assert not torch.equal(enc(xy), enc(xy))  # dropout active
