"""The spectral fits: a kernel from the LR image's spectrum alone, a Gaussian (or a motion path or a disk), no GAN.

Two ways (``estimator.shape``):

- ``anisotropic`` (:func:`spectral_covariance`): natural images' power falls off as a power of the frequency, while a
  Gaussian kernel of covariance ``S`` multiplies it by ``exp(-4 pi^2 v^T S v)``. So along every direction the log
  power of the LR image is a constant of that direction (the photo's own oriented texture) minus ``beta log f`` minus
  a quadratic in the frequency whose coefficients are ``S``'s. One linear least-squares fit over the spectrum's
  direction and radius bins recovers ``S``: orientation and anisotropy as well as width. The texture's direction
  goes into the per-direction constants, not into ``S``.
- ``isotropic`` (:func:`spectral_kernel`): a kernel attenuates the image's high band more than its low band, the more
  so the wider it is, while natural images have a typical ratio of the two bands of their own
  (:func:`.guard.sharpness_ratio` over :func:`.guard.kernel_passband`, the image's *native* sharpness). So the width
  whose passband brings the image's ratio to a target is the estimate: a width only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.ndimage
import scipy.special
import torch

from zssr.degradations import disk_kernel, gaussian_covariance_kernel, line_kernel
from zssr.estimators.guard import kernel_passband, sharpness_ratio, windowed_power
from zssr.ops.kernels import recentre
from zssr.ops.metrics import luma


@lru_cache(maxsize=8)
def gaussian_widths(scale: tuple[float, float], count: int = 160
                    ) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray]:
    """Isotropic Gaussian kernels for ``scale`` with variances from 0.01 s^2 to 3 s^2 (HR pixels^2), geometric, and
    their :func:`.guard.kernel_passband`; the same for every image, so made once per scale (callers must not modify
    them)."""
    s = max(scale)
    variances = np.geomspace(0.01 * s * s, 3.0 * s * s, count)
    size = int(2 * np.ceil(3 * np.sqrt(variances[-1])) + 1) | 1
    kernels = tuple(recentre(gaussian_covariance_kernel(np.array([v, v]), 0.0, size, 1), scale) for v in variances)
    return variances, kernels, np.array([kernel_passband(k, scale) for k in kernels])


def spectral_kernel(image: torch.Tensor, scale: tuple[float, float], native_target: float
                    ) -> tuple[np.ndarray, float, float]:
    """The isotropic Gaussian kernel that gives ``image`` the native sharpness ``native_target`` (the narrowest on the
    grid when even that leaves the image duller than the target, the widest when even that leaves it sharper), its
    variance, and the native sharpness it gives."""
    variances, kernels, passbands = gaussian_widths(tuple(float(f) for f in scale))
    native = sharpness_ratio(image) / passbands
    best = int(np.argmin(np.abs(np.log(np.maximum(native, 1e-12)) - np.log(native_target))))
    return kernels[best].copy(), float(variances[best]), float(native[best])


@dataclass(frozen=True)
class BinnedSpectrum:
    """The LR luma spectrum averaged in direction x radius bins that stand above the noise: per bin its direction,
    minus the mean log radius, the means of the HR frequency's ``vx^2``, ``2 vx vy`` and ``vy^2``, the log of the power
    above the noise floor and a weight (the square root of its pixel count); per pixel in those bins its bin and HR
    frequency, for the bin means of a kernel's response."""

    sector: np.ndarray
    log_radius: np.ndarray
    second: np.ndarray  # (bins, 3)
    log_power: np.ndarray
    weight: np.ndarray
    pixel_bin: np.ndarray
    pixel_v: np.ndarray  # (pixels, 2): vx, vy
    sectors: int

    def mean(self, values: np.ndarray) -> np.ndarray:
        """The bin means of per-pixel ``values``."""
        return np.bincount(self.pixel_bin, values, len(self.weight)) / np.bincount(self.pixel_bin,
                                                                                   minlength=len(self.weight))

    def fit(self, columns: list[np.ndarray], target: np.ndarray, slope_prior: float, slope_weight: float
            ) -> tuple[np.ndarray, float]:
        """Weighted least squares of ``target`` (per bin) on the per-direction constants, ``beta`` (the first two
        blocks of the solution) and ``columns``, with ``beta`` drawn towards ``slope_prior`` by one more equation
        weighted ``slope_weight`` mean bins: the solution and the weighted mean squared residual."""
        a = np.column_stack([np.eye(self.sectors)[self.sector], self.log_radius, *columns])
        b, wt = target, self.weight
        if slope_weight > 0:
            prior = np.zeros(a.shape[1])
            prior[self.sectors] = 1.0
            a, b, wt = np.vstack([a, prior]), np.append(b, slope_prior), np.append(wt, slope_weight * wt.mean())
        used = np.abs(a).sum(0) > 0  # directions with no bin above the noise drop out
        solution = np.zeros(a.shape[1])
        solution[used] = np.linalg.lstsq(a[:, used] * wt[:, None], b * wt, rcond=None)[0]
        n = len(self.weight)
        residual = target - a[:n] @ solution
        return solution, float(np.sum(self.weight**2 * residual**2) / np.sum(self.weight**2))


