"""Blur steps: each draws the kernel of the down-model, which the downscale (:class:`.steps.Downscale`) applies."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zssr.degradations.blur_kernels import (
    gaussian_covariance_kernel,
    gaussian_kernel,
    kernelgan_kernel,
    motion_defocus_kernel,
)
from zssr.degradations.steps import Range, Sample, Step, check_pair, check_range, draw
from zssr.errors import ZSSRError
from zssr.ops.kernels import load_kernel


class Blur(Step):
    """A blur: draws the kernel of the down-model, which the downscale applies."""

    @abstractmethod
    def kernel(self, scale: int, rng: np.random.Generator) -> np.ndarray: ...

    def __call__(self, x: Sample, rng: np.random.Generator) -> None:
        if x.downscaled:
            raise ZSSRError(f"{type(self).__name__} comes after the downscale: a blur is part of the down-model, so "
                            "list it before (or set degradation.order)")
        if x.kernel is not None:
            raise ZSSRError(f"{type(self).__name__}: the down-model has a kernel already (one blur step per "
                            "degradation)")
        x.kernel = self.kernel(x.scale, rng)


class GaussianBlur(Blur):
    """The paper's Table 2 kernels: an anisotropic Gaussian, its variances ``U[low s^2, high s^2]`` (at least
    ``min_variance``), at a random angle; ``size`` the grid (default ``4 s + 3``, odd)."""

    def __init__(self, *, low: float, high: float, min_variance: float, size: int | None):
        check_range([low, high], "GaussianBlur: [low, high]")
        self.low, self.high, self.min_variance, self.size = low, high, min_variance, size

    def kernel(self, scale: int, rng: np.random.Generator) -> np.ndarray:
        return gaussian_kernel(scale, rng, self.size, self.low, self.high, self.min_variance)


class KernelGANBlur(Blur):
    """KernelGAN's benchmark kernels: variances ``U[low s, high s]``, a random angle, each value times
    ``1 + U[-noise, noise]``."""

    def __init__(self, *, low: float, high: float, noise: float, size: int | None):
        check_range([low, high], "KernelGANBlur: [low, high]")
        check_range(noise, "KernelGANBlur: noise", high=1.0)
        self.low, self.high, self.noise, self.size = low, high, noise, size

    def kernel(self, scale: int, rng: np.random.Generator) -> np.ndarray:
        return kernelgan_kernel(scale, rng, self.size, self.noise, self.low, self.high)


class IsotropicGaussianBlur(Blur):
    """A round Gaussian of standard deviation ``sigma`` HR pixels (a value, or ``[low, high]`` drawn per image)."""

    def __init__(self, *, sigma: Range):
        self.sigma = check_range(sigma, "IsotropicGaussianBlur: sigma", low=0.1, high=20.0)

    def kernel(self, scale: int, rng: np.random.Generator) -> np.ndarray:
        sigma = draw(self.sigma, rng)
        size = max(int(4 * scale + 3), int(np.ceil(6 * sigma)) + 2 * scale) | 1
        return gaussian_covariance_kernel(np.array([sigma**2, sigma**2]), 0.0, size, scale)


class MotionDefocusBlur(Blur):
    """A motion path of ``length`` x s HR pixels (a ``motion_share`` of images) or a defocus disk of ``radius`` x s,
    through a Gaussian of ``optics`` x s for the lens."""

    def __init__(self, *, motion_share: float, length: Sequence[float], radius: Sequence[float], optics: float):
        self.motion_share = check_range(motion_share, "MotionDefocusBlur: motion_share", high=1.0)
        self.length = check_pair(length, "MotionDefocusBlur: length", low=0.1)
        self.radius = check_pair(radius, "MotionDefocusBlur: radius", low=0.1)
        self.optics = check_range(optics, "MotionDefocusBlur: optics", low=0.01)

    def kernel(self, scale: int, rng: np.random.Generator) -> np.ndarray:
        return motion_defocus_kernel(scale, rng, self.motion_share, self.length, self.radius, self.optics)


class KernelFile(Blur):
    """A kernel from a file (``.mat`` or ``.npy``), or from a folder of them, one drawn per image."""

    def __init__(self, *, path: str):
        self.path = Path(path).expanduser()
        files = sorted(p for p in self.path.glob("*") if p.suffix.lower() in (".mat", ".npy")) \
            if self.path.is_dir() else [self.path]
        if not files or not files[0].is_file():
            raise ZSSRError(f"KernelFile: no kernel file at {self.path} (a .mat or .npy file, or a folder of them)")
        self.files = files

    def kernel(self, scale: int, rng: np.random.Generator) -> np.ndarray:
        pick = self.files[int(rng.integers(len(self.files)))] if len(self.files) > 1 else self.files[0]
        return load_kernel(pick)
