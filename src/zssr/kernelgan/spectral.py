"""A kernel from the LR image's spectrum alone: the isotropic Gaussian whose blur leaves the image as sharp as natural
images are.

A kernel attenuates the image's high band more than its low band, the more so the wider it is, while natural images
have a typical ratio of the two bands of their own (:func:`.guard.sharpness_ratio` over :func:`.guard.kernel_passband`,
the image's *native* sharpness; its median over held-out BSD100 images with their true kernels is the target). So the
width whose passband brings the image's ratio to that target is the estimate. One FFT of the image and a 1-D search
over 160 widths: under a second instead of a GAN's minutes, but only a width: no orientation, no shape.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from zssr.degradations import gaussian_covariance_kernel
from zssr.kernelgan.guard import kernel_passband, sharpness_ratio
from zssr.kernels import recentre


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
