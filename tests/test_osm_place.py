"""Any city: ``gc.read_osm(place_or_path)`` and ``geocalliper pretrain --place``, offline."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest

import geocalliper as gc
from geocalliper.exceptions import OSMDownloadError
from geocalliper.io.osm import fetch_osm, osm_cache_dir


class _Offline:
    """An opener for pyrosm that fails like a machine without network."""

    def __init__(self) -> None:
        self.calls = 0

    def open(self, request, timeout=None):
        self.calls += 1
        raise urllib.error.URLError("[Errno -2] Name or service not known")


def test_a_bundled_name_reads_the_same_pois_as_the_file(helsinki_pois) -> None:
    by_name = gc.read_osm("helsinki_pbf", progress=False)
    by_path = gc.read_osm(gc.datasets.helsinki_osm_path())
    assert len(by_name) == len(by_path) == len(helsinki_pois)
    assert list(by_name["osm_id"]) == list(helsinki_pois["osm_id"])
    small = gc.read_osm("test_pbf", progress=False)
    assert 0 < len(small) < len(by_name)


def test_the_cache_folder_follows_the_cache_variable(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GEOCALLIPER_CACHE_DIR", str(tmp_path))
    assert osm_cache_dir() == tmp_path / "osm"


def test_a_named_city_says_what_and_where_then_fails_clearly_offline(tmp_path) -> None:
    said: list[str] = []
    opener = _Offline()
    with pytest.raises(OSMDownloadError) as info:
        fetch_osm("Paris", directory=tmp_path, progress=False, say=said.append, opener=opener)
    assert opener.calls >= 1  # it did try
    assert len(said) == 1 and "'Paris'" in said[0] and str(tmp_path) in said[0]
    assert "https://" in said[0] and ".osm.pbf" in said[0]
    message = str(info.value)
    assert "network" in message and str(tmp_path) in message and "path" in message
    assert isinstance(info.value, OSError)
    assert not list(tmp_path.rglob("*.pbf"))  # no half-written extract left behind


def test_an_unknown_place_gets_suggestions_not_a_download(tmp_path) -> None:
    opener = _Offline()
    with pytest.raises(OSMDownloadError, match="does not know the place 'Helsinkki'") as info:
        fetch_osm("Helsinkki", directory=tmp_path, progress=False, opener=opener)
    assert "helsinki" in str(info.value).lower() and opener.calls == 0


def test_a_missing_file_is_not_taken_for_a_place_name(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        gc.read_osm(tmp_path / "missing.osm.pbf")
    with pytest.raises(FileNotFoundError):
        gc.read_osm(str(tmp_path / "missing.osm.pbf"))


def _geocalliper(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "geocalliper", "--quiet", *args],
        cwd=cwd,
        env=dict(os.environ, HF_HUB_OFFLINE="1", **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_pretrain_place_end_to_end_offline_on_the_bundled_extract(tmp_path, helsinki_pois) -> None:
    repo = Path(gc.__file__).resolve().parent.parent
    res = _geocalliper(
        "pretrain",
        "--place",
        "helsinki_pbf",
        "--out",
        str(tmp_path / "m"),
        "--max-steps",
        "20",
        cwd=repo,
    )
    assert res.returncode == 0, res.stderr
    assert "Fetching" not in res.stderr  # bundled: nothing to download
    assert f"Trained on {len(helsinki_pois)} POIs" in res.stdout
    model = gc.CaLLiPer.load(tmp_path / "m")
    assert model.n_pois_ == len(helsinki_pois)


def test_pretrain_place_names_the_download_then_fails_in_one_line_offline(tmp_path) -> None:
    repo = Path(gc.__file__).resolve().parent.parent
    closed = "http://127.0.0.1:9"  # a proxy that refuses: offline on any machine
    res = _geocalliper(
        "pretrain",
        "--place",
        "Paris",
        "--out",
        str(tmp_path / "m"),
        cwd=repo,
        GEOCALLIPER_CACHE_DIR=str(tmp_path / "cache"),
        https_proxy=closed,
        http_proxy=closed,
        HTTPS_PROXY=closed,
        HTTP_PROXY=closed,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("Fetching the OpenStreetMap extract of 'Paris' from https://")
    assert str(tmp_path / "cache" / "osm") in lines[0]
    assert lines[-1].startswith("geocalliper: error: Could not download")
    assert not (tmp_path / "m").exists()
    res = _geocalliper("pretrain", "--out", str(tmp_path / "m"), cwd=repo)
    assert res.returncode == 2 and "--place" in res.stderr
