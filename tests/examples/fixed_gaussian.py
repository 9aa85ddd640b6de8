"""An example kernel estimator from outside the package: a round Gaussian of a width you know (say, your camera's),
whatever the image. Used with ``conf/estimator/fixed_gaussian.yaml`` beside it:
``PYTHONPATH=tests/examples python train.py hydra.searchpath=[file://tests/examples/conf] kernel=estimated
estimator=fixed_gaussian``."""

from __future__ import annotations

import numpy as np
import torch

from zssr.degradations import gaussian_covariance_kernel
from zssr.errors import ZSSRError
from zssr.estimators import Estimate, KernelEstimator, kernel_passband, sharpness_ratio


class FixedGaussian(KernelEstimator):
    """The isotropic Gaussian of standard deviation ``sigma`` HR pixels per unit of scale (so ``sigma`` x s)."""

    def __init__(self, *, name: str, sigma: float, sharpness_limit: float | None):
        super().__init__(name, sharpness_limit)
        if not 0.1 <= sigma <= 5:
            raise ZSSRError(f"estimator.sigma must be in [0.1, 5], got {sigma}")
        self.sigma = sigma

    def estimate(self, image: torch.Tensor, scale: tuple[float, float], seed: int = 0, loggers: list | None = None,
                 progress: bool = False) -> Estimate:
        s = max(scale)
        variance = (self.sigma * s) ** 2
        kernel = gaussian_covariance_kernel(np.array([variance, variance]), 0.0, int(4 * s + 3) | 1, s)
        native = sharpness_ratio(image) / kernel_passband(kernel, scale)
        return Estimate(kernel=kernel, native_sharpness=native, details={"sigma_hr_px": self.sigma * s})
