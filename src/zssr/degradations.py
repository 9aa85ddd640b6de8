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
import scipy.ndimage
import torch
from PIL import Image
from skimage.util import random_noise

from zssr.errors import ZSSRError
from zssr.kernels import kernel_centre, recentre
from zssr.resize import imresize, kernel_downscale

NAMES = ("bicubic", "random_kernel", "kernelgan_kernel", "motion_defocus", "aliasing", "gaussian_noise", "speckle",
         "jpeg", "unknown")
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
    return gaussian_covariance_kernel(lam, rng.uniform(0, math.pi), size, scale)


def kernelgan_kernel(scale: int, rng: np.random.Generator, size: int | None = None,
                     noise: float = 0.4) -> np.ndarray:
    """The random kernels of KernelGAN's blind-SR benchmark (Bell-Kligler, Shocher & Irani, NeurIPS 2019; its public
    dataset generator): eigenvalues ``U[0.175 s, 2.5 s]`` (x2: 0.35-5, x4: 0.7-10 px^2), a random angle, each value
    times ``1 + U[-noise, noise]`` (the generator's 0.4), re-centred and normalised. Unlike :func:`gaussian_kernel`'s
    ``U[0, s^2]`` no axis is near a delta, and the widest grows linearly with the scale."""
    size = size or int(4 * scale + 3) | 1
    lam = rng.uniform(0.175 * scale, 2.5 * scale, size=2)
    k = gaussian_covariance_kernel(lam, rng.uniform(0, math.pi), size, scale)
    k = k * (1 + rng.uniform(-noise, noise, size=k.shape))
    return recentre(k, (scale, scale))


def gaussian_covariance_kernel(lam: np.ndarray, theta: float, size: int, scale: int) -> np.ndarray:
    """The Gaussian of covariance ``U diag(lam) U^T`` (``U`` a rotation by ``theta``) sampled on a ``size`` grid,
    centred where this project's kernels are for ``scale``, normalised to sum 1."""
    u = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    inv = np.linalg.inv(u @ np.diag(lam) @ u.T)
    centre = kernel_centre(size, scale)
    yy, xx = np.mgrid[0:size, 0:size] - centre
    pts = np.stack([xx, yy], -1)
    k = np.exp(-0.5 * np.einsum("...i,ij,...j->...", pts, inv, pts))
    return k / k.sum()


def disk_kernel(radius: float, size: int, centre: float, supersample: int = 8) -> np.ndarray:
    """A defocus blur: the uniform disk of ``radius`` HR pixels centred at ``(centre, centre)``, each kernel pixel
    weighted by the disk's share of its area (``supersample``^2 points per pixel)."""
    offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
    fine = np.arange(size)[:, None] + offsets[None, :]  # (size, supersample) sample positions per pixel
    dy = (fine - centre)[:, None, :, None]
    dx = (fine - centre)[None, :, None, :]
    inside = (dy**2 + dx**2 <= radius**2).mean(axis=(2, 3))
    return inside / inside.sum()


def motion_kernel(length: float, rng: np.random.Generator, size: int, centre: float, points: int = 400) -> np.ndarray:
    """A motion blur: a smooth random path of ``length`` HR pixels (random direction, gently curving), the exposure
    spread uniformly along it, splatted bilinearly; its centre of mass at ``(centre, centre)``."""
    step = length / (points - 1)
    # curvature (rad per px): a random start and a random walk, each turning the path by about a radian in all
    curvature = rng.normal(0, 1 / length) + np.cumsum(rng.normal(0, 1 / (length * math.sqrt(points)), points))
    angle = rng.uniform(0, 2 * math.pi) + np.cumsum(curvature * step)
    return _splat(np.cumsum(np.stack([np.sin(angle), np.cos(angle)], 1) * step, axis=0), size, centre)


def line_kernel(length: float, angle: float, size: int, centre: float, points: int = 400) -> np.ndarray:
    """A straight motion blur: ``length`` HR pixels at ``angle`` (radians from the x axis towards +y, i.e. down the
    rows), the exposure uniform along it, splatted bilinearly; its centre of mass at ``(centre, centre)``."""
    t = np.linspace(-length / 2, length / 2, points)[:, None]
    return _splat(t * np.array([[math.sin(angle), math.cos(angle)]]), size, centre)


def _splat(path: np.ndarray, size: int, centre: float) -> np.ndarray:
    """Equal weights at the ``(y, x)`` points of ``path``, moved so their mean is ``(centre, centre)``, spread
    bilinearly over a ``size`` x ``size`` grid and normalised."""
    path = path + (centre - path.mean(0))  # uniform weights along the path: its mean is the kernel's centre of mass
    k = np.zeros((size, size))
    low = np.floor(path).astype(int)
    frac = path - low
    for dy in (0, 1):
        for dx in (0, 1):
            w = (frac[:, 0] if dy else 1 - frac[:, 0]) * (frac[:, 1] if dx else 1 - frac[:, 1])
            np.add.at(k, (low[:, 0] + dy, low[:, 1] + dx), w)
    return k / k.sum()


def motion_defocus_kernel(scale: int, rng: np.random.Generator) -> np.ndarray:
    """A camera-like blur, half the time motion (a path of ``U[s, 4s]`` HR pixels) and half the time defocus (a disk of
    radius ``U[0.5s, 1.25s]``), each through a narrow Gaussian for the optics (sigma ``s / 4``), so the LR grid's
    Nyquist limit is respected across a motion path too; centred as :func:`gaussian_kernel`."""
    size = 8 * scale + 1
    centre = kernel_centre(size, scale)
    if rng.uniform() < 0.5:
        k = motion_kernel(rng.uniform(scale, 4 * scale), rng, size, centre)
    else:
        k = disk_kernel(rng.uniform(0.5 * scale, 1.25 * scale), size, centre)
    k = scipy.ndimage.gaussian_filter(k, scale / 4, mode="constant")
    return k / k.sum()


def delta_kernel(scale: int) -> np.ndarray:
    """Plain subsampling (aliasing): the sample nearest the LR pixel centre, ``floor((s - 1) / 2)``."""
    size = 2 * scale + 1
    k = np.zeros((size, size))
    k[size // 2 + (scale - 1) // 2, size // 2 + (scale - 1) // 2] = 1.0
    return k


# the degradations that blur with a kernel and subsample: kind -> (scale, rng) -> kernel
KERNELS = {"random_kernel": gaussian_kernel, "kernelgan_kernel": kernelgan_kernel,
           "motion_defocus": motion_defocus_kernel, "aliasing": lambda scale, rng: delta_kernel(scale)}


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
    if kind in KERNELS:
        kernel = KERNELS[kind](scale, rng)
        lr = kernel_downscale(hr.double(), torch.as_tensor(kernel), scale)
    else:
        lr = imresize(hr.double(), 1 / scale)
    lr = to_8bit(lr)
    if kind in ("gaussian_noise", "speckle"):
        lr = add_noise(lr, "gaussian" if kind == "gaussian_noise" else "speckle", 0.05, rng)
    elif kind == "jpeg":
        lr = jpeg(lr, 45)
    return Degraded(hr=hr.float(), lr=lr.float(), kernel=kernel, kind=kind)
