"""Downscaling kernels: loading ``.mat`` / ``.npy`` files, validating them, and the bicubic default.

A kernel is a 2-D non-negative float64 array summing to 1. It is used as given (see
:func:`zssr.ops.resize.kernel_downscale` for the sampling geometry); its centre of mass tells the sub-pixel alignment of
the LR grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import scipy.ndimage
import torch

from zssr.errors import ZSSRError
from zssr.ops.resize import cubic

MAX_KERNEL_SIZE = 65
# Estimated kernels may ring a little (charlie_0.mat, from Michaeli & Irani's estimator, has 2% negative mass).
MAX_NEGATIVE_MASS = 0.2


def kernel_centre(size: int, scale: float) -> float:
    """Where a kernel of odd ``size`` has its centre of mass in this project's convention: the LR pixel's centre in HR
    coordinates, ``size // 2 + (scale - 1) / 2`` (as MATLAB's bicubic places it; see ``resize.kernel_downscale``)."""
    return size // 2 + (scale - 1) / 2


def validate_kernel(kernel: np.ndarray, source: str = "kernel") -> np.ndarray:
    """Check shape and values; return the kernel normalised to sum 1 (float64)."""
    k = np.asarray(kernel)
    if k.dtype == object or not np.issubdtype(k.dtype, np.number):
        raise ZSSRError(f"{source}: kernel must be a numeric 2-D array, got dtype {k.dtype}")
    k = np.squeeze(k.astype(np.float64))
    if k.ndim != 2:
        raise ZSSRError(f"{source}: kernel must be 2-D, got shape {tuple(np.shape(kernel))}")
    if min(k.shape) < 1 or max(k.shape) > MAX_KERNEL_SIZE:
        raise ZSSRError(f"{source}: kernel size {k.shape} outside 1..{MAX_KERNEL_SIZE}")
    if not np.all(np.isfinite(k)):
        raise ZSSRError(f"{source}: kernel contains NaN or infinite values")
    total = k.sum()
    if total <= 1e-12 or np.all(k == 0):
        raise ZSSRError(f"{source}: kernel sums to {total:g}; it must have positive mass")
    negative = -k[k < 0].sum()
    if negative > MAX_NEGATIVE_MASS * k[k > 0].sum():
        raise ZSSRError(f"{source}: kernel has too much negative weight ({negative:.3g} against {k[k > 0].sum():.3g} "
                        f"positive); a blur kernel must be mostly non-negative")
    return k / total


def load_kernel(path: str | Path) -> np.ndarray:
    """Read a kernel from a ``.mat`` file (variable ``Kernel``, or its only array) or a ``.npy`` file."""
    path = Path(path)
    if not path.is_file():
        raise ZSSRError(f"kernel file not found: {path}")
    try:
        if path.suffix.lower() == ".mat":
            data = scipy.io.loadmat(str(path))
            arrays = {k: v for k, v in data.items() if not k.startswith("__")}
            if "Kernel" in arrays:
                kernel = arrays["Kernel"]
            elif len(arrays) == 1:
                kernel = next(iter(arrays.values()))
            else:
                raise ZSSRError(f"{path}: no variable 'Kernel' among {sorted(arrays)}")
        elif path.suffix.lower() == ".npy":
            kernel = np.load(path, allow_pickle=False)
        else:
            raise ZSSRError(f"{path}: unsupported kernel format (use .mat with variable 'Kernel', or .npy)")
    except ZSSRError:
        raise
    except Exception as exc:  # scipy/numpy raise many types for corrupt files
        raise ZSSRError(f"cannot read kernel {path}: {exc.__class__.__name__}: {exc}") from None
    return validate_kernel(kernel, str(path))


def save_kernel(kernel: np.ndarray, stem: str | Path) -> tuple[Path, Path]:
    """Write ``<stem>.npy`` and ``<stem>.mat`` (variable ``Kernel``)."""
    stem = Path(stem)
    npy, mat = stem.with_suffix(".npy"), stem.with_suffix(".mat")
    np.save(npy, kernel)
    scipy.io.savemat(str(mat), {"Kernel": kernel})
    return npy, mat


def as_tensor(kernel: np.ndarray | None) -> torch.Tensor | None:
    return None if kernel is None else torch.as_tensor(kernel, dtype=torch.float32)


# ------------------------------------------------------------------- conventions of estimated and reference kernels
def zero_negligible(kernel: np.ndarray, keep: int = 40) -> np.ndarray:
    """Subtract 0.75 x the ``keep + 1``-th largest value, clip at zero, renormalise (the paper's clean-up)."""
    values = np.sort(kernel.ravel())
    floor = 0.75 * values[-min(keep, values.size - 1) - 1]
    k = np.clip(kernel - floor, 0, None)
    return k / k.sum() if k.sum() > 0 else kernel / kernel.sum()


