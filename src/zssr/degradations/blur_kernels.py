"""The blur kernels of the benchmark degradations (the paper's Table 2 Gaussians, KernelGAN's benchmark kernels,
motion paths, defocus disks, plain subsampling), each drawn from a seeded generator and centred where this project's
kernels are for the scale (:func:`zssr.ops.kernels.kernel_centre`)."""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage

from zssr.ops.kernels import kernel_centre, recentre


def gaussian_kernel(scale: int, rng: np.random.Generator, size: int | None = None, low: float = 0.0,
                    high: float = 1.0, min_variance: float = 0.05) -> np.ndarray:
    """Paper Table 2: anisotropic Gaussian with covariance ``U diag(l1, l2) U^T``, ``l1, l2 ~ U[low s^2, high s^2]``
    (the paper: ``U[0, s^2]``), each at least ``min_variance`` (a zero variance is a delta along that axis: keep it
    sampleable on the grid), ``theta ~ U[0, pi]``, placed so its centre falls on the LR pixel's centre in HR
    coordinates."""
    size = size or int(4 * scale + 3) | 1  # odd, covers ~2 sigma of the widest kernel
    lam = rng.uniform(low * scale**2, high * scale**2, size=2)
    lam = np.maximum(lam, min_variance)
    return gaussian_covariance_kernel(lam, rng.uniform(0, math.pi), size, scale)


def kernelgan_kernel(scale: int, rng: np.random.Generator, size: int | None = None, noise: float = 0.4,
                     low: float = 0.175, high: float = 2.5) -> np.ndarray:
    """The random kernels of KernelGAN's blind-SR benchmark (Bell-Kligler, Shocher & Irani, NeurIPS 2019; its public
    dataset generator): eigenvalues ``U[low s, high s]``, the generator's ``U[0.175 s, 2.5 s]`` (x2: 0.35-5, x4: 0.7-10
    px^2), a random angle, each value times ``1 + U[-noise, noise]`` (the generator's 0.4), re-centred and normalised.
    Unlike :func:`gaussian_kernel`'s ``U[0, s^2]`` no axis is near a delta, and the widest grows linearly with the
    scale."""
    size = size or int(4 * scale + 3) | 1
    lam = rng.uniform(low * scale, high * scale, size=2)
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


def motion_defocus_kernel(scale: int, rng: np.random.Generator, motion_share: float = 0.5,
                          length: tuple[float, float] = (1, 4), radius: tuple[float, float] = (0.5, 1.25),
                          optics: float = 0.25) -> np.ndarray:
    """A camera-like blur, a ``motion_share`` of the time motion (a path of ``U[length] s`` HR pixels, by default
    ``U[s, 4s]``) and otherwise defocus (a disk of radius ``U[radius] s``, by default ``U[0.5s, 1.25s]``), each through
    a narrow Gaussian for the optics (sigma ``optics s``, by default ``s / 4``), so the LR grid's Nyquist limit is
    respected across a motion path too; centred as :func:`gaussian_kernel`."""
    size = 8 * scale + 1
    centre = kernel_centre(size, scale)
    if rng.uniform() < motion_share:
        k = motion_kernel(rng.uniform(length[0] * scale, length[1] * scale), rng, size, centre)
    else:
        k = disk_kernel(rng.uniform(radius[0] * scale, radius[1] * scale), size, centre)
    k = scipy.ndimage.gaussian_filter(k, optics * scale, mode="constant")
    return k / k.sum()


def delta_kernel(scale: int) -> np.ndarray:
    """Plain subsampling (aliasing): the sample nearest the LR pixel centre, ``floor((s - 1) / 2)``."""
    size = 2 * scale + 1
    k = np.zeros((size, size))
    k[size // 2 + (scale - 1) // 2, size // 2 + (scale - 1) // 2] = 1.0
    return k
