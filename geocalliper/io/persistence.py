"""Model directories on disk: ``config.json`` + ``model.safetensors``, never pickle.

A save is all-or-nothing: the whole folder is written as a hidden sibling
(``.NAME.*.saving``) and then swapped in with one rename, so the model already in the
folder stays whole if anything fails, and concurrent saves to one folder leave one
complete model (the last one swapped in). The config records the SHA-256 of the
weights, every tensor's shape and the SHA-256 of the config itself
(``"config_sha256"``), so a directory with a missing, truncated, altered or edited
file is refused on load.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._constants import CALLIPER_SUBDIR, CONFIG_FILE, MODEL_FORMAT_VERSION, WEIGHTS_FILE
from ..exceptions import ModelFileError


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str = ""):
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any error the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix + ".tmp", dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the mode a new file gets
    try:
        yield Path(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


#: key of ``config.json`` that holds the SHA-256 of the rest of the config
CONFIG_CHECKSUM = "config_sha256"
#: what a model folder may hold; a folder with anything else is not replaced by a save
MODEL_DIR_ENTRIES = frozenset({CONFIG_FILE, WEIGHTS_FILE, CALLIPER_SUBDIR})
_RENAME_EXCHANGE = 2  # renameat2 flag (Linux): swap two paths atomically
_AT_FDCWD = -100


def _to_json(value: Any) -> Any:
    """``json.dumps`` ``default``: NumPy scalars and paths; anything else is refused."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(
        f"A {type(value).__name__} ({value!r}) cannot be saved in {CONFIG_FILE}: set that "
        "parameter to a number, a string, a bool or None before saving."
    )


def config_checksum(config: dict[str, Any]) -> str:
    """SHA-256 of ``config`` without its ``"config_sha256"`` entry, in a canonical form
    (sorted keys, no spaces), so the layout of the file does not matter.

    Examples
    --------
    >>> config_checksum({"b": 1, "a": [1.5]}) == config_checksum({"a": [1.5], "b": 1})
    True
    """
    body = {k: v for k, v in config.items() if k != CONFIG_CHECKSUM}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _check_replaceable(target: Path, entries: frozenset[str]) -> None:
    """Refuse to save over a file, or over a folder that holds more than a model."""
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise FileExistsError(
            f"Cannot save a model to {str(target)!r}: it is a file, not a folder. "
            "Choose a folder name that is not taken, or remove that file.",
        )
    for parent in target.parents:
        if parent.exists() and not parent.is_dir():
            raise FileExistsError(
                f"Cannot save a model to {str(target)!r}: {str(parent)!r} is a file, not a "
                "folder. Choose another path.",
            )
    if target.is_dir():
        other = sorted(p.name for p in target.iterdir() if p.name not in entries)
        if other:
            raise FileExistsError(
                f"Cannot save a model to {str(target)!r}: the folder holds other files "
                f"({', '.join(other[:5])}) that a save would delete. Save to a new or "
                "empty folder, or to a folder that only holds a saved model.",
            )


