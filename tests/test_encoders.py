"""The Grid encoding against an independent NumPy evaluation, and the FCNet shape."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from geocalliper.encoders import (
    ENCODINGS,
    FCNet,
    GridEncoding,
    LocationEncoder,
    PositionalEncoding,
    RandomFourierEncoding,
    SphericalFourierEncoding,
    TheoryEncoding,
    grid_frequencies,
    make_encoding,
)


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


# --------------------------------------------------------------------------- other encodings


def test_every_encoding_is_registered_and_builds_from_one_set_of_options() -> None:
    assert set(ENCODINGS) == {"grid", "theory", "rff", "sphere"}
    widths = {}
    for name in ENCODINGS:
        enc = make_encoding(name, num_scales=8, lambda_min=50.0, lambda_max=5e3, seed=3)
        assert isinstance(enc, PositionalEncoding) and enc.name == name
        out = enc(torch.zeros(4, 2, dtype=torch.float64))
        assert out.shape == (4, enc.out_features)
        widths[name] = enc.out_features
    assert widths == {"grid": 32, "theory": 48, "rff": 32, "sphere": 32}
    with pytest.raises(ValueError, match="choose one of"):
        make_encoding("hexagon")


def test_theory_matches_the_three_direction_formula(utm_points: np.ndarray) -> None:
    s, lmin, lmax = 6, 100.0, 10_000.0
    enc = TheoryEncoding(s, lmin, lmax, dtype=torch.float64)
    ours = enc(torch.from_numpy(utm_points)).numpy()
    omega = 1.0 / (lmin * (lmax / lmin) ** (np.arange(s) / (s - 1)))
    ref = []
    for theta in np.radians([0.0, 120.0, 240.0]):
        proj = utm_points[:, 0] * np.cos(theta) + utm_points[:, 1] * np.sin(theta)
        for w in omega:
            ref += [np.sin(w * proj), np.cos(w * proj)]
    assert np.abs(ours - np.stack(ref, axis=1)).max() < 1e-8


def test_rff_features_are_sin_cos_of_seeded_gaussian_frequencies(utm_points: np.ndarray) -> None:
    enc = RandomFourierEncoding(4, 100.0, 1_000.0, frequencies_per_scale=500, seed=7)
    freq = enc.frequencies.numpy()  # (2, 4 * 500), scale by scale
    assert freq.shape == (2, 2000)
    scales = 100.0 * 10.0 ** (np.arange(4) / 3)
    for i, lam in enumerate(scales):  # N(0, 1/lambda^2) per axis, both axes alike
        block = freq[:, i * 500 : (i + 1) * 500]
        assert np.std(block) * lam == pytest.approx(1.0, rel=0.1)
        assert abs(np.mean(block)) * lam < 0.1
    small = RandomFourierEncoding(3, 100.0, 1_000.0, frequencies_per_scale=2, seed=7)
    out = small.to(torch.float64)(torch.from_numpy(utm_points[:50])).numpy()
    phase = utm_points[:50] @ small.frequencies.numpy()
    ref = np.stack([np.sin(phase), np.cos(phase)], axis=-1).reshape(50, -1)
    assert np.abs(out - ref).max() < 1e-6  # float32 output, float64 phase
    again = RandomFourierEncoding(3, 100.0, 1_000.0, frequencies_per_scale=2, seed=7)
    torch.testing.assert_close(again.frequencies, small.frequencies)  # seeded
    other = RandomFourierEncoding(3, 100.0, 1_000.0, frequencies_per_scale=2, seed=8)
    assert not torch.equal(other.frequencies, small.frequencies)


def test_rff_has_no_preferred_axis_where_grid_does() -> None:
    # the similarity kernel of the features, k(d) = mean cos(omega . d), for a step of
    # 600 m along x and along the diagonal: equal for an isotropic encoding
    def kernel(enc: PositionalEncoding, d: np.ndarray) -> float:
        a = enc(torch.zeros(1, 2, dtype=torch.float64)).double()
        b = enc(torch.from_numpy(d[None])).double()
        return float((a * b).sum() / (a * a).sum())

    along = np.array([600.0, 0.0])
    diagonal = np.array([600.0, 600.0]) / np.sqrt(2.0)
    rff = RandomFourierEncoding(8, 100.0, 10_000.0, frequencies_per_scale=256, seed=0)
    grid = GridEncoding(8, 100.0, 10_000.0)
    assert abs(kernel(rff, along) - kernel(rff, diagonal)) < 0.03
    assert abs(kernel(grid, along) - kernel(grid, diagonal)) > 0.2


def test_sphere_has_no_seam_at_the_antimeridian_or_the_poles() -> None:
    from geocalliper.encoders.fourier import EQC_RADIUS

    enc = SphericalFourierEncoding(8, 1_000.0, 1e6, seed=0, dtype=torch.float64)

    def at(lon: float, lat: float) -> torch.Tensor:
        xy = torch.tensor([[np.radians(lon), np.radians(lat)]], dtype=torch.float64)
        return enc(xy * EQC_RADIUS)

    torch.testing.assert_close(at(180.0, 10.0), at(-180.0, 10.0))
    torch.testing.assert_close(at(0.0, 90.0), at(123.0, 90.0))
    # the features are those of the 3-D point on the sphere: continuous everywhere
    lon, lat = np.radians(-73.9), np.radians(40.7)
    point = EQC_RADIUS * np.array(
        [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]
    )
    phase = point @ enc.frequencies.numpy()
    ref = np.stack([np.sin(phase), np.cos(phase)], axis=-1).reshape(-1)
    np.testing.assert_allclose(at(-73.9, 40.7).numpy()[0], ref, atol=1e-6)
