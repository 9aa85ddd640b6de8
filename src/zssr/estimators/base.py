"""What every kernel estimator is: ``kernel=estimated`` builds one from ``conf/estimator/<name>.yaml`` by its
``_target_`` and calls it on the LR image.

An estimator subclasses :class:`KernelEstimator`: its typed ``__init__`` declares its settings (checked there, so a
bad value is one line before any training) and :meth:`KernelEstimator.estimate` returns an :class:`Estimate`. The
base class does what all share: images that cannot give a kernel (too small, too flat) fall back to bicubic before
the estimator runs, and an estimate too wide to have made the image (:func:`check_width`) is turned down after it.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from zssr.errors import build_role
from zssr.estimators.guard import unusable
from zssr.run.settings import Number, PerScale, for_factor, require


@dataclass
class Estimate:
    """An estimated kernel (None when estimation fell back to bicubic) with how it was obtained."""

    kernel: np.ndarray | None
    kernel_x2: np.ndarray | None = None
    seconds: float = 0.0
    iterations: int = 0
    fallback_reason: str | None = None
    native_sharpness: float | None = None  # :func:`.guard.sharpness_ratio` over the estimate's passband
    rejected: np.ndarray | None = None  # an estimate turned down as too wide for the image (``kernel`` is then None)
    seed: int = 0  # the start this estimate came from
    candidates: list[Estimate] = field(default_factory=list)  # every start's estimate (``estimator.starts``)
    fitted: bool = False  # a fit of the kernel's shape that ZSSR may trust as given (``kernel_guess.trust_fit``)
    width_because: str | None = None  # why a shape fit gave way to a width only
    blur: Any = None  # a motion path or defocus disk (:class:`.spectral.BlurShape`) in place of a Gaussian
    details: dict[str, Any] = field(default_factory=dict)  # anything else for result.json's kernel_estimation


def check_width(est: Estimate, limit: Any, scale: tuple[float, float]) -> Estimate:
    """Turn ``est`` down for the bicubic kernel when the image, with its blur taken out, is sharper than ``limit``
    (a :class:`~zssr.run.settings.PerScale` value; None: no check) allows: the estimate is then too wide."""
    limit = for_factor(limit, scale)
    if limit is None or est.kernel is None or est.native_sharpness is None or est.native_sharpness <= float(limit):
        return est
    reason = (f"the image is sharper than the estimated kernel allows (native sharpness {est.native_sharpness:.2f} > "
              f"estimator.sharpness_limit {float(limit):g}), so it is too wide")
    warnings.warn(f"kernel estimate rejected: {reason}; using the bicubic kernel", stacklevel=2)
    return replace(est, kernel=None, rejected=est.kernel, fallback_reason=reason)


class KernelEstimator(ABC):
    """A kernel estimator. ``name`` labels its results (metrics.csv, run.json, the report); ``sharpness_limit``
    turns down estimates too wide for the image (per SR factor or one for all; None: off); ``crop_size`` is the
    smallest side an image needs for it (0: any)."""

    def __init__(self, name: str, sharpness_limit: Any = None, crop_size: int = 0):
        self.name = str(name)
        self.sharpness_limit = require("estimator.sharpness_limit", sharpness_limit,
                                       PerScale(Number(0, integer=False, optional=True)))
        self.crop_size = int(crop_size)

    @abstractmethod
    def estimate(self, image: torch.Tensor, scale: tuple[float, float], seed: int = 0, loggers: list | None = None,
                 progress: bool = False) -> Estimate:
        """The kernel of ``image`` (``(3, H, W)`` in [0, 1]) for ``scale``; ``Estimate(kernel=None,
        fallback_reason=...)`` when it has none to give."""

    def __call__(self, image: torch.Tensor, scale: tuple[float, float], seed: int = 0, loggers: list | None = None,
                 progress: bool = False) -> Estimate:
        reason = unusable(image, self.crop_size)
        if reason:
            warnings.warn(f"kernel estimation skipped: {reason}; using the bicubic kernel", stacklevel=2)
            return Estimate(kernel=None, fallback_reason=reason)
        est = self.estimate(image, scale, seed=seed, loggers=loggers, progress=progress)
        if est.kernel is None:
            warnings.warn(f"kernel estimation failed: {est.fallback_reason}; using the bicubic kernel", stacklevel=2)
            return est
        return check_width(est, self.sharpness_limit, scale)


def build_estimator(cfg: Mapping[str, Any]) -> KernelEstimator:
    """The estimator ``cfg`` (the ``estimator`` node) describes, by its ``_target_``; a setting it refuses is one
    :class:`ZSSRError` line."""
    return build_role(cfg, "estimator", KernelEstimator, _recursive_=False)


def estimate_kernel(image: torch.Tensor, scale: tuple[float, float], cfg: Mapping[str, Any],
                    loggers: list | None = None, progress: bool = False, seed: int = 0) -> Estimate:
    """Build the estimator ``cfg`` describes and run it on ``image``."""
    return build_estimator(cfg)(image, scale, seed=seed, loggers=loggers, progress=progress)
