"""One data-folder variable, GEOCALLIPER_DATA, for the tests, the benchmarks and the examples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geocalliper as gc

ROOT = Path(__file__).resolve().parent.parent


def test_the_variable_wins_over_the_default(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("GEOCALLIPER_DATA", raising=False)
    assert gc.datasets.data_folder(tmp_path / "default") == tmp_path / "default"
    monkeypatch.setenv("GEOCALLIPER_DATA", str(tmp_path / "mine"))
    assert gc.datasets.data_folder(tmp_path / "default") == tmp_path / "mine"


def test_an_example_without_its_data_fails_and_names_the_variable(tmp_path) -> None:
    env = dict(os.environ, GEOCALLIPER_DATA=str(tmp_path / "empty"), HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "nyc_pois_rgb_map.py"), "--quick"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Data not found" in proc.stderr and str(tmp_path / "empty") in proc.stderr
    assert "GEOCALLIPER_DATA" in proc.stderr


def test_the_benchmarks_and_the_tests_read_the_same_variable() -> None:
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        text = script.read_text("utf-8")
        if '"shared" / "data"' in text:
            assert "GEOCALLIPER_DATA" in text, f"{script.name} ignores GEOCALLIPER_DATA"
    assert "data_folder(" in (ROOT / "conftest.py").read_text("utf-8")
