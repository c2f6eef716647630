"""Axis-aligned banding ("plaid") of an embedding map: the axis/diagonal power ratio.

A model built on the Grid encoding, whose features are separable in x and y, paints
its maps in horizontal and vertical stripes. This measures it: the first three
principal components of an embedding raster are standardised, tapered with a 2-D Hann
window (so the raster's edges add no axis-aligned leakage) and Fourier-transformed; the
ratio is the mean spectral power within ±``band`` degrees of the x and y frequency axes
over the mean power within ±``band`` degrees of the diagonals, over frequencies above
the lowest ``min_radius`` bins (the DC term and trends). Stripes along the axes give tens
or more. A smooth isotropic random field scores about 1.5–3.5, not 1: the separable taper
leaks a little power along the axes, more so for smoother fields, so every result is
reported beside such a field of the same shape (``isotropic_control``).

Run from the repository root (it fits or loads a model, embeds NYC on a 100 m grid)::

    HF_HUB_OFFLINE=1 python benchmarks/map_isotropy.py --model MODEL_DIR
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import geocalliper as gc  # noqa: E402

BAND_DEGREES = 5.0
MIN_RADIUS = 3


def principal_components(values: np.ndarray, n: int = 3) -> np.ndarray:
    """``(bands, H, W)`` → the first ``n`` principal-component images ``(n, H, W)``."""
    bands, h, w = values.shape
    flat = values.reshape(bands, -1).T.astype(np.float64)
    ok = np.isfinite(flat).all(axis=1)
    centred = flat[ok] - flat[ok].mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    comps = np.zeros((n, h * w))
    comps[:, ok] = (centred @ vt[:n].T).T
    return comps.reshape(n, h, w)


def axis_diagonal_ratio(
    images: np.ndarray, band: float = BAND_DEGREES, min_radius: int = MIN_RADIUS
) -> float:
    """Mean spectral power near the frequency axes over that near the diagonals.

    ``images`` is ``(n, H, W)``; each image is standardised and Hann-tapered first.

    Examples
    --------
    >>> y, x = np.mgrid[0:128, 0:128]
    >>> stripes = np.sin(x / 3.0)[None] + np.sin(y / 5.0)[None]
    >>> axis_diagonal_ratio(stripes) > 100
    True
    """
    _, h, w = images.shape
    taper = np.outer(np.hanning(h), np.hanning(w))
    fy = np.fft.fftfreq(h)[:, None] * h  # in bins, so both axes count alike
    fx = np.fft.fftfreq(w)[None, :] * w
    radius = np.hypot(fx * min(h, w) / w, fy * min(h, w) / h)
    angle = np.degrees(np.arctan2(np.abs(fy) / h, np.abs(fx) / w))  # 0..90
    keep = radius >= min_radius
    axis = keep & ((angle <= band) | (angle >= 90.0 - band))
    diagonal = keep & (np.abs(angle - 45.0) <= band)
    power = np.zeros((h, w))
    for img in images:
        z = (img - img.mean()) / (img.std() or 1.0)
        power += np.abs(np.fft.fft2(z * taper)) ** 2
    return float(power[axis].mean() / power[diagonal].mean())


def isotropic_control(shape: tuple[int, int], seed: int = 0, width: float = 4.0) -> np.ndarray:
    """Three smooth isotropic random fields (white noise, Gaussian blur) of ``shape``."""
    rng = np.random.default_rng(seed)
    h, w = shape
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    kernel = np.exp(-2 * (np.pi * width) ** 2 * (fx**2 + fy**2))
    fields = [np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=shape)) * kernel)) for _ in range(3)]
    return np.stack(fields)


def model_map_ratio(model: gc.CaLLiPer, pois, resolution: float = 100.0) -> dict[str, float]:
    """Embed the bounding box of ``pois`` at ``resolution`` metres, in their UTM zone, and
    measure the axis/diagonal ratio of its first three principal components."""
    utm = pois.estimate_utm_crs()
    bounds = tuple(pois.to_crs(utm).total_bounds)
    grid = gc.embed_grid(model, bounds, resolution=resolution, crs=utm, area_crs=utm)
    comps = principal_components(np.asarray(grid.values))
    return {
        "ratio": axis_diagonal_ratio(comps),
        "isotropic_control": axis_diagonal_ratio(isotropic_control(comps.shape[1:])),
        "shape": list(comps.shape[1:]),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a saved CaLLiPer folder")
    data = os.environ.get("GEOCALLIPER_DATA") or ROOT.parent / "shared" / "data"
    parser.add_argument("--data", type=Path, default=Path(data))
    parser.add_argument("--resolution", type=float, default=100.0)
    args = parser.parse_args(argv)
    from nyc_pois import load_nyc_pois

    model = gc.CaLLiPer.load(args.model, progress=False)
    pois = load_nyc_pois(args.data)
    out = model_map_ratio(model, pois, args.resolution)
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
