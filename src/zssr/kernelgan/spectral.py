"""A kernel from the LR image's spectrum alone: a Gaussian, no GAN, in under a second.

Two ways (``estimator.shape``):

- ``anisotropic`` (:func:`spectral_covariance`): natural images' power falls off as a power of the frequency, while a
  Gaussian kernel of covariance ``S`` multiplies it by ``exp(-4 pi^2 v^T S v)``. So along every direction the log
  power of the LR image is a constant of that direction (the photo's own oriented texture) minus ``beta log f`` minus
  a quadratic in the frequency whose coefficients are ``S``'s. One linear least-squares fit over the spectrum's
  direction and radius bins recovers ``S``: orientation and anisotropy as well as width. The texture's direction
  goes into the per-direction constants, not into ``S``.
- ``isotropic`` (:func:`spectral_kernel`): a kernel attenuates the image's high band more than its low band, the more
  so the wider it is, while natural images have a typical ratio of the two bands of their own
  (:func:`.guard.sharpness_ratio` over :func:`.guard.kernel_passband`, the image's *native* sharpness). So the width
  whose passband brings the image's ratio to a target is the estimate: a width only.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from zssr.degradations import gaussian_covariance_kernel
from zssr.kernelgan.guard import kernel_passband, sharpness_ratio, windowed_power
from zssr.kernels import recentre
from zssr.metrics import luma


@lru_cache(maxsize=8)
def gaussian_widths(scale: tuple[float, float], count: int = 160
                    ) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray]:
    """Isotropic Gaussian kernels for ``scale`` with variances from 0.01 s^2 to 3 s^2 (HR pixels^2), geometric, and
    their :func:`.guard.kernel_passband`; the same for every image, so made once per scale (callers must not modify
    them)."""
    s = max(scale)
    variances = np.geomspace(0.01 * s * s, 3.0 * s * s, count)
    size = int(2 * np.ceil(3 * np.sqrt(variances[-1])) + 1) | 1
    kernels = tuple(recentre(gaussian_covariance_kernel(np.array([v, v]), 0.0, size, 1), scale) for v in variances)
    return variances, kernels, np.array([kernel_passband(k, scale) for k in kernels])


def spectral_kernel(image: torch.Tensor, scale: tuple[float, float], native_target: float
                    ) -> tuple[np.ndarray, float, float]:
    """The isotropic Gaussian kernel that gives ``image`` the native sharpness ``native_target`` (the narrowest on the
    grid when even that leaves the image duller than the target, the widest when even that leaves it sharper), its
    variance, and the native sharpness it gives."""
    variances, kernels, passbands = gaussian_widths(tuple(float(f) for f in scale))
    native = sharpness_ratio(image) / passbands
    best = int(np.argmin(np.abs(np.log(np.maximum(native, 1e-12)) - np.log(native_target))))
    return kernels[best].copy(), float(variances[best]), float(native[best])


def spectral_covariance(image: torch.Tensor, scale: tuple[float, float], sectors: int = 16, rings: int = 14,
                        band: tuple[float, float] = (0.06, 0.46), snr_min: float = 1.0, slope_prior: float = 2.0,
                        slope_weight: float = 3.0) -> np.ndarray | None:
    """The covariance (HR pixels^2, ``[[xx, xy], [xy, yy]]``) of the Gaussian kernel that best explains the falloff of
    ``image``'s luma spectrum (Hann window), or None when too few of its bins rise above the noise.

    The spectrum between ``band`` cycles per LR pixel is averaged in ``sectors`` directions (over 180 degrees) x
    ``rings`` radii, the white-noise floor of :func:`.guard.windowed_power` taken off, and bins less than ``snr_min``
    times that floor above it are left out. The model of a bin's log power is ``a[direction] - beta log f - 4 pi^2
    v^T S v``, with ``v`` the bin's HR frequency (the LR frequency over ``scale``): linear in ``a``, ``beta`` and
    ``S``'s three entries. Over this band a falloff steeper than a power law can be told from a wider kernel only
    in part, so ``beta`` is drawn towards ``slope_prior`` (natural images' power falls off about as ``f^-2``, Field
    1987; van der Schaaf & van Hateren 1996): one more equation, ``beta = slope_prior``, weighted ``slope_weight``
    times a mean bin (0: no prior). ``S`` is the fit's, not yet made positive definite.
    """
    power, floor = windowed_power(luma(image).double().numpy())
    h, w = power.shape
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    radius = np.hypot(fx, fy)
    sector = np.minimum((np.mod(np.arctan2(fy, fx), np.pi) / np.pi * sectors).astype(int), sectors - 1)
    ring = np.digitize(radius, np.linspace(band[0], band[1], rings + 1)) - 1
    vx, vy = fx / scale[1], fy / scale[0]
    rows, logs, weights = [], [], []
    for d in range(sectors):
        for r in range(rings):
            cell = (sector == d) & (ring == r)
            count = int(cell.sum())
            if count < 3:
                continue
            excess = float(power[cell].mean()) - floor
            if excess <= max(snr_min * floor, 1e-30):
                continue
            row = np.zeros(sectors + 4)
            row[d] = 1.0
            row[sectors] = -np.log(radius[cell]).mean()
            row[sectors + 1:] = -4 * np.pi**2 * np.array([(vx[cell] ** 2).mean(), 2 * (vx[cell] * vy[cell]).mean(),
                                                           (vy[cell] ** 2).mean()])
            rows.append(row)
            logs.append(np.log(excess))
            weights.append(np.sqrt(count))
    if len(rows) < sectors + 8:
        return None
    a, b, wt = np.array(rows), np.array(logs), np.array(weights)
    if slope_weight > 0:
        prior = np.zeros(sectors + 4)
        prior[sectors] = 1.0
        a, b, wt = np.vstack([a, prior]), np.append(b, slope_prior), np.append(wt, slope_weight * wt.mean())
    wt = wt[:, None]
    used = np.abs(a).sum(0) > 0  # directions with no bin above the noise drop out
    solution = np.zeros(a.shape[1])
    solution[used] = np.linalg.lstsq(a[:, used] * wt, b * wt[:, 0], rcond=None)[0]
    xx, xy, yy = solution[-3:]
    cov = np.array([[xx, xy], [xy, yy]])
    return cov if np.all(np.isfinite(cov)) else None


def anisotropic_kernel(image: torch.Tensor, scale: tuple[float, float], shrink: float, slope_prior: float = 2.0,
                       slope_weight: float = 3.0) -> tuple[np.ndarray, np.ndarray] | None:
    """The Gaussian of :func:`spectral_covariance` times ``shrink``, its variances kept within 0.025 s^2 and 3 s^2 HR
    pixels^2 (``s`` the larger factor; the range of :func:`gaussian_widths`), centred as the project's kernels are:
    the kernel and its covariance, or None when the spectrum gave no fit."""
    cov = spectral_covariance(image, scale, slope_prior=slope_prior, slope_weight=slope_weight)
    if cov is None:
        return None
    s = max(scale)
    values, vectors = np.linalg.eigh(shrink * cov)
    values = np.clip(values, 0.025 * s * s, 3.0 * s * s)
    cov = vectors @ np.diag(values) @ vectors.T
    size = int(2 * np.ceil(3 * np.sqrt(values.max())) + 1) | 1
    theta = float(np.arctan2(vectors[1, 0], vectors[0, 0]))
    kernel = recentre(gaussian_covariance_kernel(values, theta, size, 1), scale)
    return kernel, cov
