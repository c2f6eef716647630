"""NextLocationPredictor on a real slice of FSQ-NYC: fit, evaluate, predict, inductive
ranking of new places, save/load and bad input."""

from __future__ import annotations

import json
import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import torch
from shapely.geometry import Point

import geocalliper as gc
from geocalliper.exceptions import (
    EmptyDataError,
    InvalidGeometryError,
    ModelFileError,
    NotFittedError,
    VisitsError,
)
from geocalliper.mobility import NextLocationPredictor, read_fsq_nyc
from geocalliper.mobility.module import MHSA

pytestmark = pytest.mark.filterwarnings("ignore:Dropped .* visits that repeat:UserWarning")

TINY = dict(
    d_model=16, n_heads=2, n_layers=1, ff_dim=32, max_epochs=3, batch_size=8, progress=False
)


@pytest.fixture(scope="module")
def visits(shared_data) -> gpd.GeoDataFrame:
    v = read_fsq_nyc(shared_data / "fsq-nyc" / "checkins.csv.gz")
    v = v[v["user_id"] <= 40].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return v


@pytest.fixture(scope="module")
def nyc_calliper(visits) -> gc.CaLLiPer:
    """A tiny CaLLiPer on the slice's own Foursquare venues (category texts)."""
    venues = visits.dropna(subset=["category"]).drop_duplicates("venue_id")
    pois = gpd.GeoDataFrame(
        {"text": "A place of " + venues["category"]}, geometry=venues.geometry.values, crs=4326
    ).reset_index(drop=True)
    model = gc.CaLLiPer(
        num_scales=8,
        hidden_dim=32,
        embedding_dim=16,
        num_blocks=1,
        batch_size=128,
        max_epochs=3,
        device="cpu",
        progress=False,
    )
    return model.fit(pois)


@pytest.fixture(scope="module")
def masked(visits) -> list:
    return gc.mobility.mask_locations(visits, 0.1, seed=0)


@pytest.fixture(scope="module")
def vanilla(visits) -> NextLocationPredictor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NextLocationPredictor(device="cpu", **TINY).fit(visits)


@pytest.fixture(scope="module")
def inductive(visits, nyc_calliper, masked) -> NextLocationPredictor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NextLocationPredictor(nyc_calliper, device="cpu", **TINY).fit(
            visits, exclude_locations=masked
        )


@pytest.fixture(scope="module")
def closed_masked(visits, nyc_calliper, masked) -> NextLocationPredictor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NextLocationPredictor(nyc_calliper, head="closed", device="cpu", **TINY).fit(
            visits, exclude_locations=masked
        )


def _test(visits):
    return visits[visits["split"] == "test"]


def _all_places(visits) -> gpd.GeoDataFrame:
    places = visits.dropna(subset=["location_id"]).drop_duplicates("location_id")
    return places[["location_id", "geometry"]].reset_index(drop=True)


# ---------------------------------------------------------------- fit / evaluate
def test_fit_learns_and_keeps_best_epoch(vanilla):
    h = vanilla.history_
    assert len(h) == 3 and {"train_loss", "val_loss", "seconds"} <= set(h.columns)
    assert h["train_loss"].iloc[-1] < h["train_loss"].iloc[0]
    assert vanilla.best_epoch_ == int(h["val_loss"].idxmin()) + 1
    assert vanilla.n_train_targets_ > 500


def test_evaluate_metrics_are_consistent(vanilla, visits):
    scores = vanilla.evaluate(_test(visits))
    assert set(scores) == {"acc@1", "acc@5", "acc@10", "mrr", "ndcg@10", "f1", "n"}
    assert 0 <= scores["acc@1"] <= scores["acc@5"] <= scores["acc@10"] <= 100
    assert scores["acc@1"] <= scores["mrr"] <= scores["acc@10"] + 100 / 11
    assert scores["n"] > 100
    ranks = vanilla.rank_targets(_test(visits))
    assert len(ranks) == scores["n"]
    top1 = ranks["rank"] == 1
    assert (ranks.loc[top1, "predicted"] == ranks.loc[top1, "location"]).all()
    # a place never seen in train (id missing) is always a miss
    assert np.isinf(ranks.loc[ranks["location"].isna(), "rank"]).all()


