"""The steps a degradation is made of: the interface, and the downscale, noise and compression steps.

A step is any callable ``step(x, rng)`` that changes the :class:`Sample` ``x`` in place, drawing its randomness only
from ``rng`` (the generator the runner seeds per image). Each class here is one step; its typed ``__init__`` is the
one declaration of its settings, which a YAML under ``conf/degradation/`` fills in by ``_target_``. A number that may
be drawn per image is given as a value or as ``[low, high]`` (:func:`draw`). The values (and why) are in the YAML
files; the classes take each setting by keyword, with no default of their own.

Blur steps (:mod:`.blur`) only choose the kernel (recorded as the degradation's kernel); the downscale applies it,
blurring and subsampling in one, with the kernel centred as this project's kernels are
(:func:`zssr.ops.resize.kernel_downscale`). Every step that changes the image leaves 8-bit values, as image files have.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from PIL import Image
from skimage.util import random_noise

from zssr.degradations.blur_kernels import (
    delta_kernel,
)
from zssr.errors import ZSSRError
from zssr.ops.resize import imresize, kernel_downscale

Range = float | Sequence[float]


@dataclass
class Sample:
    """One image on its way down. ``image`` is ``(3, H, W)`` in [0, 1]: the HR image until the downscale, the LR
    image after it. ``kernel`` is the blur of the down-model once a blur step chose one; ``kind`` what was applied
    where a step chose among several (:class:`OneOf`)."""

    image: torch.Tensor
    scale: int
    kernel: np.ndarray | None = None
    downscaled: bool = False
    kind: list[str] = field(default_factory=list)


class Step(ABC):
    """One stage of a degradation."""

    @abstractmethod
    def __call__(self, x: Sample, rng: np.random.Generator) -> None: ...


def to_8bit(img: torch.Tensor) -> torch.Tensor:
    return (img.double().clamp(0, 1) * 255).round().float() / 255


def check_range(value: Range, name: str, low: float = 0.0, high: float | None = None) -> Range:
    """``value`` (a number, or ``[low, high]`` to draw from) within ``[low, high]``; a :class:`ZSSRError` otherwise."""
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    bad = len(values) not in (1, 2) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in values)
    if bad or any(v < low or (high is not None and v > high) for v in values) or values != sorted(values):
        bounds = f">= {low:g}" + (f" and <= {high:g}" if high is not None else "")
        raise ZSSRError(f"{name} must be a number {bounds}, or [low, high] of such numbers; got {value}")
    return value if len(values) == 2 else values[0]


def check_pair(value: Sequence[float], name: str, low: float = 0.0) -> tuple[float, float]:
    """``[low, high]``, checked as :func:`check_range` does."""
    checked = check_range(value, name, low)
    if not isinstance(checked, Sequence):
        raise ZSSRError(f"{name} must be a range, [low, high]; got {value}")
    return float(checked[0]), float(checked[1])


def draw(value: Range, rng: np.random.Generator, integer: bool = False) -> float:
    """``value`` itself (nothing drawn), or for ``[low, high]`` a uniform draw (an integer in ``low..high``)."""
    if not isinstance(value, Sequence):
        return value
    low, high = value
    return int(rng.integers(int(low), int(high) + 1)) if integer else float(rng.uniform(low, high))


class Downscale(Step):
    """Down by the scale: with the blur's kernel where a blur step chose one, else MATLAB's bicubic ``imresize``
    (``method: auto``); ``bicubic`` insists on MATLAB's bicubic, ``subsample`` keeps every s-th pixel (no blur: the
    pixel nearest the LR pixel's centre), or blurs with the chosen kernel first."""

    def __init__(self, *, method: Literal["auto", "bicubic", "subsample"]):
        if method not in ("auto", "bicubic", "subsample"):
            raise ZSSRError(f"Downscale: method must be auto, bicubic or subsample, got {method}")
        self.method = method

    def __call__(self, x: Sample, rng: np.random.Generator) -> None:
        if x.downscaled:
            raise ZSSRError("Downscale: the image is downscaled already; one downscale per degradation")
        if self.method == "bicubic" and x.kernel is not None:
            raise ZSSRError("Downscale(method=bicubic) after a blur step: the blur's kernel needs method auto")
        if self.method == "subsample" and x.kernel is None:
            x.kernel = delta_kernel(x.scale)
        if x.kernel is not None:
            lr = kernel_downscale(x.image.double(), torch.as_tensor(x.kernel), x.scale)
        else:
            lr = imresize(x.image.double(), 1 / x.scale)
        x.image, x.downscaled = to_8bit(lr), True


def add_noise(image: torch.Tensor, mode: str, sigma: float, rng: np.random.Generator) -> torch.Tensor:
    """``gaussian`` or ``speckle`` noise of standard deviation ``sigma`` (scikit-image), clipped, back to 8 bits."""
    noisy = random_noise(image.permute(1, 2, 0).numpy(), mode=mode, var=sigma**2, rng=rng, clip=True)
    return to_8bit(torch.from_numpy(noisy).permute(2, 0, 1))


class GaussianNoise(Step):
    """Additive Gaussian noise of standard deviation ``sigma`` (of the [0, 1] range; a value or ``[low, high]``)."""

    mode = "gaussian"

    def __init__(self, *, sigma: Range):
        self.sigma = check_range(sigma, f"{type(self).__name__}: sigma", high=1.0)

    def __call__(self, x: Sample, rng: np.random.Generator) -> None:
        x.image = add_noise(x.image, self.mode, draw(self.sigma, rng), rng)


class SpeckleNoise(GaussianNoise):
    """Multiplicative noise, ``x + x n`` with ``n`` Gaussian of standard deviation ``sigma``."""

    mode = "speckle"


class PoissonNoise(Step):
    """Shot noise: white is ``peak`` photons (a value or ``[low, high]``); fewer photons, more noise."""

    def __init__(self, *, peak: Range):
        self.peak = check_range(peak, "PoissonNoise: peak", low=1.0)

    def __call__(self, x: Sample, rng: np.random.Generator) -> None:
        peak = draw(self.peak, rng)
        counts = rng.poisson(x.image.double().clamp(0, 1).numpy() * peak)
        x.image = to_8bit(torch.from_numpy(counts / peak))


def jpeg(image: torch.Tensor, quality: int) -> torch.Tensor:
    """The image after a round trip through JPEG at ``quality`` (Pillow)."""
    buf = io.BytesIO()
    arr = (image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return torch.from_numpy(np.array(Image.open(buf).convert("RGB"))).permute(2, 0, 1).float() / 255


class JPEG(Step):
    """A round trip through JPEG at ``quality`` (1-95; a value or ``[low, high]``, drawn per image)."""

    def __init__(self, *, quality: Range):
        self.quality = check_range(quality, "JPEG: quality", low=1, high=95)

    def __call__(self, x: Sample, rng: np.random.Generator) -> None:
        x.image = jpeg(x.image, int(draw(self.quality, rng, integer=True)))


class OneOf(Step):
    """One of ``options`` (name -> step), drawn per image with equal odds; the name is recorded as what was applied."""

    def __init__(self, *, options: Mapping[str, Step]):
        if not options or not all(callable(s) for s in options.values()):
            raise ZSSRError("OneOf: options must map names to steps (each with a _target_)")
        self.options = dict(options)

    def __call__(self, x: Sample, rng: np.random.Generator) -> None:
        name = list(self.options)[int(rng.integers(len(self.options)))]
        x.kind.append(name)
        self.options[name](x, rng)
