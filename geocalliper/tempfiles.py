"""Atomic file writes with predictable temporaries, and the clean-up of stale ones.

Every output file (GeoTIFF, PNG, GeoPackage, GeoParquet, CSV, JSON) is written under a
temporary name beside its target and renamed onto it only once complete. The temporary
is named after the target and the writing process::

    .city.tif.geocalliper-tmp-<pid>-<token>[.part]      (GDAL/SQLite side files:
                                                          the same name + a suffix)

so it is hidden, never ends like an output (``*.tif`` or ``*.gpkg`` globs do not match
it), and tells which process wrote it. A process killed mid-write leaves it behind; the
next write to the same target removes it, and :func:`clean_temporaries` (the
``geocalliper clean FOLDER`` command) removes every stale one in a folder. A temporary
is *stale* when the process that wrote it is no longer running on this machine.
Temporaries left by older versions of geocalliper (random ``mkstemp`` names ending in
``.tmp``, ``.part.tif`` or ``.gpkg.tmp.gpkg``) carry no process id; they count as
stale once untouched for :data:`LEGACY_MIN_AGE` seconds.

A write that fails because the disk is full raises
:class:`~geocalliper.exceptions.DiskFullError` (an ``OSError`` with ``errno`` ENOSPC)
and leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from .exceptions import DiskFullError

#: marks a geocalliper temporary: ``.<target name><TEMP_TAG><pid>-<token>…``
TEMP_TAG = ".geocalliper-tmp-"
#: seconds a temporary of an older geocalliper (no process id) must be untouched to be stale
LEGACY_MIN_AGE = 600.0
#: a failed write with less than this many bytes free is reported as a full disk
DISK_FULL_MARGIN = 16 * 1024**2

_TEMP = re.compile(r"^\.(?P<target>.+)" + re.escape(TEMP_TAG) + r"(?P<pid>\d+)-[0-9a-f]{8}")
# mkstemp names of older versions: .<target>.<8 random chars><suffix>.tmp, .part.tif …
_LEGACY = re.compile(
    r"^\.(?P<target>.+)\.[a-z0-9_]{8}"
    r"(?:\.part\.tif|(?:\.[A-Za-z0-9]+)?\.tmp(?:\.gpkg)?)"
    r"(?:-journal|-wal|-shm|\.aux\.xml|\.ovr|\.msk)?$"
)


def temp_path(target: str | os.PathLike, role: str = "") -> Path:
    """A fresh temporary name for ``target`` in its folder (not created).

    Examples
    --------
    >>> p = temp_path("out/city.tif", ".part")
    >>> p.parent.name, p.name.startswith(".city.tif" + TEMP_TAG), p.name.endswith(".part")
    ('out', True, True)
    """
    target = Path(target)
    token = secrets.token_hex(4)
    return target.with_name(f".{target.name}{TEMP_TAG}{os.getpid()}-{token}{role}")


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # someone else's live process
        return True
    return True


def _stale(path: Path, target: str | None, now: float) -> bool:
    match = _TEMP.match(path.name)
    if match is not None:
        if target is not None and match["target"] != target:
            return False
        return not _running(int(match["pid"]))
    match = _LEGACY.match(path.name)
    if match is None or (target is not None and match["target"] != target):
        return False
    try:
        return now - path.lstat().st_mtime >= LEGACY_MIN_AGE
    except OSError:
        return False


def stale_temporaries(folder: str | os.PathLike, target: str | None = None) -> list[Path]:
    """The stale temporaries in ``folder`` (of the file named ``target`` only, if given).

    Examples
    --------
    >>> stale_temporaries(".")                                        # doctest: +SKIP
    [PosixPath('.city.tif.geocalliper-tmp-4242-1f2e3d4c.part')]
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time()
    found = [
        p
        for p in folder.iterdir()
        if p.name.startswith(".") and not p.is_dir() and _stale(p, target, now)
    ]
    return sorted(found)


def clean_temporaries(folder: str | os.PathLike, target: str | None = None) -> list[Path]:
    """Remove the stale temporaries in ``folder`` (see the module notes); return them.

    Outputs, other hidden files and the temporaries of writes still running are kept.

    Examples
    --------
    >>> clean_temporaries("maps")                                     # doctest: +SKIP
    [PosixPath('maps/.city.tif.geocalliper-tmp-4242-1f2e3d4c.part')]
    """
    removed = []
    for path in stale_temporaries(folder, target):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def remove_temporary(tmp: Path) -> None:
    """Remove a temporary and its side files (``tmp-journal``, ``tmp.aux.xml`` …)."""
    for side in tmp.parent.glob(glob_escape(tmp.name) + "*"):
        with contextlib.suppress(OSError):
            side.unlink()


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def disk_full(exc: BaseException, folder: Path) -> bool:
    """Whether a failed write most likely failed for lack of space in ``folder``.

    True when the error (or one it was raised from) is ``ENOSPC`` or says so, or when
    the folder's disk is (nearly) full right after the failure: GDAL reports a full
    disk as later read errors ("TIFFReadDirectory: Failed to read directory").
    """
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if getattr(seen, "errno", None) == errno.ENOSPC or "No space left" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    try:
        return shutil.disk_usage(folder).free < DISK_FULL_MARGIN
    except OSError:
        return False


def disk_full_error(target: Path) -> DiskFullError:
    """The :class:`DiskFullError` of a write to ``target`` (with the space left)."""
    try:
        free = shutil.disk_usage(target.parent).free
        left = f" ({free / 1e6:.1f} MB free once the partial file was removed)"
    except OSError:
        left = ""
    return DiskFullError(
        f"No space left on device while writing {str(target)!r}: the disk holding "
        f"{str(target.parent)!r} is full{left}. Nothing was written and any older file of "
        "that name is unchanged. Free some space or write to another disk (a coarser "
        "resolution or a smaller area also makes the file smaller)."
    )


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    Stale temporaries of the same target (from a killed earlier write) are removed
    first. On any error the temporary and its side files are removed and ``target``
    is left as it was; a full disk raises :class:`DiskFullError`. The path is not
    created: the writer creates it (GDAL and SQLite want to).

    Examples
    --------
    >>> with atomic_output("notes.txt") as tmp:                       # doctest: +SKIP
    ...     tmp.write_text("complete or absent")
    """
    target = Path(target)
    clean_temporaries(target.parent, target.name)
    tmp = temp_path(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException as exc:
        full = isinstance(exc, Exception) and disk_full(exc, target.parent)
        remove_temporary(tmp)
        if full and not isinstance(exc, DiskFullError):
            raise disk_full_error(target) from exc
        raise
    finally:
        remove_temporary(tmp)


__all__ = [
    "LEGACY_MIN_AGE",
    "TEMP_TAG",
    "atomic_output",
    "clean_temporaries",
    "stale_temporaries",
    "temp_path",
]