def test_predict_returns_top_k_places_with_geometry(vanilla, visits):
    history = _test(visits).groupby("user_id").tail(6)
    history = history[history["user_id"].isin([1, 2])]
    out = vanilla.predict(history, k=5)
    assert isinstance(out, gpd.GeoDataFrame) and out.crs.to_epsg() == 4326
    assert len(out) == 10 and out["rank"].tolist() == [1, 2, 3, 4, 5] * 2
    assert set(out["user_id"]) == {1, 2}
    assert out["location_id"].isin(vanilla.locations_.index).all()
    assert out["location_id"].dtype.kind == "i"  # integer ids come back as integers
    for _, g in out.groupby("user_id"):
        assert g["score"].is_monotonic_decreasing and g["probability"].is_monotonic_decreasing
    assert (out.geom_type == "Point").all()
    # geometry is the known location's position
    first = out.iloc[0]
    loc = vanilla.locations_.loc[first["location_id"]]
    assert first.geometry.x == pytest.approx(loc["lon"]) and first.geometry.y == pytest.approx(
        loc["lat"]
    )


def _predicted_rank(model, test, row, cands) -> float:
    """Rank of a target's true place by predict() on the visits before it."""
    user_rows = test[test["user_id"] == row["user"]].sort_values("started_at", kind="stable")
    pos = list(user_rows.index).index(row["row"])
    target = user_rows.iloc[pos]
    out = model.predict(user_rows.iloc[:pos], k=len(cands), candidates=cands,
                        at=target["started_at"])  # fmt: skip
    hit = out.loc[out["location_id"] == target["location_id"], "rank"]
    return float(hit.iloc[0]) if len(hit) else math.inf


