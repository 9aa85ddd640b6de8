"""How LR benchmark inputs are made from HR images (the paper's Tables 1-3), seeded per image.

Every degradation returns the LR image rounded to 8 bits (as benchmark files are) and the kernel that made it (None
when no kernel describes it). The HR image is first cropped top-left to a multiple of the scale.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from skimage.util import random_noise

from zssr.errors import ZSSRError
from zssr.kernels import kernel_centre
from zssr.resize import imresize, kernel_downscale

NAMES = ("bicubic", "random_kernel", "aliasing", "gaussian_noise", "speckle", "jpeg", "unknown")
UNKNOWN_CHOICES = ("gaussian_noise", "speckle", "jpeg")  # paper Table 3


@dataclass
class Degraded:
    hr: torch.Tensor  # (3, H, W) in [0, 1], cropped to a multiple of the scale
    lr: torch.Tensor  # (3, H/s, W/s) in [0, 1], 8-bit values
    kernel: np.ndarray | None  # the blur kernel of the down-model, when one describes it
    kind: str  # the degradation actually applied (``unknown`` resolves to one of its choices)


def image_seed(seed: int, *parts: object) -> int:
    """A stable seed per (run seed, dataset, image, degradation): reruns and shards give identical LR images."""
    digest = hashlib.sha256("/".join(str(p) for p in (seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def modcrop(hr: torch.Tensor, scale: int) -> torch.Tensor:
    h, w = hr.shape[-2:]
    return hr[..., : h - h % scale, : w - w % scale]


def to_8bit(img: torch.Tensor) -> torch.Tensor:
    return (img.double().clamp(0, 1) * 255).round().float() / 255


def gaussian_kernel(scale: int, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
    """Paper Table 2: anisotropic Gaussian with covariance ``U diag(l1, l2) U^T``, ``l1, l2 ~ U[0, s^2]``,
    ``theta ~ U[0, pi]``, placed so its centre falls on the LR pixel's centre in HR coordinates."""
    size = size or int(4 * scale + 3) | 1  # odd, covers ~2 sigma of the widest kernel
    lam = rng.uniform(0, scale**2, size=2)
    lam = np.maximum(lam, 0.05)  # a zero variance is a delta along that axis; keep it sampleable on the grid
    theta = rng.uniform(0, math.pi)
    u = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    inv = np.linalg.inv(u @ np.diag(lam) @ u.T)
    centre = kernel_centre(size, scale)
    yy, xx = np.mgrid[0:size, 0:size] - centre
    pts = np.stack([xx, yy], -1)
    k = np.exp(-0.5 * np.einsum("...i,ij,...j->...", pts, inv, pts))
    return k / k.sum()


def delta_kernel(scale: int) -> np.ndarray:
    """Plain subsampling (aliasing): the sample nearest the LR pixel centre, ``floor((s - 1) / 2)``."""
    size = 2 * scale + 1
    k = np.zeros((size, size))
    k[size // 2 + (scale - 1) // 2, size // 2 + (scale - 1) // 2] = 1.0
    return k


def add_noise(lr: torch.Tensor, mode: str, sigma: float, rng: np.random.Generator) -> torch.Tensor:
    """``gaussian`` or ``speckle`` noise of standard deviation ``sigma`` (scikit-image), clipped, back to 8 bits."""
    noisy = random_noise(lr.permute(1, 2, 0).numpy(), mode=mode, var=sigma**2, rng=rng, clip=True)
    return to_8bit(torch.from_numpy(noisy).permute(2, 0, 1))


def jpeg(lr: torch.Tensor, quality: int) -> torch.Tensor:
    """The image after a round trip through JPEG at ``quality`` (Pillow)."""
    buf = io.BytesIO()
    arr = (lr.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality)
    return torch.from_numpy(np.array(Image.open(buf).convert("RGB"))).permute(2, 0, 1).float() / 255


def degrade(hr: torch.Tensor, scale: int, kind: str, seed: int) -> Degraded:
    """Make the LR input of one benchmark image. ``hr`` is ``(3, H, W)`` in [0, 1]."""
    if kind not in NAMES:
        raise ZSSRError(f"unknown degradation '{kind}' (choose from {', '.join(NAMES)})")
    if not float(scale).is_integer():
        raise ZSSRError(f"benchmark degradations need an integer scale, got {scale}")
    scale = int(scale)
    rng = np.random.default_rng(seed)
    hr = modcrop(hr, scale)
    if kind == "unknown":
        kind = UNKNOWN_CHOICES[int(rng.integers(len(UNKNOWN_CHOICES)))]
    kernel = None
    if kind in ("random_kernel", "aliasing"):
        kernel = gaussian_kernel(scale, rng) if kind == "random_kernel" else delta_kernel(scale)
        lr = kernel_downscale(hr.double(), torch.as_tensor(kernel), scale)
    else:
        lr = imresize(hr.double(), 1 / scale)
    lr = to_8bit(lr)
    if kind in ("gaussian_noise", "speckle"):
        lr = add_noise(lr, "gaussian" if kind == "gaussian_noise" else "speckle", 0.05, rng)
    elif kind == "jpeg":
        lr = jpeg(lr, 45)
    return Degraded(hr=hr.float(), lr=lr.float(), kernel=kernel, kind=kind)
