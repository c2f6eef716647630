"""Find and run the ``geocalliper`` command line tool for the Processing algorithms.

This module imports nothing from QGIS, torch or geocalliper: the algorithms hand it the
command's arguments and a Processing feedback object (anything with ``pushInfo``,
``pushConsoleInfo``, ``setProgress`` and ``isCanceled``), and it streams the command's
output into that feedback while the command runs in its own process.

Examples
--------
>>> exe = find_executable("")                                  # doctest: +SKIP
>>> run_cli(exe, ["embed", "model", "places.gpkg", "--out", "out.gpkg"], feedback)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol

#: the name of the command on PATH
EXECUTABLE_NAME = "geocalliper"
#: environment variable naming the executable when the plugin setting is empty
EXECUTABLE_ENV = "GEOCALLIPER_EXECUTABLE"
#: variables QGIS may set for its own Python, GDAL or PROJ; the command brings its own, and
#: a foreign PYTHONHOME or PROJ database breaks it (e.g. on OSGeo4W), so they are dropped
FOREIGN_ENV = (
    "PYTHONHOME",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PROJ_LIB",
    "PROJ_DATA",
    "GDAL_DATA",
    "GDAL_DRIVER_PATH",
)
#: lines of the command's error output kept for the error message
TAIL_LINES = 20
#: a tqdm progress bar: "Embedding texts:  42%|████      | 42/100 ..."
_PERCENT = re.compile(r"(\d{1,3})%\|")


class Feedback(Protocol):
    """What :func:`run_cli` needs of a ``QgsProcessingFeedback``."""

    def pushInfo(self, info: str) -> None: ...

    def pushConsoleInfo(self, info: str) -> None: ...

    def setProgress(self, progress: float) -> None: ...

    def isCanceled(self) -> bool: ...


class CliError(RuntimeError):
    """The ``geocalliper`` command was not found, failed or was cancelled."""


class CliNotFoundError(CliError, FileNotFoundError):
    """No ``geocalliper`` executable at the configured path or on PATH."""


class CliCancelledError(CliError):
    """The user cancelled the algorithm; the command was stopped."""


def find_executable(configured: str | os.PathLike | None = None) -> str:
    """The ``geocalliper`` executable to run.

    Parameters
    ----------
    configured
        The plugin setting: the executable itself, or the folder of a virtual environment
        holding it (``.venv``, ``.venv/bin``, ``.venv\\Scripts``). Empty: the
        ``GEOCALLIPER_EXECUTABLE`` environment variable, else ``geocalliper`` on PATH.

    Returns
    -------
    str
        The absolute path of an executable file.

    Raises
    ------
    CliNotFoundError
        Nothing usable was found; the message says where it looked and how to fix it.

    Examples
    --------
    >>> find_executable("/opt/geocalliper/.venv")                   # doctest: +SKIP
    '/opt/geocalliper/.venv/bin/geocalliper'
    """
    given = str(configured or "").strip() or os.environ.get(EXECUTABLE_ENV, "").strip()
    if given:
        path = Path(given).expanduser()
        candidates = [path]
        if path.is_dir():
            names = (EXECUTABLE_NAME, EXECUTABLE_NAME + ".exe")
            candidates = [path / sub / n for sub in ("", "bin", "Scripts") for n in names]
        for candidate in candidates:
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate.resolve())
        raise CliNotFoundError(
            f"The geocalliper executable {given!r} does not exist or cannot be run. Set its "
            "full path (e.g. /path/to/.venv/bin/geocalliper) in Settings > Options > "
            "Processing > Providers > geocalliper, or leave it empty to use the one on PATH."
        )
    found = shutil.which(EXECUTABLE_NAME)
    if found is None:
        raise CliNotFoundError(
            "The geocalliper command was not found on PATH. Install it (pip install "
            "geocalliper, in any Python environment) and set the full path of its "
            "geocalliper executable in Settings > Options > Processing > Providers > "
            "geocalliper."
        )
    return found


def cli_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the command: QGIS' own, without :data:`FOREIGN_ENV`.

    Examples
    --------
    >>> env = cli_environment({"PATH": "/usr/bin", "PYTHONHOME": "/qgis/python"})
    >>> sorted(env)
    ['PATH', 'PYTHONIOENCODING']
    """
    env = dict(os.environ if base is None else base)
    for name in FOREIGN_ENV:
        env.pop(name, None)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _pump(stream: IO[bytes], name: str, out: queue.Queue) -> None:
    """Put the lines of ``stream`` on ``out`` as ``(name, text)``; ``\\r`` ends a line too,
    so progress bars arrive while they move. ``(name, None)`` marks the end."""
    pending = b""
    while True:
        chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
        if not chunk:
            break
        pending += chunk
        *lines, pending = re.split(rb"\r\n|\r|\n", pending)
        for line in lines:
            out.put((name, line.decode("utf-8", "replace")))
    if pending:
        out.put((name, pending.decode("utf-8", "replace")))
    out.put((name, None))


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the command, and kill it if it has not ended within 5 s."""
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_cli(
    executable: str,
    args: Sequence[str],
    feedback: Feedback | None = None,
    *,
    env: dict[str, str] | None = None,
    poll_seconds: float = 0.2,
) -> str:
    """Run ``executable ARGS``, streaming its output to ``feedback`` until it ends.

    Standard output goes to ``feedback.pushInfo``; standard error (progress bars,
    warnings) to ``feedback.pushConsoleInfo``, and a progress bar's percentage to
    ``feedback.setProgress``. When ``feedback.isCanceled()`` turns true the command is
    terminated.

    Parameters
    ----------
    executable
        From :func:`find_executable`.
    args
        The subcommand and its arguments, e.g. ``["grid", model, area, "--out", tif]``.
    feedback
        A ``QgsProcessingFeedback``; ``None`` prints nothing and cannot cancel.
    env
        The command's environment (default :func:`cli_environment`).
    poll_seconds
        How often cancellation is checked while the command is silent.

    Returns
    -------
    str
        The command's standard output.

    Raises
    ------
    CliError
        The command exited with a non-zero status; the message holds its error lines.
    CliCancelledError
        The user cancelled.

    Examples
    --------
    >>> run_cli(sys.executable, ["-c", "print('hello')"])
    'hello\\n'
    """
    command = [executable, *args]
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=cli_environment() if env is None else env,
            creationflags=flags,
        )
    except OSError as exc:
        raise CliNotFoundError(f"Cannot start {executable!r}: {exc}.") from exc
    if feedback is not None:
        feedback.pushInfo("Running: " + subprocess.list2cmdline(command))
    lines: queue.Queue = queue.Queue()
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, "out", lines), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "err", lines), daemon=True),
    ]
    for reader in readers:
        reader.start()
    stdout: list[str] = []
    errors: deque[str] = deque(maxlen=TAIL_LINES)
    open_streams = 2
    while open_streams:
        if feedback is not None and feedback.isCanceled():
            _stop(proc)
            raise CliCancelledError(f"Cancelled: geocalliper {args[0] if args else ''} stopped.")
        try:
            name, text = lines.get(timeout=poll_seconds)
        except queue.Empty:
            continue
        if text is None:
            open_streams -= 1
            continue
        if name == "out":
            stdout.append(text)
            if feedback is not None and text.strip():
                feedback.pushInfo(text)
            continue
        percent = _PERCENT.search(text)
        if percent is not None:
            if feedback is not None:
                feedback.setProgress(min(100, int(percent.group(1))))
            continue  # a moving progress bar: its percentage is enough
        if text.strip():
            errors.append(text)
            if feedback is not None:
                feedback.pushConsoleInfo(text)
    while proc.poll() is None:  # the streams closed; the process ends in a moment
        if feedback is not None and feedback.isCanceled():
            _stop(proc)
            raise CliCancelledError("Cancelled.")
        time.sleep(poll_seconds / 4)
    if proc.returncode != 0:
        said = [line for line in errors if line.startswith("geocalliper: error:")]
        detail = "\n".join(said or errors) or "(it printed no error message)"
        raise CliError(
            f"geocalliper {args[0] if args else ''} failed (exit status {proc.returncode}):\n"
            f"{detail}"
        )
    return "\n".join(stdout) + ("\n" if stdout else "")