def binned_spectrum(image: torch.Tensor, scale: tuple[float, float], sectors: int = 16, rings: int = 14,
                    band: tuple[float, float] = (0.06, 0.46), snr_min: float = 1.0, pixels_per_bin: int = 256
                    ) -> BinnedSpectrum | None:
    """``image``'s :class:`BinnedSpectrum` (Hann window, the white-noise floor of :func:`.guard.windowed_power` taken
    off, bins with fewer than 3 pixels or less than ``snr_min`` times the floor above it left out), or None when fewer
    than ``sectors + 8`` bins are left. One serves :func:`spectral_covariance`, :func:`anisotropic_kernel` and
    :func:`blur_shapes` for the same image and scale."""
    power, floor = windowed_power(luma(image).double().numpy())
    h, w = power.shape
    fy, fx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    radius = np.hypot(fx, fy).ravel()
    sector = np.minimum((np.mod(np.arctan2(fy, fx), np.pi) / np.pi * sectors).astype(int), sectors - 1).ravel()
    ring = np.digitize(radius, np.linspace(band[0], band[1], rings + 1)) - 1
    inside = (ring >= 0) & (ring < rings)
    cell = np.where(inside, sector * rings + ring, sectors * rings)  # the last: outside the band
    count = np.bincount(cell, minlength=sectors * rings + 1)[:-1]

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell, values, sectors * rings + 1)[:-1] / np.maximum(count, 1)

    v = np.stack([fx.ravel() / scale[1], fy.ravel() / scale[0]], 1)
    excess = mean(power.ravel()) - floor
    keep = (count >= 3) & (excess > max(snr_min * floor, 1e-30))
    if keep.sum() < sectors + 8:
        return None
    index = np.full(sectors * rings + 1, -1)
    index[np.flatnonzero(keep)] = np.arange(keep.sum())
    pixel_bin = index[cell]
    second = np.stack([mean(v[:, 0] ** 2), mean(2 * v[:, 0] * v[:, 1]), mean(v[:, 1] ** 2)], 1)
    # the pixels a kernel's response is averaged over: every k-th of a bin's, at most ``pixels_per_bin``, so the
    # shapes' grid costs the same for a large photo as for a small one
    order = np.argsort(pixel_bin, kind="stable")
    starts = np.searchsorted(pixel_bin[order], np.arange(-1, int(keep.sum()) + 1))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.repeat(starts[:-1], np.diff(starts))
    stride = np.ceil(np.bincount(pixel_bin + 1) / pixels_per_bin).astype(np.int64)
    used = (pixel_bin >= 0) & (rank % stride[pixel_bin + 1] == 0)
    return BinnedSpectrum(sector=np.flatnonzero(keep) // rings,
                          log_radius=-mean(np.log(np.maximum(radius, 1e-12)))[keep], second=second[keep],
                          log_power=np.log(excess[keep]), weight=np.sqrt(count[keep]), pixel_bin=pixel_bin[used],
                          pixel_v=v[used], sectors=sectors)


def _gaussian_fit(spectrum: BinnedSpectrum, slope_prior: float, slope_weight: float) -> tuple[np.ndarray | None, float]:
    """The covariance of the Gaussian fit (see :func:`spectral_covariance`) and its mean squared residual."""
    solution, residual = spectrum.fit(list((-4 * np.pi**2 * spectrum.second).T), spectrum.log_power, slope_prior,
                                      slope_weight)
    xx, xy, yy = solution[-3:]
    cov = np.array([[xx, xy], [xy, yy]])
    return (cov if np.all(np.isfinite(cov)) else None), residual