@pytest.mark.parametrize("layers", [1, 2])
def test_predict_agrees_with_the_evaluation_pass(visits, nyc_calliper, layers):
    """predict() on the visits before a target ranks its true place exactly as
    rank_targets() does, for targets anywhere in a user's sequence, in deep models too:
    both score each target on its own window, as the reference samples do."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = NextLocationPredictor(
            nyc_calliper, device="cpu", **{**TINY, "n_layers": layers, "max_epochs": 1}
        ).fit(visits)
    test = _test(visits)
    cands = _all_places(visits)
    ranks = model.rank_targets(test, candidates=cands)
    picks = ranks.iloc[np.linspace(0, len(ranks) - 1, 12).astype(int)]
    assert picks["user"].nunique() > 3
    for _, row in picks.iterrows():
        assert _predicted_rank(model, test, row, cands) == row["rank"], row.to_dict()


# ---------------------------------------------------------------- inductive
def test_inductive_head_ranks_places_unseen_in_training(inductive, closed_masked, visits, masked):
    assert not set(masked) & set(inductive.locations_.index)
    cands = _all_places(visits)
    test = _test(visits)
    ind = inductive.rank_targets(test, candidates=cands)
    clo = closed_masked.rank_targets(test, candidates=cands)
    new = ind["location"].isin(masked)
    assert new.sum() > 0
    # the closed head can never rank a masked place; the inductive head always can
    assert np.isinf(clo.loc[clo["location"].isin(masked), "rank"]).all()
    assert np.isfinite(ind.loc[new, "rank"]).all()
    assert (ind.loc[new, "rank"] <= len(cands)).all()


def test_predict_scores_a_place_added_after_training(inductive, visits):
    history = _test(visits)
    history = history[history["user_id"] == 1].tail(5)
    new_place = gpd.GeoDataFrame(
        {"location_id": ["new cafe"]}, geometry=[Point(-73.9855, 40.7580)], crs=4326
    )
    known = inductive.locations_.reset_index(names="location_id")
    known = gpd.GeoDataFrame(
        known[["location_id"]], geometry=gpd.points_from_xy(known["lon"], known["lat"]), crs=4326
    )
    cands = pd.concat([known, new_place], ignore_index=True)
    out = inductive.predict(history, k=len(cands), candidates=cands)
    assert "new cafe" in set(out["location_id"])
    assert np.isfinite(out.loc[out["location_id"] == "new cafe", "score"]).all()


# ---------------------------------------------------------------- save / load
def test_save_load_round_trip(inductive, visits, tmp_path):
    path = inductive.save(tmp_path / "predictor")
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    assert (path / "calliper" / "config.json").is_file()
    assert not list(path.rglob("*.pkl")) and not list(path.rglob("*.pt"))
    same = NextLocationPredictor.load(path, device="cpu", progress=False)
    history = _test(visits).groupby("user_id").tail(4)
    a, b = inductive.predict(history, k=5), same.predict(history, k=5)
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    )
    assert same.get_params()["head"] == "inductive"


def _count_embeds(monkeypatch, calliper) -> list:
    """Record the number of points of every ``embed_coords`` call of ``calliper``."""
    calls: list[int] = []
    real = calliper.embed_coords

    def counting(xy, *args, **kw):
        calls.append(len(xy))
        return real(xy, *args, **kw)

    monkeypatch.setattr(calliper, "embed_coords", counting)
    return calls


def test_candidate_embeddings_are_computed_once_per_candidate_set(inductive, visits, monkeypatch):
    """Repeated predicts over the same candidates embed only the history; a new set is
    embedded once; the cache keeps at most CANDIDATE_CACHE sets; results do not change."""
    from geocalliper.mobility.predictor import CANDIDATE_CACHE

    history = _test(visits)
    history = history[history["user_id"] == 1].tail(6)
    cands = _all_places(visits)
    first = inductive.predict(history, k=10, candidates=cands)
    calls = _count_embeds(monkeypatch, inductive.calliper)
    again = inductive.predict(history, k=10, candidates=cands)
    pd.testing.assert_frame_equal(pd.DataFrame(first), pd.DataFrame(again))
    own = len(history) + 1  # the history's visits and the query's placeholder only
    assert calls == [own]
    inductive.predict(history, k=10)  # the known locations: embedded at fit
    assert calls == [own] * 2
    moved = cands.copy()
    moved["geometry"] = moved.geometry.translate(xoff=1e-4)
    inductive.predict(history, k=10, candidates=moved)
    assert calls[-2:] == [len(moved), own]  # the new set, once
    inductive.predict(history, k=10, candidates=moved)
    assert calls[-1] == own
    for i in range(CANDIDATE_CACHE + 1):
        other = cands.iloc[: 50 + i]
        inductive.predict(history, k=5, candidates=other)
    assert len(inductive._cand_cache) == CANDIDATE_CACHE


def test_saved_predictor_keeps_the_known_location_embeddings(
    inductive, visits, tmp_path, monkeypatch
):
    """The known locations' embeddings travel with the model: loading embeds nothing,
    and a loaded model ranks exactly as the saved one."""
    from safetensors.torch import load_file

    path = inductive.save(tmp_path / "p")
    saved = load_file(str(path / "model.safetensors"))["locations.embedding"]
    torch.testing.assert_close(saved, inductive._vocab_emb)
    calls: list[int] = []
    real = gc.CaLLiPer.embed_coords

    def counting(self, xy, *args, **kw):
        calls.append(len(xy))
        return real(self, xy, *args, **kw)

    monkeypatch.setattr(gc.CaLLiPer, "embed_coords", counting)
    same = NextLocationPredictor.load(path, device="cpu", progress=False)
    assert calls == []
    history = _test(visits).groupby("user_id").tail(4)
    a, b = inductive.predict(history, k=5), same.predict(history, k=5)
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    )


def test_corrupt_model_directory(inductive, tmp_path):
    path = inductive.save(tmp_path / "p")
    cfg = json.loads((path / "config.json").read_text())
    cfg["locations"] = cfg["locations"][:-1]
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="does not match"):
        NextLocationPredictor.load(path)
    (path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelFileError):
        NextLocationPredictor.load(path)
    with pytest.raises(ModelFileError, match="not a"):
        NextLocationPredictor.load(path / "calliper")


# ---------------------------------------------------------------- bad input
def test_empty_history(vanilla, visits):
    with pytest.raises(EmptyDataError, match="empty"):
        vanilla.predict(visits.iloc[:0])


def test_user_never_seen_in_training_uses_the_shared_embedding(vanilla, visits):
    history = _test(visits)
    history = history[history["user_id"] == 3].tail(5).copy()
    history["user_id"] = 10_001
    a = vanilla.predict(history, k=5)
    history["user_id"] = 10_002
    b = vanilla.predict(history, k=5)
    assert a["location_id"].tolist() == b["location_id"].tolist()
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-5)


def test_unsorted_and_duplicated_history_give_the_same_prediction(vanilla, visits):
    history = _test(visits)
    history = history[history["user_id"] == 5].tail(6)
    base = vanilla.predict(history, k=5)
    messy = pd.concat([history.iloc[::-1], history.iloc[[2]]])
    with pytest.warns(UserWarning, match="Dropped 1"):
        again = vanilla.predict(messy, k=5)
    assert base["location_id"].tolist() == again["location_id"].tolist()
    np.testing.assert_allclose(base["score"], again["score"], rtol=1e-5)


def test_mixed_tz_history_is_refused(vanilla, visits):
    history = _test(visits)
    history = history[history["user_id"] == 5].tail(3).copy()
    stamps = list(history["started_at"])
    history["started_at"] = [stamps[0].tz_localize("America/New_York"), *stamps[1:]]
    with pytest.raises(VisitsError, match="mixes tz-aware and naive"):
        vanilla.predict(history)


def test_candidates_in_another_crs(inductive, visits):
    history = _test(visits)
    history = history[history["user_id"] == 7].tail(5)
    cands = _all_places(visits)
    a = inductive.predict(history, k=5, candidates=cands)
    b = inductive.predict(history, k=5, candidates=cands.to_crs(32618))
    assert a["location_id"].tolist() == b["location_id"].tolist()
    np.testing.assert_allclose(a["score"], b["score"], rtol=1e-4, atol=1e-5)
    assert b.crs.to_epsg() == 32618


def test_geometries_that_are_not_points(inductive, visits):
    history = _test(visits)
    history = history[history["user_id"] == 7].tail(5).copy()
    cands = _all_places(visits)
    polys = cands.copy()
    polys.geometry = cands.to_crs(32618).buffer(30).to_crs(4326)
    with pytest.raises(InvalidGeometryError, match="Candidates must be points"):
        inductive.predict(history, candidates=polys)
    history.geometry = history.to_crs(32618).buffer(10).to_crs(4326).values
    with pytest.raises(InvalidGeometryError, match="not points"):
        inductive.predict(history)


def test_configuration_errors(visits):
    with pytest.raises(NotFittedError):
        NextLocationPredictor().predict(visits.head())
    with pytest.raises(ValueError, match="needs a CaLLiPer model"):
        NextLocationPredictor(features="calliper").fit(visits)
    with pytest.raises(ValueError, match="features must be"):
        NextLocationPredictor(features="pixels").fit(visits)
    p = NextLocationPredictor(d_model=32)
    assert p.set_params(d_model=64).get_params()["d_model"] == 64
    with pytest.raises(ValueError, match="Unknown parameters"):
        p.set_params(width=3)


# ---------------------------------------------------------------- module
def test_one_layer_query_sees_only_its_window():
    torch.manual_seed(0)
    m = MHSA(10, 3, d_model=16, n_layers=1, n_heads=2, ff_dim=32, dropout=0.0).eval()
    loc = torch.tensor([[2, 3, 4, 5, 6, 7]])
    feats = torch.zeros(1, 6, 4, dtype=torch.long)
    day = torch.tensor([[0, 1, 9, 10, 11, 12]])
    query_day = torch.tensor([[1, 9, 10, 11, 12, 13]])
    ok = torch.ones(1, 6, dtype=torch.bool)
    user = torch.tensor([1])
    base = m(loc, None, feats, user, day, query_day, ok)
    # query 4 (target day 12) sees days >= 5: tokens 2, 3, 4, not 0 or 1
    outside = loc.clone()
    outside[0, 1] = 9
    inside = loc.clone()
    inside[0, 3] = 9
    a = m(outside, None, feats, user, day, query_day, ok)
    b = m(inside, None, feats, user, day, query_day, ok)
    torch.testing.assert_close(a[0, 4], base[0, 4])
    assert not torch.allclose(b[0, 4], base[0, 4])


def test_revisit_term_matches_its_formula():
    torch.manual_seed(0)
    m = MHSA(5, 2, location_dim=4, inductive=True, d_model=8, n_layers=1, n_heads=2, ff_dim=16)
    day = torch.tensor([[0, 3, 9, 10]])
    query_day = torch.tensor([[3, 9, 10, 12]])
    ok = torch.tensor([[True, True, False, True]])
    tok = torch.tensor([[[0.0, 0.0], [30.0, 40.0], [500.0, 0.0], [0.0, 100.0]]])
    cand = torch.tensor([[0.0, 0.0], [30.0, 40.0], [1000.0, 1000.0]])
    got = m.revisits(day, query_day, ok, tok, cand)[0].detach()
    width = float((10 * m.revisit_log_width.detach()).exp())
    assert width == pytest.approx(50.0)
    for q in range(4):
        keys = [
            k
            for k in range(4)
            if k == q or (k <= q and bool(ok[0, k]) and int(day[0, k]) >= int(query_day[0, q]) - 7)
        ]
        for c in range(3):
            d = [float(torch.dist(tok[0, k], cand[c])) for k in keys]
            expected = math.log1p(sum(math.exp(-x / width) for x in d))
            assert float(got[q, c]) == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_revisits_over_distinct_positions_match_the_per_visit_kernel():
    """The revisit term is summed over the batch's distinct positions (each measured
    once); it must equal the sum over every window visit and candidate, in value and in
    the width's gradient, for any query subset."""
    from geocalliper.mobility.module import REVISIT_GAIN, window_mask

    torch.manual_seed(1)
    m = MHSA(5, 2, location_dim=4, inductive=True, d_model=8, n_layers=1, n_heads=2, ff_dim=16)
    with torch.no_grad():
        m.revisit_log_width.fill_(math.log(400.0) / REVISIT_GAIN)
    b, length, n_cand = 3, 40, 300
    day = torch.sort(torch.randint(0, 30, (b, length)), dim=1).values
    query_day = day + torch.randint(0, 2, (b, length))
    ok = torch.rand(b, length) > 0.1
    places = torch.rand(60, 2) * 5000.0
    tok = places[torch.randint(0, 60, (b, length))]  # revisited places repeat exactly
    cand = torch.cat([places, torch.rand(n_cand - 60, 2) * 5000.0])
    allowed = window_mask(day, query_day, ok, m.history_days).float()
    dist = torch.cdist(tok, cand.expand(b, -1, -1), compute_mode="donot_use_mm_for_euclid_dist")
    dense = torch.log1p(allowed @ torch.exp(-dist / (REVISIT_GAIN * m.revisit_log_width).exp()))
    fast = m.revisits(day, query_day, ok, tok, cand)
    assert fast.shape == (b, length, n_cand)
    torch.testing.assert_close(fast, dense, rtol=1e-5, atol=1e-6)
    (g_dense,) = torch.autograd.grad(dense.sum(), m.revisit_log_width)
    (g_fast,) = torch.autograd.grad(fast.sum(), m.revisit_log_width)
    torch.testing.assert_close(g_fast, g_dense, rtol=1e-4, atol=0.0)
    rows, cols = torch.tensor([2, 0, 1, 2]), torch.tensor([39, 5, 0, 17])
    some = m.revisits(day, query_day, ok, tok, cand, rows, cols)
    torch.testing.assert_close(some, dense.detach()[rows, cols], rtol=1e-5, atol=1e-6)


