"""The embedding benchmarks' own measures, and the land-use probe on a small slice."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import land_use_probe
        import map_isotropy

        yield map_isotropy, land_use_probe
    finally:
        sys.path.remove(str(BENCH))


def test_isotropy_ratio_tells_stripes_from_an_isotropic_field(bench) -> None:
    iso, _ = bench
    y, x = np.mgrid[0:160, 0:200]
    stripes = np.stack([np.sin(x / 2.5), np.sin(y / 4.0), np.sin(x / 7.0) + np.sin(y / 3.0)])
    assert iso.axis_diagonal_ratio(stripes) > 50
    rotated = np.stack([np.sin((x + y) / 3.0), np.sin((x - y) / 5.0), np.sin((x + y) / 9.0)])
    assert iso.axis_diagonal_ratio(rotated) < 0.1  # diagonal stripes: power on the diagonals
    field = iso.isotropic_control((300, 300), seed=1)
    assert 1.0 < iso.axis_diagonal_ratio(field) < 3.0  # the separable taper's small bias


def test_principal_components_ignore_nodata(bench) -> None:
    iso, _ = bench
    rng = np.random.default_rng(0)
    values = rng.normal(size=(6, 20, 30))
    values[:, :3, :] = np.nan
    comps = iso.principal_components(values, n=3)
    assert comps.shape == (3, 20, 30) and np.isfinite(comps).all()
    assert np.all(comps[:, :3, :] == 0)
    var = comps.reshape(3, -1)[:, 90:].var(axis=1)
    assert var[0] >= var[1] >= var[2]  # ordered by explained variance


def test_knn_votes_follow_the_nearest_labels(bench) -> None:
    _, probe = bench
    train = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0], [12.0, 0.0]])
    labels = np.array(["a", "a", "b", "b", "b"], dtype=object)
    test = np.array([[0.4, 0.0], [10.5, 0.0], [5.0, 0.0]])
    preds = probe.knn_votes(train, test, labels, [1, 5])
    assert list(preds[1]) == ["a", "b", "a"]
    assert list(preds[5]) == ["b", "b", "b"]  # 3 b against 2 a


def test_smoothed_texts_is_a_gaussian_kernel_average(bench) -> None:
    _, probe = bench
    xy_fit = np.array([[0.0, 0.0], [100.0, 0.0], [5000.0, 0.0]])
    texts = np.array([[1.0, 0.0], [0.0, 1.0], [7.0, 7.0]])
    got = probe.smoothed_texts(xy_fit, texts, np.array([[25.0, 0.0]]), bandwidth=50.0, k=3)
    w = np.exp(-0.5 * (np.array([25.0, 75.0, 4975.0]) / 50.0) ** 2)
    np.testing.assert_allclose(got[0], (w / w.sum()) @ texts)


def test_quick_land_use_probe_reports_every_control(bench, shared_data, tmp_path) -> None:
    _, probe = bench
    out = tmp_path / "probe.json"
    args = ["--quick", "--data", str(shared_data), "--out", str(out), "--threads", "1"]
    report = probe.main(args)
    saved = json.loads(out.read_text())
    methods = {r["method"] for r in saved["summary"]}
    assert methods == {
        "linear probe: pretrained",
        "linear probe: untrained",
        "linear probe: encoding",
        "kNN: pretrained",
        "kNN: untrained",
        "kNN: coordinates",
        "linear probe: smoothed texts",
        "majority",
    }
    smoothed = [r for r in saved["rows"] if r["method"] == "linear probe: smoothed texts"]
    assert smoothed and {r["bandwidth"] for r in smoothed} <= {250.0, 500.0, 1000.0, 2000.0}
    assert {r["budget"] for r in saved["summary"]} == {0.01, 0.1, 1.0}
    for row in saved["rows"]:
        assert 0 <= row["accuracy"] <= 100 and row["n_test"] > 0
        assert row["isotropy_ratio"] > 0 and row["steps"] == 200
    assert report["n_pois"] == 3000
