"""Image-quality metrics with the conventions of the SR literature (VDSR / ZSSR evaluation scripts).

PSNR and SSIM are computed on the Y channel of BT.601 YCbCr as MATLAB's ``rgb2ycbcr`` (range [16, 235]), after
quantising both images to 8 bits and shaving ``ceil(scale)`` pixels off every border. SSIM uses the Gaussian window of
Wang et al. (11x11, sigma 1.5, K1 0.01, K2 0.03), averaged over the window positions inside the image as their
``ssim_index.m`` does. Computations run in float64 (torchmetrics for PSNR, scikit-image for SSIM).
"""

from __future__ import annotations

import math

import torch

_Y_WEIGHTS = torch.tensor([65.481, 128.553, 24.966], dtype=torch.float64)


def quantize(img: torch.Tensor) -> torch.Tensor:
    """``img`` in [0, 1] -> float64 in [0, 255] holding the nearest 8-bit values."""
    return (img.double().clamp(0, 1) * 255).round()


def rgb_to_y(img255: torch.Tensor) -> torch.Tensor:
    """``(3, H, W)`` or ``(1, H, W)`` 8-bit values in [0, 255] -> ``(H, W)`` Y, rounded to integers in [16, 235]
    exactly as MATLAB's ``rgb2ycbcr`` on a uint8 image. A one-channel image is taken as Y already."""
    if img255.shape[0] == 1:
        return img255[0].double()
    return (16.0 + torch.einsum("c,chw->hw", _Y_WEIGHTS, img255.double() / 255.0)).round()


def luma(img: torch.Tensor) -> torch.Tensor:
    """``(C, H, W)`` in [0, 1] -> ``(H, W)`` float64 luma (BT.601 weights 0.299, 0.587, 0.114, no offset); a
    one-channel image is its own luma."""
    img = img.double()
    if img.shape[0] < 3:
        return img[0]
    return img[:3].permute(1, 2, 0) @ img.new_tensor([0.299, 0.587, 0.114])


def _prepare(sr: torch.Tensor, hr: torch.Tensor, shave: int, y_channel: bool) -> tuple[torch.Tensor, torch.Tensor]:
    if sr.shape != hr.shape:
        raise ValueError(f"shape mismatch: output {tuple(sr.shape)} vs ground truth {tuple(hr.shape)}")
    a, b = quantize(sr), quantize(hr)
    if y_channel:
        a, b = rgb_to_y(a)[None], rgb_to_y(b)[None]
    if shave:
        a, b = a[..., shave:-shave, shave:-shave], b[..., shave:-shave, shave:-shave]
    return a[None], b[None]


def shave_for(scale: float | tuple[float, float]) -> int:
    """Border shave of the protocol: ``ceil(scale)`` (the larger factor for anisotropic scales)."""
    s = max(scale) if isinstance(scale, (tuple, list)) else scale
    return int(math.ceil(s - 1e-9))


def psnr(sr: torch.Tensor, hr: torch.Tensor, shave: int = 0, y_channel: bool = True) -> float:
    """PSNR in dB of ``sr`` against ``hr`` (both ``(C, H, W)`` in [0, 1], C = 1 or 3); ``inf`` when identical."""
    a, b = _prepare(sr, hr, shave, y_channel)
    if torch.equal(a, b):
        return math.inf
    from torchmetrics.functional.image import peak_signal_noise_ratio  # 2 s of import: only when scoring

    return float(peak_signal_noise_ratio(a, b, data_range=255.0))


def ssim(sr: torch.Tensor, hr: torch.Tensor, shave: int = 0, y_channel: bool = True) -> float:
    """SSIM of ``sr`` against ``hr`` (both ``(C, H, W)`` in [0, 1]), Gaussian window 11 / 1.5, data range 255.

    The mean is over the window positions that lie inside the image, as Wang et al.'s ``ssim_index.m``
    (``filter2(..., 'valid')``) takes it, and as scikit-image's Gaussian SSIM with population covariance does (its
    separable filter is several times faster than a float64 11x11 convolution on the CPU)."""
    from skimage.metrics import structural_similarity

    a, b = _prepare(sr, hr, shave, y_channel)
    if min(a.shape[-2:]) <= 10:
        raise ValueError(f"SSIM needs images larger than 11x11 after the shave, got {tuple(a.shape[-2:])}")
    x, y = a[0].numpy(), b[0].numpy()  # (C, H, W) float64 in [0, 255]
    return float(structural_similarity(x, y, data_range=255, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, channel_axis=0))


def evaluate(sr: torch.Tensor, hr: torch.Tensor, scale: float | tuple[float, float],
             gray: bool = False) -> dict[str, float]:
    """The protocol's numbers for one image: Y PSNR/SSIM (shave ``ceil(scale)``) and RGB PSNR.

    ``gray``: the image is grayscale (its three channels are copies): its one channel is taken as Y, as the MATLAB
    scripts do for single-channel images (converting it would compress the range to [16, 235] and add ~1.3 dB).
    """
    shave = shave_for(scale)
    if gray:
        sr, hr = sr[:1], hr[:1]
    return {
        "psnr": psnr(sr, hr, shave),
        "ssim": ssim(sr, hr, shave),
        "psnr_rgb": psnr(sr, hr, shave, y_channel=False),
    }