def spectral_covariance(image: torch.Tensor, scale: tuple[float, float], slope_prior: float = 2.0,
                        slope_weight: float = 3.0, spectrum: BinnedSpectrum | None = None) -> np.ndarray | None:
    """The covariance (HR pixels^2, ``[[xx, xy], [xy, yy]]``) of the Gaussian kernel that best explains the falloff of
    ``image``'s luma spectrum (Hann window), or None when too few of its bins rise above the noise.

    The spectrum between 0.06 and 0.46 cycles per LR pixel is averaged in 16 directions (over 180 degrees) x 14
    radii, the white-noise floor of :func:`.guard.windowed_power` taken off, and bins less than that floor above it
    are left out. The model of a bin's log power is ``a[direction] - beta log f - 4 pi^2 v^T S v``, with ``v`` the
    bin's HR frequency (the LR frequency over ``scale``): linear in ``a``, ``beta`` and ``S``'s three entries. Over
    this band a falloff steeper than a power law can be told from a wider kernel only in part, so ``beta`` is drawn
    towards ``slope_prior`` (natural images' power falls off about as ``f^-2``, Field 1987; van der Schaaf & van
    Hateren 1996): one more equation, ``beta = slope_prior``, weighted ``slope_weight`` times a mean bin (0: no
    prior). ``S`` is the fit's, not yet made positive definite. ``spectrum``: :func:`binned_spectrum` of ``image``
    and ``scale`` when already made.
    """
    spectrum = binned_spectrum(image, scale) if spectrum is None else spectrum
    return None if spectrum is None else _gaussian_fit(spectrum, slope_prior, slope_weight)[0]


@dataclass(frozen=True)
class BlurShape:
    """A motion path (a straight line of ``size`` HR pixels at ``angle``) or a defocus disk (radius ``size``), each
    through an isotropic Gaussian of ``optics`` HR px^2 variance, and how well it explains the spectrum: its mean
    squared residual over that of the Gaussian fit (``ratio``, below 1: better)."""

    kind: str  # "motion" or "defocus"
    size: float
    angle: float
    optics: float
    ratio: float

    @property
    def trusted(self) -> bool:
        """Whether ZSSR may take it as a given kernel (the plan's ``fitted``): a path, whose response zeros lie well
        inside the band where the fit places them. A disk is found only once its first zero nears the band's edge
        (radii from about 1.2 s), where the radius is least sure, and ten back-projections through a zero at the
        wrong frequency cost more than the right shape gains (2 held-out BSD100 images, docs/lab/kernel_estimation.md):
        it gets a guessed kernel's settings."""
        return self.kind == "motion"

    def kernel(self, scale: tuple[float, float]) -> np.ndarray:
        """The kernel, centred as the project's kernels are for ``scale``."""
        reach = self.size / 2 if self.kind == "motion" else self.size  # from the centre, before the optics
        side = int(2 * np.ceil(reach + 3 * np.sqrt(self.optics)) + 2 * max(scale) + 3) | 1
        centre = (side - 1) / 2
        k = (line_kernel(self.size, self.angle, side, centre) if self.kind == "motion"
             else disk_kernel(self.size, side, centre))
        if self.optics > 0:
            k = scipy.ndimage.gaussian_filter(k, np.sqrt(self.optics), mode="constant")
        return recentre(k / k.sum(), scale)


