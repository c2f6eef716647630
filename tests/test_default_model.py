"""A default model for the accessor: set_default_model, as a context manager, GEOCALLIPER_MODEL."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

import geocalliper as gc
from geocalliper.defaults import ENV_VAR
from geocalliper.exceptions import NoDefaultModelError


@pytest.fixture()
def no_default(monkeypatch):
    """No default set and no environment variable, before and after the test."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    gc.set_default_model(None)
    yield
    gc.set_default_model(None)


@pytest.fixture(scope="module")
def places(helsinki_pois: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return helsinki_pois.iloc[:40][["geometry"]]


def test_without_a_default_the_error_names_the_three_ways(no_default, places) -> None:
    with pytest.raises(NoDefaultModelError) as info:
        places.calliper.embed()
    message = str(info.value)
    assert "gc.set_default_model(" in message
    assert "with gc.set_default_model" in message
    assert ENV_VAR in message
    assert isinstance(info.value, TypeError)  # as the missing argument was before


def test_set_default_model_makes_embed_work_without_an_argument(no_default, fitted, places) -> None:
    gc.set_default_model(fitted)
    assert gc.get_default_model() is fitted
    np.testing.assert_array_equal(
        places.calliper.embed().to_numpy(), places.calliper.embed(fitted).to_numpy()
    )


def test_the_context_manager_restores_the_previous_default(no_default, fitted, places) -> None:
    with gc.set_default_model(fitted) as model:
        assert model is fitted
        assert places.calliper.embed().shape == (len(places), fitted.embedding_dim)
    with pytest.raises(NoDefaultModelError):
        places.calliper.embed()


def test_a_saved_folder_works_as_default_and_through_the_environment(
    no_default, fitted, places, tmp_path, monkeypatch
) -> None:
    folder = fitted.save(tmp_path / "model")
    expected = places.calliper.embed(fitted).to_numpy()
    with gc.set_default_model(folder):
        np.testing.assert_allclose(places.calliper.embed().to_numpy(), expected, atol=1e-6)
    monkeypatch.setenv(ENV_VAR, str(folder))
    np.testing.assert_allclose(places.calliper.embed().to_numpy(), expected, atol=1e-6)
    assert gc.get_default_model() is gc.get_default_model()  # loaded once, then cached
    # an explicit default wins over the environment
    other = object.__new__(type(fitted))
    other.__dict__.update(fitted.__dict__)
    with gc.set_default_model(other):
        assert gc.get_default_model() is other


def test_a_bad_default_fails_when_set_not_later(no_default, tmp_path) -> None:
    with pytest.raises(TypeError, match="fitted CaLLiPer or the folder"):
        gc.set_default_model(42)
    with pytest.raises(Exception, match="No model directory"):
        gc.set_default_model(tmp_path / "nowhere")
    with pytest.raises(NoDefaultModelError):
        gc.get_default_model()