def recentre(kernel: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Shift (sub-pixel, padding first so nothing is lost) so the centre of mass sits where :func:`kernel_centre`
    puts it for ``scale``; the result is square with an odd side."""
    com = np.array(scipy.ndimage.center_of_mass(kernel))
    pad = int(np.ceil(np.abs(com - (np.array(kernel.shape) // 2)).max())) + 2
    k = np.pad(kernel, pad)
    side = max(k.shape) | 1
    k = np.pad(k, ((0, side - k.shape[0]), (0, side - k.shape[1])))
    com = np.array(scipy.ndimage.center_of_mass(k))
    want = np.array([kernel_centre(side, s) for s in scale])
    k = scipy.ndimage.shift(k, want - com, order=3, mode="constant")
    k = np.clip(k, 0, None)
    return k / k.sum()


def analytic_x4(k2: np.ndarray) -> np.ndarray:
    """The x4 kernel of downscaling twice by 2 with ``k2``: ``k4[2a + b] += k2[a] k2[b]`` (3K - 2 wide), trimmed by
    ``K // 2`` on each side where it is negligible. In this project's convention its centre lands where x4 wants it."""
    n = k2.shape[0]
    big = np.zeros((3 * n - 2, 3 * n - 2))
    for r in range(n):
        for c in range(n):
            big[2 * r: 2 * r + n, 2 * c: 2 * c + n] += k2[r, c] * k2
    trim = n // 2
    k = big[trim:-trim, trim:-trim]
    return k / k.sum()


def for_scale(k2: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """The kernel for ``scale`` from the x2 estimate: as is at x2, analytic at x4, stretched by ``s / 2`` otherwise."""
    if scale == (2.0, 2.0):
        return k2
    if scale == (4.0, 4.0):
        return analytic_x4(k2)
    zoom = (scale[0] / 2, scale[1] / 2)
    k = scipy.ndimage.zoom(k2, zoom, order=3, grid_mode=True, mode="grid-constant")
    return recentre(np.clip(k, 0, None) / np.clip(k, 0, None).sum(), scale)


def bicubic_kernel(scale: int = 2) -> np.ndarray:
    """MATLAB's antialiased bicubic downscaling by an integer ``scale`` as an explicit kernel, in this project's
    convention (odd side, centre of mass at ``K // 2 + (s - 1) / 2``): a reference point for kernel errors."""
    size = 4 * scale + 1
    w = cubic((np.arange(size) - kernel_centre(size, scale)) / scale)
    k = np.outer(w, w)
    return k / k.sum()


def _mirror_padded(kernel: np.ndarray, axis: int, scale: float) -> np.ndarray | None:
    """``kernel`` padded with zeros at the end of ``axis`` so that its convention's centre (:func:`kernel_centre`) is
    the padded array's middle; None where no padding can (a non-integer scale puts the centre off the half-pixel
    grid)."""
    size = kernel.shape[axis]
    pad = 2 * (size // 2) + scale - size
    if pad < 0 or pad != int(pad):
        return None
    widths = [(0, 0), (0, 0)]
    widths[axis] = (0, int(pad))
    return np.pad(kernel, widths)


def dihedral_symmetry(kernel: np.ndarray, scale: tuple[float, float], rtol: float = 1e-6) -> tuple[bool, bool]:
    """Whether blurring and subsampling with ``kernel`` by ``scale`` commutes with mirror images (left-right) and with
    quarter turns (all 8 rotations and flips) of an image whose sides are multiples of the scale: then crops turned or
    mirrored before the kernel make sons as the input was made, and the ensemble's variants see the input's own
    kernel. True for a kernel symmetric about its convention's centre (an isotropic Gaussian, a disk, the bicubic
    kernel); quarter turns need an isotropic scale and a kernel equal to its transpose too."""
    k = np.asarray(kernel, dtype=np.float64)
    tol = rtol * np.abs(k).max()

    def mirrored(axis: int) -> bool:
        padded = _mirror_padded(k, axis, scale[axis])
        return padded is not None and np.allclose(padded, np.flip(padded, axis), rtol=0, atol=tol)

    flips = mirrored(1)
    turns = (flips and scale[0] == scale[1] and k.shape[0] == k.shape[1] and mirrored(0)
             and np.allclose(k, k.T, rtol=0, atol=tol))
    return flips, turns


def kernel_covariance(kernel: np.ndarray) -> np.ndarray:
    """The kernel's second moments about its centre of mass, ``[[xx, xy], [xy, yy]]`` in pixels^2 (its trace: the
    kernel's size)."""
    k = kernel / kernel.sum()
    yy, xx = np.mgrid[: k.shape[0], : k.shape[1]]
    dy, dx = yy - (k * yy).sum(), xx - (k * xx).sum()
    return np.array([[(k * dx * dx).sum(), (k * dx * dy).sum()], [(k * dx * dy).sum(), (k * dy * dy).sum()]])


def kernel_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Relative L2 error ``||k_est - k_true|| / ||k_true||`` after aligning the two centres of mass on a common grid
    (a global sub-pixel shift cannot be told from the LR image, so it is not counted)."""
    side = max(max(estimate.shape), max(truth.shape)) + 8
    side |= 1
    grids = []
    for k in (estimate, truth):
        canvas = np.zeros((side, side))
        top, left = (side - k.shape[0]) // 2, (side - k.shape[1]) // 2
        canvas[top: top + k.shape[0], left: left + k.shape[1]] = k / k.sum()
        com = np.array(scipy.ndimage.center_of_mass(canvas))
        grids.append(scipy.ndimage.shift(canvas, np.array([side // 2] * 2) - com, order=3, mode="constant"))
    return float(np.linalg.norm(grids[0] - grids[1]) / np.linalg.norm(grids[1]))
