"""Build the installable plugin zip: ``python qgis_plugin/tools/build_zip.py [OUT.zip]``.

The zip holds one top-level folder, ``geocalliper_processing/``, as QGIS' *Plugins ▸ Manage
and Install Plugins ▸ Install from ZIP* expects, with the plugin's sources, metadata and
icon (no caches). Entries carry a fixed date, so the same sources give the same zip. The
zip is written beside its final name and moved there at the end, so a failed build leaves
no half-written file. ``make qgis-plugin`` runs this.

Examples
--------
>>> from pathlib import Path
>>> import tempfile, zipfile
>>> out = build_zip(Path(tempfile.mkdtemp()) / "plugin.zip")
>>> "geocalliper_processing/metadata.txt" in zipfile.ZipFile(out).namelist()
True
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from pathlib import Path

#: the plugin's folder in the repository (and the zip's top-level folder)
PLUGIN = Path(__file__).resolve().parent.parent / "geocalliper_processing"
#: what goes into the zip
SUFFIXES = (".py", ".txt", ".svg", ".png", ".md")
#: the date of every entry (zip needs one; a fixed one keeps builds reproducible)
DATE = (2024, 1, 1, 0, 0, 0)
DEFAULT_OUT = Path(__file__).resolve().parent.parent.parent / "dist" / "geocalliper_processing.zip"


def plugin_files(root: Path = PLUGIN) -> list[Path]:
    """The plugin's files under ``root``, sorted, without caches."""
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts
    )


def build_zip(out: str | os.PathLike = DEFAULT_OUT, root: Path = PLUGIN) -> Path:
    """Write the plugin zip to ``out`` and return its path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not (root / "metadata.txt").is_file():
        raise FileNotFoundError(f"No plugin at {root}: metadata.txt is missing.")
    fd, tmp = tempfile.mkstemp(suffix=".zip.tmp", dir=out.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in plugin_files(root):
                name = f"{root.name}/{path.relative_to(root).as_posix()}"
                info = zipfile.ZipInfo(name, date_time=DATE)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


if __name__ == "__main__":
    target = build_zip(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT)
    print(
        f"Built {target} ({target.stat().st_size // 1024} KB): install it with QGIS' "
        "Plugins > Manage and Install Plugins > Install from ZIP."
    )
