"""Whether an image can give a kernel at all, and whether an estimate is too wide to have made it."""

from __future__ import annotations

import numpy as np
import torch

from zssr.ops.metrics import luma


def unusable(image: torch.Tensor, g_crop: int) -> str | None:
    """Why the GAN cannot learn from ``image`` (too small, or nearly flat), or None."""
    h, w = image.shape[-2:]
    if min(h, w) < g_crop + 8:
        return f"the image ({w}x{h}) is smaller than the {g_crop}-pixel crops kernel estimation needs"
    gray = image.double().mean(0)
    gy, gx = np.gradient(gray.numpy())
    if float(np.hypot(gx, gy).mean()) < 2e-3:
        return "the image is nearly flat, so it carries no trace of its kernel"
    return None


def sharpness_ratio(image: torch.Tensor) -> float:
    """How sharp ``image`` (``(C, H, W)`` in [0, 1]) is: the power of its luma spectrum at 0.3-0.5 cycles per pixel
    over that at 0.1-0.2 (Hann window), after taking off the white-noise floor of the noise level that
    :func:`skimage.restoration.estimate_sigma` finds.

    A kernel attenuates the high band more than the low one, the more so the wider it is; the image's own spectrum
    falls off in roughly the same way at every scale. So a high ratio says the LR image was made by a narrow kernel.
    """
    power, floor = windowed_power(luma(image).numpy())
    h, w = power.shape
    radius = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    high, low = (radius > 0.3) & (radius < 0.5), (radius > 0.1) & (radius < 0.2)
    p_high = max(float(power[high].sum()) - floor * int(high.sum()), 0.0)
    p_low = max(float(power[low].sum()) - floor * int(low.sum()), 1e-20)
    return p_high / p_low


def windowed_power(y: np.ndarray) -> tuple[np.ndarray, float]:
    """The power spectrum of the 2-D array ``y`` less its mean, under a Hann window, and the expected power per bin
    of white noise at the level :func:`skimage.restoration.estimate_sigma` finds in it (the floor to take off)."""
    from skimage.restoration import estimate_sigma

    y = y - y.mean()
    window = np.outer(np.hanning(y.shape[0]), np.hanning(y.shape[1]))
    power = np.abs(np.fft.fft2(y * window)) ** 2
    return power, float(estimate_sigma(y)) ** 2 * float((window**2).sum())


def kernel_passband(kernel: np.ndarray, scale: tuple[float, float]) -> float:
    """How much of the high band of :func:`sharpness_ratio` a downscaling kernel lets through: its power response
    at the HR frequencies that become 0.3-0.5 cycles per LR pixel over that at those that become 0.1-0.2. An image
    made with ``kernel`` has about its own native ratio times this."""
    response = np.abs(np.fft.fft2(kernel / kernel.sum(), s=(256, 256))) ** 2
    f = np.fft.fftfreq(256)
    radius = np.hypot(f[:, None] * scale[0], f[None, :] * scale[1])  # in cycles per LR pixel
    return float(response[(radius > 0.3) & (radius < 0.5)].mean() / response[(radius > 0.1) & (radius < 0.2)].mean())
