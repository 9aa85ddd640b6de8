"""``estimator=spectral``: the kernel from the LR image's spectrum alone (:mod:`.fit`), in under a second."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch

from zssr.estimators.base import Estimate, KernelEstimator
from zssr.estimators.guard import kernel_passband, sharpness_ratio
from zssr.estimators.spectral.fit import anisotropic_kernel, binned_spectrum, blur_shapes, spectral_kernel
from zssr.run.settings import Number, OneOf, PerScale, for_factor, require

log = logging.getLogger(__name__)


class SpectralEstimator(KernelEstimator):
    """``shape: anisotropic``: the Gaussian whose covariance fits the spectrum's falloff (times ``shrink``; the
    falloff's exponent drawn towards ``slope_prior`` with the weight of ``slope_prior_weight`` bins), or a straight
    motion path or defocus disk in its place where one explains the spectrum with at most ``blur_ratio`` of the
    Gaussian's residual (None: Gaussians only). ``shape: isotropic``, and wherever the spectrum has too little above
    its noise for a fit or the fit leaves the image with a native sharpness under ``min_native`` (noise or compression
    flattening the falloff make it too narrow): the round Gaussian that leaves the image ``native_target`` (per SR
    factor or one for all)."""

    def __init__(self, *, name: str, shape: str, shrink: float, slope_prior: float, slope_prior_weight: float,
                 blur_ratio: float | None, min_native: float | None, native_target: Any, sharpness_limit: Any):
        # the values and why: conf/estimator/spectral.yaml
        super().__init__(name, sharpness_limit)
        self.shape = require("estimator.shape", shape, OneOf(("anisotropic", "isotropic")))
        self.shrink = require("estimator.shrink", shrink, Number(0, integer=False, open_low=True))
        self.slope_prior = require("estimator.slope_prior", slope_prior, Number(0, integer=False, open_low=True))
        self.slope_prior_weight = require("estimator.slope_prior_weight", slope_prior_weight,
                                          Number(0, integer=False))
        self.blur_ratio = require("estimator.blur_ratio", blur_ratio,
                                  Number(0, 1, integer=False, open_low=True, optional=True))
        self.min_native = require("estimator.min_native", min_native, Number(0, integer=False, optional=True))
        self.native_target = require("estimator.native_target", native_target,
                                     PerScale(Number(0, integer=False, open_low=True)))

    def estimate(self, image: torch.Tensor, scale: tuple[float, float], seed: int = 0, loggers: list | None = None,
                 progress: bool = False) -> Estimate:
        started = time.perf_counter()
        because = None
        if self.shape == "anisotropic":
            est, because = self._fit(image, scale)
            if est is not None:
                est.seconds = time.perf_counter() - started
                return est
            log.warning("%s; taking a width only", because)
        kernel, variance, native = spectral_kernel(image, scale, float(for_factor(self.native_target, scale)))
        seconds = time.perf_counter() - started
        log.info("kernel from the spectrum in %.2f s: isotropic Gaussian of variance %.2f HR px^2", seconds, variance)
        return Estimate(kernel=kernel, seconds=seconds, native_sharpness=native, width_because=because)

    def _fit(self, image: torch.Tensor, scale: tuple[float, float]) -> tuple[Estimate | None, str | None]:
        """The anisotropic fit (or a motion path or disk in its place), or None and why there is none."""
        prior = float(self.slope_prior), float(self.slope_prior_weight)
        spectrum = binned_spectrum(image, scale)  # made once for the Gaussian and the shapes
        fitted = None if spectrum is None else anisotropic_kernel(image, scale, float(self.shrink), *prior,
                                                                  spectrum=spectrum)
        if fitted is None:
            return None, "too little of the spectrum stands above the noise for a kernel's shape"
        kernel, cov = fitted
        blur = None
        if self.blur_ratio is not None:
            better = [b for b in blur_shapes(image, scale, *prior, spectrum=spectrum)
                      if b.ratio <= float(self.blur_ratio)]
            blur = min(better, key=lambda b: b.ratio, default=None)
        if blur is not None:
            kernel = blur.kernel(scale)
            what = (f"{blur.kind} blur of {'length' if blur.kind == 'motion' else 'radius'} {blur.size:.2f} HR px"
                    + (f" at {np.degrees(blur.angle):.0f} deg" if blur.kind == "motion" else "")
                    + f" (residual {blur.ratio:.2f} of the Gaussian's)")
        else:
            what = "Gaussian of variances {:.2f} / {:.2f} HR px^2".format(*np.linalg.eigvalsh(cov))
        native = sharpness_ratio(image) / kernel_passband(kernel, scale)
        if self.min_native is not None and native < float(self.min_native):
            return None, (f"the spectrum's fit ({what}) leaves the image duller than natural images are (native "
                          f"sharpness {native:.3f} < estimator.min_native {float(self.min_native):g}), so it is too "
                          "narrow")
        log.info("kernel from the spectrum: %s", what)
        return Estimate(kernel=kernel, native_sharpness=native, fitted=True, blur=blur), None
