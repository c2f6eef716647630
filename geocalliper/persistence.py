"""Model directories on disk: ``config.json`` + ``model.safetensors``, never pickle.

Writes are atomic file by file (a temporary file, then a rename), weights first and
config last; the config records the SHA-256 of the weights and every tensor's shape,
so a directory with a missing, truncated or altered file is refused on load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ._constants import CONFIG_FILE, MODEL_FORMAT_VERSION, WEIGHTS_FILE
from .exceptions import ModelFileError


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


def save_model_dir(
    path: str | os.PathLike, kind: str, config: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> Path:
    """Write ``tensors`` and ``config`` to the model directory ``path``.

    ``config`` must be JSON-serialisable; ``kind``, the format version, the package
    versions, the weights' checksum and the tensor shapes are added to it.
    """
    from safetensors.torch import save_file

    from . import __version__

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    weights = folder / WEIGHTS_FILE
    with atomic_path(weights) as tmp:
        save_file(tensors, str(tmp), metadata={"kind": kind})
        digest = _sha256(tmp)
    full = {
        "kind": kind,
        "format_version": MODEL_FORMAT_VERSION,
        "geocalliper_version": __version__,
        "torch_version": torch.__version__.split("+")[0],
        **config,
        "weights": {
            "file": WEIGHTS_FILE,
            "sha256": digest,
            "tensors": {
                k: [str(v.dtype).removeprefix("torch."), list(v.shape)] for k, v in tensors.items()
            },
        },
    }
    with atomic_path(folder / CONFIG_FILE) as tmp:
        tmp.write_text(json.dumps(full, indent=2, sort_keys=False), encoding="utf-8")
    return folder


def load_model_dir(
    path: str | os.PathLike, kind: str, device: str | torch.device = "cpu"
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read and verify a model directory written by :func:`save_model_dir`.

    Raises
    ------
    ModelFileError
        If the folder or a file is missing, the config is not valid JSON or is of
        another kind or a newer format, or the weights do not match the config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(path)
    fix = "Save the model again with model.save(path), or point to another folder."
    if not folder.is_dir():
        raise ModelFileError(f"No model directory at {str(folder)!r}.")
    config_path, weights = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for f in (config_path, weights):
        if not f.is_file():
            raise ModelFileError(f"The model directory {str(folder)!r} has no {f.name}. {fix}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
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
    meta = config.get("weights") or {}
    if _sha256(weights) != meta.get("sha256"):
        raise ModelFileError(
            f"{weights} does not match the checksum in {CONFIG_FILE}: the file was altered "
            f"or truncated after saving. {fix}"
        )
    try:
        tensors = load_file(str(weights), device=str(device))
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(f"Cannot read {weights} ({exc}). {fix}") from exc
    expected = meta.get("tensors", {})
    shapes = {k: list(v.shape) for k, v in tensors.items()}
    if set(shapes) != set(expected) or any(shapes[k] != expected[k][1] for k in shapes):
        raise ModelFileError(f"The tensors in {weights} do not match {CONFIG_FILE}. {fix}")
    return config, tensors