def test_place_features_match_their_definition():
    from geocalliper.mobility.module import DISTANCE_KNOTS, N_PLACE_FEATURES

    torch.manual_seed(0)
    m = MHSA(
        5,
        2,
        location_dim=4,
        inductive=True,
        d_model=8,
        n_layers=1,
        n_heads=2,
        ff_dim=16,
        place_features=True,
    )
    # five visits: places 0, 1, 0, (none), 2 on days 0, 2, 3, 3, 12
    day = torch.tensor([[0, 2, 3, 3, 12]])
    query_day = torch.tensor([[2, 3, 3, 12, 13]])
    feats = torch.zeros(1, 5, 4, dtype=torch.long)
    feats[..., 0] = torch.tensor([[8, 9, 10, 20, 7]])
    feats[0, 2, 1] = 2  # 10:30
    ok = torch.ones(1, 5, dtype=torch.bool)
    token_cand = torch.tensor([[0, 1, 0, -1, 2]])
    tok = torch.tensor([[[0.0, 0.0], [300.0, 400.0], [0.0, 0.0], [0.0, 50.0], [900.0, 0.0]]])
    cand = torch.tensor([[0.0, 0.0], [300.0, 400.0], [900.0, 0.0], [0.0, 5000.0]])
    rows, cols = torch.tensor([0, 0]), torch.tensor([3, 4])
    m.history_days = 12  # query 3 (target day 12) sees days >= 0: visits 0-3
    pf = m.place_features(day, feats, query_day, ok, token_cand, tok, cand, rows, cols)
    assert pf.window.shape == (2, 5, N_PLACE_FEATURES) and pf.log_dist.shape == (2, 4)
    # query 3 at (0, 50), day 3 20:00: place 0 twice (latest visit 2, 10:30), place 1
    # once (visit 1, day 2 09:00); visit 0 is not the latest visit to place 0
    assert pf.latest[0].tolist() == [False, True, True, False, False]
    d0, d1 = math.log1p(50 / 50), math.log1p(math.hypot(300, 350) / 50)
    assert pf.window[0, 2].tolist() == pytest.approx([math.log(3), math.log1p(9.5), 0, d0])
    assert pf.window[0, 1].tolist() == pytest.approx([math.log(2), math.log1p(35), 0, d1])
    assert pf.log_dist[0, 3] == pytest.approx(math.log1p(4950 / 50))
    # query 4 (day 12, target day 13: days >= 1): visits 1-4; it is its own last visit
    assert pf.latest[1].tolist() == [False, True, True, False, True]
    assert pf.window[1, 4].tolist() == pytest.approx([math.log(2), 0, 1, 0])
    # scores: the query's distance curve at every candidate, plus the window term at
    # the window's places only
    hidden = torch.randn(2, 8)
    with torch.no_grad():
        s = m.place_scores(hidden, pf)
        knots = m.place_distance(hidden)
        g = torch.relu(m.place_in(pf.window))
        per_key = torch.einsum("mlh,mh->ml", g, m.place_query(hidden))
    x = float(pf.log_dist[0, 3])
    lo = min(int(x), len(DISTANCE_KNOTS) - 2)
    curve = float(knots[0, lo] * (1 - (x - lo)) + knots[0, lo + 1] * (x - lo))
    assert float(s[0, 3]) == pytest.approx(curve, rel=1e-5)  # not in the window
    x = float(pf.log_dist[0, 0])
    curve = float(knots[0, 0] * (1 - x) + knots[0, 1] * x)
    assert float(s[0, 0]) == pytest.approx(curve + float(per_key[0, 2]), rel=1e-5)


