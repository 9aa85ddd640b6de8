"""Downscaling kernels: loading ``.mat`` / ``.npy`` files, validating them, and the bicubic default.

A kernel is a 2-D non-negative float64 array summing to 1. It is used as given (see :func:`zssr.resize.kernel_downscale`
for the sampling geometry); its centre of mass tells the sub-pixel alignment of the LR grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
import torch

from zssr.errors import ZSSRError

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