def _exchange(a: Path, b: Path) -> bool | None:
    """Atomically swap the paths ``a`` and ``b`` (Linux ``renameat2``).

    ``True`` when swapped, ``None`` when ``b`` no longer exists, ``False`` when the
    system or file system cannot swap.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.ENOENT:
        return None
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EXDEV):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(staged: Path, target: Path) -> None:
    """Put the folder ``staged`` at ``target``; what was at ``target`` ends up at
    ``staged`` (to be removed) or is removed here."""
    for _ in range(1000):
        try:
            os.rename(staged, target)  # target absent (or an empty folder): done
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        swapped = _exchange(staged, target)
        if swapped:
            return
        if swapped is None:  # another save moved it away just now: try again
            continue
        # no atomic swap here: move the old folder aside, then rename the new one in
        aside = target.parent / f".{target.name}.{uuid.uuid4().hex}.old"
        try:
            os.rename(target, aside)
        except FileNotFoundError:
            continue
        try:
            os.rename(staged, target)
        except OSError:
            if not target.exists():  # put the old model back
                os.rename(aside, target)
            raise
        shutil.rmtree(aside, ignore_errors=True)
        return
    raise OSError(f"Could not move the saved model into {str(target)!r}: it kept changing.")


def _swapped(dir_fd: int, folder: Path) -> bool:
    """Whether ``folder`` now names another directory than the open handle ``dir_fd``."""
    try:
        now = os.stat(folder)
    except FileNotFoundError:
        return False
    held = os.fstat(dir_fd)
    return (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino)


@contextlib.contextmanager
def staged_dir(
    path: str | os.PathLike, entries: frozenset[str] = MODEL_DIR_ENTRIES
) -> Iterator[Path]:
    """Yield a new hidden folder beside ``path``; on success it replaces ``path`` whole.

    On any error the hidden folder is removed and ``path`` is left as it was. ``path``
    may be missing, empty, or a folder holding only ``entries`` (a saved model);
    anything else raises :class:`FileExistsError` before any writing.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "model"
    >>> with staged_dir(target) as tmp:
    ...     _ = (tmp / "config.json").write_text("{}")
    >>> sorted(p.name for p in target.iterdir())
    ['config.json']
    """
    target = Path(path)
    _check_replaceable(target, entries)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".saving", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staged, 0o777 & ~umask)  # mkdtemp makes 0700; give the mode a new folder gets
    try:
        yield staged
        _check_replaceable(target, entries)
        _swap_in(staged, target)
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # after a swap it holds the old model


def write_model_dir(
    folder: Path, kind: str, config: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> Path:
    """Write ``tensors`` and ``config`` into the existing (staging) ``folder``.

    The building block of :func:`save_model_dir`, for savers that put more into the
    staged folder (the predictor's ``calliper/``). NumPy scalars in ``config`` are
    written as numbers; other values JSON cannot hold raise :class:`TypeError`.
    """
    from safetensors.torch import save_file

    from .._version import __version__

    folder = Path(folder)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    full = {
        "kind": kind,
        "format_version": MODEL_FORMAT_VERSION,
        "geocalliper_version": __version__,
        "torch_version": torch.__version__.split("+")[0],
        **config,
    }
    # the config first: a value JSON cannot hold fails before the weights are written
    full = json.loads(json.dumps(full, default=_to_json))
    weights = folder / WEIGHTS_FILE
    save_file(tensors, str(weights), metadata={"kind": kind})
    full["weights"] = {
        "file": WEIGHTS_FILE,
        "sha256": _sha256(weights),
        "tensors": {
            k: [str(v.dtype).removeprefix("torch."), list(v.shape)] for k, v in tensors.items()
        },
    }
    full[CONFIG_CHECKSUM] = config_checksum(full)
    (folder / CONFIG_FILE).write_text(json.dumps(full, indent=2), encoding="utf-8")
    return folder


def save_model_dir(
    path: str | os.PathLike, kind: str, config: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> Path:
    """Write ``tensors`` and ``config`` to the model directory ``path``, all or nothing.

    ``config`` must be JSON-serialisable (NumPy scalars are converted); ``kind``, the
    format version, the package versions, the weights' checksum, the tensor shapes and
    the config's own checksum are added to it. The folder is written beside ``path``
    and swapped in (see :func:`staged_dir`).
    """
    with staged_dir(path) as staged:
        write_model_dir(staged, kind, config, tensors)
    return Path(path)


def _read_at(dir_fd: int, name: str) -> bytes:
    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def load_model_dir(
    path: str | os.PathLike,
    kind: str,
    device: str | torch.device = "cpu",
    validate: Callable[[dict[str, Any], Path], None] | None = None,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read and verify a model directory written by :func:`save_model_dir`.

    Both files are read through one handle on the folder, so a save that swaps the
    folder meanwhile cannot mix two models. ``validate(config, config_path)`` runs
    after the config's checks and before the weights are read; it raises
    :class:`ModelFileError` for values it refuses.

    A config without ``"config_sha256"`` (written before geocalliper checked it) is
    read as before: only the weights' checksum and shapes are verified.

    Raises
    ------
    ModelFileError
        If the folder or a file is missing, the config is not valid JSON, was edited
        after saving, or is of another kind or a newer format, or the weights do not
        match the config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_bytes

    folder = Path(path)
    fix = "Save the model again with model.save(path), or point to another folder."
    if not folder.is_dir():
        raise ModelFileError(f"No model directory at {str(folder)!r}.")
    config_path, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for attempt in range(5):
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            try:
                raw_config = _read_at(dir_fd, CONFIG_FILE)
                raw_weights = _read_at(dir_fd, WEIGHTS_FILE)
                break
            except FileNotFoundError as exc:
                # a save swapped a new folder in and removed the one this handle reads:
                # read the new one (the old one is gone, the new one is whole)
                if attempt < 4 and _swapped(dir_fd, folder):
                    continue
                name = Path(exc.filename or CONFIG_FILE).name
                raise ModelFileError(
                    f"The model directory {str(folder)!r} has no {name}. {fix}"
                ) from exc
            except OSError as exc:
                raise ModelFileError(f"Cannot read the model in {str(folder)!r} ({exc}).") from exc
        finally:
            os.close(dir_fd)
    try:
        config = json.loads(raw_config.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{config_path} is not valid JSON ({exc}). {fix}") from exc
    if not isinstance(config, dict) or config.get("kind") != kind:
        found = config.get("kind") if isinstance(config, dict) else None
        raise ModelFileError(f"{config_path} describes a {found!r}, not a {kind!r}.")
    version = config.get("format_version")
    if not isinstance(version, int) or version > MODEL_FORMAT_VERSION:
        raise ModelFileError(
            f"{config_path} has format version {version!r}; this geocalliper reads up to "
            f"{MODEL_FORMAT_VERSION}. Upgrade geocalliper to load it."
        )
    if CONFIG_CHECKSUM in config and config[CONFIG_CHECKSUM] != config_checksum(config):
        raise ModelFileError(
            f"{config_path} does not match its checksum ({CONFIG_CHECKSUM}): the file was "
            f"edited after saving. {fix}"
        )
    meta = config.get("weights")
    if not isinstance(meta, dict) or not isinstance(meta.get("tensors", {}), dict):
        raise ModelFileError(f'{config_path} has no valid "weights" entry. {fix}')
    if hashlib.sha256(raw_weights).hexdigest() != meta.get("sha256"):
        raise ModelFileError(
            f"{weights} does not match the checksum in {CONFIG_FILE}: the file was altered "
            f"or truncated after saving. {fix}"
        )
    if validate is not None:
        validate(config, config_path)
    try:
        tensors = load_bytes(raw_weights)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"Cannot read {weights} ({exc}). {fix}") from exc
    del raw_weights
    expected = meta.get("tensors", {})
    shapes = {k: list(v.shape) for k, v in tensors.items()}
    if set(shapes) != set(expected) or any(
        not isinstance(expected[k], list | tuple)
        or len(expected[k]) != 2
        or shapes[k] != expected[k][1]
        for k in shapes
    ):
        raise ModelFileError(f"The tensors in {weights} do not match {CONFIG_FILE}. {fix}")
    if str(device) != "cpu":
        tensors = {k: v.to(device) for k, v in tensors.items()}
    return config, tensors