def test_predictor_saved_before_place_features_still_loads(visits, nyc_calliper, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old = NextLocationPredictor(
            nyc_calliper, place_features=False, device="cpu", **{**TINY, "max_epochs": 1}
        ).fit(visits)
    path = old.save(tmp_path / "old")
    cfg = json.loads((path / "config.json").read_text())
    del cfg["params"]["place_features"]  # as written before the option existed
    cfg.pop("config_sha256", None)  # ... and before configs carried their own checksum
    (path / "config.json").write_text(json.dumps(cfg))
    same = NextLocationPredictor.load(path, device="cpu", progress=False)
    assert same.place_features is False and same.module_.place_in is None
    history = _test(visits).groupby("user_id").tail(4)
    pd.testing.assert_frame_equal(
        pd.DataFrame(old.predict(history, k=5).drop(columns="geometry")),
        pd.DataFrame(same.predict(history, k=5).drop(columns="geometry")),
    )
    # a config that claims place features the weights lack is refused
    cfg["params"]["place_features"] = True
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="does not match"):
        NextLocationPredictor.load(path)


def test_lr_drops_go_on_from_the_best_weights_at_a_tenth_of_the_rate(visits):
    # a learning rate too small to ever improve the validation loss by 1e-4: each
    # patience run ends in a drop, until none is left
    opts = {**TINY, "max_epochs": 10, "learning_rate": 1e-12, "warmup_epochs": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = NextLocationPredictor(device="cpu", patience=1, **opts).fit(visits)
        ref = NextLocationPredictor(device="cpu", patience=1, lr_drops=2, **opts).fit(visits)
    assert len(plain.history_) == 2  # epoch 1 is best, epoch 2 exhausts the patience
    assert len(ref.history_) == 4  # ... then two more epochs, one per drop
    lr = ref.history_["lr"].to_numpy()
    assert lr[2] / lr[1] == pytest.approx(0.1, rel=0.2)
    assert lr[3] / lr[2] == pytest.approx(0.1, rel=0.2)
    assert ref.best_epoch_ == 1
