"""Run PyQGIS from the tests: a small script in QGIS' own Python, in a subprocess.

PyQGIS lives in the system Python that QGIS was installed for (Debian's ``python3-qgis``:
``/usr/bin/python3``), not in the project's virtual environment, and QGIS must not be
imported into the test process. :func:`run_pyqgis` therefore writes a script to a
file, runs it headless (``QT_QPA_PLATFORM=offscreen``) under that interpreter with a
started ``QgsApplication``, and returns what it printed as JSON. :func:`require_qgis`
skips a test, with the reason, where QGIS is absent.

Set ``GEOCALLIPER_QGIS_PYTHON`` to use another interpreter (e.g. QGIS' bundled Python).

Example::

    from qgis_helpers import require_qgis, run_pyqgis

    def test_opens(tmp_path):
        require_qgis()
        out = run_pyqgis('''
            layer = QgsRasterLayer(ARGS[0], "x")
            emit({"valid": layer.isValid()})
        ''', str(tmp_path / "map.tif"))
        assert out["valid"]
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import pytest

#: the interpreter that has PyQGIS
QGIS_PYTHON = os.environ.get("GEOCALLIPER_QGIS_PYTHON", "/usr/bin/python3")

#: run before every script: a headless QGIS application, ``ARGS`` and ``emit``
PREAMBLE = """\
import json, sys
from qgis.core import *  # noqa: F401,F403 (the scripts use QGIS classes freely)
ARGS = sys.argv[1:]
_app = QgsApplication([], False)
_app.initQgis()
_RESULT = None
def emit(value):
    global _RESULT
    _RESULT = value
"""
EPILOGUE = """
print("@@RESULT@@" + json.dumps(_RESULT), flush=True)
import os
os._exit(0)  # QgsApplication.exitQgis() can crash at interpreter exit; nothing is left to do
"""


def _environment() -> dict[str, str]:
    """The environment for QGIS' Python: headless, without the venv's Python settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "GDAL_DATA", "PROJ_LIB",
                     "PROJ_DATA", "GDAL_DRIVER_PATH")
    }  # fmt: skip
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())
    return env


@functools.cache
def qgis_missing() -> str | None:
    """Why PyQGIS cannot run here, or ``None`` when it can."""
    if not Path(QGIS_PYTHON).exists():
        return f"no QGIS Python at {QGIS_PYTHON} (set GEOCALLIPER_QGIS_PYTHON)"
    probe = subprocess.run(
        [QGIS_PYTHON, "-c", "import qgis.core; print(qgis.core.Qgis.QGIS_VERSION)"],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=120,
    )
    if probe.returncode != 0:
        return f"PyQGIS is not installed for {QGIS_PYTHON} (apt-get install python3-qgis qgis)"
    return None


def require_qgis() -> None:
    """Skip the calling test, saying why, when PyQGIS cannot run."""
    reason = qgis_missing()
    if reason is not None:
        pytest.skip(f"QGIS not available: {reason}")


def run_pyqgis(script: str, *args: str, timeout: float = 300) -> Any:
    """Run ``script`` (PyQGIS code) in QGIS' Python; return the value it ``emit``-ted.

    The script sees ``ARGS`` (the strings ``args``), every ``qgis.core`` name, and
    ``emit(value)`` to hand back one JSON-serialisable value. A failing script raises
    ``AssertionError`` with its output.
    """
    body = PREAMBLE + textwrap.dedent(script) + EPILOGUE
    with tempfile.TemporaryDirectory(prefix="pyqgis-") as tmp:
        file = Path(tmp) / "script.py"
        file.write_text(body, encoding="utf-8")
        done = subprocess.run(
            [QGIS_PYTHON, str(file), *args],
            capture_output=True,
            text=True,
            env=_environment(),
            timeout=timeout,
            cwd=tmp,
        )
    marker = [line for line in done.stdout.splitlines() if line.startswith("@@RESULT@@")]
    if done.returncode != 0 or not marker:
        raise AssertionError(
            f"PyQGIS script failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n"
            f"{done.stderr[-3000:]}"
        )
    return json.loads(marker[-1][len("@@RESULT@@") :])