def blur_shapes(image: torch.Tensor, scale: tuple[float, float], slope_prior: float = 2.0, slope_weight: float = 3.0,
                angles: int = 36, pixels_per_bin: int = 256, spectrum: BinnedSpectrum | None = None
                ) -> list[BlurShape]:
    """The straight motion path and the defocus disk that best explain ``image``'s spectrum (as
    :func:`spectral_covariance` models it, with the kernel's response in place of the Gaussian's), each found on a
    grid: lengths 0.5-5 s and radii 0.25-1.75 s HR pixels (``s`` the larger factor), ``angles`` directions; an
    isotropic Gaussian for the optics is fitted with each (variance >= 0). A path's response ``sinc(L v.u)`` and a
    disk's ``2 J1(2 pi R |v|) / (2 pi R |v|)`` have zeros that a Gaussian's does not: where the first falls inside the
    band and above the noise (in practice paths from ~3.4 s, disks from ~1.2 s in radius) the spectrum dips and rises
    again, and the shape explains it far better than any Gaussian. A shape's response is averaged over at most
    ``pixels_per_bin`` of each bin's pixels (evenly spaced), so a large photo costs little more than a small one.
    Empty when the spectrum gives no fit. ``spectrum``: :func:`binned_spectrum` of ``image`` and ``scale`` when
    already made (``pixels_per_bin`` is then its own)."""
    spectrum = binned_spectrum(image, scale, pixels_per_bin=pixels_per_bin) if spectrum is None else spectrum
    if spectrum is None:
        return []
    _, gaussian = _gaussian_fit(spectrum, slope_prior, slope_weight)
    s = max(scale)
    vx, vy = spectrum.pixel_v.T
    radial = -4 * np.pi**2 * spectrum.mean(vx**2 + vy**2)

    def fit(response: np.ndarray) -> tuple[float, float]:  # (mean squared residual, optics variance)
        target = spectrum.log_power - np.log(np.maximum(spectrum.mean(response), 1e-12))
        solution, residual = spectrum.fit([radial], target, slope_prior, slope_weight)
        if solution[-1] >= 0:
            return residual, float(solution[-1])
        return spectrum.fit([], target, slope_prior, slope_weight)[1], 0.0

    best = []
    line = (np.inf, 0.0, 0.0, 0.0)
    for angle in np.linspace(0, np.pi, angles, endpoint=False):
        along = vx * np.cos(angle) + vy * np.sin(angle)
        for length in np.arange(0.5, 5.0 + 1e-9, 0.125) * s:
            residual, optics = fit(np.sinc(length * along) ** 2)
            if residual < line[0]:
                line = (residual, length, angle, optics)
    best.append(BlurShape("motion", line[1], line[2], line[3], line[0] / gaussian))
    radius = np.hypot(vx, vy)
    disk = (np.inf, 0.0, 0.0)
    for r in np.arange(0.25, 1.75 + 1e-9, 0.0625) * s:
        x = np.maximum(2 * np.pi * r * radius, 1e-9)
        residual, optics = fit((2 * scipy.special.j1(x) / x) ** 2)
        if residual < disk[0]:
            disk = (residual, r, optics)
    best.append(BlurShape("defocus", disk[1], 0.0, disk[2], disk[0] / gaussian))
    return best


def anisotropic_kernel(image: torch.Tensor, scale: tuple[float, float], shrink: float, slope_prior: float = 2.0,
                       slope_weight: float = 3.0, spectrum: BinnedSpectrum | None = None
                       ) -> tuple[np.ndarray, np.ndarray] | None:
    """The Gaussian of :func:`spectral_covariance` times ``shrink``, its variances kept within 0.025 s^2 and 3 s^2 HR
    pixels^2 (``s`` the larger factor; the range of :func:`gaussian_widths`), centred as the project's kernels are:
    the kernel and its covariance, or None when the spectrum gave no fit. ``spectrum`` as for
    :func:`spectral_covariance`."""
    cov = spectral_covariance(image, scale, slope_prior=slope_prior, slope_weight=slope_weight, spectrum=spectrum)
    if cov is None:
        return None
    s = max(scale)
    values, vectors = np.linalg.eigh(shrink * cov)
    values = np.clip(values, 0.025 * s * s, 3.0 * s * s)
    return gaussian_of_axes(values, vectors, scale), vectors @ np.diag(values) @ vectors.T


def gaussian_of_axes(values: np.ndarray, vectors: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """The Gaussian kernel with variances ``values`` (HR pixels^2) along the columns of ``vectors`` (``np.linalg.eigh``
    of its covariance), on a grid of +-3 sigma, centred as the project's kernels are for ``scale``."""
    size = int(2 * np.ceil(3 * np.sqrt(values.max())) + 1) | 1
    theta = float(np.arctan2(vectors[1, 0], vectors[0, 0]))
    return recentre(gaussian_covariance_kernel(values, theta, size, 1), scale)
